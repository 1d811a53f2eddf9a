"""The real-name platform connector (实名制) against its sandbox, served over real HTTP on loopback.

The contract every connector keeps is ``connectors.testing.SandboxContract``; this module declares
the platform's words for it and tests what only the platform does: encrypted ID numbers and cards,
the roster that movements and attendance must name, exits that close a worker's stay."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text, update

from connectors import registry
from connectors.base import AttendanceIn, CheckResult, MovementIn, Page, Rejection, TeamIn, WorkerIn
from connectors.realname import RealnameConnector
from connectors.realname._fieldcrypt import decrypt_field, encrypt_field, parse_key
from connectors.realname.sandbox import DEMO_CREDENTIALS, RealnamePlatform, live_epoch, worker_sys_no
from connectors.testing import BadRecord, Hub, Quarantined, RefusedRun, Sandbox, SandboxContract
from hub import models as m
from hub.db import make_engine
from hub.identifiers import make_id_number
from hub.sync import StreamStats
from tests.connectors.conftest import create_instance

KIND = "realname"
INTERVAL = 20.0
KEY = parse_key(DEMO_CREDENTIALS["data_key"])
STREAMS = ("teams", "workers", "movements", "attendance")


@pytest.fixture(scope="module", autouse=True)
def _installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The connector as the registry finds it: through its entry point (pyproject.toml). Until the
    shared environment is reinstalled with it, a distribution declaring just that entry point is put
    on the path — the registry and the sync engine then load it exactly as an installed one."""
    registry.available.cache_clear()
    if KIND in registry.available():
        yield
        return
    import sys

    site = tmp_path_factory.mktemp("site")
    info = site / "wage_hub_realname-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wage-hub-realname\nVersion: 0.0.0\n")
    (info / "entry_points.txt").write_text(f"[hub.connectors]\n{KIND} = connectors.realname:RealnameConnector\n")
    sys.path.insert(0, str(site))
    registry.available.cache_clear()
    try:
        yield
    finally:
        sys.path.remove(str(site))
        registry.available.cache_clear()


def config(url: str, **overrides: Any) -> dict[str, Any]:
    return {"base_url": url, "page_size": 200, "timeout_seconds": 5, **DEMO_CREDENTIALS, **overrides}


def instance(url: str, sandbox_url: str, **overrides: Any) -> int:
    cfg = config(sandbox_url, **overrides)
    secrets = {k: cfg.pop(k) for k in ("app_secret", "data_key")}
    return create_instance(url, kind=KIND, config=cfg, secrets=secrets)


def stream_of(sandbox: Sandbox, name: str, **overrides: Any) -> Any:
    connector = RealnameConnector()
    return next(
        s for s in connector.streams(connector.parse_config(config(sandbox.url, **overrides))) if s.name == name
    )


def records(stream: Any, state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [r for p in stream.read(state or {}) for r in p.records]


def counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        out = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("teams", "workers", "site_movements", "attendance", "quarantine")
        }
    engine.dispose()
    return out


class TestRealname(SandboxContract):
    kind = KIND
    interval = INTERVAL
    page_size = 200
    page_sizes = {"teams": 10, "workers": 100, "movements": 100, "attendance": 500}
    secret_fields = ("app_secret", "data_key")
    bookmark = ("cursor",)
    check_ok = "connected to the real-name platform at {url}: credentials and data key accepted"
    check_refused = "the real-name platform refused the app id / app secret (HTTP 401): check app_id and app_secret"
    wrong_credentials = ({"app_secret": "not-the-secret"}, {"app_id": "someone-else"})
    check_unreachable = "cannot reach the real-name platform at {url}: connection failed"
    refused_runs = {
        name: RefusedRun(
            error="upstream refused the credentials (HTTP 401): check the connector's credentials", **setup
        )
        for name, setup in [
            ("wrong-app-secret", {"config": {"app_secret": "wrong-secret"}}),
            ("status-401", {"fault": {"status_next": 1, "status_code": 401}}),
        ]
    }
    # an attendance record whose encrypted ID number the data key no longer opens
    bad_records = {"attendance": BadRecord("idCardNumber", "idCardNumber cannot be decrypted")}

    def epoch(self, world: Any) -> dt.datetime:
        return live_epoch(world)

    def start_state(self, sandbox: Sandbox) -> dict[str, Any]:
        # The last two days of attendance (the history holds weeks of it); the smaller streams whole.
        day = sandbox.clock().astimezone(dt.timezone(dt.timedelta(hours=8))).date() - dt.timedelta(days=2)
        return {"attendance": {"cursor": f"{day:%Y-%m-%d} 00:00:00|"}}

    def snapshot(self, hub: Hub, url: str) -> Any:
        return counts(url)

    def check_quarantined(self, sandbox: Sandbox, entry: Quarantined, stats: StreamStats) -> None:
        assert entry.reason == (
            "idCardNumber cannot be decrypted with the connector's data_key (a wrong key, or a value damaged "
            "on the way): check data_key, then replay"
        )
        assert entry.payload["$undecryptable"] == ["idCardNumber"]

    # -- encrypted fields -------------------------------------------------------------------------

    def test_the_key_opens_what_it_sealed_and_a_wrong_key_does_not(self) -> None:
        # Given an ID number encrypted with the demo key, a fresh IV each time
        sealed = [encrypt_field(KEY, "37081119800101001X") for _ in range(2)]
        assert sealed[0] != sealed[1]
        # Then the key opens both, and another key opens neither
        assert [decrypt_field(KEY, s) for s in sealed] == ["37081119800101001X"] * 2
        from connectors.realname._fieldcrypt import UndecryptableField

        with pytest.raises(UndecryptableField, match="wrong data_key"):
            decrypt_field(parse_key("00" * 16), sealed[0])

    def test_the_roster_arrives_encrypted_and_is_read_decrypted(self, sandbox: Sandbox, world: Any) -> None:
        import httpx

        p = next(w for w in world.workers if w["bank_card"] and w["team_sys_no"])
        key = worker_sys_no(p["id"])
        # Given the platform's own answer: ID number and card in ciphertext
        with httpx.Client(base_url=sandbox.url) as http:
            auth = {"X-App-Id": DEMO_CREDENTIALS["app_id"], "X-App-Secret": DEMO_CREDENTIALS["app_secret"]}
            token = http.post("/api/v1/auth/token", headers=auth).json()["data"]["accessToken"]
            served: list[dict[str, Any]] = []
            cursor: dict[str, str] = {}
            while True:
                data = http.get(
                    "/api/v1/workers", params={"pageSize": 500, **cursor}, headers={"X-Access-Token": token}
                ).json()["data"]
                served += data["records"]
                if not data["hasMore"]:
                    break
                cursor = {"cursor": data["nextCursor"]}
        [raw] = [r for r in served if r["workerSysNo"] == key]
        assert p["id_number"] not in str(raw) and p["bank_card"] not in str(raw)
        assert decrypt_field(KEY, raw["idCardNumber"]) == p["id_number"]
        # When the workers stream reads it, Then both are in clear, and normalise maps the roster record
        record = next(r for r in records(stream_of(sandbox, "workers")) if r["workerSysNo"] == key)
        assert (record["idCardNumber"], record["payRollBankCardNumber"]) == (p["id_number"], p["bank_card"])
        assert RealnameConnector().normalise("workers", record) == [
            WorkerIn(
                project_code=world.project_by_id(p["project_id"])["project_code"],
                corp_uscc=world.enterprise_by_id(p["enterprise_id"])["uscc"],
                id_number=p["id_number"],
                name=p["name"],
                team_sys_no=p["team_sys_no"],
                work_type=p["work_type"],
                work_role="建筑工人",
                is_team_leader=p["is_team_leader"],
                bank_card=p["bank_card"],
                bank_code=p["bank_code"],
                phone=p["phone"],
                entry_date=p["entry_date"],
                exit_date=p["exit_date"],
            )
        ]

    def test_check_says_when_the_data_key_is_wrong(self, sandbox: Sandbox) -> None:
        connector = RealnameConnector()
        # Given the right app id and secret but another data key
        result = connector.check(connector.parse_config(config(sandbox.url, data_key="11" * 16)))
        # Then check names the key, not the credentials
        assert result == CheckResult(
            False,
            "the real-name platform accepted the app id and secret, but data_key does not open its encrypted "
            "ID numbers: check data_key",
        )

    def test_a_data_key_of_the_wrong_shape_is_refused_without_echoing_it(self) -> None:
        from pydantic import ValidationError

        # When a config names a key of 6 hex characters, Then the message (what the admin API shows:
        # hub.connector_admin reports a validation error's msg) says what a key is, never the key
        with pytest.raises(ValidationError) as info:
            RealnameConnector().parse_config(config("http://x/", data_key="abc123"))
        [error] = info.value.errors()
        assert (error["loc"], error["msg"]) == (
            ("data_key",),
            "Value error, data_key must be 32 hexadecimal characters (a 128-bit AES key), got 6",
        )

    # -- normalise --------------------------------------------------------------------------------

    def test_normalise_maps_a_team_an_exit_and_a_day_of_attendance(self, sandbox: Sandbox, world: Any) -> None:
        connector = RealnameConnector()
        team = world.teams[0]
        [t] = [r for r in records(stream_of(sandbox, "teams")) if r["teamSysNo"] == team["team_sys_no"]]
        assert connector.normalise("teams", t) == [
            TeamIn(
                project_code=world.project_by_id(team["project_id"])["project_code"],
                corp_uscc=world.enterprise_by_id(team["enterprise_id"])["uscc"],
                team_sys_no=team["team_sys_no"],
                name=team["name"],
                leader_name=team["leader_name"],
                entry_date=team["entry_date"],
                exit_date=team["exit_date"],
            )
        ]
        exit_ = next(v for v in world.movements if v["kind"] == "exit")
        moves = records(stream_of(sandbox, "movements"))
        [x] = [r for r in moves if r["moveType"] == "2" and r["idCardNumber"] == exit_["id_number"]]
        assert connector.normalise("movements", x) == [
            MovementIn(
                project_code=world.project_by_id(exit_["project_id"])["project_code"],
                id_number=exit_["id_number"],
                kind="exit",
                moved_on=exit_["moved_on"],
                corp_uscc=world.enterprise_by_id(exit_["enterprise_id"])["uscc"],
                settled=True,
                settlement_amount=exit_["settlement_amount"],
                settlement_date=exit_["settlement_date"],
            )
        ]
        a = world.attendance[-1]
        [day] = [
            r
            for r in records(stream_of(sandbox, "attendance"))
            if r["idCardNumber"] == a["id_number"] and r["attendDate"] == a["day"].isoformat()
        ]
        cst = dt.timezone(dt.timedelta(hours=8))
        assert connector.normalise("attendance", day) == [
            AttendanceIn(
                project_code=world.project_by_id(a["project_id"])["project_code"],
                id_number=a["id_number"],
                day=a["day"],
                time_in=a["time_in"].astimezone(cst),
                time_out=a["time_out"].astimezone(cst),
                device_id=a["device_id"],
            )
        ]

    @pytest.mark.parametrize(
        ("stream", "change", "field", "reason"),
        [
            ("movements", {"moveType": "3"}, "moveType", "unknown moveType '3': expected one of 1, 2"),
            (
                "movements",
                {"settleAmount": "-100"},
                "settleAmount",
                "settleAmount '-100' must be a non-negative number",
            ),
            (
                "attendance",
                {"attendDate": "2026-02-30"},
                "attendDate",
                "attendDate '2026-02-30' is not a date (yyyy-MM-dd)",
            ),
            (
                "attendance",
                {"inTime": "2026-11-01 07:00:00", "attendDate": "2026-11-02"},
                "inTime",
                "inTime '2026-11-01 07:00:00' is not on attendDate 2026-11-02",
            ),
            ("workers", {"idCardType": "03"}, "idCardType", "unknown idCardType '03': expected one of 01"),
        ],
        ids=["unknown-move-type", "negative-settlement", "impossible-day", "clock-in-another-day", "passport"],
    )
    def test_normalise_rejects_a_bad_record_naming_the_field(
        self, sandbox: Sandbox, stream: str, change: dict, field: str, reason: str
    ) -> None:
        record = records(stream_of(sandbox, stream))[-1]
        if stream == "movements":
            record = {**record, "moveType": "2", "isSettled": 1, "settleAmount": "100"}
        with pytest.raises(Rejection) as info:
            RealnameConnector().normalise(stream, {**record, **change})
        assert (info.value.field, info.value.reason) == (field, reason)

    # -- sync ---------------------------------------------------------------------------------------

    def test_sync_keeps_the_seeded_real_name_records(
        self, sandbox: Sandbox, world: Any, seeded_db_url: str, sync_engine: Any
    ) -> None:
        before = counts(seeded_db_url)
        # Given the seeded database (the same world as the sandbox) and no live event yet
        result = sync_engine(seeded_db_url).run(instance(seeded_db_url, sandbox.url))
        # Then every record comes back unchanged: nothing created, updated or quarantined
        assert result.status == "succeeded", result.error
        assert {k: (s.created, s.updated, s.quarantined) for k, s in result.stats.items()} == dict.fromkeys(
            STREAMS, (0, 0, 0)
        )
        assert result.stats["attendance"].unchanged == len(world.attendance)
        assert counts(seeded_db_url) == before

    def test_a_live_exit_closes_the_workers_stay_with_its_settlement(
        self, sandbox: Sandbox, world: Any, seeded_db_url: str, sync_engine: Any
    ) -> None:
        engine = sync_engine(seeded_db_url)
        inst = instance(seeded_db_url, sandbox.url)
        assert engine.run(inst).status == "succeeded"
        # Given four live intervals: three clock-ins and, on the fourth, a worker leaving the site
        sandbox.clock.advance(4 * INTERVAL)
        result = engine.run(inst)
        assert result.status == "succeeded", result.error
        assert (result.stats["movements"].created, result.stats["workers"].updated) == (1, 1)
        platform: RealnamePlatform = sandbox.app.state.platform
        [move] = [r for r in platform.records["movements"].values() if r["moveDate"] == world.today.isoformat()]
        # Then the worker's exit_date is the day, and the exit carries its settlement
        db = make_engine(seeded_db_url)
        with db.connect() as conn:
            worker_id = int(move["moveSysNo"][2:12])
            exit_date = conn.execute(select(m.Worker.exit_date).where(m.Worker.id == worker_id)).scalar_one()
            settled = conn.execute(
                select(m.SiteMovement.settled, m.SiteMovement.settlement_amount).where(
                    m.SiteMovement.worker_id == worker_id, m.SiteMovement.kind == "exit"
                )
            ).one()
        db.dispose()
        assert exit_date == world.today
        assert (settled[0], Decimal(str(settled[1]))) == (True, Decimal(move["settleAmount"]))

    def test_records_of_someone_off_the_roster_are_quarantined_until_the_roster_lists_them(
        self, sandbox: Sandbox, world: Any, seeded_db_url: str, sync_engine: Any
    ) -> None:
        engine = sync_engine(seeded_db_url)
        inst = instance(seeded_db_url, sandbox.url)
        connector = RealnameConnector()
        attendance = stream_of(sandbox, "attendance")
        a = world.attendance[-1]
        code = world.project_by_id(a["project_id"])["project_code"]
        [day] = [
            r
            for r in records(attendance)
            if r["idCardNumber"] == a["id_number"] and r["attendDate"] == a["day"].isoformat()
        ]
        stranger = make_id_number(world.rng("stranger"), region_code="370811", birth=dt.date(1985, 5, 5), male=True)
        # Given a worker the bank paid before the roster listed them (on_roster false), and someone unknown
        db = make_engine(seeded_db_url)
        with db.begin() as conn:
            conn.execute(update(m.Worker).where(m.Worker.id == a["worker_id"]).values(on_roster=False))
        page = Page(
            records=[{**day, "attendSysNo": "X1"}, {**day, "attendSysNo": "X2", "idCardNumber": stranger}], state={}
        )
        # When their attendance arrives, Then both records are quarantined naming the field, the ID masked
        engine.store_page(inst, connector, attendance, page, StreamStats())
        with db.connect() as conn:
            reasons = conn.execute(text("SELECT field, reason FROM quarantine ORDER BY id")).all()
        masked = [f"{i[:6]}********{i[-4:]}" for i in (a["id_number"], stranger)]
        assert [tuple(r) for r in reasons] == [
            (
                "idCardNumber",
                f"worker {mk} is not on the real-name roster of project {code!r}: sync the roster (workers) first, "
                "then replay",
            )
            for mk in masked
        ]
        assert not any(i in r[1] for r in reasons for i in (a["id_number"], stranger))
        # When the roster syncs, Then it lists the worker (on_roster true), and replay stores the day
        assert engine.run(inst, streams=["workers"]).status == "succeeded"
        with db.connect() as conn:
            assert conn.execute(select(m.Worker.on_roster).where(m.Worker.id == a["worker_id"])).scalar_one() is True
        assert engine.replay(instance_id=inst) == {"replayed": 1, "still_failing": 1}
        db.dispose()

    def test_a_worker_who_comes_back_after_leaving_is_on_site_again(
        self, sandbox: Sandbox, world: Any, seeded_db_url: str, sync_engine: Any
    ) -> None:
        engine = sync_engine(seeded_db_url)
        inst = instance(seeded_db_url, sandbox.url)
        movements = stream_of(sandbox, "movements")
        gone = next(v for v in world.movements if v["kind"] == "exit")
        [left] = [r for r in records(movements) if r["moveType"] == "2" and r["idCardNumber"] == gone["id_number"]]
        back = gone["moved_on"] + dt.timedelta(days=30)
        # Given a worker whose stay ended, When the platform records a new entry a month later
        entry = {k: v for k, v in left.items() if k not in ("isSettled", "settleAmount", "settleDate")}
        entry |= {"moveSysNo": "RM-BACK", "moveType": "1", "moveDate": back.isoformat()}
        stats = StreamStats()
        engine.store_page(inst, RealnameConnector(), movements, Page(records=[entry], state={}), stats)
        # Then the entry is stored, and the roster shows the worker on site since that day
        assert (stats.created, stats.quarantined) == (1, 0)
        db = make_engine(seeded_db_url)
        with db.connect() as conn:
            row = conn.execute(
                select(m.Worker.entry_date, m.Worker.exit_date).where(m.Worker.id == gone["worker_id"])
            ).one()
        db.dispose()
        assert tuple(row) == (back, None)

    def test_an_invalid_id_number_is_quarantined_naming_the_field_never_the_value(
        self, sandbox: Sandbox, seeded_db_url: str, sync_engine: Any
    ) -> None:
        engine = sync_engine(seeded_db_url)
        inst = instance(seeded_db_url, sandbox.url)
        workers = stream_of(sandbox, "workers")
        record = records(workers)[0]
        idn = record["idCardNumber"]
        bad = idn[:17] + ("0" if idn[17] != "0" else "1")  # a wrong check character
        # When a roster record with it arrives
        engine.store_page(
            inst, RealnameConnector(), workers, Page(records=[{**record, "idCardNumber": bad}], state={}), StreamStats()
        )
        db = make_engine(seeded_db_url)
        with db.connect() as conn:
            [(field, reason)] = conn.execute(text("SELECT field, reason FROM quarantine")).all()
        db.dispose()
        # Then it is quarantined naming idCardNumber and what is wrong, no part of the value
        assert field == "idCardNumber"
        assert reason == "invalid idCardNumber: the check character does not match the other 17 characters: one is mistyped"


def test_the_sandbox_history_is_the_seeded_worlds(world: Any) -> None:
    # Given the platform over the tests' world, Then it holds every team, movement and day of attendance
    platform = RealnamePlatform(world, live_interval_seconds=INTERVAL, data_key=DEMO_CREDENTIALS["data_key"])
    assert {k: len(v) for k, v in platform.records.items()} == {
        "teams": len(world.teams),
        "workers": sum(w.get("on_roster") is not False for w in world.workers),  # the roster's, not the bank's
        "movements": len(world.movements),
        "attendance": len(world.attendance),
    }
