"""No request can stall the hub: cost budgets, root-field / alias / token caps, filter text lengths,
the response-size cap, the statement time limit and per-key rate limits."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from graphql import parse
from sqlalchemy import event, text

from hub.app import DEFAULT_QUERY, create_app
from hub.db import dispose
from hub.ratelimit import make_storage
from schema.build import build_schema
from schema.cost import budget_for, operation_cost
from tests.conftest import unavailable
from tests.schema.conftest import GraphClient, StatementCounter

#: The finding: three aliases of this ran 65 s, returned 41 MB and stalled /healthz for 39 s.
HEAVY = (
    "{ "
    + " ".join(
        f"a{i}: projects(first: 500) {{ nodes {{ payroll(first: 500) {{ nodes {{ payMonth actualAmount worker {{ name idNumber }} }} }} }} }}"
        for i in range(3)
    )
    + " }"
)

#: The README's walk-through query (a clue, its project, the project's wage accounts and payroll).
README_QUERY = """{
  clues(filter: {multiChannel: true}, first: 1) {
    nodes {
      clueNo title
      channelRecords { channelName sourceId matchRule matchScore rawRecord { payload } }
      project {
        name region { fullName }
        wageAccounts { bankName salaryAccount accountBalance allocations(first: 3) { nodes { billDate amount } } }
        payroll(first: 10) { totalCount nodes { payMonth actualAmount payStatusName worker { name idNumber } } }
      }
    }
  }
}"""


def cost(query: str, variables: dict[str, Any] | None = None, **kw: Any) -> tuple[int, int] | None:
    return operation_cost(build_schema()._schema, parse(query), variables=variables, **kw)


@pytest.mark.parametrize(
    ("query", "variables", "expected"),
    [
        (HEAVY, None, (3 * (500 + 500 * 500), 3)),
        ("{ clues { totalCount nodes { clueNo } } }", None, (20 + 1, 1)),
        ("query($n: Int) { clues(first: $n) { nodes { clueNo } } }", {"n": 7}, (7, 1)),
        ("query($n: Int = 9) { clues(first: $n) { nodes { clueNo } } }", None, (9, 1)),
        (
            "{ projects(first: 10) { edges { node { payroll(first: 30) { totalCount nodes { payMonth } } } } } }",
            None,
            (10 + 10 * 30 + 10, 1),
        ),
        (
            "{ projects(first: 2) { nodes { wageAccounts { bankName } warnings { level } } } }",
            None,
            (2 + 2 * 20 + 2 * 20, 1),
        ),
        (
            "{ clues(first: 3) { ...C } } fragment C on ClueConnection { nodes { actions { kind } ... on Clue { channelRecords { channel } } } }",
            None,
            (3 + 3 * 20 + 3 * 20, 1),
        ),
        ('{ node(id: "x") { ... on Project { payroll(first: 40) { nodes { payMonth } } } } }', None, (40, 1)),
        ("{ clues(first: 100000) { nodes { clueNo } } }", None, (500, 1)),
        ('{ clue(clueNo: "x") { similarClues { score } } me { name } __typename }', None, (5, 3)),
        ("{ __schema { types { name fields { name } } } }", None, (0, 1)),
    ],
    ids=[
        "heavy",
        "default-page-and-count",
        "variable",
        "variable-default",
        "nested-edges",
        "lists-estimated",
        "fragments",
        "inline-fragment",
        "clamped-to-max-page",
        "argument-default",
        "introspection",
    ],
)
def test_cost_counts_rows_multiplied_down_nested_connections(query, variables, expected) -> None:
    assert cost(query, variables) == expected


def test_cost_skips_operations_execution_will_refuse() -> None:
    # An unknown operation name, or variables that do not coerce: execution reports them, before any SQL
    assert cost("query A { me { name } }", operation_name="B") is None
    assert cost("query($n: Int!) { clues(first: $n) { totalCount } }", {"n": "many"}) is None


def test_a_role_without_a_budget_gets_the_smallest() -> None:
    limits = {"viewer": 50_000, "admin": 250_000}
    assert budget_for("admin", limits) == 250_000
    assert budget_for("auditor", limits) == 50_000
    assert budget_for(None, limits) == 50_000


def test_budgets_are_read_as_json_and_may_not_be_empty(monkeypatch) -> None:
    from pydantic import ValidationError

    from hub.settings import Settings

    monkeypatch.setenv("HUB_QUERY_COST_LIMITS", '{"viewer": 10, "admin": 1000}')
    assert Settings().query_cost_limits == {"viewer": 10, "admin": 1000}
    monkeypatch.setenv("HUB_QUERY_COST_LIMITS", "{}")
    with pytest.raises(ValidationError, match="query_cost_limits"):
        Settings()


def test_the_documented_queries_fit_the_smallest_budget() -> None:
    from hub.settings import Settings

    smallest = min(Settings.model_fields["query_cost_limits"].default.values())
    for query in (README_QUERY, DEFAULT_QUERY):
        priced = cost(query)
        assert priced is not None and priced[0] <= smallest


class App:
    """An app over the demo database with some settings changed, its client and a statement counter."""

    def __init__(self, app: Any, client: httpx.AsyncClient, keys: dict[str, str], counter: StatementCounter) -> None:
        self.app, self.client, self.counter = app, client, counter
        self.graph = GraphClient(client, keys, counter)

    async def post(self, query: str, *, as_: str | None = "viewer", variables: dict | None = None) -> httpx.Response:
        headers = {"X-API-Key": self.graph.keys[as_]} if as_ else {}
        return await self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)


@pytest.fixture
async def make_app(demo, settings_for) -> AsyncIterator[Callable[..., Any]]:  # type: ignore[no-untyped-def]
    opened: list[tuple[Any, httpx.AsyncClient]] = []

    async def make(**overrides: Any) -> App:
        app = create_app(settings_for(demo.url, **overrides))
        counter = StatementCounter()
        event.listen(app.state.engine.sync_engine, "before_cursor_execute", counter)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test")
        opened.append((app, client))
        return App(app, client, dict(demo.keys), counter)

    yield make
    for app, client in opened:
        await client.aclose()
        await app.state.engine.dispose()
        await dispose(app.state.read_engine)


def only_authentication(statements: list[str]) -> bool:
    return all("FROM api_keys" in s for s in statements)


async def test_the_heavy_query_is_refused_before_any_sql(make_app) -> None:
    hub = await make_app()
    hub.counter.active = True
    err = await hub.graph.error(HEAVY, as_="viewer")
    assert err["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 751_500, "budget": 50_000, "role": "viewer"}
    assert err["message"] == (
        "cost 751,500 exceeds your budget 50,000 (role viewer): ask for fewer rows (first) or fewer nested connections"
    )
    # Only the API key's look-up ran: nothing of the 750,000 rows was asked for
    assert hub.counter.count == 1 and only_authentication(hub.counter.statements)


async def test_budgets_are_per_role(make_app) -> None:
    hub = await make_app()
    wide = "{ projects(first: 300) { nodes { payroll(first: 300) { nodes { payMonth } } } } }"  # 90,300
    viewer = await hub.graph.error(wide, as_="viewer")
    assert viewer["extensions"]["code"] == "QUERY_TOO_COSTLY" and viewer["extensions"]["budget"] == 50_000
    assert (
        len((await hub.graph.data(wide, as_="admin"))["projects"]["nodes"]) == 48
    )  # the tiny demo: 30 + 18 situations
    admin = await hub.graph.error(HEAVY, as_="admin")
    assert admin["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 751_500, "budget": 250_000, "role": "admin"}


async def test_budgets_come_from_settings(make_app) -> None:
    hub = await make_app(query_cost_limits={"viewer": 10, "admin": 1000})
    assert (await hub.graph.data("{ clues(first: 10) { nodes { clueNo } } }", as_="viewer"))["clues"]["nodes"]
    err = await hub.graph.error("{ clues(first: 11) { nodes { clueNo } } }", as_="viewer")
    assert err["message"].startswith("cost 11 exceeds your budget 10 (role viewer)")
    # A role the mapping leaves out (inspector) gets the smallest budget
    err = await hub.graph.error("{ clues(first: 11) { nodes { clueNo } } }", as_="city")
    assert err["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 11, "budget": 10, "role": "inspector"}


async def test_the_documented_queries_still_answer_for_a_viewer(make_app) -> None:
    hub = await make_app()
    assert (await hub.graph.data(README_QUERY, as_="viewer"))["clues"]["nodes"]
    assert (await hub.graph.data(DEFAULT_QUERY, as_="viewer"))["clues"]["edges"]


async def test_root_fields_are_capped(make_app) -> None:
    hub = await make_app()
    ten = "{ " + " ".join(f"m{i}: me {{ name }}" for i in range(10)) + " }"
    assert len(await hub.graph.data(ten)) == 10
    err = await hub.graph.error("{ " + " ".join(f"m{i}: me {{ name }}" for i in range(10)) + " regions { code } }")
    assert err["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "rootFields": 11,
        "limit": 10,
        "suggestion": "split it into several requests",
    }
    assert err["message"] == "the operation selects 11 root fields; at most 10 are accepted"


async def test_aliases_are_capped_below_three_copies_of_a_page(make_app) -> None:
    hub = await make_app()
    fifteen = "{ me { " + " ".join(f"n{i}: name" for i in range(15)) + " } }"
    assert (await hub.graph.data(fifteen))["me"]["n14"]
    err = await hub.graph.error("{ me { " + " ".join(f"n{i}: name" for i in range(16)) + " } }")
    assert err["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": 15,
        "suggestion": "split it into several requests",
    }
    assert err["message"] == "the operation uses 16 aliases; at most 15 are accepted"


async def test_depth_is_capped_naming_the_limit(make_app) -> None:
    hub = await make_app()
    twelve = '{ region(code: "370811") { ' + "parent { " * 11 + "code" + " }" * 11 + " } }"
    assert (await hub.graph.data(twelve))["region"]["parent"]["parent"]["parent"] is None
    err = await hub.graph.error('{ region(code: "370811") { ' + "parent { " * 12 + "code" + " }" * 12 + " } }")
    assert err["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": 12,
        "suggestion": "split it into several requests",
    }
    assert err["message"] == "the operation is 13 levels deep; at most 12 are accepted"


def test_a_fragment_spread_2_to_the_30_times_is_measured_once() -> None:
    # Each fragment spreads the next twice: strawberry's limiters expanded every spread (minutes)
    from graphql import validate

    from schema.build import shape_rule

    frags = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(30)]
    document = parse(" ".join(["{ ...F0 }", *frags, "fragment F30 on Query { a: regions { children { code } } }"]))
    errors = validate(build_schema()._schema, document, [shape_rule(max_depth=12, max_aliases=15)])
    assert [e.message for e in errors] == ["the operation uses 1073741824 aliases; at most 15 are accepted"]
    assert operation_cost(build_schema()._schema, document) == (2**30 * (20 + 20 * 20), 2**30)


async def test_too_many_tokens_is_a_limit_not_a_syntax_error(make_app) -> None:
    hub = await make_app()
    err = await hub.graph.error("{ me { " + " name" * 4000 + " } }")
    assert err["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": 4000,
        "suggestion": "split it into several requests",
    }
    assert err["message"] == "the document has more than 4,000 tokens; at most 4,000 are accepted"


@pytest.mark.parametrize(
    ("query", "field", "length"),
    [
        ('{ clues(filter: {search: "%s"}) { totalCount } }', "search", 50_000),
        ('{ projects(filter: {search: "%s"}) { totalCount } }', "search", 201),
        ('{ enterprises(filter: {search: "%s"}) { totalCount } }', "search", 201),
        ('{ projects(filter: {projectCode: "%s"}) { totalCount } }', "projectCode", 201),
        ('{ clues(filter: {handlingRegionCode: "%s"}) { totalCount } }', "handlingRegionCode", 201),
        ('{ payrollRecords(filter: {payMonth: "%s"}) { totalCount } }', "payMonth", 201),
    ],
    ids=["clue-search-50000", "project-search", "enterprise-search", "project-code", "handling-region", "pay-month"],
)
async def test_filter_text_is_capped_naming_the_field(make_app, query, field, length) -> None:
    hub = await make_app()
    hub.counter.active = True
    err = await hub.graph.error(query % ("x" * length), as_="viewer")
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    assert err["message"] == f"{field} is {length:,} characters long; at most 200 are accepted"
    assert only_authentication(hub.counter.statements)


async def test_a_search_of_200_characters_is_accepted(make_app) -> None:
    hub = await make_app()
    data = await hub.graph.data('{ clues(filter: {search: "%s"}) { totalCount } }' % ("欠" * 200), as_="viewer")
    assert data == {"clues": {"totalCount": 0}}


async def test_a_response_over_the_size_cap_is_replaced_by_an_error(make_app) -> None:
    hub = await make_app(max_response_bytes=4096)
    small = await hub.graph.data("{ clues(first: 2) { nodes { clueNo } } }")
    assert len(small["clues"]["nodes"]) == 2
    body = await hub.graph.raw("{ clues(first: 200) { nodes { clueNo title respondentName } } }")
    assert body["data"] is None
    [err] = body["errors"]
    size = err["extensions"]["size"]
    assert size > 4096
    assert err["extensions"] == {"code": "RESPONSE_TOO_LARGE", "size": size, "limit": 4096}
    assert (
        err["message"]
        == f"the response would be {size:,} bytes, over the limit of 4,096: ask for fewer rows (first) or fewer fields"
    )


# --- the statement time limit --------------------------------------------------------------------

COUNT_200K = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) SELECT count(*) FROM c"

SLOW_SQL = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000000) SELECT count(*) FROM c",
    "postgres": "SELECT pg_sleep(30)",
}


async def test_a_statement_over_the_time_limit_answers_query_timeout(make_app, backend, monkeypatch) -> None:
    # Given a time limit of 0.2 s and a resolver that runs a statement that would take minutes
    import schema.query

    original = schema.query.paginate
    slow = {"on": True}

    async def slow_paginate(session, stmt, **kw):  # type: ignore[no-untyped-def]
        if slow["on"]:
            await session.execute(text(SLOW_SQL[backend]))
        return await original(session, stmt, **kw)

    monkeypatch.setattr(schema.query, "paginate", slow_paginate)
    hub = await make_app(request_timeout_seconds=0.2)
    err = await hub.graph.error("{ clues(first: 1) { nodes { clueNo } } }")
    # Then the statement is stopped and the client is told why, never INTERNAL
    assert err["extensions"] == {
        "code": "QUERY_TIMEOUT",
        "limitSeconds": 0.2,
        "suggestion": "ask for fewer rows (first), a narrower filter or fewer nested connections",
    }
    assert err["message"] == "the query ran longer than the limit of 0.2 s and was stopped"
    # And the app (its connections) answers the next request
    slow["on"] = False
    for _ in range(3):
        assert (await hub.graph.data("{ clues(first: 1) { nodes { clueNo } } }"))["clues"]["nodes"]


async def test_a_connection_stays_usable_after_its_statement_timed_out(demo, backend, monkeypatch) -> None:
    import hub.db

    # Given one pooled connection and a clock the test moves (SQLite's deadline; PostgreSQL's is its own)
    now = {"t": 0.0}
    monkeypatch.setattr(hub.db, "clock", lambda: now["t"])
    engine = hub.db.make_async_engine(demo.url, statement_timeout=0.2, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            now["t"] = 1000.0  # the deadline (checkout + 0.2 s) has passed
            with pytest.raises(
                hub.db.QueryTimeout, match=r"^the query ran longer than the limit of 0\.2 s and was stopped$"
            ):
                await conn.execute(text(SLOW_SQL[backend]))
        # Then the same connection, checked out again, runs a statement to its end (on SQLite one long
        # enough to meet the progress handler, which must see the new deadline)
        async with engine.connect() as conn:
            if backend == "sqlite":
                assert (await conn.execute(text(COUNT_200K))).scalar_one() == 200_000
            else:
                assert (await conn.execute(text("SELECT 41 + 1"))).scalar_one() == 42
    finally:
        await engine.dispose()


async def test_only_the_graphql_engines_are_limited(demo, backend, monkeypatch) -> None:
    # Syncs and migrations use the synchronous engine: their statements are never stopped. The GraphQL
    # app's engine and the synchronous one compiled operations read with are.
    import hub.db

    if backend == "postgres":
        sync = hub.db.make_engine(demo.url)
        read = hub.db.make_read_engine(demo.url, statement_timeout=15)
        engine = hub.db.make_async_engine(demo.url, statement_timeout=15)
        try:
            with sync.connect() as conn:
                assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "0"
            async with read.connect() as rconn:
                assert (await rconn.execute(text("SHOW statement_timeout"))).scalar_one() == "15s"
                # a plan only reads: no BEGIN / ROLLBACK round trips around its statements
                raw = await rconn.get_raw_connection()
                assert raw.driver_connection.autocommit is True
            async with engine.connect() as aconn:
                assert (await aconn.execute(text("SHOW statement_timeout"))).scalar_one() == "15s"
        finally:
            sync.dispose()
            await hub.db.dispose(read)
            await engine.dispose()
        return
    # SQLite: a clock that leaps an hour at every reading puts every deadline in the past
    ticks = iter(range(0, 10**9, 3600))
    monkeypatch.setattr(hub.db, "clock", lambda: float(next(ticks)))
    sync = hub.db.make_engine(demo.url)
    read = hub.db.make_read_engine(demo.url, statement_timeout=15)
    engine = hub.db.make_async_engine(demo.url, statement_timeout=15)
    try:
        with sync.connect() as conn:
            assert conn.execute(text(COUNT_200K)).scalar_one() == 200_000
        with read.connect() as conn:
            with pytest.raises(hub.db.QueryTimeout, match="longer than the limit of 15 s"):
                conn.execute(text(COUNT_200K))
        async with engine.connect() as aconn:
            with pytest.raises(hub.db.QueryTimeout, match="longer than the limit of 15 s"):
                await aconn.execute(text(COUNT_200K))
    finally:
        sync.dispose()
        read.dispose()
        await engine.dispose()


async def test_a_compiled_operation_over_the_time_limit_answers_query_timeout(make_app, backend, monkeypatch) -> None:
    # Given a time limit of 0.2 s, the bench's page compiled, and its page statement preceded by one that
    # would take minutes (on the plan's own connection)
    from bench.graph_vs_sql import QUERY
    from schema.compiled import PlanCache, _run

    original = _run._Reader.kept_rows
    slow = {"on": True}

    def slow_rows(self, kept, types=None, params=None):  # type: ignore[no-untyped-def]
        if slow["on"]:
            self.connection.execute(text(SLOW_SQL[backend]))
        return original(self, kept, types, params)

    monkeypatch.setattr(_run._Reader, "kept_rows", slow_rows)
    hub = await make_app(request_timeout_seconds=0.2)
    view = hub.app.state.graphql
    view.plans = PlanCache()
    view.plans.add(view.schema, QUERY)
    # When it is asked twice (the key unknown to the process, then known: both ways a plan is run)
    for _ in range(2):
        err = await hub.graph.error(QUERY, {"first": 3})
        # Then the statement is stopped and the client is told why, never INTERNAL
        assert err["extensions"] == {
            "code": "QUERY_TIMEOUT",
            "limitSeconds": 0.2,
            "suggestion": "ask for fewer rows (first), a narrower filter or fewer nested connections",
        }
    # And the plan's connections answer the next requests
    slow["on"] = False
    for _ in range(3):
        assert (await hub.graph.data(QUERY, {"first": 3}))["clues"]["edges"]


# --- rate limits ---------------------------------------------------------------------------------


async def test_requests_over_the_rate_limit_get_429_with_retry_after(make_app) -> None:
    hub = await make_app(rate_limit="2/minute")
    for _ in range(2):
        assert (await hub.post("{ me { name } }")).status_code == 200
    hub.counter.active = True
    resp = await hub.post("{ me { name } }")
    assert resp.status_code == 429
    retry = int(resp.headers["retry-after"])
    assert 1 <= retry <= 60
    assert resp.json() == {
        "data": None,
        "errors": [
            {
                "message": f"rate limit 2/minute exceeded for this API key: retry after {retry} s",
                "extensions": {"code": "RATE_LIMITED", "retryAfter": retry, "limit": "2/minute"},
            }
        ],
    }
    # Refused before authentication: not even the key was looked up
    assert hub.counter.count == 0
    # Another key has its own allowance
    assert (await hub.post("{ me { name } }", as_="admin")).status_code == 200


async def test_requests_without_a_key_are_limited_per_address(make_app) -> None:
    hub = await make_app(rate_limit="1/minute")
    first = await hub.post("{ me { name } }", as_=None)
    assert first.status_code == 200 and first.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    second = await hub.post("{ me { name } }", as_=None)
    assert second.status_code == 429
    assert second.json()["errors"][0]["message"].startswith(
        "rate limit 1/minute exceeded for this address (no API key)"
    )
    # A key's requests are counted apart from its address's
    assert (await hub.post("{ me { name } }")).status_code == 200


async def test_health_is_never_rate_limited(make_app) -> None:
    hub = await make_app(rate_limit="1/minute")
    assert [(await hub.client.get("/healthz")).status_code for _ in range(3)] == [200, 200, 200]


async def test_an_unreachable_counter_store_lets_requests_through(make_app) -> None:
    hub = await make_app(rate_limit="1/minute", rate_limit_storage_url="redis://127.0.0.1:1/0")
    assert [(await hub.post("{ me { name } }")).status_code for _ in range(2)] == [200, 200]


#: Database 7 of the test Redis (CI exports HUB_TEST_REDIS_URL; other suites use other databases).
REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/7"


@pytest.fixture
def redis_db() -> str:
    """Redis database 7, emptied (skips locally / fails in CI when Redis is absent)."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL)
        client.ping()
    except Exception as exc:
        unavailable(f"Redis at {REDIS_URL} is unreachable: {exc.__class__.__name__}")
    client.flushdb()
    client.close()
    return REDIS_URL


async def test_the_rate_limit_is_shared_through_redis(make_app, redis_db) -> None:
    # Two processes (two apps) sharing one Redis count one allowance
    one = await make_app(rate_limit="3/minute", rate_limit_storage_url=redis_db)
    two = await make_app(rate_limit="3/minute", rate_limit_storage_url=redis_db)
    statuses = [(await app.post("{ me { name } }")).status_code for app in (one, two, one, two)]
    assert statuses == [200, 200, 200, 429]
    assert re.fullmatch(r"\d+", (await one.post("{ me { name } }")).headers["retry-after"])


async def test_a_batch_is_refused_with_a_stable_code(make_app) -> None:
    hub = await make_app()
    hub.counter.active = True
    resp = await hub.client.post(
        "/graphql", json=[{"query": "{ me { name } }"}] * 2, headers={"X-API-Key": hub.graph.keys["viewer"]}
    )
    assert resp.status_code == 400
    assert resp.json() == {
        "data": None,
        "errors": [
            {
                "message": "batched requests (a JSON array of operations) are not accepted: send one operation per request",
                "extensions": {"code": "BATCH_NOT_SUPPORTED"},
            }
        ],
    }
    assert hub.counter.count == 0


async def test_a_body_over_the_size_limit_is_refused_before_it_is_read_whole(make_app) -> None:
    # Given a hub taking request bodies up to 4 KiB
    hub = await make_app(max_request_bytes=4096)
    hub.counter.active = True
    received: list[int] = []

    async def body():  # type: ignore[no-untyped-def]  # a client streaming 1 KiB chunks for ever
        for _ in range(10_000):
            received.append(1)
            yield b" " * 1024

    # When a client streams a body larger than that
    resp = await hub.client.post(
        "/graphql", content=body(), headers={"X-API-Key": hub.graph.keys["viewer"], "content-type": "application/json"}
    )
    # Then it is refused with 413 and its code, having read no more than the limit, and no SQL ran
    assert resp.status_code == 413
    assert resp.json()["errors"] == [
        {
            "message": "the request body is larger than 4,096 bytes: send one operation, with its variables, and no file",
            "extensions": {"code": "REQUEST_TOO_LARGE", "limit": 4096},
        }
    ]
    assert len(received) <= 6
    assert hub.counter.count == 0
    # and a request within the limit is answered
    assert (await hub.post("{ me { name } }")).status_code == 200


def test_production_servers_share_their_rate_limit_counters_through_redis() -> None:
    # Two `hub serve` containers counting in memory would each allow a key the whole limit
    from pathlib import Path

    import yaml

    compose = yaml.safe_load((Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text(encoding="utf-8"))
    servers = {name: s for name, s in compose["services"].items() if "hub serve" in str(s.get("command", ""))}
    assert len(servers) >= 2
    for name, service in servers.items():
        url = service["environment"]["HUB_RATE_LIMIT_STORAGE_URL"]
        assert url.startswith("redis://redis:6379/"), name
        assert make_storage(url).__class__.__name__ == "RedisStorage"


#: The console's pages every role may open (the admin pages need admin.read, hub.access).
READER_PAGES = ["dashboard", "clues", "clue", "warnings"]
SAMPLE_VALUES = {"Date": "2026-11-01", "String": "x", "Int": 20, "ID": "x", "Boolean": False}


def console_queries() -> list[tuple[str, str, dict[str, Any]]]:
    """(page, query, variables) of every query the reader pages send, required variables given sample
    values and page sizes the console's 20."""
    from pathlib import Path

    from graphql import GraphQLEnumType, NamedTypeNode, NonNullTypeNode, OperationDefinitionNode

    schema = build_schema()._schema
    pages = Path(__file__).resolve().parents[2] / "admin" / "static" / "app" / "pages"
    found = []
    for page in READER_PAGES:
        for query in re.findall(r"`(query [^`]*)`", (pages / f"{page}.js").read_text(encoding="utf-8")):
            [op] = [d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode)]
            variables: dict[str, Any] = {}
            for v in op.variable_definitions or ():
                named = v.type.type if isinstance(v.type, NonNullTypeNode) else v.type
                if isinstance(v.type, NonNullTypeNode) or (
                    isinstance(named, NamedTypeNode) and named.name.value == "Int"
                ):
                    assert isinstance(named, NamedTypeNode), query
                    kind = schema.get_type(named.name.value)
                    sample = SAMPLE_VALUES.get(named.name.value)
                    variables[v.variable.name.value] = (
                        sample
                        if sample is not None or not isinstance(kind, GraphQLEnumType)
                        else next(iter(kind.values))
                    )
            found.append((page, query, variables))
    return found


def test_every_role_has_its_own_budget() -> None:
    from hub.access import ROLES
    from hub.settings import Settings

    # No role falls back to "the smallest" by being forgotten: town, leader and sector are named too
    assert set(Settings.model_fields["query_cost_limits"].default) == set(ROLES)


@pytest.mark.parametrize("role", ["viewer", "leader", "town", "sector", "regional", "inspector"])
def test_what_the_console_asks_fits_every_readers_budget(role: str) -> None:
    from hub.settings import Settings

    budget = budget_for(role, Settings.model_fields["query_cost_limits"].default)
    queries = console_queries()
    assert {page for page, _, _ in queries} == set(READER_PAGES)
    for page, query, variables in queries:
        priced = cost(query, variables)
        assert priced is not None and priced[0] <= budget, (page, query[:60], priced, budget)
