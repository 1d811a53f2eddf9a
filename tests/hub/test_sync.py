"""The sync engine's loop: leases, per-page transactions, retries, failures, quarantine, replay."""

from __future__ import annotations

import datetime as dt
import random
import threading
from typing import Any

import pytest
from sqlalchemy import func, select, update

from connectors import registry
from connectors.base import (
    CheckResult,
    Connector,
    ConnectorConfig,
    EnterpriseIn,
    FatalUpstreamError,
    Page,
    Rejection,
    RetriableUpstreamError,
    Stream,
)
from hub.actors import claim_due_instances
from hub.db import make_engine, session_scope
from hub.identifiers import make_uscc
from hub.models import ConnectorInstance, Enterprise, Quarantine, RawRecord, SyncRun, utcnow
from hub.sync import PAUSE_AFTER_FAILURES, LeaseHeld, acquire_lease
from tests.connectors.conftest import create_instance

RNG = random.Random(5)
USCCS = [make_uscc(RNG, region_code="370811") for _ in range(25)]


class Upstream:
    """A scripted upstream: 25 enterprises in pages of 5; faults by page number."""

    def __init__(self) -> None:
        self.fail_at: dict[int, list[Exception]] = {}
        self.reads: list[int] = []  # page numbers served
        self.blank_names: set[int] = set()
        self.says_total = False  # pages carry the upstream's total (Page.total)
        self.broken_names: set[int] = set()  # normalise fails on these, outside any rule: the page rolls back

    def page(self, n: int) -> list[dict[str, Any]]:
        if self.fail_at.get(n):
            raise self.fail_at[n].pop(0)
        self.reads.append(n)
        return [
            {"uscc": u, "name": "" if i in self.blank_names else f"济宁市第{i}建筑劳务有限公司", "n": i}
            for i, u in enumerate(USCCS)
            if n * 5 <= i < n * 5 + 5
        ]


UPSTREAM = Upstream()


class Corps(Stream):
    name = "corps"
    primary_key = ("uscc",)
    cursor_field = "n"

    def read(self, state):  # type: ignore[no-untyped-def]
        n = state.get("next_page", 0)
        while n < 5:
            records = UPSTREAM.page(n)
            n += 1
            yield Page(records=records, state={"next_page": n}, total=25 if UPSTREAM.says_total else None)


class FakeConnector(Connector):
    kind = "fake"
    title = "scripted upstream"
    config_model = ConnectorConfig
    strict = True

    def check(self, config):  # type: ignore[no-untyped-def]
        return CheckResult(ok=True, message="ok")

    def streams(self, config):  # type: ignore[no-untyped-def]
        return [Corps(self, config)]

    def normalise(self, stream, record):  # type: ignore[no-untyped-def]
        if record["n"] in UPSTREAM.broken_names:
            raise RuntimeError("a bug in the mapping")
        if not record["name"] and FakeConnector.strict:
            raise Rejection("enterprise name is missing", field="name")
        return [EnterpriseIn(uscc=record["uscc"], name=record["name"] or "（名称待补）", kind="labour_service")]


@pytest.fixture
def fake(monkeypatch, empty_db_url):  # type: ignore[no-untyped-def]
    global UPSTREAM
    UPSTREAM = Upstream()
    FakeConnector.strict = True
    installed = dict(registry.available())
    monkeypatch.setattr(registry, "available", lambda: {**installed, "fake": FakeConnector})
    instance = create_instance(empty_db_url, kind="fake", config={"base_url": "http://upstream.invalid/"})
    return empty_db_url, instance


def count(url: str, model: type, *where: Any) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
    engine.dispose()
    return n


def test_an_undisturbed_run_stores_every_page_once(fake, sync_engine) -> None:
    url, instance = fake
    result = sync_engine(url).run(instance)
    assert result.status == "succeeded"
    assert result.stats["corps"].as_dict() | {} == {
        "read": 25,
        "created": 25,
        "updated": 0,
        "unchanged": 0,
        "quarantined": 0,
        "pages": 5,
        "retries": 0,
    }
    assert count(url, Enterprise) == 25 and count(url, RawRecord) == 25
    # A second run starts from the stored bookmark: nothing is read again
    again = sync_engine(url).run(instance)
    assert again.stats["corps"].read == 0 and count(url, Enterprise) == 25


def run_stats(url: str) -> list[tuple[str, dict]]:
    """Every run's status and stats, as another session (the console's request) reads them."""
    engine = make_engine(url)
    with session_scope(engine) as session:
        rows = [(r.status, r.stats) for r in session.execute(select(SyncRun).order_by(SyncRun.id)).scalars()]
    engine.dispose()
    return rows


def test_a_running_run_shows_each_committed_pages_counts_to_another_session(fake, sync_engine) -> None:
    url, instance = fake
    seen: list[list[tuple[str, dict]]] = []
    # When another session looks at the run after each page, while the run goes on
    result = sync_engine(url).run(instance, progress=lambda stream, stats: seen.append(run_stats(url)))
    # Then it saw a running run whose counts grew page by page, five records at a time
    assert [status for [(status, _)] in seen] == ["running"] * 5
    assert [stats["corps"]["read"] for [(_, stats)] in seen] == [5, 10, 15, 20, 25]
    assert seen[0][0][1] == {
        "corps": {"read": 5, "created": 5, "updated": 0, "unchanged": 0, "quarantined": 0, "pages": 1, "retries": 0}
    }
    # and the finished run holds the same counts as the engine's result
    assert run_stats(url) == [("succeeded", {"corps": result.stats["corps"].as_dict()})]


def test_a_page_that_did_not_land_never_shows_in_the_runs_counts(fake, sync_engine) -> None:
    url, instance = fake
    # Given the mapping breaks on a record of page 2 (an internal error: the page's transaction rolls back)
    UPSTREAM.broken_names = {12}
    seen: list[list[tuple[str, dict]]] = []
    result = sync_engine(url).run(instance, progress=lambda stream, stats: seen.append(run_stats(url)))
    # Then the run fails, and neither while it ran nor after it shows counts beyond the two stored pages
    assert result.status == "failed" and count(url, Enterprise) == 10
    assert [stats["corps"]["read"] for [(_, stats)] in seen] == [5, 10]
    [(status, stats)] = run_stats(url)
    assert (status, stats["corps"]["read"], stats["corps"]["created"], stats["corps"]["pages"]) == ("failed", 10, 10, 2)


def test_a_total_the_upstream_says_is_kept_with_the_counts(fake, sync_engine) -> None:
    url, instance = fake
    UPSTREAM.says_total = True
    seen: list[list[tuple[str, dict]]] = []
    sync_engine(url).run(instance, progress=lambda stream, stats: seen.append(run_stats(url)))
    assert [(stats["corps"]["read"], stats["corps"]["total"]) for [(_, stats)] in seen][:2] == [(5, 25), (10, 25)]


def test_a_full_refresh_reads_everything_and_changes_nothing(fake, sync_engine) -> None:
    url, instance = fake
    sync_engine(url).run(instance)
    result = sync_engine(url).run(instance, full_refresh=True)
    assert (result.stats["corps"].read, result.stats["corps"].unchanged, result.stats["corps"].created) == (25, 25, 0)
    assert count(url, RawRecord) == 25  # the same payloads are archived once


def test_retriable_errors_back_off_and_resume_from_the_last_stored_page(fake, sync_engine) -> None:
    url, instance = fake
    # Given page 2 fails twice with a retriable error
    UPSTREAM.fail_at[2] = [RetriableUpstreamError("upstream answered HTTP 503"), RetriableUpstreamError("timed out")]
    result = sync_engine(url).run(instance)
    # Then the run succeeds, pages 0 and 1 were not read again, and nothing is duplicated
    assert result.status == "succeeded" and result.stats["corps"].retries == 2
    assert UPSTREAM.reads == [0, 1, 2, 3, 4]
    assert count(url, Enterprise) == 25


def test_a_fatal_error_fails_the_run_with_the_upstreams_words(fake, sync_engine) -> None:
    url, instance = fake
    UPSTREAM.fail_at[1] = [
        FatalUpstreamError("upstream refused the credentials (HTTP 401): check the connector's credentials")
    ]
    result = sync_engine(url).run(instance)
    assert result.status == "failed"
    assert result.error == "fake/corps: upstream refused the credentials (HTTP 401): check the connector's credentials"
    assert count(url, Enterprise) == 5  # the page stored before the failure stays
    engine = make_engine(url)
    with session_scope(engine) as session:
        inst = session.get(ConnectorInstance, instance)
        assert (inst.health, inst.consecutive_failures, inst.state) == ("failing", 1, {"corps": {"next_page": 1}})
        run = session.execute(select(SyncRun)).scalar_one()
        assert run.status == "failed" and run.stats["corps"]["created"] == 5
    engine.dispose()


def test_too_many_failures_in_a_row_pause_the_connector_with_the_reason(fake, sync_engine) -> None:
    url, instance = fake
    for _ in range(PAUSE_AFTER_FAILURES):
        UPSTREAM.fail_at[0] = [FatalUpstreamError("upstream answered HTTP 400")]
        sync_engine(url).run(instance)
    engine = make_engine(url)
    with session_scope(engine) as session:
        inst = session.get(ConnectorInstance, instance)
        assert (inst.enabled, inst.health) == (False, "paused")
        assert (
            inst.paused_reason
            == f"paused after {PAUSE_AFTER_FAILURES} failed runs in a row; last error: fake/corps: upstream answered HTTP 400"
        )
    engine.dispose()


def test_records_that_fail_normalisation_are_quarantined_and_replayed_without_the_upstream(fake, sync_engine) -> None:
    url, instance = fake
    UPSTREAM.blank_names = {3, 17}
    result = sync_engine(url).run(instance)
    assert result.status == "succeeded" and result.stats["corps"].quarantined == 2
    assert count(url, Enterprise) == 23
    engine = make_engine(url)
    with session_scope(engine) as session:
        reasons = session.execute(select(Quarantine.reason, Quarantine.field, Quarantine.status)).all()
    assert reasons == [("enterprise name is missing", "name", "open")] * 2
    # When the mapping is fixed and the quarantine replayed — with no upstream call
    reads_before = list(UPSTREAM.reads)
    FakeConnector.strict = False
    counts = sync_engine(url).replay(instance_id=instance)
    assert counts["replayed"] == 2 and UPSTREAM.reads == reads_before
    assert count(url, Enterprise) == 25 and count(url, Quarantine, Quarantine.status == "replayed") == 2
    engine.dispose()


def test_a_second_worker_cannot_run_the_same_instance(fake, sync_engine) -> None:
    url, instance = fake
    engine = make_engine(url)
    with session_scope(engine) as session:
        assert acquire_lease(session, instance, owner="worker-a", seconds=60)
    with pytest.raises(LeaseHeld, match=f"^connector instance {instance} is being synced by another worker$"):
        sync_engine(url, owner="worker-b").run(instance)
    # When worker-a's lease expires (it died), worker-b takes over, and the dead run is marked abandoned
    with session_scope(engine) as session:
        session.add(SyncRun(connector_instance_id=instance, started_at=utcnow(), status="running", stats={}))
        session.execute(update(ConnectorInstance).values(lease_until=utcnow() - dt.timedelta(seconds=1)))
    result = sync_engine(url, owner="worker-b").run(instance)
    assert result.status == "succeeded"
    with session_scope(engine) as session:
        statuses = session.execute(select(SyncRun.status).order_by(SyncRun.id)).scalars().all()
    assert statuses == ["abandoned", "succeeded"]
    engine.dispose()


def test_concurrent_schedulers_claim_each_due_instance_once(fake) -> None:
    url, _ = fake
    for i in range(6):
        create_instance(url, kind="fake", name=f"fake-{i}", config={"base_url": "http://upstream.invalid/"})
    engine = make_engine(url)
    claims: list[list[int]] = []
    barrier = threading.Barrier(3)

    def scheduler() -> None:
        barrier.wait()
        claims.append(claim_due_instances(engine))

    threads = [threading.Thread(target=scheduler) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [i for c in claims for i in c]
    assert len(claimed) == len(set(claimed)) == 7  # every instance once, whichever scheduler won it
    assert claim_due_instances(engine) == []  # and none is due again before its schedule
    engine.dispose()


def test_a_full_refresh_that_fails_before_its_first_page_starts_over(fake, sync_engine) -> None:
    url, instance = fake
    sync_engine(url).run(instance)
    UPSTREAM.reads.clear()
    # Given a full refresh whose very first page fails once
    UPSTREAM.fail_at[0] = [RetriableUpstreamError("upstream answered HTTP 502")]
    result = sync_engine(url).run(instance, full_refresh=True)
    # Then the retry reads from the beginning, not from the old bookmark
    assert result.status == "succeeded" and result.stats["corps"].retries == 1
    assert UPSTREAM.reads == [0, 1, 2, 3, 4]


class Killed(BaseException):
    """The worker process dying (SIGKILL): nothing after it runs, not even the run's bookkeeping."""


@pytest.mark.parametrize("killed_at_page", [0, 2], ids=["before-its-first-page", "mid-way"])
def test_a_full_refresh_whose_worker_dies_is_finished_by_the_worker_that_takes_over(
    fake, sync_engine, killed_at_page
) -> None:
    url, instance = fake
    assert sync_engine(url).run(instance).status == "succeeded"  # the bookmark is at the end
    UPSTREAM.reads.clear()
    # Given a full refresh whose worker dies while reading page `killed_at_page` (pages before it are stored)
    UPSTREAM.fail_at[killed_at_page] = [Killed()]
    dying = sync_engine(url, owner="worker-a")
    dying._finish = lambda *args, **kwargs: None  # type: ignore[method-assign]  # a dead process records nothing
    with pytest.raises(Killed):
        dying.run(instance, full_refresh=True)
    assert UPSTREAM.reads == list(range(killed_at_page))
    engine = make_engine(url)
    with session_scope(engine) as session:
        session.execute(update(ConnectorInstance).values(lease_until=utcnow() - dt.timedelta(seconds=1)))
    # When the next scheduled (incremental) sync takes the expired lease over
    result = sync_engine(url, owner="worker-b").run(instance)
    # Then it finishes the full refresh: every page is read in the end, the stored ones are not read twice
    assert result.status == "succeeded"
    assert UPSTREAM.reads == [0, 1, 2, 3, 4]
    assert result.stats["corps"].read == 25 - 5 * killed_at_page
    with session_scope(engine) as session:
        runs = session.execute(select(SyncRun.status, SyncRun.full_refresh, SyncRun.error).order_by(SyncRun.id)).all()
    assert runs == [
        ("succeeded", False, None),
        (
            "abandoned",
            True,
            "the worker running this full refresh stopped (crash or kill); the next run finished the "
            "full refresh from the last stored page",
        ),
        ("succeeded", True, None),
    ]
    # And the run after that is incremental again
    UPSTREAM.reads.clear()
    after = sync_engine(url, owner="worker-b").run(instance)
    assert (after.stats["corps"].read, UPSTREAM.reads) == (0, [])
    with session_scope(engine) as session:
        assert session.execute(select(SyncRun.full_refresh).order_by(SyncRun.id.desc()).limit(1)).scalar_one() is False
    engine.dispose()


def test_a_full_refresh_requested_again_after_a_crash_starts_over(fake, sync_engine) -> None:
    url, instance = fake
    sync_engine(url).run(instance)
    UPSTREAM.reads.clear()
    UPSTREAM.fail_at[3] = [Killed()]
    dying = sync_engine(url, owner="worker-a")
    dying._finish = lambda *args, **kwargs: None  # type: ignore[method-assign]
    with pytest.raises(Killed):
        dying.run(instance, full_refresh=True)
    engine = make_engine(url)
    with session_scope(engine) as session:
        session.execute(update(ConnectorInstance).values(lease_until=utcnow() - dt.timedelta(seconds=1)))
    engine.dispose()
    UPSTREAM.reads.clear()
    # A new full refresh is a new request: it reads from the beginning, not from the crashed one's page
    result = sync_engine(url, owner="worker-b").run(instance, full_refresh=True)
    assert result.status == "succeeded" and UPSTREAM.reads == [0, 1, 2, 3, 4]
