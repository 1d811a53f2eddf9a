"""The 12345 hotline connector against its sandbox, served over real HTTP (the real httpx client runs)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors import registry
from connectors.base import ClueIn, FatalUpstreamError, Outcome, Rejection
from connectors.clue_channel.client import CST
from connectors.clue_channel.sandbox import live_complaint, live_epoch
from connectors.hotline12345 import sign_headers
from connectors.hotline12345.sandbox import DEMO_CREDENTIALS
from connectors.sandbox.world import World
from connectors.testing import BadRecord, Clock, Hub, Quarantined, RefusedRun, Sandbox, SandboxContract
from hub.sync import StreamStats
from tests.connectors.conftest import create_instance
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
    bad_records = {"work_orders": BadRecord("reflectObject", "required field reflectObject is missing or empty")}
    fault_mid_run = True

    def epoch(self, world: World) -> dt.datetime:
        return live_epoch(world)

    def snapshot(self, hub: Hub, url: str) -> Any:
        return snapshot(url)

    def check_quarantined(self, sandbox: Sandbox, entry: Quarantined, stats: StreamStats) -> None:
        assert entry.reason == "required field reflectObject is missing or empty"
        assert entry.payload["reflectObject"] == "" and entry.payload["questionCode"] == "080101"

    # -- reading ----------------------------------------------------------------------------------------

    def test_reads_every_order_in_pages_and_resumes_from_any_page(
        self, sandbox: Sandbox, world: World, clock: Clock
    ) -> None:
        # Given the world's 12345 orders and a few non-wage ones, When read in pages of 20
        config = make_config(sandbox.url)
        pages = read_all(config)
        got = records(pages)
        # Then every order comes once, in (updateTime, orderNum) order, and no page is larger than asked
        expected = {p["orderNum"] for p in world.clue_payloads["hotline12345"]}
        assert len(got) == len(expected) + NON_WAGE
        assert {r["orderNum"] for r in got} >= expected
        assert [len(p.records) for p in pages] == [20, 20, 20, 2]
        assert [(r["updateTime"], r["orderNum"]) for r in got] == sorted((r["updateTime"], r["orderNum"]) for r in got)
        # And reading from any page's state gives exactly the rest
        assert records(read_all(config, pages[1].state)) == got[40:]
        assert pages[-1].state == {"updateTime": got[-1]["updateTime"], "orderNum": got[-1]["orderNum"]}
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
            project_name=complaint.project["name"],
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
            ("reflectObject", "", "required field reflectObject is missing or empty"),
            ("regionCode", None, "required field regionCode is missing or empty"),
            ("callTime", "2026/11/20", "callTime '2026/11/20' is not a time like 2026-11-20 09:30:00"),
        ],
        ids=["no-respondent", "no-region", "bad-time"],
    )
    def test_normalise_rejects_a_bad_order_naming_the_field(
        self, world: World, field: str, value: Any, reason: str
    ) -> None:
        order = {
            **world.clue_payloads["hotline12345"][0],
            "reflectObject": "某公司",
            "regionCode": "370826",
            field: value,
        }
        with pytest.raises(Rejection) as info:
            connector.normalise("work_orders", order)
        assert (info.value.field, info.value.reason) == (field, reason)

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
