"""R4 query abuse: documents built to stall the hub are refused before any SQL beyond authentication,
each with its stable code, and the service stays healthy while they arrive together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from hub.app import create_app

#: The finding: three aliases of this ran 65 s, returned 41 MB, took 790 MB and stalled /healthz 39 s.
HEAVY = (
    "{ "
    + " ".join(
        f"a{i}: projects(first: 500) {{ nodes {{ payroll(first: 500) {{ nodes {{ payMonth worker {{ name idNumber }} }} }} }} }}"
        for i in range(3)
    )
    + " }"
)


def _deep(levels: int) -> str:
    inner = "code"
    for _ in range(levels):
        inner = f"children {{ {inner} }}"
    return f"{{ regions {{ {inner} }} }}"


def _fragment_bomb(leaf: str, *, levels: int = 30, on: str = "Query", root: str = "{ ...F0 }") -> str:
    """Each fragment spreads the next one twice: 2^levels copies of ``leaf`` in a few hundred tokens."""
    frags = [f"fragment F{i} on {on} {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    return " ".join([root, *frags, f"fragment F{levels} on {on} {{ {leaf} }}"])


ABUSE = [
    pytest.param({"query": HEAVY}, 200, "QUERY_TOO_COSTLY", id="heavy-3-aliases-of-500x500"),
    pytest.param(
        {"query": "{ " + " ".join(f"a{i}: __typename" for i in range(1000)) + " }"},
        200,
        "QUERY_TOO_COMPLEX",
        id="1000-aliases",
    ),
    pytest.param({"query": _deep(50)}, 200, "QUERY_TOO_COMPLEX", id="depth-50"),
    pytest.param({"query": "{ me { " + " name" * 20_000 + " } }"}, 200, "QUERY_TOO_COMPLEX", id="20k-tokens"),
    pytest.param(
        {"query": "{ " + " ".join(f"r{i}: regions {{ code }}" for i in range(12)) + " }"},
        200,
        "QUERY_TOO_COMPLEX",
        id="12-root-fields",
    ),
    pytest.param(
        {
            "query": "{ "
            + " ".join(f'c{i}: clues(filter: {{search: "{"x" * 50_000}"}}) {{ totalCount }}' for i in range(3))
            + " }"
        },
        200,
        "BAD_USER_INPUT",
        id="3x-search-50000-chars",
    ),
    pytest.param(
        {"query": _fragment_bomb("a: me { name }")}, 200, "QUERY_TOO_COMPLEX", id="fragment-bomb-2^30-aliases"
    ),
    pytest.param(
        {"query": _fragment_bomb("me { name }")}, 200, "QUERY_TOO_COMPLEX", id="fragment-bomb-2^30-root-fields"
    ),
    pytest.param(
        {
            "query": _fragment_bomb(
                "payroll(first: 500) { nodes { payMonth } }",
                on="Project",
                root="{ projects(first: 500) { nodes { ...F0 } } }",
            )
        },
        200,
        "QUERY_TOO_COSTLY",
        id="fragment-bomb-2^30-connections",
    ),
    pytest.param(
        [{"query": HEAVY.replace("first: 500", "first: 50")}] * 20, 400, "BATCH_NOT_SUPPORTED", id="batch-of-20"
    ),
]


class Counter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        self.statements.append(statement)


@pytest.fixture
async def hub(demo, settings_for) -> AsyncIterator[tuple[httpx.AsyncClient, Counter, dict[str, str]]]:  # type: ignore[no-untyped-def]
    app = create_app(settings_for(demo.url))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hub.test", timeout=60
    ) as client:
        # Warm up (first connections, dialect checks) before counting
        assert (
            await client.post("/graphql", json={"query": "{ me { name } }"}, headers={"X-API-Key": demo.keys["viewer"]})
        ).status_code == 200
        counter = Counter()
        event.listen(app.state.engine.sync_engine, "before_cursor_execute", counter)
        yield client, counter, demo.keys
    await app.state.engine.dispose()


def _authentication_only(statements: list[str]) -> bool:
    return all("FROM api_keys" in s for s in statements)


@pytest.mark.parametrize(("body", "status", "code"), ABUSE)
async def test_abusive_requests_are_refused_before_any_sql(hub, body: Any, status: int, code: str) -> None:
    client, counter, keys = hub
    resp = await client.post("/graphql", json=body, headers={"X-API-Key": keys["viewer"]})
    assert resp.status_code == status
    errors = resp.json()["errors"]
    assert {e["extensions"]["code"] for e in errors} == {code}
    # Nothing ran but (at most) the API key's look-up
    assert len(counter.statements) <= 1 and _authentication_only(counter.statements), counter.statements


async def test_twenty_heavy_requests_at_once_are_all_refused_and_health_answers(hub) -> None:
    client, counter, keys = hub
    headers = {"X-API-Key": keys["viewer"]}

    async def heavy() -> httpx.Response:
        return await client.post("/graphql", json={"query": HEAVY}, headers=headers)

    async def health() -> list[int]:
        codes = []
        for _ in range(5):
            codes.append((await client.get("/healthz")).status_code)
            await asyncio.sleep(0)
        return codes

    *answers, health_codes = await asyncio.gather(*[heavy() for _ in range(20)], health())
    assert [r.status_code for r in answers] == [200] * 20
    assert {r.json()["errors"][0]["extensions"]["code"] for r in answers} == {"QUERY_TOO_COSTLY"}
    assert all(r.json()["data"] is None for r in answers)
    assert health_codes == [200] * 5
    # Twenty key look-ups and nothing else: none of the 15 million rows asked for was read
    assert len(counter.statements) == 20 and _authentication_only(counter.statements)
