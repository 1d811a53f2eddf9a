"""The 12345 hotline connector against its sandbox, served over real HTTP (the real httpx client runs)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from connectors import registry
from connectors.base import CallbackIn, ClueIn, FatalUpstreamError, Outcome, Rejection
from connectors.clue_channel.client import CST, fmt_local
from connectors.clue_channel.sandbox import live_complaint, live_epoch
from connectors.hotline12345 import last_change, sign_headers
from connectors.hotline12345.sandbox import DEMO_CREDENTIALS, create_app
from connectors.sandbox.world import World, build_world
from connectors.testing import BadRecord, Clock, Hub, Quarantined, RefusedRun, Sandbox, SandboxContract, serve_asgi
from hub import cluepool, deadlines, models, workflow, writeback
from hub import models as m
from hub.access import Principal
from hub.crypto import Cipher
from hub.db import make_engine, session_scope
from hub.seed._base import HOTLINE_FIELDS
from hub.sync import StreamStats
from hub.vocab import RequestType
from hub.workdays import add_working_days
from hub.writeback import deliver_due
from tests.conftest import TODAY
from tests.connectors.conftest import SECRET, WORLD, create_instance
from tests.connectors.test_clue_channels import snapshot, table_counts

INTERVAL = 20.0
CREDS = DEMO_CREDENTIALS
NON_WAGE = 6
KIND = "hotline12345"
connector = registry.get(KIND)


def make_config(url: str, **overrides: Any) -> Any:
    return connector.parse_config({"base_url": url, "page_size": 20, "timeout_seconds": 5, **CREDS, **overrides})


def read_all(config: Any, state: dict[str, Any] | None = None) -> list[Any]:
    return list(connector.streams(config)[0].read(state or {}))


def records(pages: list[Any]) -> list[dict[str, Any]]:
    return [r for p in pages for r in p.records]


class TestHotline12345(SandboxContract):
    kind = KIND
    interval = INTERVAL
    page_size = 20
    secret_fields = ("app_secret",)
    bookmark = ("updateTime", "orderNum")
    check_ok = "connected to the 12345 platform: app key hub-12345 accepted"
    check_refused = "the 12345 platform refused the app key or signature (HTTP 401): check app_key and app_secret"
    wrong_credentials = ({"app_secret": "not-the-secret"}, {"app_key": "someone-else"})
    check_unreachable = "cannot reach the 12345 platform at {url}: connection failed"
    refused_runs = {
        "status-401": RefusedRun(
            fault={"status_next": 1, "status_code": 401},
            error="the 12345 platform refused the app key or signature (HTTP 401): check app_key and app_secret",
        )
    }
    bad_records = {"work_orders": BadRecord("majorContent", "required field majorContent is missing or empty")}
    fault_mid_run = True

    def epoch(self, world: World) -> dt.datetime:
        return live_epoch(world)

    def snapshot(self, hub: Hub, url: str) -> Any:
        return snapshot(url)

    def check_quarantined(self, sandbox: Sandbox, entry: Quarantined, stats: StreamStats) -> None:
        assert entry.reason == "required field majorContent is missing or empty"
        assert entry.payload["majorContent"] == "" and entry.payload["questionCode"] == "080101"

    # -- reading ----------------------------------------------------------------------------------------

    def test_reads_every_order_in_pages_and_resumes_from_any_page(
        self, sandbox: Sandbox, world: World, clock: Clock
    ) -> None:
        # Given the world's 12345 orders and a few non-wage ones, When read in pages of 20
        config = make_config(sandbox.url)
        pages = read_all(config)
        got = records(pages)
        # Then every order comes once, in (last change, orderNum) order, and no page is larger than asked
        expected = {p["orderNum"] for p in world.clue_payloads["hotline12345"]}
        assert len(got) == len(expected) + NON_WAGE
        assert {r["orderNum"] for r in got} >= expected
        assert [len(p.records) for p in pages] == [20, 20, 20, 2]
        assert [(last_change(r), r["orderNum"]) for r in got] == sorted((last_change(r), r["orderNum"]) for r in got)
        # And reading from any page's state gives exactly the rest
        assert records(read_all(config, pages[1].state)) == got[40:]
        assert pages[-1].state == {"updateTime": last_change(got[-1]), "orderNum": got[-1]["orderNum"]}
        # When a live interval passes, Then only the new order comes
        clock.advance(INTERVAL)
        new = records(read_all(config, pages[-1].state))
        at = live_epoch(world) + dt.timedelta(seconds=INTERVAL)
        assert [(r["orderNum"], r["callTime"]) for r in new] == [(f"{at:%Y%m%d}90000001", f"{at:%Y-%m-%d %H:%M:%S}")]

    def test_the_platform_caps_page_size(self, sandbox: Sandbox, clock: Clock) -> None:
        clock.advance(50 * INTERVAL)  # 112 orders in all
        pages = read_all(make_config(sandbox.url, page_size=500))
        assert [len(p.records) for p in pages] == [100, 12]

    # -- normalise -------------------------------------------------------------------------------------

    def test_orders_carry_the_platforms_fields_only(self, sandbox: Sandbox, clock: Clock) -> None:
        # Given history, non-wage and live orders
        clock.advance(3 * INTERVAL)
        served = records(read_all(make_config(sandbox.url)))
        # Then each has exactly the 12345 work-order fields (docs/domain.md): no field the hub made up
        assert {tuple(sorted(r)) for r in served} == {tuple(sorted(HOTLINE_FIELDS))}

    def test_normalise_maps_a_live_wage_order(self, sandbox: Sandbox, world: World, clock: Clock) -> None:
        clock.advance(INTERVAL)
        order = records(read_all(make_config(sandbox.url)))[-1]
        at = live_epoch(world) + dt.timedelta(seconds=INTERVAL)
        complaint = live_complaint(world, 1, at, channel="hotline12345")
        [clue] = connector.normalise("work_orders", order)
        assert clue == ClueIn(
            channel="hotline12345",
            source_id=f"{at:%Y%m%d}90000001",
            received_at=at,
            title=f"{complaint.name}反映{complaint.respondent['name']}拖欠工资",
            content=complaint.text,
            region_code=complaint.project["region_code"],
            respondent_name=complaint.respondent["name"],
            complainant_name=complaint.name,
            complainant_phone=complaint.phone,
            sector="工程建设",
            project_name=complaint.project["name"] if complaint.project["name"] in complaint.text else None,
            request_type=RequestType("complaint" if order["reflectName"] == "投诉" else "help"),
            source_type=order["sourceType"],
            deadline_date=dt.date.fromisoformat(order["deadlineDate"]),
            supervised=complaint.headcount >= 10,
        )

    def test_normalise_maps_history_and_links_repeat_callers(self, sandbox: Sandbox, world: World) -> None:
        served = {r["orderNum"]: r for r in records(read_all(make_config(sandbox.url)))}
        repeat = next(p for p in world.clue_payloads["hotline12345"] if p["oldOrderNum"])
        [clue] = connector.normalise("work_orders", served[repeat["orderNum"]])
        assert clue.related_source_id == repeat["oldOrderNum"]
        assert (clue.content, clue.complainant_name, clue.complainant_phone) == (
            repeat["majorContent"],
            repeat["callerName"],
            repeat["callerPhone"],
        )
        assert clue.received_at == dt.datetime.strptime(repeat["callTime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST)
        assert clue.respondent_name in repeat["majorContent"] and clue.respondent_name.endswith("公司")
        # The county the order was dispatched to: 微山县人力资源和社会保障局 → 370826 (GB/T 2260)
        first = served[world.clue_payloads["hotline12345"][0]["orderNum"]]
        assert first["organizationName"] == "微山县人力资源和社会保障局"
        assert connector.normalise("work_orders", first)[0].region_code == "370826"

    @pytest.mark.parametrize("phone", ["0537-2345678", "(0537)2345678"], ids=["landline", "landline-parenthesised"])
    def test_normalise_passes_a_landline_caller_on(self, sandbox: Sandbox, phone: str) -> None:
        # Given a wage order from a caller on a landline
        served = records(read_all(make_config(sandbox.url)))
        order = {**next(r for r in served if connector.normalise("work_orders", r)), "callerPhone": phone}
        # When normalised, Then the number reaches the hub as written (which checks it and stores E.164)
        [clue] = connector.normalise("work_orders", order)
        assert clue.complainant_phone == phone

    def test_normalise_skips_non_wage_orders(self, sandbox: Sandbox) -> None:
        others = [r for r in records(read_all(make_config(sandbox.url))) if not r["questionCode"].startswith("0801")]
        assert len(others) == NON_WAGE
        assert all(connector.normalise("work_orders", r) == [] for r in others)

    @pytest.mark.parametrize(
        ("field", "value", "reason"),
        [
            ("majorContent", "", "required field majorContent is missing or empty"),
            ("organizationName", None, "required field organizationName is missing or empty"),
            (
                "organizationName",
                "市中区人力资源和社会保障局",
                "organizationName '市中区人力资源和社会保障局' names no single county or city (GB/T 2260): expected "
                "the 承办单位 like 微山县人力资源和社会保障局, or with its city (济南市市中区…) where counties share a name",
            ),
            ("callTime", "2026/11/20", "callTime '2026/11/20' is not a time like 2026-11-20 09:30:00"),
            ("deadlineDate", "2026/12/01", "deadlineDate '2026/12/01' is not a date like 2026-10-31"),
            ("isSupervise", "是", "isSupervise is not 1/0 or true/false: '是'"),
            ("visitTime", "昨天", "visitTime '昨天' is not a time like 2026-11-20 09:30:00"),
            (
                "satisfaction",
                "还行",
                "satisfaction '还行' is not one of 非常满意, 满意, 基本满意, 不满意, 非常不满意",
            ),
        ],
        ids=[
            "no-content",
            "no-organisation",
            "ambiguous-organisation",
            "bad-time",
            "bad-deadline",
            "bad-supervise",
            "bad-visit-time",
            "bad-satisfaction",
        ],
    )
    def test_normalise_rejects_a_bad_order_naming_the_field(
        self, world: World, field: str, value: Any, reason: str
    ) -> None:
        # Given a called-back history order with one field spoilt
        order = {**called_back_order(world), field: value}
        # When normalised, Then it is rejected naming the field and the value
        with pytest.raises(Rejection) as info:
            connector.normalise("work_orders", order)
        assert (info.value.field, info.value.reason) == (field, reason)

    @pytest.mark.parametrize(
        ("changes", "attribute", "expected"),
        [
            ({"reflectName": "咨询"}, "request_type", RequestType.CONSULTATION),
            ({"reflectName": "投诉"}, "request_type", RequestType.COMPLAINT),
            ({"reflectName": "求助"}, "request_type", RequestType.HELP),
            ({"reflectName": "举报"}, "request_type", None),
            ({"sourceType": "微信"}, "source_type", "微信"),
            (
                {
                    "majorContent": "来电人反映其在微山县第三中学教学楼建设项目务工，被济宁市鸿达建筑劳务有限公司拖欠10月工资共计9000元。"
                },
                "respondent_name",
                "济宁市鸿达建筑劳务有限公司",
            ),
            (
                {
                    "majorContent": "来电人反映其在微山县第三中学教学楼建设项目务工，被济宁市鸿达建筑劳务有限公司拖欠10月工资共计9000元。"
                },
                "project_name",
                "微山县第三中学教学楼建设项目",
            ),
            ({"majorContent": "来电人反映其工资一直没有发放，请求帮助。"}, "respondent_name", ""),
            ({"organizationName": "济南市市中区人力资源和社会保障局"}, "region_code", "370103"),
            ({"organizationName": "济宁市人力资源和社会保障局"}, "region_code", "370800"),
            ({"deadlineDate": "2026-12-04", "handleDays": 10}, "deadline_date", dt.date(2026, 12, 4)),
            (
                {"deadlineDate": "", "handleDays": 5, "callTime": "2026-11-20 09:00:00"},
                "deadline_date",
                dt.date(2026, 11, 27),
            ),
            ({"deadlineDate": "", "handleDays": ""}, "deadline_date", None),
            ({"isSupervise": "1"}, "supervised", True),
            ({"isSupervise": "0"}, "supervised", False),
            ({"oldOrderNum": "2026110100000007", "isOldCaller": "1"}, "related_source_id", "2026110100000007"),
            ({"isOldCaller": "1"}, "repeat_caller", True),
            ({"visitTime": "", "visitIsSolved": "", "satisfaction": ""}, "callback", None),
            (
                {"visitTime": "2026-11-21 10:00:00", "visitIsSolved": "1", "satisfaction": "满意"},
                "callback",
                CallbackIn(at=dt.datetime(2026, 11, 21, 10, tzinfo=CST), satisfaction="满意", solved=True),
            ),
            (
                {"visitTime": "2026-11-21 10:00:00", "visitIsSolved": "0", "satisfaction": "非常不满意"},
                "callback",
                CallbackIn(at=dt.datetime(2026, 11, 21, 10, tzinfo=CST), satisfaction="不满意", solved=False),
            ),
            (
                {"visitTime": "2026-11-21 10:00:00", "visitIsSolved": "0", "satisfaction": ""},
                "callback",
                CallbackIn(at=dt.datetime(2026, 11, 21, 10, tzinfo=CST), satisfaction="不满意", solved=False),
            ),
            (
                {"visitTime": "2026-11-21 10:00:00", "visitIsSolved": "", "satisfaction": "基本满意"},
                "callback",
                CallbackIn(at=dt.datetime(2026, 11, 21, 10, tzinfo=CST), satisfaction="基本满意", solved=None),
            ),
        ],
        ids=[
            "consultation",
            "complaint",
            "help",
            "no-deadline-type",
            "source-type",
            "respondent-in-text",
            "project-in-text",
            "no-respondent-named",
            "county-with-its-city",
            "city-bureau",
            "deadline-date",
            "handle-days",
            "no-deadline",
            "supervised",
            "not-supervised",
            "old-order",
            "old-caller",
            "no-visit",
            "visit-satisfied",
            "visit-very-dissatisfied",
            "visit-unsolved-only",
            "visit-without-solved",
        ],
    )
    def test_normalise_maps_the_work_order_fields(
        self, world: World, changes: dict[str, Any], attribute: str, expected: Any
    ) -> None:
        # Given a history order with some fields set
        order = {**called_back_order(world), **changes}
        # When normalised, Then the field lands on the intake record as the hub reads it
        [clue] = connector.normalise("work_orders", order)
        assert getattr(clue, attribute) == expected

    def test_an_order_with_only_the_platforms_fields_is_accepted(self, world: World) -> None:
        # Given an order with the 20 work-order fields and none of those the hub used to require
        # (reflectObject, regionCode, projectName, updateTime)
        order = {f: called_back_order(world)[f] for f in HOTLINE_FIELDS}
        assert not {"reflectObject", "regionCode", "projectName", "updateTime"} & set(order)
        # When normalised, Then it is a clue in the county its 承办单位 belongs to, against the named employer
        [clue] = connector.normalise("work_orders", order)
        assert clue.region_code == "370826" and clue.respondent_name and clue.respondent_name in order["majorContent"]

    # -- sync through the hub --------------------------------------------------------------------------

    def test_full_sync_keeps_seeded_orders_and_creates_live_ones(
        self, sandbox: Sandbox, clock: Clock, world: World, seeded_db_url: str, sync_engine: Any
    ) -> None:
        # Given a hub seeded with the world's clues and two live orders on the platform
        before = table_counts(seeded_db_url)
        clock.advance(2 * INTERVAL)
        inst = instance(seeded_db_url, sandbox.url)
        # When it syncs
        result = sync_engine(seeded_db_url).run(inst)
        # Then the seeded orders are not duplicated, the live ones are new, non-wage orders are skipped
        assert (result.status, result.error) == ("succeeded", None)
        stats = result.stats["work_orders"]
        history = len(world.clue_payloads["hotline12345"])
        assert (stats.read, stats.created, stats.updated + stats.unchanged, stats.quarantined) == (
            history + NON_WAGE + 2,
            2,
            history,
            0,
        )
        after = table_counts(seeded_db_url)
        assert after["channel_records"] == before["channel_records"] + 2
        assert before["clues"] < after["clues"] <= before["clues"] + 2
        # And a second run finds nothing new; a full refresh finds every order unchanged
        again = sync_engine(seeded_db_url).run(inst).stats["work_orders"]
        assert (again.read, again.created) == (0, 0)
        full = sync_engine(seeded_db_url).run(inst, full_refresh=True).stats["work_orders"]
        assert (full.created, full.updated, full.unchanged) == (0, 0, history + 2)
        assert table_counts(seeded_db_url) == after

    def test_the_platforms_call_back_comes_back_and_dissatisfied_reopens_the_clue(
        self, world: World, seeded_db_url: str, sync_engine: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Given a platform that calls back an hour after a result, and whose complainants are never satisfied;
        # the hub's clock is the platform's
        clock = Clock(live_epoch(world))
        for module in (models, workflow, cluepool, writeback):
            monkeypatch.setattr(module, "utcnow", lambda: clock.now.astimezone(dt.UTC))
        app = create_app(
            world=world, clock=clock, live_interval_seconds=36_000, call_back_after_seconds=3600, dissatisfied_share=1
        )
        db = make_engine(seeded_db_url)
        with serve_asgi(app) as url:
            inst, engine = instance(seeded_db_url, url), sync_engine(seeded_db_url)
            engine.run(inst)
            # And a new wage order (one in ten hours), taken in and closed by the county
            clock.advance(36_000)
            assert engine.run(inst).stats["work_orders"].created == 1
            order = f"{clock.now:%Y%m%d}90000001"
            county = Principal(name="劳动监察大队", role="inspector", region_code="370800")
            with session_scope(db) as s:
                clue = workflow.get_clue(s, clue_id=clue_id(s, order))
                workflow.accept(s, clue=clue, principal=county)
                workflow.close(s, clue=clue, principal=county, conclusion="已足额支付")
            # When the result is written back to the platform
            assert deliver_due(db, cipher=Cipher(SECRET), now=clock.now).acknowledged == 1
            # Then nothing comes back before the platform has called the complainant back
            clock.advance(1800)
            engine.run(inst)
            with session_scope(db) as s:
                assert s.get(m.Clue, clue_id(s, order)).status == "closed"
            # When it has, Then the next incremental sync brings the order back with its 回访, and the clue is reopened
            clock.advance(1800)
            stats = engine.run(inst).stats["work_orders"]
            assert (stats.read, stats.updated) == (1, 1)
            today = clock.now.astimezone(CST).date()
            with session_scope(db) as s:
                clue = s.get(m.Clue, clue_id(s, order))
                assert (clue.status, clue.satisfaction) == ("in_progress", "不满意")
                answer = deadlines.rules_for(clue.channel, clue.request_type)[-1]
                assert clue.deadline == add_working_days(today, answer.days())
                reopened = s.scalars(
                    select(m.CaseAction).where(m.CaseAction.clue_id == clue.id).order_by(m.CaseAction.id)
                ).all()[-1]
                assert (reopened.action, reopened.actor, reopened.from_status) == (
                    "reopen",
                    "system:hotline12345",
                    "called_back",
                )
            # And the call-back is not echoed to the platform, and a full refresh takes it in no second time
            assert deliver_due(db, cipher=Cipher(SECRET), now=clock.now).items == []
            assert read_back(url, order, "visit") == []
            full = engine.run(inst, full_refresh=True).stats["work_orders"]
            assert full.updated == 0
            with session_scope(db) as s:
                actions = s.scalars(select(m.CaseAction.action).where(m.CaseAction.clue_id == clue_id(s, order))).all()
                assert actions.count("reopen") == 1 and actions.count("record_callback") == 1
        db.dispose()

    # -- write-back ------------------------------------------------------------------------------------

    def test_write_back_posts_the_result_and_the_call_back(self, sandbox: Sandbox, world: World) -> None:
        order = world.clue_payloads["hotline12345"][0]["orderNum"]
        closed = dt.datetime(2026, 11, 20, 15, 30, tzinfo=CST)
        outcome = Outcome(
            source_id=order,
            clue_no="XS370826202511250A1B2C",
            status="called_back",
            conclusion="经查属实，已足额支付。",
            closed_at=closed,
            recovered_amount=Decimal("10000"),
            workers_paid=1,
            satisfaction="满意",
            extra={"called_back_at": closed + dt.timedelta(days=1)},
        )
        connector.write_back(make_config(sandbox.url), outcome)
        [result] = read_back(sandbox.url, order, "result")
        assert {
            k: result[k] for k in ("handleResult", "completeTime", "recoveredAmount", "workersPaid", "hubClueNo")
        } == {
            "handleResult": "经查属实，已足额支付。",
            "completeTime": "2026-11-20 15:30:00",
            "recoveredAmount": "10000.00",
            "workersPaid": 1,
            "hubClueNo": "XS370826202511250A1B2C",
        }
        [visit] = read_back(sandbox.url, order, "visit")
        assert (visit["visitTime"], visit["visitIsSolved"], visit["satisfaction"]) == (
            "2026-11-21 15:30:00",
            "1",
            "满意",
        )

    def test_write_back_without_call_back_posts_only_the_result(self, sandbox: Sandbox, world: World) -> None:
        order = world.clue_payloads["hotline12345"][1]["orderNum"]
        outcome = Outcome(
            source_id=order,
            clue_no="XS1",
            status="closed",
            conclusion="已协调支付。",
            closed_at=dt.datetime(2026, 11, 20, 9, 0, tzinfo=CST),
        )
        connector.write_back(make_config(sandbox.url), outcome)
        assert len(read_back(sandbox.url, order, "result")) == 1
        assert read_back(sandbox.url, order, "visit") == []

    def test_write_back_to_an_unknown_order_is_fatal(self, sandbox: Sandbox) -> None:
        outcome = Outcome(
            source_id="2026010199999999",
            clue_no="XS1",
            status="closed",
            conclusion="x",
            closed_at=dt.datetime(2026, 11, 20, tzinfo=CST),
        )
        with pytest.raises(FatalUpstreamError, match="upstream answered HTTP 404"):
            connector.write_back(make_config(sandbox.url), outcome)


def clue_id(s: Any, order: str) -> int:
    return s.scalars(select(m.ChannelRecord.clue_id).where(m.ChannelRecord.source_id == order)).one()


def called_back_order(world: World) -> dict[str, Any]:
    """The first history order the platform called back (微山县, 满意)."""
    return dict(next(p for p in world.clue_payloads["hotline12345"] if p["visitTime"]))


def instance(db_url: str, sandbox_url: str, **config: Any) -> int:
    return create_instance(
        db_url,
        kind="hotline12345",
        config={"base_url": sandbox_url, "page_size": 20, "timeout_seconds": 5, "app_key": CREDS["app_key"], **config},
        secrets={"app_secret": CREDS["app_secret"]},
    )


def read_back(url: str, order: str, kind: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{url}/api/orders/{order}/{kind}", headers=sign_headers(CREDS["app_key"], CREDS["app_secret"]))
    resp.raise_for_status()
    return resp.json()["data"]


#: Demos seeded at two hours of two days, China time: just after midnight, and late in the evening of the next day.
SEEDED_AT = [
    dt.datetime.combine(TODAY, dt.time(0, 5), CST),
    dt.datetime.combine(TODAY + dt.timedelta(days=1), dt.time(23, 50), CST),
]


@pytest.mark.parametrize("seeded_at", SEEDED_AT, ids=["00:05", "next-day-23:50"])
def test_a_full_read_serves_the_seeded_history_and_what_arrived_since_whatever_the_hour(
    seeded_at: dt.datetime,
) -> None:
    # Given a demo's world seeded at that moment, and its sandbox, whose clock reads three live intervals
    # (and a bit) later
    world = build_world(**WORLD, today=seeded_at.date(), now=seeded_at.astimezone(dt.UTC))
    clock = Clock(seeded_at + dt.timedelta(seconds=3 * INTERVAL + 5))
    with serve_asgi(create_app(world=world, clock=clock, live_interval_seconds=INTERVAL)) as url:
        # When a client reads everything it serves
        served = records(read_all(make_config(url, page_size=100)))
    # Then it is the world's 12345 history, the non-wage orders and the three wage orders received since
    # the seeding — not a backlog of an order every 20 s since the day's 00:00 (once 4,000 at 22:00)
    history = {p["orderNum"] for p in world.clue_payloads[KIND]}
    assert {r["orderNum"] for r in served} >= history
    assert len(served) == len(history) + NON_WAGE + 3
    new = [r for r in served if r["orderNum"] not in history and r["questionCode"].startswith("0801")]
    assert [r["callTime"] for r in new] == [
        fmt_local(seeded_at + dt.timedelta(seconds=k * INTERVAL)) for k in (1, 2, 3)
    ]
