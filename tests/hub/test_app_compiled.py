"""A known key's POST of a compiled operation is answered before strawberry's view (hub/app_compiled.py).

The memory of a key is a hint: the key is read again on the plan's own connection before any row, so a
key revoked or moved to another region a moment ago is treated as it now stands.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from threading import get_ident
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text

from bench.graph_vs_sql import QUERY as BENCH_QUERY
from hub.api_keys import create_api_key
from hub.app import create_app
from hub.db import LazySession, dispose, make_engine, session_scope, sync_engine_of
from schema.compiled import PlanCache


@dataclass
class Hub:
    client: httpx.AsyncClient
    app: Any
    url: str
    #: Statements run on the GraphQL app's async engine and on the compiled plans' read engine.
    on_async: list[str] = field(default_factory=list)
    on_read: list[str] = field(default_factory=list)

    async def post(
        self, key: str, variables: dict[str, Any] | None = None, *, status: int = 200, **extra: Any
    ) -> dict[str, Any]:
        resp = await self.client.post(
            "/graphql",
            json={"query": BENCH_QUERY, "variables": variables or {"first": 5}, **extra},
            headers={"X-API-Key": key},
        )
        assert resp.status_code == status, resp.text
        body: dict[str, Any] = resp.json()
        return body

    def forget_statements(self) -> None:
        self.on_async.clear()
        self.on_read.clear()


@pytest.fixture
async def hub(writable_demo, settings_for) -> AsyncIterator[Hub]:  # type: ignore[no-untyped-def]
    app = create_app(settings_for(writable_demo.url))
    view = app.state.graphql
    view.plans = PlanCache()
    view.plans.add(view.schema, BENCH_QUERY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        h = Hub(client, app, writable_demo.url)
        event.listen(app.state.engine.sync_engine, "before_cursor_execute", lambda *a: h.on_async.append(a[2]))
        event.listen(sync_engine_of(app.state.read_engine), "before_cursor_execute", lambda *a: h.on_read.append(a[2]))
        yield h
    await app.state.engine.dispose()
    await dispose(app.state.read_engine)


def new_key(url: str, *, name: str, region: str, role: str = "inspector") -> str:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            _, key = create_api_key(session, name=name, role=role, region_code=region)
    finally:
        engine.dispose()
    return key


def run_sql(url: str, sql: str, **params: Any) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()


async def test_a_known_keys_compiled_query_is_read_in_one_hop_with_its_key(hub: Hub) -> None:
    # Given a key the process has authenticated once (its first request takes the usual path)
    key = new_key(hub.url, name="fast-city", region="370800")
    first = await hub.post(key)
    hub.forget_statements()
    # When it sends the compiled operation again
    again = await hub.post(key)
    # Then the same answer, read on the plan's engine alone: the key, the page, the channel records
    assert again == first
    assert hub.on_async == []
    assert len(hub.on_read) == 3, hub.on_read
    assert "FROM api_keys" in hub.on_read[0]


async def test_a_key_revoked_after_its_last_request_is_refused_and_no_row_is_read(hub: Hub) -> None:
    # Given a key answered once by the plan
    key = new_key(hub.url, name="fast-revoked", region="370800")
    assert (await hub.post(key))["data"]["clues"]["edges"]
    assert (await hub.post(key))["data"]["clues"]["edges"]
    # When the key is revoked, by another process, and sends the operation again
    run_sql(hub.url, "UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE name = :n", n="fast-revoked")
    hub.forget_statements()
    body = await hub.post(key)
    # Then it is refused as any unknown key is, and no clue was read for it
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert not [s for s in hub.on_read + hub.on_async if "FROM clues" in s]


async def test_a_key_moved_to_another_region_reads_that_regions_clues_at_once(hub: Hub, writable_demo) -> None:
    # Given a national key answered once by the plan: it sees clues of several counties
    key = new_key(hub.url, name="fast-moved", region="000000", role="admin")
    county = writable_demo.highlights["county_code"]
    wide = await hub.post(key, {"first": 200})
    assert (await hub.post(key, {"first": 200})) == wide
    # When an administrator narrows the key to one county
    run_sql(hub.url, "UPDATE api_keys SET region_code = :r WHERE name = :n", r=county, n="fast-moved")
    narrow = await hub.post(key, {"first": 200})
    # Then its next page holds that county's clues only: what a key of the county reads
    county_key = new_key(hub.url, name="fast-county", region=county)
    assert narrow == await hub.post(county_key, {"first": 200})
    assert 0 < len(narrow["data"]["clues"]["edges"]) < len(wide["data"]["clues"]["edges"])


async def test_what_the_plan_does_not_answer_takes_the_usual_path(hub: Hub) -> None:
    # Given a known key
    key = new_key(hub.url, name="fast-usual", region="370800")
    await hub.post(key)
    # When it sends a cursor the resolver refuses, or an operation name the document does not hold
    bad_cursor = await hub.post(key, {"first": 5, "after": "not-a-cursor!"})
    wrong_name = await hub.post(key, operationName="NotThere", status=400)
    # Then the usual path's errors, with their codes
    assert [e["extensions"]["code"] for e in bad_cursor["errors"]] == ["INVALID_CURSOR"]
    assert bad_cursor["data"] is None
    assert wrong_name["errors"] == [
        {"message": 'Unknown operation named "NotThere".', "extensions": {"code": "BAD_REQUEST"}}
    ]


async def test_a_read_connection_ended_by_the_server_is_replaced_and_the_answer_given(hub: Hub, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("PostgreSQL's read engine does not ping before each checkout; SQLite has no server")
    # Given a key answered once by the plan, and the read engine's pooled connection then ended by the
    # server (as a restart or an administrator would)
    key = new_key(hub.url, name="fast-reconnect", region="370800")
    await hub.post(key)
    expected = await hub.post(key)
    async with hub.app.state.read_engine.connect() as conn:
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    run_sql(hub.url, "SELECT pg_terminate_backend(:pid)", pid=pid)
    hub.forget_statements()
    # When the key asks again
    again = await hub.post(key)
    # Then it gets the answer, read by the plan on a new connection: the key tried on the dead one, then
    # the key, the page and the channel records
    assert again == expected
    assert hub.on_async == []
    assert len(hub.on_read) == 4 and sum("FROM api_keys" in st for st in hub.on_read) == 2, hub.on_read


#: A statement that would run for minutes (stopped by a time limit, or cancelled).
SLOW_SQL = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000000) SELECT count(*) FROM c",
    "postgres": "SELECT pg_sleep(30)",
}


async def test_a_quick_plan_runs_on_the_event_loop_and_a_slow_statement_sends_it_to_a_worker(
    hub: Hub, backend: str, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    if backend != "sqlite":
        pytest.skip("PostgreSQL's plans read on an async engine, always on the event loop's thread")
    from schema.compiled import _run

    # (what counts as quick is generous here: a loaded machine must not make the plan look slow)
    monkeypatch.setattr(_run, "INLINE_BELOW", 60.0)
    # Given a key answered once the usual way, then by the plan (its first run on a worker thread)
    threads: list[int] = []
    event.listen(
        sync_engine_of(hub.app.state.read_engine), "before_cursor_execute", lambda *a: threads.append(get_ident())
    )
    key = new_key(hub.url, name="fast-inline", region="370800")
    expected = await hub.post(key)
    assert await hub.post(key) == expected
    loop_thread = get_ident()
    assert threads[0] != loop_thread
    # When it asks again
    threads.clear()
    assert await hub.post(key) == expected
    # Then the plan, quick the last time, ran on the event loop's thread
    assert threads and set(threads) == {loop_thread}
    # And when a statement of its run on the loop's thread would take minutes
    original = _run._Reader.kept_rows

    def slow_on_the_loop(self, kept, types=None, params=None):  # type: ignore[no-untyped-def]
        if get_ident() == loop_thread:
            self.connection.execute(text(SLOW_SQL[backend]))
        return original(self, kept, types, params)

    monkeypatch.setattr(_run._Reader, "kept_rows", slow_on_the_loop)
    threads.clear()
    # Then it is stopped after a moment, and the plan answers from a worker thread
    assert await hub.post(key) == expected
    assert threads[0] == loop_thread and loop_thread not in threads[2:]
    assert any(t != loop_thread for t in threads)


async def test_a_cancelled_read_leaves_the_read_engines_pool_whole(hub: Hub, backend: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    if backend != "postgres":
        pytest.skip("on SQLite a plan reads on a worker thread or, quick, on the loop: nothing waits to cancel")
    from schema.compiled import _run

    # Given a key answered by the plan, and its next page statement waiting on the server for minutes
    key = new_key(hub.url, name="fast-cancelled", region="370800")
    await hub.post(key)
    expected = await hub.post(key)
    original = _run._Reader.kept_rows
    slow = {"on": True}

    def slow_rows(self, kept, types=None, params=None):  # type: ignore[no-untyped-def]
        if slow["on"]:
            slow["on"] = False
            self.connection.execute(text(SLOW_SQL[backend]))
        return original(self, kept, types, params)

    monkeypatch.setattr(_run._Reader, "kept_rows", slow_rows)
    # When the client gives up on it (the request is cancelled while the statement runs)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(hub.post(key), timeout=0.5)
    # Then no connection stays checked out, and the next requests are answered
    pool = sync_engine_of(hub.app.state.read_engine).pool
    assert pool.checkedout() == 0
    for _ in range(3):
        assert await hub.post(key) == expected


async def test_a_compiled_answer_makes_no_request_session(hub: Hub) -> None:
    # Given a key answered once the usual way, and the view's sessions counted from then on
    key = new_key(hub.url, name="fast-sessionless", region="370800")
    expected = await hub.post(key)
    view = hub.app.state.graphql
    made: list[Any] = []
    factory = view.sessions

    def counted() -> Any:
        made.append(factory())
        return made[-1]

    view.sessions = counted
    try:
        # When the plan answers it
        assert await hub.post(key) == expected
        # Then no session was made for it (it reads on its own connection)
        assert made == []
        # while a request the plan does not answer still gets one
        await hub.post(key, {"first": 2}, query="{ me { name } }")
        assert len(made) == 1
    finally:
        view.sessions = factory


async def test_a_lazy_session_is_made_on_first_use_and_closed_only_then() -> None:
    made: list[Any] = []

    class Session:
        closed = False
        info: dict[str, Any] = {}

        async def close(self) -> None:
            self.closed = True

    def factory() -> Any:
        made.append(Session())
        return made[-1]

    prepared: list[Any] = []
    unused = LazySession(factory, prepared.append)
    await unused.close()
    assert made == [] and prepared == []
    used = LazySession(factory, prepared.append)
    assert used.info == {}
    await used.close()
    assert len(made) == 1 and prepared == made and made[0].closed
