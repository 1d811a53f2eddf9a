"""A running sync's live progress on the console's 数据接入 page (see conftest.py for the server).

The engine writes a run's per-stream counts as each page commits; the page asks for the runs again
every second while one is running and shows each stream's counts, and stops asking once it ends.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from connectors.hotline12345.sandbox import DEMO_CREDENTIALS
from tests.e2e.test_admin_console import console_for, graphql  # noqa: F401 (a fixture)

pytestmark = pytest.mark.e2e

NAME = "e2e 进度 12345"
CREATE = """mutation($input: CreateConnectorInput!) { createConnector(input: $input) { id } }"""
RUNS = """{ connectorInstances(first: 50) { nodes { name runs { status stats } } } }"""


def runs_of(base_url: str, key: str, name: str) -> list[dict]:
    nodes = graphql(base_url, key, RUNS)["connectorInstances"]["nodes"]
    return next(n["runs"] for n in nodes if n["name"] == name)


def demo_syncs_done(base_url: str, key: str) -> None:
    """Wait for the demo connectors' first syncs (started with the hub) to end: until then they hold
    the embedded worker's threads, and a sync asked for now would only queue behind them."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        nodes = graphql(base_url, key, "{ connectorInstances(first: 50) { nodes { name runs { status } } } }")[
            "connectorInstances"
        ]["nodes"]
        demo = [n for n in nodes if n["name"].startswith("demo-")]
        if demo and all(n["runs"] and n["runs"][0]["status"] != "running" for n in demo):
            return
        time.sleep(2)
    pytest.fail(f"the demo connectors' first syncs did not end within 5 minutes: {nodes}")


ENABLE = """mutation($id: ID!, $on: Boolean!) { setConnectorEnabled(id: $id, enabled: $on) { id } }"""


@pytest.fixture
def no_other_runs(hub_server: tuple[str, str]) -> Iterator[None]:
    """The hub's connectors disabled (the demo's sync every 15 s) and their runs ended, then enabled again:
    the page polls while *any* run is running, so a scheduled run would keep it asking."""
    base_url, key = hub_server
    demo_syncs_done(base_url, key)
    nodes = graphql(base_url, key, "{ connectorInstances(first: 50) { nodes { id enabled } } }")["connectorInstances"][
        "nodes"
    ]
    paused = [n["id"] for n in nodes if n["enabled"]]
    for instance in paused:
        graphql(base_url, key, ENABLE, {"id": instance, "on": False})
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            runs = graphql(base_url, key, "{ connectorInstances(first: 50) { nodes { runs { status } } } }")
            if not any(n["runs"] and n["runs"][0]["status"] == "running" for n in runs["connectorInstances"]["nodes"]):
                break
            time.sleep(1)
        else:
            pytest.fail("the other connectors' runs did not end within 5 minutes")
        yield
    finally:
        for instance in paused:
            graphql(base_url, key, ENABLE, {"id": instance, "on": True})


def test_an_admin_watches_a_syncs_counts_grow_to_the_finished_run(
    hub_server,
    no_other_runs,
    console_for,  # noqa: F811
) -> None:
    base_url, key = hub_server
    sandbox = f"{base_url}/sandbox/hotline12345"
    # Given no other connector running (no_other_runs), and a 12345 connector that reads the platform's
    # whole history in pages of four — the tiny world's 60-odd work orders and the few received since the
    # demo was seeded (one every 20 s), at any hour: some 16 pages — disabled (no scheduled run gets in the way)
    page_size = 4
    graphql(
        base_url,
        key,
        CREATE,
        {
            "input": {
                "name": NAME,
                "kind": "hotline12345",
                "config": {"base_url": f"{sandbox}/", "app_key": DEMO_CREDENTIALS["app_key"], "page_size": page_size},
                "secrets": {"app_secret": DEMO_CREDENTIALS["app_secret"]},
                "scheduleSeconds": 86400,
                "enabled": False,
            }
        },
    )
    # and a platform that takes a while to answer each request
    httpx.post(f"{sandbox}/_sandbox/faults", json={"latency_ms": 400}, timeout=10).raise_for_status()
    try:
        console = console_for(key)
        page = console.open("#/connectors")
        polls: list[str] = []  # the progress queries the page sends (counted when sent)
        page.on(
            "request",
            lambda r: polls.append(r.url) if "query ConnectorProgress" in (r.post_data or "") else None,
        )
        row = page.locator('[data-test="connector-table"] .el-table__row', has_text=NAME)
        row.wait_for()
        # When the admin syncs it now
        row.locator("button", has_text="立即同步").click()
        # Then the running run shows, with each stream's counts growing as its pages land
        live = page.locator(f'[data-live-run="{NAME}"]')
        live.wait_for(timeout=120_000)
        seen: list[dict[str, int]] = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            counts = page.evaluate(
                """name => Object.fromEntries([...document.querySelectorAll(`[data-live-run="${name}"] [data-read]`)]
                     .map(e => [e.dataset.liveStream, Number(e.dataset.read)]))""",
                NAME,
            )
            if not page.locator(f'[data-live-run="{NAME}"]').count():
                break
            if counts and (not seen or counts != seen[-1]):
                seen.append(counts)
                if len(seen) == 3:
                    console.shot("sync-live-progress")
                    # (an indeterminate bar: the platform does not say how many records a read holds)
                    bars = live.locator("[data-bar]").evaluate_all("els => els.map(e => e.dataset.bar)")
                    assert bars and set(bars) == {"indeterminate"}, bars
            page.wait_for_timeout(200)
        assert len(seen) >= 3, f"the counts did not grow while the run ran: {seen}"
        # (each stream's count never goes back)
        for before, after in zip(seen, seen[1:], strict=False):
            assert all(after.get(s, 0) >= n for s, n in before.items()), seen
        # When the run ends, the panel goes and the run history holds the finished run's counts
        page.locator(f'[data-live-run="{NAME}"]').wait_for(state="hidden", timeout=60_000)
        [last] = runs_of(base_url, key, NAME)[:1]
        assert last["status"] == "succeeded", last
        final = {s: c["read"] for s, c in last["stats"].items()}
        assert all(final[s] >= n for s, n in seen[-1].items()) and sum(final.values()) > sum(seen[0].values())
        console.shot("sync-finished")
        # and the page stops asking for progress
        sent = len(polls)
        page.wait_for_timeout(3000)  # three times the page's interval
        assert len(polls) == sent
        assert console.errors == []
    finally:
        httpx.delete(f"{sandbox}/_sandbox/faults", timeout=10)
