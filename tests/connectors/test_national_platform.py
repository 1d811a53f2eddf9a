"""The national clue platform connector against its sandbox, served over real HTTP (the real httpx client runs)."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors import registry
from connectors.base import ClueIn, FatalUpstreamError, Outcome, Rejection, TokenExpired
from connectors.clue_channel.client import CST
from connectors.clue_channel.sandbox import live_complaint, live_epoch
from connectors.national_platform.sandbox import DEMO_CREDENTIALS, create_app
from connectors.sandbox.world import World
from connectors.testing import BadRecord, Clock, Hub, Quarantined, RefusedRun, Sandbox, SandboxContract, serve_asgi
from hub.identifiers import mask_id_number
from hub.sync import StreamStats
from tests.connectors.conftest import create_instance
from tests.connectors.test_clue_channels import snapshot, table_counts

INTERVAL = 20.0
CREDS = DEMO_CREDENTIALS
KIND = "national_platform"
connector = registry.get(KIND)


def make_config(url: str, **overrides: Any) -> Any:
    return connector.parse_config({"base_url": url, "page_size": 10, "timeout_seconds": 5, **CREDS, **overrides})


def read_all(config: Any, state: dict[str, Any] | None = None) -> list[Any]:
    return list(connector.streams(config)[0].read(state or {}))


def records(pages: list[Any]) -> list[dict[str, Any]]:
    return [r for p in pages for r in p.records]


class TestNationalPlatform(SandboxContract):
    kind = KIND
    interval = INTERVAL
    page_size = 10
    secret_fields = ("password",)
    bookmark = ("updateTime", "clueId")
    check_ok = "connected to the national clue platform: signed in as hub-370800"
    check_refused = "the national clue platform refused the account or password (HTTP 401): check account and password"
    wrong_credentials = ({"password": "not-the-password"}, {"account": "someone-else"})
    check_unreachable = "cannot reach the national clue platform at {url}: connection failed"
    refused_runs = {
        "status-401": RefusedRun(
            fault={"status_next": 1, "status_code": 401},
            error="the national clue platform refused the account or password (HTTP 401): check account and password",
        )
    }
    bad_records = {"clues": BadRecord("complainantIdNumber", "invalid complainantIdNumber: ")}
    fault_mid_run = True

    def epoch(self, world: World) -> dt.datetime:
        return live_epoch(world)

    def snapshot(self, hub: Hub, url: str) -> Any:
        return snapshot(url)

    def check_quarantined(self, sandbox: Sandbox, entry: Quarantined, stats: StreamStats) -> None:
        # The reason names the field and what is wrong, no part of the refused ID number (not even masked)
        bad_id = entry.payload["complainantIdNumber"]
        assert entry.reason.startswith("invalid complainantIdNumber: "), entry.reason
        assert mask_id_number(bad_id) not in entry.reason and bad_id[6:14] not in entry.reason

    # -- reading ----------------------------------------------------------------------------------------

    def test_reads_every_clue_in_pages_and_resumes_from_any_page(
        self, sandbox: Sandbox, world: World, clock: Clock
    ) -> None:
        # Given the world's national-platform clues, When read in pages of 10
        config = make_config(sandbox.url)
        pages = read_all(config)
        got = records(pages)
        # Then every clue comes once, in (updateTime, clueId) order, and no page is larger than asked
        assert sorted(r["clueId"] for r in got) == sorted(p["clueId"] for p in world.clue_payloads["national_platform"])
        assert [len(p.records) for p in pages] == [10, 10, 10, 1]
        assert [(r["updateTime"], r["clueId"]) for r in got] == sorted((r["updateTime"], r["clueId"]) for r in got)
        # And reading from any page's state gives exactly the rest; from the final state nothing
        assert records(read_all(config, pages[1].state)) == got[20:]
        assert pages[-1].state == {"updateTime": got[-1]["updateTime"], "clueId": got[-1]["clueId"]}
        assert read_all(config, pages[-1].state) == []
        # When two live intervals pass, Then only the two new clues come
        clock.advance(2 * INTERVAL)
        new = records(read_all(config, pages[-1].state))
        day = f"{live_epoch(world):%Y%m%d}"
        assert [r["clueId"] for r in new] == [f"GZQX{day}90000001", f"GZQX{day}90000002"]

    def test_the_platform_caps_page_size(self, sandbox: Sandbox, clock: Clock) -> None:
        clock.advance(80 * INTERVAL)  # 111 clues in all
        assert [len(p.records) for p in read_all(make_config(sandbox.url, page_size=1000))] == [100, 11]

    def test_an_expired_token_is_replaced_on_the_next_read(self, sandbox: Sandbox) -> None:
        # Given a stream that has signed in, When the platform says its token expired
        stream = connector.streams(make_config(sandbox.url))[0]
        sandbox.faults.set(expire_token_next=1)
        with pytest.raises(TokenExpired, match="national_platform/clues: access token expired"):
            list(stream.read({}))
        # Then the next read (the hub's retry) signs in again and succeeds
        assert len(records(list(stream.read({})))) == 31
        assert len(sandbox.app.state.tokens_issued) == 2

    def test_a_token_is_reused_until_shortly_before_it_expires(self, world: World) -> None:
        app = create_app(world=world, clock=Clock(live_epoch(world)), token_ttl_seconds=1.0, **CREDS)
        with serve_asgi(app) as url:
            stream = connector.streams(make_config(url, page_size=100))[0]
            list(stream.read({}))
            list(stream.read({}))
            assert len(app.state.tokens_issued) == 1
            time.sleep(1.0)
            list(stream.read({}))
            assert len(app.state.tokens_issued) == 2

    # -- normalise -------------------------------------------------------------------------------------

    def test_normalise_maps_a_live_clue(self, sandbox: Sandbox, world: World, clock: Clock) -> None:
        clock.advance(INTERVAL)
        record = records(read_all(make_config(sandbox.url)))[-1]
        at = live_epoch(world) + dt.timedelta(seconds=INTERVAL)
        c = live_complaint(world, 1, at, channel="national_platform")
        [clue] = connector.normalise("clues", record)
        group = f"等{c.headcount}人" if c.headcount > 1 else ""
        assert clue == ClueIn(
            channel="national_platform",
            source_id=f"GZQX{at:%Y%m%d}90000001",
            received_at=at,
            title=f"{c.name}{group}反映{c.respondent['name']}拖欠工资",
            content=c.text,
            region_code=c.county,
            respondent_name=c.respondent["name"],
            complainant_name=c.name,
            complainant_phone=c.phone,
            complainant_id_number=c.id_number,
            respondent_address=c.project["address"],
            amount=c.amount,
            headcount=c.headcount,
            arrears_from=c.start,
            arrears_to=c.end,
            sector="工程建设",
            project_name=c.project["name"],
        )

    def test_normalise_maps_a_history_clue(self, world: World) -> None:
        p = next(p for p in world.clue_payloads["national_platform"] if p["clueId"] == "GZQX2025112400000002")
        [clue] = connector.normalise("clues", {**p, "updateTime": p["reportTime"]})
        assert (clue.received_at, clue.region_code, clue.respondent_name, clue.amount, clue.headcount) == (
            dt.datetime(2025, 11, 24, 18, 22, 10, tzinfo=CST),
            "370812",
            "山东德瑞建工集团有限公司",
            Decimal("828500.00"),
            50,
        )
        assert (clue.arrears_from, clue.arrears_to, clue.complainant_id_number, clue.complainant_phone) == (
            dt.date(2025, 8, 1),
            dt.date(2025, 10, 31),
            "370812198003010837",
            "162-4476-6491",
        )
        assert clue.title == "李坤楠等50人反映山东德瑞建工集团有限公司拖欠工资"

    @pytest.mark.parametrize(
        ("field", "value", "reason"),
        [
            ("employerName", " ", "required field employerName is missing or empty"),
            ("reportTime", "24/11/2025", "reportTime '24/11/2025' is not a time like 2026-11-20 09:30:00"),
            ("arrearsAmount", "八千", "arrearsAmount '八千' is not an amount"),
            ("involvedNumber", "many", "involvedNumber 'many' is not a whole number"),
            ("arrearsEndDate", "2025-13-01", "arrearsEndDate '2025-13-01' is not a date like 2026-10-31"),
        ],
        ids=["no-employer", "bad-time", "bad-amount", "bad-headcount", "bad-date"],
    )
    def test_normalise_rejects_a_bad_clue_naming_the_field(
        self, world: World, field: str, value: Any, reason: str
    ) -> None:
        record = {**world.clue_payloads["national_platform"][0], field: value}
        with pytest.raises(Rejection) as info:
            connector.normalise("clues", record)
        assert (info.value.field, info.value.reason) == (field, reason)

    # -- sync through the hub --------------------------------------------------------------------------

    def test_full_sync_keeps_seeded_clues_and_creates_live_ones(
        self, sandbox: Sandbox, clock: Clock, world: World, seeded_db_url: str, sync_engine: Any
    ) -> None:
        # Given a hub seeded with the world's clues and two live clues on the platform
        before = table_counts(seeded_db_url)
        clock.advance(2 * INTERVAL)
        inst = instance(seeded_db_url, sandbox.url)
        # When it syncs
        result = sync_engine(seeded_db_url).run(inst)
        # Then the seeded clues are not duplicated and the live ones are new
        assert (result.status, result.error) == ("succeeded", None)
        stats = result.stats["clues"]
        history = len(world.clue_payloads["national_platform"])
        assert (stats.read, stats.created, stats.updated + stats.unchanged, stats.quarantined) == (
            history + 2,
            2,
            history,
            0,
        )
        after = table_counts(seeded_db_url)
        assert after["channel_records"] == before["channel_records"] + 2
        assert before["clues"] < after["clues"] <= before["clues"] + 2
        # And a second run finds nothing new; a full refresh finds every clue unchanged
        again = sync_engine(seeded_db_url).run(inst).stats["clues"]
        assert (again.read, again.created) == (0, 0)
        full = sync_engine(seeded_db_url).run(inst, full_refresh=True).stats["clues"]
        assert (full.created, full.updated, full.unchanged) == (0, 0, history + 2)
        assert table_counts(seeded_db_url) == after

    # -- write-back ------------------------------------------------------------------------------------

    def test_write_back_posts_the_outcome(self, sandbox: Sandbox, world: World) -> None:
        clue_id = world.clue_payloads["national_platform"][0]["clueId"]
        outcome = Outcome(
            source_id=clue_id,
            clue_no="XS370812202511240A1B2C",
            status="closed",
            conclusion="经查，欠薪属实，已支付828500元（50人）。",
            closed_at=dt.datetime(2025, 12, 10, 16, 0, tzinfo=CST),
            recovered_amount=Decimal("828500"),
            workers_paid=50,
        )
        connector.write_back(make_config(sandbox.url), outcome)
        [feedback] = read_back(sandbox.url, clue_id)
        assert {
            k: feedback[k]
            for k in ("handleStatus", "handleResult", "recoverAmount", "paidNumber", "finishTime", "localClueNo")
        } == {
            "handleStatus": "已办结",
            "handleResult": "经查，欠薪属实，已支付828500元（50人）。",
            "recoverAmount": "828500.00",
            "paidNumber": 50,
            "finishTime": "2025-12-10 16:00:00",
            "localClueNo": "XS370812202511240A1B2C",
        }

    def test_write_back_to_an_unknown_clue_is_fatal(self, sandbox: Sandbox) -> None:
        outcome = Outcome(
            source_id="GZQX2026010199999999",
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
        kind="national_platform",
        secrets={"password": CREDS["password"]},
        config={"base_url": sandbox_url, "page_size": 10, "timeout_seconds": 5, "account": CREDS["account"], **config},
    )


def read_back(url: str, clue_id: str) -> list[dict[str, Any]]:
    token = httpx.post(f"{url}/auth/token", json=CREDS).json()["data"]["accessToken"]
    resp = httpx.get(f"{url}/api/clues/{clue_id}/feedback", headers={"Authorization": f"Bearer {token}"})
    resp.raise_for_status()
    return resp.json()["data"]
