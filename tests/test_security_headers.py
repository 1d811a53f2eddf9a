"""Security headers on every response, a CSP on GraphiQL, and redirects never built from ``Host``."""

from __future__ import annotations

import re

import httpx
import pytest

from hub.app import create_app

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
COMMON = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


@pytest.fixture
async def client(empty_db_url, settings_for):  # type: ignore[no-untyped-def]
    app = create_app(settings_for(empty_db_url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as c:
        yield c
    await app.state.engine.dispose()


async def test_graphiql_has_a_csp_that_allows_no_inline_script_and_no_framing(client) -> None:
    resp = await client.get("/graphql", headers={"accept": "text/html"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    assert resp.headers["content-security-policy"] == CSP
    assert {k: resp.headers[k] for k in COMMON} == COMMON
    # Every script on the page is a local file, or a JSON data block (which a browser does not run)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", resp.text, flags=re.S)
    assert scripts, "GraphiQL has no script at all"
    inline = [attrs for attrs, body in scripts if "src=" not in attrs and 'type="application/json"' not in attrs]
    assert inline == []
    assert [b for attrs, b in scripts if "src=" in attrs and b.strip()] == []
    assert '<script src="/static/graphiql/hub-graphiql.js"></script>' in resp.text
    assert "query MultiChannelClues {" in resp.text  # the example query, as data


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/healthz", {}),
        ("GET", "/metrics", {}),
        ("GET", "/static/graphiql/hub-graphiql.js", {}),
        ("POST", "/graphql", {"json": {"query": "{ __typename }"}}),
        ("GET", "/nowhere", {}),
    ],
    ids=["healthz", "metrics", "static", "graphql", "404"],
)
async def test_every_response_has_the_common_headers_and_only_html_a_csp(client, method, path, kwargs) -> None:
    resp = await client.request(method, path, **kwargs)
    assert {k: resp.headers.get(k) for k in COMMON} == COMMON
    assert "content-security-policy" not in resp.headers


async def test_the_trailing_slash_redirect_is_relative_whatever_the_host_header_says(client) -> None:
    # Given a request for /graphql/ with a spoofed Host header
    resp = await client.get("/graphql/?x=1", headers={"host": "evil.example", "accept": "text/html"})
    # Then the redirect stays on the host the client asked, whatever Host said
    assert resp.status_code == 307
    assert resp.headers["location"] == "/graphql?x=1"
    assert "evil.example" not in resp.text
    assert {k: resp.headers[k] for k in COMMON} == COMMON
    # POST keeps its method and body across a 307
    post = await client.post("/graphql/", json={"query": "{ __typename }"}, headers={"host": "evil.example"})
    assert (post.status_code, post.headers["location"]) == (307, "/graphql")


@pytest.mark.parametrize(
    "path", ["//evil.example/", "/nowhere/", "/\\evil.example/"], ids=["double-slash", "unknown", "backslash"]
)
async def test_no_redirect_for_a_path_no_route_serves(client, path) -> None:
    resp = await client.get(path, headers={"host": "evil.example"})
    assert resp.status_code == 404 and "location" not in resp.headers
