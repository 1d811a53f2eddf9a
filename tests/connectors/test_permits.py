"""The permits connector (施工许可 / 工改) against its sandbox, served over real HTTP on loopback.

The contract every connector keeps is ``connectors.testing.SandboxContract``; this module declares
the permit system's words for it and tests what only the permit system does."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from connectors.base import ContractIn, EnterpriseIn, OutputValueIn, Page, ProgressPaymentIn, ProjectIn, Rejection
from connectors.permits import PermitsConnector
from connectors.permits.sandbox import DEMO_CREDENTIALS, PermitSystem, live_epoch
from connectors.testing import BadRecord, Clock, Hub, Quarantined, RefusedRun, Sandbox, SandboxContract
from hub.db import make_engine
from hub.identifiers import validate_permit_no
from hub.sync import StreamStats
from tests.connectors.conftest import create_instance

KIND = "permits"
INTERVAL = 20.0
PAGE_SIZE = 7
KNOWN_KINDS = ("builder", "general_contractor")  # what the permit system lists: 建设单位 and 总包
#: The project-money streams: name → (key, the world's rows it serves).
MONEY_STREAMS = {
    "contracts": ("contractNo", lambda w: [c["contract_no"] for c in w.contracts]),
    "progress_payments": ("paymentNo", lambda w: [p["payment_no"] for p in w.progress_payments]),
    "output_values": (
        "reportNo",
        lambda w: [f"CZ{o['month'].replace('-', '')}{o['project_id']:08d}" for o in w.output_values],
    ),
}


def config(url: str, **overrides: Any) -> dict[str, Any]:
    return {"base_url": url, "page_size": PAGE_SIZE, "timeout_seconds": 5, **DEMO_CREDENTIALS, **overrides}


def expected(world: Any, clock: Clock) -> SimpleNamespace:
    """What the permit system holds at the clock's time: project code → (status, permit) and USCCs."""
    system = PermitSystem(world, live_interval_seconds=INTERVAL)
    system.advance(clock())
    status = {"在建": "in_progress", "停工": "stopped", "竣工": "completed"}
    return SimpleNamespace(
        projects={c: (status[r["projectStatus"]], r["permitNo"]) for c, r in system.records["projects"].items()},
        enterprises=set(system.records["enterprises"]),
    )


def read_all(stream: Any, state: dict[str, Any]) -> list[Page]:
    return list(stream.read(state))


def db_rows(url: str) -> SimpleNamespace:
    engine = make_engine(url)
    with engine.connect() as conn:
        projects = {
            r[0]: (r[1], r[2]) for r in conn.execute(text("SELECT project_code, status, permit_no FROM projects"))
        }
        n_projects = conn.execute(text("SELECT count(*) FROM projects")).scalar_one()
        usccs = [r[0] for r in conn.execute(text("SELECT uscc FROM enterprises"))]
        quarantine = [
            (*r[:4], orjson.loads(r[4]) if isinstance(r[4], str) else r[4])
            for r in conn.execute(
                text(
                    "SELECT q.stream, q.field, q.reason, q.status, r.payload FROM quarantine q JOIN raw_records r ON r.id = q.raw_record_id"
                )
            )
        ]
    engine.dispose()
    return SimpleNamespace(projects=projects, n_projects=n_projects, usccs=usccs, quarantine=quarantine)


class TestPermits(SandboxContract):
    kind = KIND
    interval = INTERVAL
    page_size = PAGE_SIZE
    secret_fields = ("api_key",)
    bookmark = ("cursor",)
    check_ok = "connected to the permit system at {url}: credentials accepted"
    check_refused = "the permit system refused the app id / API key (HTTP 401): check app_id and api_key"
    wrong_credentials = ({"api_key": "not-the-key"},)
    check_unreachable = "cannot reach the permit system at {url}: connection failed"
    refused_runs = {
        name: RefusedRun(
            error="upstream refused the credentials (HTTP 401): check the connector's credentials", **setup
        )
        for name, setup in [
            ("wrong-api-key", {"config": {"api_key": "wrong-key"}}),
            ("status-401", {"fault": {"status_next": 1, "status_code": 401}}),
        ]
    }
    bad_records = {
        # a 施工许可证编号 whose date part is impossible (month 13)
        "projects": BadRecord("permitNo", "invalid permitNo"),
        # a 分包 contract whose parent's USCC has a wrong check character (GB 32100-2015)
        "contracts": BadRecord("parentCorpCode", "invalid parentCorpCode"),
        "progress_payments": BadRecord("paymentAmount", "paymentAmount"),
        "output_values": BadRecord("statMonth", "statMonth is not a month (YYYY-MM)"),
    }
    live_intervals = 1

    def epoch(self, world: Any) -> dt.datetime:
        return live_epoch(world)

    def snapshot(self, hub: Hub, url: str) -> Any:
        rows = db_rows(url)
        return rows.projects, rows.n_projects, sorted(rows.usccs), rows.quarantine

    def check_quarantined(self, sandbox: Sandbox, entry: Quarantined, stats: StreamStats) -> None:
        if entry.stream != "projects":
            return
        assert entry.payload["permitNo"][10:14] == "1332"
        permit = entry.payload["permitNo"]
        assert (
            entry.reason
            == f"invalid permitNo {permit!r}: bad issue date {permit[6:14]!r}: not a real calendar date (YYYYMMDD)"
        )

    # -- streams --------------------------------------------------------------------------------------

    @pytest.mark.parametrize("name", ["enterprises", "projects"])
    def test_a_stream_serves_what_the_permit_system_holds(self, sandbox: Sandbox, world: Any, name: str) -> None:
        connector = PermitsConnector()
        stream = {s.name: s for s in connector.streams(connector.parse_config(config(sandbox.url)))}[name]
        key = stream.primary_key[0]
        want = expected(world, sandbox.clock)
        # Given the history; when read from scratch (paging, restarts and cursor order: the contract)
        pages = read_all(stream, {})
        keys = [r[key] for p in pages for r in p.records]
        # Then every record the permit system holds arrives, the first page full
        assert sorted(keys) == sorted(want.enterprises if name == "enterprises" else want.projects)
        assert len(pages[0].records) == PAGE_SIZE
        # When the clock passes one live interval, only the new record(s) come back
        sandbox.clock.advance(INTERVAL)
        after = expected(world, sandbox.clock)
        new = [r[key] for p in read_all(stream, orjson.loads(orjson.dumps(pages[-1].state))) for r in p.records]
        if name == "projects":
            assert new == sorted(set(after.projects) - set(want.projects))
            assert len(new) == 1 and new[0].endswith("-900001")
        else:
            assert new == sorted(after.enterprises - want.enterprises)

    def test_cursor_never_goes_backwards(self, sandbox: Sandbox) -> None:
        connector = PermitsConnector()
        stream = connector.streams(connector.parse_config(config(sandbox.url)))[1]
        first = next(iter(stream.read({})))
        # Given an upstream answering a cursor a day behind the one sent
        sandbox.faults.set(cursor_backwards_next=1)
        pages = read_all(stream, first.state)
        # Then the state keeps moving forward and nothing repeats
        assert all(p.state["cursor"] > first.state["cursor"] for p in pages)
        keys = [r["projectCode"] for p in pages for r in p.records]
        assert len(keys) == len(set(keys)) == 48 - PAGE_SIZE  # 30 planned projects + 18 warning situations

    # -- normalise ------------------------------------------------------------------------------------

    def test_normalise_maps_a_project_with_its_permit_contract_and_parties(self, sandbox: Sandbox, world: Any) -> None:
        connector = PermitsConnector()
        stream = connector.streams(connector.parse_config(config(sandbox.url)))[1]
        records = {r["projectCode"]: r for p in read_all(stream, {}) for r in p.records}
        p = world.projects["2025-370811-47-03-011892"]
        builder, contractor = world.enterprise_by_id(p["builder_id"]), world.enterprise_by_id(p["contractor_id"])
        entities = connector.normalise("projects", records[p["project_code"]])
        assert entities == [
            EnterpriseIn(
                uscc=builder["uscc"],
                name=builder["name"],
                kind="builder",
                legal_representative=builder["legal_representative"],
                address=builder["address"],
                short_name=builder["short_name"],
            ),
            EnterpriseIn(
                uscc="91370811RWARD17L6T",
                name="济宁市永成建设工程有限公司",
                kind="general_contractor",
                legal_representative="姚磊",
                address="济宁市任城区泰山路24号",
                short_name="永成建设工程",
            ),
            ProjectIn(
                project_code="2025-370811-47-03-011892",
                name="任城区城北棚户区改造安置房项目",
                region_code="370811",
                sector="住建",
                status="in_progress",
                contractor_uscc=contractor["uscc"],
                builder_uscc=builder["uscc"],
                address="济宁市任城区解放路与胜利路交汇处北侧",
                permit_no="370811202501201701",
                permit_date=dt.date(2025, 1, 20),
                contract_value=Decimal("13391000.00"),
                contract_signed_on=dt.date(2025, 1, 3),
                labour_cost_cycle_days=30,
                labour_cost_ratio=Decimal("0.2106"),
                start_date=dt.date(2025, 2, 14),
                planned_end_date=dt.date(2028, 1, 3),
            ),
        ]
        # The raw record speaks the permit system's own words
        assert records[p["project_code"]]["projectStatus"] == "在建"
        assert records[p["project_code"]]["updateTime"] == "2025-01-03 16:19:50"  # created_at 08:19:50 UTC, in 北京时间

    def test_normalise_maps_an_enterprise(self, sandbox: Sandbox, world: Any) -> None:
        connector = PermitsConnector()
        stream = connector.streams(connector.parse_config(config(sandbox.url)))[0]
        records = {r["corpCode"]: r for p in read_all(stream, {}) for r in p.records}
        water = next(e for e in world.enterprises.values() if e["name"] == "任城区水务局")
        assert records[water["uscc"]]["corpType"] == "建设单位"
        assert connector.normalise("enterprises", records[water["uscc"]]) == [
            EnterpriseIn(
                uscc=water["uscc"],
                name="任城区水务局",
                kind="builder",
                legal_representative=water["legal_representative"],
                address=water["address"],
                short_name="任城区水务局",
            )
        ]
        assert not any(e["kind"] == "labour_service" and e["uscc"] in records for e in world.enterprises.values())

    @pytest.mark.parametrize("name", list(MONEY_STREAMS))
    def test_a_money_stream_serves_the_worlds_rows_then_the_live_ones(
        self, sandbox: Sandbox, world: Any, name: str
    ) -> None:
        connector = PermitsConnector()
        stream = {s.name: s for s in connector.streams(connector.parse_config(config(sandbox.url)))}[name]
        key, rows = MONEY_STREAMS[name]
        # Given the history, read from scratch
        pages = read_all(stream, {})
        # Then every row of the world arrives once, in pages of the size asked for
        assert sorted(r[key] for p in pages for r in p.records) == sorted(rows(world))
        assert len(pages[0].records) == PAGE_SIZE
        # When one live interval passes (a new project), only the new project's 总包 contract comes
        sandbox.clock.advance(INTERVAL)
        new = [r for p in read_all(stream, orjson.loads(orjson.dumps(pages[-1].state))) for r in p.records]
        if name == "contracts":
            [record] = new
            assert (record["contractType"], record["projectCode"][-6:]) == ("施工总承包", "900001")
        else:
            assert new == []

    def test_normalise_maps_the_contract_chain_a_progress_payment_and_an_output_value(
        self, sandbox: Sandbox, world: Any
    ) -> None:
        connector = PermitsConnector()
        streams = {s.name: s for s in connector.streams(connector.parse_config(config(sandbox.url, page_size=100)))}
        p = world.projects["2025-370811-47-03-011892"]
        contracts = {r["contractNo"]: r for pg in read_all(streams["contracts"], {}) for r in pg.records}
        chain = [c for c in world.contracts if c["project_id"] == p["id"]]
        general, labour = chain[0], chain[1]
        contractor, builder = world.enterprise_by_id(p["contractor_id"]), world.enterprise_by_id(p["builder_id"])
        # Given the 总包's contract: held from the 建设单位, no registry details (the enterprise list has them)
        assert connector.normalise("contracts", contracts[general["contract_no"]]) == [
            ContractIn(
                project_code=p["project_code"],
                enterprise_uscc=contractor["uscc"],
                role="general",
                parent_uscc=builder["uscc"],
                contract_no="SGZB-2025-370811-011892",
                contract_value=Decimal("13391000.00"),
                signed_on=dt.date(2025, 1, 3),
            )
        ]
        # And a 劳务分包: held from the 总包, its holder registered with it (施工劳务)
        holder = world.enterprise_by_id(labour["enterprise_id"])
        assert contracts[labour["contract_no"]]["corpType"] == "施工劳务"
        assert connector.normalise("contracts", contracts[labour["contract_no"]]) == [
            EnterpriseIn(
                uscc=holder["uscc"],
                name=holder["name"],
                kind="labour_service",
                legal_representative=holder["legal_representative"],
                address=holder["address"],
                short_name=holder["short_name"],
            ),
            ContractIn(
                project_code=p["project_code"],
                enterprise_uscc=holder["uscc"],
                role="labour",
                parent_uscc=contractor["uscc"],
                contract_no="LWFB-2025-370811-011892-01",
                contract_value=Decimal("1578799"),
                signed_on=dt.date(2025, 1, 11),
            ),
        ]
        # And the progress payment that came with the project's first labour-cost bill (same day, same amount)
        alloc = next(a for a in world.allocations if a["project_id"] == p["id"])
        payments = {r["paymentNo"]: r for pg in read_all(streams["progress_payments"], {}) for r in pg.records}
        record = next(r for r in payments.values() if r["projectCode"] == p["project_code"])
        assert connector.normalise("progress_payments", record) == [
            ProgressPaymentIn(
                project_code=p["project_code"],
                payment_no=f"GCK20251202{alloc['id']:08d}",
                paid_on=alloc["bill_date"],
                amount=alloc["progress_payment"],
                payer_uscc=builder["uscc"],
            )
        ]
        # And an output value, as the world's project reported it (the warning situations' projects have
        # none of the bulk ones: their rules' own situations write them)
        o = world.output_values[0]
        code = world.project_by_id(o["project_id"])["project_code"]
        values = [r for pg in read_all(streams["output_values"], {}) for r in pg.records]
        record = next(r for r in values if (r["projectCode"], r["statMonth"]) == (code, o["month"]))
        assert record["reportNo"] == f"CZ{o['month'].replace('-', '')}{o['project_id']:08d}"
        assert connector.normalise("output_values", record) == [
            OutputValueIn(project_code=code, month=o["month"], amount=o["amount"], reported_on=o["reported_on"])
        ]
        assert not any(v["project_id"] == p["id"] for v in world.output_values)

    @pytest.mark.parametrize(
        ("stream", "change", "field", "reason"),
        [
            (
                "contracts",
                {"contractType": "挂靠"},
                "contractType",
                "unknown contractType '挂靠': expected one of 施工总承包, 专业分包, 劳务分包",
            ),
            (
                "contracts",
                {"contractType": "劳务分包", "parentCorpCode": None},
                "parentCorpCode",
                "a 劳务分包 contract names the contractor it holds it from: parentCorpCode is missing",
            ),
            (
                "contracts",
                {"contractAmount": "-1"},
                "contractAmount",
                "contractAmount '-1' must be a non-negative number",
            ),
            (
                "progress_payments",
                {"paymentAmount": "-691358.02"},
                "paymentAmount",
                "paymentAmount '-691358.02' must be a non-negative number",
            ),
            (
                "progress_payments",
                {"payDate": "2025-12-32"},
                "payDate",
                "payDate '2025-12-32' is not a date (yyyy-MM-dd)",
            ),
            ("output_values", {"statMonth": "2025-13"}, "statMonth", "statMonth is not a month (YYYY-MM): '2025-13'"),
            ("output_values", {"outputValue": None}, "outputValue", "required field outputValue is missing"),
        ],
        ids=[
            "unknown-contract-type",
            "subcontract-without-parent",
            "negative-contract-value",
            "negative-progress-payment",
            "impossible-pay-date",
            "month-13",
            "output-missing",
        ],
    )
    def test_normalise_rejects_a_bad_money_record_naming_the_field(
        self, sandbox: Sandbox, stream: str, change: dict, field: str, reason: str
    ) -> None:
        connector = PermitsConnector()
        s = {x.name: x for x in connector.streams(connector.parse_config(config(sandbox.url)))}[stream]
        record = next(iter(s.read({}))).records[0]
        with pytest.raises(Rejection) as info:
            connector.normalise(stream, {**record, **change})
        assert (info.value.field, info.value.reason) == (field, reason)

    @pytest.mark.parametrize(
        ("change", "field", "reason"),
        [
            ({"contractorCorpCode": None}, "contractorCorpCode", "required field contractorCorpCode is missing"),
            ({"permitDate": "2025-02-30"}, "permitDate", "permitDate '2025-02-30' is not a date (yyyy-MM-dd)"),
            (
                {"projectStatus": "暂停"},
                "projectStatus",
                "unknown projectStatus '暂停': expected one of 在建, 停工, 竣工",
            ),
            ({"contractAmount": "一千万"}, "contractAmount", "contractAmount '一千万' is not a number"),
            ({"labourCostRatio": "21.06"}, "labourCostRatio", "labourCostRatio 21.06 must be a share between 0 and 1"),
        ],
        ids=["missing-contractor", "impossible-permit-date", "unknown-status", "amount-in-words", "ratio-as-percent"],
    )
    def test_normalise_rejects_a_bad_project_naming_the_field(
        self, sandbox: Sandbox, change: dict, field: str, reason: str
    ) -> None:
        connector = PermitsConnector()
        stream = connector.streams(connector.parse_config(config(sandbox.url)))[1]
        record = next(iter(stream.read({}))).records[0]
        with pytest.raises(Rejection, match=reason.replace("(", r"\(").replace(")", r"\)")) as info:
            connector.normalise("projects", {**record, **change})
        assert info.value.field == field

    # -- sync -----------------------------------------------------------------------------------------

    def test_sync_keeps_seeded_rows_and_creates_live_ones(
        self, sandbox: Sandbox, world: Any, seeded_db_url: str, sync_engine: Any
    ) -> None:
        before = db_rows(seeded_db_url)
        # Given one live interval after the world's day: one new project
        sandbox.clock.advance(INTERVAL)
        want = expected(world, sandbox.clock)
        new_enterprises = want.enterprises - set(before.usccs)
        inst = instance(seeded_db_url, sandbox.url)
        engine = sync_engine(seeded_db_url)
        # When synced
        result = engine.run(inst)
        # Then what the seed holds comes back unchanged, and only the live records are created
        assert result.status == "succeeded", result.error
        ents, projs = result.stats["enterprises"], result.stats["projects"]
        assert (ents.created, ents.updated, ents.unchanged) == (
            len(new_enterprises),
            0,
            len(want.enterprises) - len(new_enterprises),
        )
        assert (projs.read, projs.created, projs.updated, projs.quarantined) == (49, 1, 0, 0)  # 48 seeded + 1 live
        # the contract chain, progress payments and output values the seed holds come back unchanged; the
        # live project brings its 总包 contract
        # (a 分包 contract carries its holder's registry details: that enterprise comes back unchanged too,
        # once per page that names it)
        for name, (_, rows) in MONEY_STREAMS.items():
            stats = result.stats[name]
            live = int(name == "contracts")
            assert (stats.read, stats.created, stats.updated, stats.quarantined) == (
                len(rows(world)) + live,
                live,
                0,
                0,
            ), name
            assert stats.unchanged >= len(rows(world)) if name == "contracts" else stats.unchanged == len(rows(world))
        assert money_counts(seeded_db_url)["project_contracts"] == len(world.contracts) + 1
        after = db_rows(seeded_db_url)
        assert after.n_projects == before.n_projects + 1 and len(after.usccs) == len(before.usccs) + len(
            new_enterprises
        )
        assert after.projects == want.projects
        # And a second run finds nothing new
        again = engine.run(inst)
        assert again.status == "succeeded"
        assert {k: (s.read, s.created) for k, s in again.stats.items()} == dict.fromkeys(
            ("enterprises", "projects", *MONEY_STREAMS), (0, 0)
        )
        # When two more intervals pass: one more project with a newly registered builder, and an
        # in-progress project stops or completes
        sandbox.clock.advance(2 * INTERVAL)
        third = engine.run(inst)
        assert third.status == "succeeded"
        assert (third.stats["enterprises"].read, third.stats["enterprises"].created) == (1, 1)
        assert (third.stats["projects"].read, third.stats["projects"].created, third.stats["projects"].updated) == (
            2,
            1,
            1,
        )
        assert (third.stats["contracts"].read, third.stats["contracts"].created) == (1, 1)
        final = db_rows(seeded_db_url)
        assert final.projects == expected(world, sandbox.clock).projects
        assert set(final.usccs) == set(before.usccs) | expected(world, sandbox.clock).enterprises

    def test_project_without_party_details_waits_for_its_enterprises(
        self, sandbox: Sandbox, empty_db_url: str, sync_engine: Any
    ) -> None:
        from hub.sync import StreamStats

        connector = PermitsConnector()
        inst = instance(empty_db_url, sandbox.url)
        engine = sync_engine(empty_db_url)
        stream = connector.streams(connector.parse_config(config(sandbox.url)))[1]
        record = next(iter(stream.read({}))).records[0]
        bare = {k: v for k, v in record.items() if not k.endswith(("LegalMan", "ShortName", "CorpAddress"))}
        # Given a project that names its contractor only by code and name, before the contractor is known
        engine.store_page(inst, connector, stream, Page(records=[bare], state={}), StreamStats())
        [(_, field, reason, _, _)] = db_rows(empty_db_url).quarantine
        assert field == "contractorUscc" and reason.startswith(
            f"unknown contractor USCC {record['contractorCorpCode']!r}"
        )
        # When the enterprises arrive, the replay stores it
        assert engine.run(inst, streams=["enterprises"]).status == "succeeded"
        assert engine.replay(instance_id=inst)["replayed"] == 1
        assert db_rows(empty_db_url).projects == {record["projectCode"]: ("in_progress", record["permitNo"])}

    def test_sync_into_an_empty_database(
        self, sandbox: Sandbox, world: Any, empty_db_url: str, sync_engine: Any
    ) -> None:
        from hub.seed import load_regions

        # Given a migrated database holding only the reference regions (ingest itself does not need them)
        engine = make_engine(empty_db_url)
        load_regions(engine)
        engine.dispose()
        inst = instance(empty_db_url, sandbox.url)
        # When synced
        result = sync_engine(empty_db_url).run(inst)
        # Then every world project and every builder / contractor exists, with valid permit numbers
        assert result.status == "succeeded", result.error
        rows = db_rows(empty_db_url)
        assert rows.projects == {c: (p["status"], p["permit_no"]) for c, p in world.projects.items()}
        # (the 分包 holders arrive with their contracts: the enterprise list has only 建设单位 and 总包)
        holders = {world.enterprise_by_id(c["enterprise_id"])["uscc"] for c in world.contracts}
        listed = {e["uscc"] for e in world.enterprises.values() if e["kind"] in KNOWN_KINDS}
        assert sorted(rows.usccs) == sorted(listed | holders)
        assert all(validate_permit_no(p) == p for _, p in rows.projects.values() if p)
        assert result.stats["projects"].created == len(world.projects)
        assert result.stats["enterprises"].created == len(listed)
        # And the chain, the progress payments and the output values are stored, none quarantined
        # (the contracts stream creates the 分包 holders the enterprise list does not have)
        sub_holders = {
            world.enterprise_by_id(c["enterprise_id"])["uscc"] for c in world.contracts if c["role"] != "general"
        }
        for name, (_, world_rows) in MONEY_STREAMS.items():
            extra = len(sub_holders - listed) if name == "contracts" else 0
            assert (result.stats[name].created, result.stats[name].quarantined) == (
                len(world_rows(world)) + extra,
                0,
            ), name
        assert money_counts(empty_db_url) == {
            "project_contracts": len(world.contracts),
            "progress_payments": len(world.progress_payments),
            "output_values": len(world.output_values),
        }


def money_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        counts = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("project_contracts", "progress_payments", "output_values")
        }
    engine.dispose()
    return counts


def instance(url: str, sandbox_url: str, **overrides: Any) -> int:
    cfg = config(sandbox_url, **overrides)
    api_key = cfg.pop("api_key")
    return create_instance(url, kind=KIND, config=cfg, secrets={"api_key": api_key})
