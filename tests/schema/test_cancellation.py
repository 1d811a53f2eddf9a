"""A field that fails while others wait for the same load: the client still gets the field's error.

graphql-core cancels the sibling fields of a failed one; when one of them waited for a load another
field of the query shares (here an enterprise, asked for through a clue and as a project's
contractor), the cancellation used to reach the other field too and end the request with a 500.
"""

from __future__ import annotations

import asyncio

import pytest

from schema.loaders import SharedLoader

#: A page too large (first: 501) beside a contractor, while the clues' enterprises load the same rows.
SHARED_LOAD = (
    "{ enterprises(first: 5) { nodes { clues { nodes { enterprise { name } } }"
    " projects(first: 2) { nodes { clues(first: %d) { nodes { id } } contractor { name } } } } } }"
)


@pytest.mark.parametrize("as_", ["zhujian", "city"])
async def test_a_refused_page_beside_a_shared_load_answers_its_error(graph, as_: str) -> None:
    # Given a query whose nested page asks for more than the maximum page size, beside fields that
    # wait for the same enterprises as other fields of the query
    # When it is sent over HTTP
    resp = await graph.client.post(
        "/graphql", json={"query": SHARED_LOAD % 501}, headers={"X-API-Key": graph.keys[as_]}
    )

    # Then the answer is a GraphQL response with the user's error, and only that
    assert resp.status_code == 200, resp.text[:500]
    body = resp.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["message"] == "first=501 exceeds the maximum page size 500"
    path = error["path"]
    assert path[:2] == ["enterprises", "nodes"] and path[3:5] == ["projects", "nodes"] and path[-1] == "clues"
    assert isinstance(path[2], int) and isinstance(path[5], int) and len(path) == 7

    # And the same app answers the next request normally
    data = await graph.data(SHARED_LOAD % 2, as_=as_)
    enterprises = data["enterprises"]["nodes"]
    assert any(p["contractor"] for e in enterprises for p in e["projects"]["nodes"])
    assert any(c["enterprise"] for e in enterprises for c in e["clues"]["nodes"])


def _loader(calls: list[list[int]]) -> SharedLoader[int, str]:
    async def load(keys: list[int]) -> list[str]:
        calls.append(list(keys))
        await asyncio.sleep(0)
        return [f"row {k}" for k in keys]

    return SharedLoader(load_fn=load)


async def _callers(loader: SharedLoader[int, str], *keys: int) -> list[asyncio.Task[str]]:
    """A task per key awaiting ``loader.load(key)``, as resolvers do, each already waiting."""

    async def resolve(key: int) -> str:
        return await loader.load(key)

    tasks = [asyncio.create_task(resolve(k)) for k in keys]
    await asyncio.sleep(0)  # one step each: every task now waits for its load, none has been read yet
    return tasks


async def _settle(tasks: list[asyncio.Task[str]]) -> None:
    """Let the loop run a few steps: cancelled tasks end, a scheduled batch is read."""
    for _ in range(8):  # the loader dispatches its batch a few loop steps after the first load
        await asyncio.sleep(0)


async def test_a_cancelled_caller_leaves_the_load_to_the_others() -> None:
    # Given two resolvers waiting for the same key
    calls: list[list[int]] = []
    loader = _loader(calls)
    cancelled, waiting = await _callers(loader, 1, 1)

    # When the first is cancelled (as graphql-core cancels a failed field's siblings)
    cancelled.cancel()

    # Then the other still gets the row, read once, and a later caller gets it from the cache
    assert await waiting == "row 1"
    assert cancelled.cancelled()
    assert await loader.load(1) == "row 1"
    assert calls == [[1]]


async def test_a_load_every_caller_left_is_not_run() -> None:
    # Given two resolvers waiting for the same key
    calls: list[list[int]] = []
    loader = _loader(calls)
    callers = await _callers(loader, 1, 1)

    # When both are cancelled before the batch is read
    for caller in callers:
        caller.cancel()
    await _settle(callers)

    # Then nothing is read for them, and the key is read when asked for again (not left waiting in
    # the abandoned batch)
    assert calls == []
    again = await _callers(loader, 1)
    await _settle(again)
    assert again[0].done() and again[0].result() == "row 1"
    assert calls == [[1]]
