"""The HTTP surface besides GraphQL: health, readiness, metrics, and GraphiQL served offline."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from hub.app import create_app

STATIC = Path(__file__).resolve().parent.parent / "schema" / "static" / "graphiql"


@pytest.fixture
async def client(empty_db_url, settings_for):  # type: ignore[no-untyped-def]
    app = create_app(settings_for(empty_db_url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as c:
        yield c
    await app.state.engine.dispose()


async def test_healthz_answers_while_the_process_is_up(client) -> None:
    resp = await client.get("/healthz")
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}


async def test_readyz_checks_database_and_broker(client) -> None:
    resp = await client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json()["checks"] == {"database": "ok", "broker": "ok"}


async def test_readyz_reports_an_unreachable_broker(empty_db_url, settings_for) -> None:
    # Given a broker URL where nothing listens
    settings = settings_for(empty_db_url).model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as c:
        resp = await c.get("/readyz")
    await app.state.engine.dispose()
    assert resp.status_code == 503
    body = resp.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("unreachable: ConnectionError")


async def test_metrics_count_requests(client) -> None:
    await client.get("/healthz")
    await client.get("/healthz")
    text = (await client.get("/metrics")).text
    match = re.search(r'hub_http_requests_total\{method="GET",route="/healthz",status="200"\} (\d+)', text)
    assert match and float(match.group(1)) == 2.0


async def test_graphiql_page_is_served_with_local_assets_only(client) -> None:
    resp = await client.get("/graphql", headers={"accept": "text/html"})
    assert resp.status_code == 200
    html = resp.text
    assert "GraphiQL" in html
    external = [u for u in re.findall(r'(?:src|href)="([^"]+)"', html) if not u.startswith("/static/")]
    assert external == [], f"GraphiQL page loads assets from outside the hub: {external}"
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        r = await client.get(asset)
        assert r.status_code == 200, asset
        assert len(r.content) > 1000


def test_vendored_graphiql_does_not_fetch_from_a_cdn() -> None:
    for name in ("graphiql.min.js", "graphiql.min.css"):
        text = (STATIC / name).read_text(errors="ignore")
        assert not re.search(
            r"https?://(unpkg\.com|cdn\.jsdelivr\.net|fonts\.googleapis\.com)[^\s\"']*\.(js|css|woff2?)", text
        ), name
