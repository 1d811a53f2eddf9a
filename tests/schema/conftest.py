"""Fixtures for talking to the graph through the whole ASGI stack (httpx → Starlette → strawberry)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event


class StatementCounter:
    """Counts the SQL statements an engine runs while ``active``."""

    def __init__(self) -> None:
        self.count = 0
        self.statements: list[str] = []
        self.active = False

    def __call__(self, _conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if self.active:
            self.count += 1
            self.statements.append(statement)


class GraphClient:
    def __init__(self, client: httpx.AsyncClient, keys: dict[str, str], counter: StatementCounter) -> None:
        self.client = client
        self.keys = keys
        self.counter = counter

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = "admin"
    ) -> dict[str, Any]:
        headers = {"X-API-Key": self.keys[as_]} if as_ else {}
        resp = await self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        assert resp.status_code == 200, resp.text
        return resp.json()

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = "admin"
    ) -> dict[str, Any]:
        body = await self.raw(query, variables, as_=as_)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = "admin"
    ) -> dict[str, Any]:
        body = await self.raw(query, variables, as_=as_)
        assert body.get("errors"), f"expected an error, got {str(body)[:500]}"
        return body["errors"][0]

    async def count_statements(self, query: str, variables: dict[str, Any] | None = None, *, as_: str = "admin") -> int:
        self.counter.count = 0
        self.counter.statements.clear()
        self.counter.active = True
        try:
            await self.data(query, variables, as_=as_)
        finally:
            self.counter.active = False
        return self.counter.count


@pytest.fixture
def app(demo, settings_for):  # type: ignore[no-untyped-def]
    from hub.app import create_app

    return create_app(settings_for(demo.url))


@pytest.fixture
async def graph(app, demo) -> AsyncIterator[GraphClient]:  # type: ignore[no-untyped-def]
    counter = StatementCounter()
    event.listen(app.state.engine.sync_engine, "before_cursor_execute", counter)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        yield GraphClient(client, demo.keys, counter)
    await app.state.engine.dispose()


@pytest.fixture(scope="module")
def writable_keys(writable_demo, request) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The writable demo's keys, plus an inspector key per ``(name, region)`` in the module's ``EXTRA_KEYS``."""
    from hub.api_keys import create_api_key
    from hub.db import make_engine, session_scope

    engine = make_engine(writable_demo.url)
    out = dict(writable_demo.keys)
    with session_scope(engine) as s:
        for name, region in getattr(request.module, "EXTRA_KEYS", ()):
            _, out[name] = create_api_key(s, name=name, role="inspector", region_code=region)
    engine.dispose()
    return out


@pytest.fixture
async def writable_graph(writable_demo, settings_for, writable_keys) -> AsyncIterator[GraphClient]:  # type: ignore[no-untyped-def]
    """A client of an app over the writable demo (for tests that change it), with ``writable_keys``."""
    from hub.app import create_app

    app = create_app(settings_for(writable_demo.url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        yield GraphClient(client, writable_keys, StatementCounter())
    await app.state.engine.dispose()
