"""Sandbox of the construction-permit / project-approval system (施工许可, 工改).

The protocol (JSON REST; every answer is ``{"code": "0", "msg": "成功", "data": ...}``, errors carry
an upper-case ``code`` and a Chinese ``msg``)::

    POST /api/v1/auth/token     headers X-App-Id, X-Api-Key        → data {accessToken, expiresIn}
    GET  /api/v1/enterprises    header X-Access-Token; ?cursor=&pageSize=1..100
    GET  /api/v1/projects       idem
    GET  /api/v1/contracts      idem: the contract chain (施工总承包 / 专业分包 / 劳务分包)
    GET  /api/v1/progress-payments   idem: 工程款拨付
    GET  /api/v1/output-values  idem: monthly 工程量产值
    GET  /health

Lists are ordered by ``updateTime`` (China Standard Time, ``YYYY-MM-DD HH:MM:SS``) then by the primary
key (``corpCode`` / ``projectCode`` / ``contractNo`` / ``paymentNo`` / ``reportNo``); ``cursor`` is ``"<updateTime>|<key>"`` of the last record
received, and a page answers ``records``, ``hasMore`` and ``nextCursor``.

History: every builder (建设单位) and general contractor (施工总承包) of the world, every project
with its permit and contract, its contract chain, progress payments and monthly output values, each
updated at its own creation time. Live: every ``live_interval_seconds`` of ``clock()`` from the
moment the world was seeded (``live_epoch``) one event happens — a new project with its 总包 contract (now and then with a newly
registered builder), or, every third event, an in-progress project stops or is completed. Protocol
faults: ``duplicate_page_next``, ``cursor_backwards_next``, ``expire_token_next`` and
``bad_records_next`` (a project whose 施工许可证编号 has an impossible date, a 分包 contract whose
parent USCC has a wrong check character, a negative progress payment, an output value of month 13).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from connectors.cursor_api.sandbox import (
    CST,
    LiveSource,
    Upstream,
    credentials,
    cursor_app,
    fmt_day,
    fmt_money,
    fmt_time,
    live_epoch,
)
from connectors.sandbox.faults import Faults
from hub.identifiers import make_uscc
from hub.regions import iter_regions
from hub.seed import world as demo

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from connectors.sandbox.world import World

#: The fixed credentials the sandbox accepts (the runner prints them).
DEMO_CREDENTIALS = {"app_id": "hub-demo", "api_key": "permits-demo-api-key"}
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50
UPSTREAM = Upstream(
    secret_header="X-Api-Key",
    secret_option="api_key",
    refused_code="INVALID_API_KEY",
    refused_msg="应用编号或API密钥错误 (invalid app id or API key)",
    default_page_size=DEFAULT_PAGE_SIZE,
    max_page_size=MAX_PAGE_SIZE,
)
#: Permit-system wording of the hub's enterprise kinds and project states.
CORP_TYPES = {"builder": "建设单位", "general_contractor": "施工总承包"}
STATUS_NAMES = {"in_progress": "在建", "stopped": "停工", "completed": "竣工"}
CONTRACT_TYPES = {"general": "施工总承包", "specialist": "专业分包", "labour": "劳务分包"}
#: A contract holder's qualification category (资质类别) by the hub's enterprise kind.
QUALIFICATIONS = {"general_contractor": "施工总承包", "subcontractor": "专业承包", "labour_service": "施工劳务"}
_SPECIALTY = {"住建": "01", "交通": "02", "水利": "03"}  # last two digits of the permit number
_INDUSTRY = {
    "住建": "47",
    "交通": "48",
    "水利": "48",
}  # GB/T 4754 in the project code: 47 房屋建筑业, 48 土木工程建筑业


def enterprise_record(e: dict[str, Any], update_time: dt.datetime) -> dict[str, Any]:
    """A world enterprise as the permit system lists it."""
    return {
        "corpCode": e["uscc"],
        "corpName": e["name"],
        "corpShortName": e.get("short_name"),
        "legalMan": e.get("legal_representative"),
        "address": e.get("address"),
        "corpType": CORP_TYPES[e["kind"]],
        "regionCode": e["region_code"],
        "updateTime": fmt_time(update_time),
    }


def project_record(
    p: dict[str, Any], builder: dict[str, Any] | None, contractor: dict[str, Any], update_time: dt.datetime
) -> dict[str, Any]:
    """A world project with its permit and contract, and the registry details of its two parties."""

    b = builder or {}
    return {
        "projectCode": p["project_code"],
        "projectName": p["name"],
        "regionCode": p["region_code"],
        "address": p.get("address"),
        "industry": p["sector"],
        "projectStatus": STATUS_NAMES[p["status"]],
        "builderCorpCode": b.get("uscc"),
        "builderCorpName": b.get("name"),
        "builderCorpShortName": b.get("short_name"),
        "builderLegalMan": b.get("legal_representative"),
        "builderCorpAddress": b.get("address"),
        "contractorCorpCode": contractor["uscc"],
        "contractorCorpName": contractor["name"],
        "contractorCorpShortName": contractor.get("short_name"),
        "contractorLegalMan": contractor.get("legal_representative"),
        "contractorCorpAddress": contractor.get("address"),
        "permitNo": p.get("permit_no"),
        "permitDate": fmt_day(p.get("permit_date")),
        "contractAmount": fmt_money(p.get("contract_value")),
        "contractSignDate": fmt_day(p.get("contract_signed_on")),
        "labourCostCycle": p.get("labour_cost_cycle_days", 30),
        "labourCostRatio": fmt_money(p.get("labour_cost_ratio")),
        "startDate": fmt_day(p.get("start_date")),
        "plannedEndDate": fmt_day(p.get("planned_end_date")),
        "updateTime": fmt_time(update_time),
    }


def contract_record(
    c: dict[str, Any],
    project_code: str,
    holder: dict[str, Any],
    parent: dict[str, Any] | None,
    update_time: dt.datetime,
) -> dict[str, Any]:
    """A link of the contract chain; a 分包 holder comes with its registry details (the permit system
    registers 分包 at the contract, not in its enterprise list)."""
    record: dict[str, Any] = {
        "contractNo": c["contract_no"],
        "projectCode": project_code,
        "contractType": CONTRACT_TYPES[c["role"]],
        "corpCode": holder["uscc"],
        "corpName": holder["name"],
        "parentCorpCode": parent["uscc"] if parent else None,
        "parentCorpName": parent["name"] if parent else None,
        "contractAmount": fmt_money(c.get("contract_value")),
        "signDate": fmt_day(c.get("signed_on")),
        "updateTime": fmt_time(update_time),
    }
    if c["role"] != "general":
        record.update(
            corpType=QUALIFICATIONS[holder["kind"]],
            corpShortName=holder.get("short_name"),
            corpLegalMan=holder.get("legal_representative"),
            corpAddress=holder.get("address"),
        )
    return record


def progress_payment_record(
    p: dict[str, Any], project_code: str, payer: dict[str, Any] | None, update_time: dt.datetime
) -> dict[str, Any]:
    """A progress payment (工程款拨付) from the builder."""
    return {
        "paymentNo": p["payment_no"],
        "projectCode": project_code,
        "payDate": fmt_day(p["paid_on"]),
        "paymentAmount": fmt_money(p["amount"]),
        "payerCorpCode": payer["uscc"] if payer else None,
        "payerCorpName": payer["name"] if payer else None,
        "updateTime": fmt_time(update_time),
    }


def output_value_record(o: dict[str, Any], project_code: str, update_time: dt.datetime) -> dict[str, Any]:
    """A project's 工程量产值 of one month, as reported."""
    return {
        "reportNo": f"CZ{o['month'].replace('-', '')}{o['project_id']:08d}",
        "projectCode": project_code,
        "statMonth": o["month"],
        "outputValue": fmt_money(o["amount"]),
        "reportDate": fmt_day(o.get("reported_on")),
        "updateTime": fmt_time(update_time),
    }


@lru_cache(maxsize=1)
def _region_names() -> dict[str, str]:
    return {r.code: r.name for r in iter_regions()}


class PermitSystem(LiveSource):
    """What the permit system holds at a moment: the world's history plus the live events so far."""

    name = "permits"
    STREAMS = {
        "enterprises": "corpCode",
        "projects": "projectCode",
        "contracts": "contractNo",
        "progress_payments": "paymentNo",
        "output_values": "reportNo",
    }

    def _reset(self) -> None:
        w = self.world
        self.records = {name: {} for name in self.STREAMS}
        for e in w.enterprises.values():
            if e["kind"] in CORP_TYPES:
                self.records["enterprises"][e["uscc"]] = enterprise_record(e, e["created_at"])
        for p in w.projects.values():
            builder = w.enterprise_by_id(p["builder_id"]) if p.get("builder_id") else None
            rec = project_record(p, builder, w.enterprise_by_id(p["contractor_id"]), p["created_at"])
            self.records["projects"][p["project_code"]] = rec
        for c in w.contracts:
            parent = w.enterprise_by_id(c["parent_enterprise_id"]) if c.get("parent_enterprise_id") else None
            code = w.project_by_id(c["project_id"])["project_code"]
            rec = contract_record(c, code, w.enterprise_by_id(c["enterprise_id"]), parent, c["created_at"])
            self.records["contracts"][c["contract_no"]] = rec
        for pp in w.progress_payments:
            payer = w.enterprise_by_id(pp["payer_id"]) if pp.get("payer_id") else None
            code = w.project_by_id(pp["project_id"])["project_code"]
            self.records["progress_payments"][pp["payment_no"]] = progress_payment_record(
                pp, code, payer, pp["created_at"]
            )
        for o in w.output_values:
            rec = output_value_record(o, w.project_by_id(o["project_id"])["project_code"], o["created_at"])
            self.records["output_values"][rec["reportNo"]] = rec
        self._templates = sorted(self.records["projects"])
        self._corp_names = {r["corpName"] for r in self.records["enterprises"].values()}
        self._in_progress: list[str] = []
        self._slot: dict[str, int] = {}
        for code in sorted(c for c, r in self.records["projects"].items() if r["projectStatus"] == "在建"):
            self._start(code)
        self._next_seq: dict[tuple[str, dt.date], int] = {}
        self._permits = {r["permitNo"] for r in self.records["projects"].values() if r["permitNo"]}
        self._reset_live()

    # -- live events ------------------------------------------------------------------------

    def _event(self, i: int) -> None:
        at = self.epoch + i * self.interval
        r = self.world.rng("permits-live", i)
        projects = self.records["projects"]
        if i % 3 == 0 and self._in_progress:
            code = r.choice(self._in_progress)
            status = r.choice(("stopped", "completed", "completed"))
            self._stop(code)
            projects[code] = {**projects[code], "projectStatus": STATUS_NAMES[status], "updateTime": fmt_time(at)}
            return
        self._new_project(i, at, r)

    def _new_project(self, i: int, at: dt.datetime, r: Any) -> None:
        template = self.records["projects"][r.choice(self._templates)]
        county, sector = template["regionCode"], template["industry"]
        names = _region_names()
        prov = names.get(county[:2] + "0000", "")
        city = names.get(county[:4] + "00", prov)
        cname = names.get(county, "")
        builder = {k: template[k] for k in template if k.startswith("builder")}
        name, reg, org, _level = demo.builder_name(r, demo.trade_name(r), sector=sector, city=city, county=cname)
        if (
            r.random() < 0.3 and name not in self._corp_names
        ):  # a newly registered 建设单位, in the enterprises list too
            self._corp_names.add(name)
            uscc = make_uscc(r, region_code=county, registration=reg, org_type=org)
            ent = {
                "uscc": uscc,
                "name": name,
                "short_name": demo.short_name(name, (prov, city, cname)),
                "legal_representative": demo.person_name(r),
                "address": demo.address(r, city=city, county=cname),
                "kind": "builder",
                "region_code": county,
            }
            self.records["enterprises"].setdefault(uscc, enterprise_record(ent, at))
            builder = {
                "builderCorpCode": uscc,
                "builderCorpName": name,
                "builderCorpShortName": ent["short_name"],
                "builderLegalMan": ent["legal_representative"],
                "builderCorpAddress": ent["address"],
            }
        issued = at.astimezone(CST).date()
        permit = self._permit_no(county, issued, _SPECIALTY[sector])
        signed = issued - dt.timedelta(days=r.randint(10, 60))
        start = issued + dt.timedelta(days=r.randint(3, 30))
        code = f"{signed.year}-{county}-{_INDUSTRY[sector]}-0{r.choice('123')}-{900000 + i:06d}"
        value = Decimal(round(min(8e8, max(2e6, r.lognormvariate(17.2, 1.0))), -3)).quantize(Decimal("0.01"))
        self.records["projects"][code] = {
            **template,
            **builder,
            "projectCode": code,
            "projectName": demo.project_name(r, sector=sector, city=city, county=cname, year=issued.year),
            "address": f"{city}{cname}{demo.road(r)}与{demo.road(r)}交汇处{r.choice('东西南北')}侧",
            "projectStatus": "在建",
            "permitNo": permit,
            "permitDate": issued.isoformat() if permit else None,
            "contractAmount": str(value),
            "contractSignDate": signed.isoformat(),
            "labourCostCycle": 30,
            "labourCostRatio": str(Decimal(r.randint(1500, 3000)) / 10000),
            "startDate": start.isoformat(),
            "plannedEndDate": (start + dt.timedelta(days=r.randint(300, 1100))).isoformat(),
            "updateTime": fmt_time(at),
        }
        # The 总包's construction contract, from the builder, as the project is registered.
        contract_no = f"SGZB-{signed:%Y}-{county}-{900000 + i:06d}"
        self.records["contracts"][contract_no] = {
            "contractNo": contract_no,
            "projectCode": code,
            "contractType": CONTRACT_TYPES["general"],
            "corpCode": template["contractorCorpCode"],
            "corpName": template["contractorCorpName"],
            "parentCorpCode": builder["builderCorpCode"],
            "parentCorpName": builder["builderCorpName"],
            "contractAmount": str(value),
            "signDate": signed.isoformat(),
            "updateTime": fmt_time(at),
        }
        self._start(code)

    def _permit_no(self, county: str, issued: dt.date, specialty: str) -> str | None:
        """The next free 施工许可证编号 of a county and day: region(6) date(8) sequence(2) specialty(2)."""
        seq = self._next_seq.get((county, issued), 1)
        while seq <= 99:
            permit = f"{county}{issued:%Y%m%d}{seq:02d}{specialty}"
            seq += 1
            if permit not in self._permits:
                self._next_seq[(county, issued)] = seq
                self._permits.add(permit)
                return permit
        self._next_seq[(county, issued)] = seq
        return None  # more than 99 permits a day in one county: the rest wait for a number

    def _start(self, code: str) -> None:
        self._slot[code] = len(self._in_progress)
        self._in_progress.append(code)

    def _stop(self, code: str) -> None:
        # swap-remove: O(1), and as deterministic as the events themselves
        i, last = self._slot.pop(code), self._in_progress.pop()
        if last != code:
            self._in_progress[i], self._slot[last] = last, i


def _corrupt_permit(records: list[dict[str, Any]]) -> None:
    """One record's 施工许可证编号 gets an impossible issue date (month 13): the hub must quarantine it."""
    for rec in records:
        if rec.get("permitNo"):
            p = rec["permitNo"]
            rec["permitNo"] = f"{p[:10]}1332{p[14:]}"
            return
    rec = records[0]
    rec["permitNo"] = f"{rec['regionCode']}{rec['updateTime'][:4]}133201{_SPECIALTY.get(rec['industry'], '01')}"


def _corrupt_parent(records: list[dict[str, Any]]) -> None:
    """A 分包 contract whose parent USCC has a wrong check character (GB 32100-2015): quarantined."""
    rec = next((r for r in records if r.get("parentCorpCode") and r["contractType"] != "施工总承包"), records[0])
    code = rec.get("parentCorpCode") or rec["corpCode"]
    rec["parentCorpCode"] = code[:-1] + ("1" if code[-1] != "1" else "2")


def _negative_payment(records: list[dict[str, Any]]) -> None:
    """A progress payment with a negative amount (a reversal written as a payment): quarantined."""
    records[0]["paymentAmount"] = f"-{records[0]['paymentAmount']}"


def _month_13(records: list[dict[str, Any]]) -> None:
    """An output value reported for month 13: quarantined."""
    records[0]["statMonth"] = f"{records[0]['statMonth'][:4]}-13"


#: ``bad_records_next``: what each stream's next page spoils.
_SPOILERS: dict[str, Callable[[list[dict[str, Any]]], None]] = {
    "projects": _corrupt_permit,
    "contracts": _corrupt_parent,
    "progress_payments": _negative_payment,
    "output_values": _month_13,
}


def create_app(
    *,
    world: World,
    faults: Faults | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    live_interval_seconds: float = 20.0,
    **options: Any,
) -> Starlette:
    """The permit-system sandbox over ``world``; ``options``: ``app_id`` / ``api_key`` (default ``DEMO_CREDENTIALS``)."""
    creds = credentials(DEMO_CREDENTIALS, options)
    system = PermitSystem(world, live_interval_seconds=live_interval_seconds)
    app = cursor_app(
        upstream=UPSTREAM,
        source=system,
        paths={f"/api/v1/{name.replace('_', '-')}": name for name in PermitSystem.STREAMS},
        creds=creds,
        faults=faults or Faults(),
        clock=clock,
        spoilers=_SPOILERS,
    )
    app.state.system = system
    return app


__all__ = [
    "DEMO_CREDENTIALS",
    "MAX_PAGE_SIZE",
    "PermitSystem",
    "create_app",
    "enterprise_record",
    "contract_record",
    "live_epoch",
    "output_value_record",
    "progress_payment_record",
    "project_record",
]
