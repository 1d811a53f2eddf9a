"""Sandbox of the province's real-name platform (建筑工人实名制管理平台, 实名制考勤).

The protocol (JSON REST; every answer is ``{"code": "0", "msg": "成功", "data": ...}``, errors carry
an upper-case ``code`` and a Chinese ``msg``)::

    POST /api/v1/auth/token     headers X-App-Id, X-App-Secret     → data {accessToken, expiresIn}
    GET  /api/v1/teams          header X-Access-Token; ?cursor=&pageSize=1..500
    GET  /api/v1/workers        idem
    GET  /api/v1/movements      idem
    GET  /api/v1/attendance     idem
    GET  /health

Lists are ordered by ``updateTime`` (China Standard Time, ``YYYY-MM-DD HH:MM:SS``) then by the key
(``teamSysNo`` / ``workerSysNo`` / ``moveSysNo`` / ``attendSysNo``); ``cursor`` is ``"<updateTime>|<key>"``
of the last record received. ``idCardNumber`` and ``payRollBankCardNumber`` are served encrypted with
the data key (``connectors.realname._fieldcrypt``; ``DEMO_CREDENTIALS["data_key"]``), a fresh IV per
answer; the platform holds them in clear (``RealnamePlatform.records``).

History: the world's teams, roster, entries and exits (an exit with its settlement) and recent
attendance, each updated when it happened. Live: every ``live_interval_seconds`` of ``clock()`` from
the moment the world was seeded (``live_epoch``) one event happens — a worker on a site in progress clocks in (or, the second time
that day, out); every fourth event a worker leaves the site, settled (the exit, and the roster record
updated with its exitTime). Protocol faults: ``duplicate_page_next``, ``cursor_backwards_next``,
``expire_token_next`` and ``bad_records_next`` (an attendance record whose encrypted ID number is
damaged, so that the data key no longer opens it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
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
from connectors.realname._fieldcrypt import ENCRYPTED_FIELDS, encrypt_field, parse_key
from connectors.sandbox.faults import Faults

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from connectors.sandbox.world import World

#: The fixed credentials the sandbox accepts (the runner prints them).
DEMO_CREDENTIALS = {
    "app_id": "hub-demo",
    "app_secret": "realname-demo-app-secret",
    "data_key": "6a1f0c3e9b7d45a2c8e1f03b5d7a9c21",
}
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100
UPSTREAM = Upstream(
    secret_header="X-App-Secret",
    secret_option="app_secret",
    refused_code="INVALID_APP_SECRET",
    refused_msg="应用编号或应用密钥错误 (invalid app id or app secret)",
    default_page_size=DEFAULT_PAGE_SIZE,
    max_page_size=MAX_PAGE_SIZE,
)
STREAMS = {"teams": "teamSysNo", "workers": "workerSysNo", "movements": "moveSysNo", "attendance": "attendSysNo"}
MOVE_TYPES = {"entry": "1", "exit": "2"}


def worker_sys_no(worker_id: int) -> str:
    return f"RW{worker_id:010d}"


class RealnamePlatform(LiveSource):
    """What the platform holds at a moment: the world's history plus the live events so far."""

    name = "realname"
    STREAMS = STREAMS

    def __init__(self, world: World, *, live_interval_seconds: float, data_key: str) -> None:
        self.key = parse_key(data_key)
        super().__init__(world, live_interval_seconds=live_interval_seconds)

    def served(self, record: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``record`` as served: its personal fields encrypted, a fresh IV each time."""
        out = dict(record)
        for name in ENCRYPTED_FIELDS:
            if out.get(name):
                out[name] = encrypt_field(self.key, out[name])
        return out

    def _reset(self) -> None:
        w = self.world
        self.records = {name: {} for name in STREAMS}
        self._last_pay: dict[int, tuple[str, Decimal]] = {}
        for x in w.payroll:
            known = self._last_pay.get(x["worker_id"])
            if known is None or x["pay_month"] > known[0]:
                self._last_pay[x["worker_id"]] = (x["pay_month"], x["actual_amount"])
        self._workers: dict[int, dict[str, Any]] = {}
        for t in w.teams:
            rec = {
                "teamSysNo": t["team_sys_no"],
                "teamName": t["name"],
                "projectCode": w.project_by_id(t["project_id"])["project_code"],
                "corpCode": w.enterprise_by_id(t["enterprise_id"])["uscc"],
                "teamLeaderName": t.get("leader_name"),
                "entryTime": fmt_day(t.get("entry_date")),
                "exitTime": fmt_day(t.get("exit_date")),
                "updateTime": fmt_time(t["created_at"]),
            }
            self.records["teams"][rec["teamSysNo"]] = rec
        for p in w.workers:
            if p.get("on_roster") is False:
                continue  # first seen in a bank's pay detail: the roster does not list them (条例 第二十八条)
            self._workers[p["id"]] = p
            rec = self.worker_record(p, fmt_time(p["created_at"]))
            self.records["workers"][rec["workerSysNo"]] = rec
        for v in w.movements:
            at = v.get("created_at") or dt.datetime.combine(v["moved_on"], dt.time(18), CST)
            rec = self.movement_record(v, fmt_time(at))
            self.records["movements"][rec["moveSysNo"]] = rec
        for a in w.attendance:
            rec = self.attendance_record(a, a["time_in"], a.get("time_out"))
            self.records["attendance"][rec["attendSysNo"]] = rec
        # Who may clock in live: the workers on site of the projects in progress.
        self._on_site = sorted(
            p["id"]
            for p in self._workers.values()
            if p.get("exit_date") is None and w.project_by_id(p["project_id"])["status"] == "in_progress"
        )
        self._reset_live()

    # -- records ----------------------------------------------------------------------------

    def worker_record(self, p: dict[str, Any], update_time: str) -> dict[str, Any]:
        """A roster record (花名册) with its ID number and card encrypted."""
        w = self.world
        bank_code = p.get("bank_code")
        return {
            "workerSysNo": worker_sys_no(p["id"]),
            "projectCode": w.project_by_id(p["project_id"])["project_code"],
            "corpCode": w.enterprise_by_id(p["enterprise_id"])["uscc"],
            "teamSysNo": p.get("team_sys_no"),
            "workerName": p["name"],
            "idCardType": p.get("id_card_type") or "01",
            "idCardNumber": p["id_number"],
            "workType": p.get("work_type"),
            "workRole": p.get("work_role"),
            "isTeamLeader": 1 if p.get("is_team_leader") else 0,
            "payRollBankCardNumber": p.get("bank_card"),
            "payRollTopBankCode": bank_code[:3] if bank_code else None,  # the bank's own code leads 联行号
            "bankLinkNumber": bank_code,
            "cellPhone": p.get("phone"),
            "entryTime": fmt_day(p.get("entry_date")),
            "exitTime": fmt_day(p.get("exit_date")),
            "updateTime": update_time,
        }

    def movement_record(self, v: dict[str, Any], update_time: str) -> dict[str, Any]:
        w = self.world
        exit_ = v["kind"] == "exit"
        return {
            "moveSysNo": f"RM{v['worker_id']:010d}{MOVE_TYPES[v['kind']]}{v['moved_on']:%Y%m%d}",
            "projectCode": w.project_by_id(v["project_id"])["project_code"],
            "corpCode": w.enterprise_by_id(v["enterprise_id"])["uscc"],
            "idCardNumber": v["id_number"],
            "workerName": v.get("worker_name"),
            "moveType": MOVE_TYPES[v["kind"]],
            "moveDate": fmt_day(v["moved_on"]),
            **(
                {"isSettled": 1 if v.get("settled") else 0, "settleAmount": fmt_money(v.get("settlement_amount"))}
                if exit_
                else {}
            ),
            **({"settleDate": fmt_day(v.get("settlement_date"))} if exit_ else {}),
            "updateTime": update_time,
        }

    def attendance_record(
        self, a: dict[str, Any], time_in: dt.datetime, time_out: dt.datetime | None
    ) -> dict[str, Any]:
        w = self.world
        return {
            "attendSysNo": f"RA{a['worker_id']:010d}{a['day']:%Y%m%d}",
            "projectCode": w.project_by_id(a["project_id"])["project_code"],
            "idCardNumber": a["id_number"],
            "workerName": a.get("worker_name"),
            "attendDate": fmt_day(a["day"]),
            "inTime": fmt_time(time_in),
            "outTime": fmt_time(time_out) if time_out else None,
            "deviceNo": a.get("device_id"),
            "updateTime": fmt_time(time_out or time_in),
        }

    # -- live events ------------------------------------------------------------------------

    def _event(self, i: int) -> None:
        if not self._on_site:
            return
        at = self.epoch + i * self.interval
        r = self.world.rng("realname-live", i)
        k = r.randrange(len(self._on_site))
        p = self._workers[self._on_site[k]]
        day = at.astimezone(CST).date()
        if i % 4 == 0:  # leaves the site, settled: the last month's pay, paid the same day
            self._on_site[k] = self._on_site[-1]
            self._on_site.pop()
            p = self._workers[p["id"]] = {**p, "exit_date": day}
            last = self._last_pay.get(p["id"])
            move = {
                "worker_id": p["id"],
                "project_id": p["project_id"],
                "enterprise_id": p["enterprise_id"],
                "id_number": p["id_number"],
                "worker_name": p["name"],
                "kind": "exit",
                "moved_on": day,
                "settled": True,
                "settlement_amount": last[1] if last else Decimal(0),
                "settlement_date": day,
            }
            rec = self.movement_record(move, fmt_time(at))
            self.records["movements"][rec["moveSysNo"]] = rec
            roster = self.worker_record(p, fmt_time(at))
            self.records["workers"][roster["workerSysNo"]] = roster
            return
        row = {"worker_id": p["id"], "project_id": p["project_id"], "day": day, "id_number": p["id_number"]}
        row |= {"worker_name": p["name"], "device_id": f"KQ{p['project_id']:08d}01"}
        key = f"RA{p['id']:010d}{day:%Y%m%d}"
        known = self.records["attendance"].get(key)
        if known is None:  # clocks in
            rec = self.attendance_record(row, at, None)
        else:  # the second time that day: clocks out
            clocked_in = dt.datetime.strptime(known["inTime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST)
            rec = self.attendance_record(row, clocked_in, at)
        self.records["attendance"][key] = rec


def _damage(records: list[dict[str, Any]]) -> None:
    """One record's encrypted ID number loses its last block: the data key no longer opens it."""
    rec = records[0]
    rec["idCardNumber"] = rec["idCardNumber"][:-24] + "AAAAAAAAAAAAAAAAAAAAAA=="


def create_app(
    *,
    world: World,
    faults: Faults | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    live_interval_seconds: float = 20.0,
    **options: Any,
) -> Starlette:
    """The real-name platform's sandbox over ``world``; ``options``: ``app_id`` / ``app_secret`` / ``data_key``."""
    creds = credentials(DEMO_CREDENTIALS, options)
    platform = RealnamePlatform(world, live_interval_seconds=live_interval_seconds, data_key=creds["data_key"])
    app = cursor_app(
        upstream=UPSTREAM,
        source=platform,
        paths={f"/api/v1/{name}": name for name in STREAMS},
        creds=creds,
        faults=faults or Faults(),
        clock=clock,
        spoilers={"attendance": _damage},
    )
    app.state.platform = platform
    return app


__all__ = ["DEMO_CREDENTIALS", "MAX_PAGE_SIZE", "RealnamePlatform", "create_app", "live_epoch", "worker_sys_no"]
