"""connectors.cursor_api.client, what the permit and real-name connectors share: the requests the token
client makes, the per-record hook of the cursor-paged stream, and the errors named for each upstream.

The connectors' own tests read their sandboxes through this code; these pin the wire format with an
``httpx.MockTransport`` so that a change to the shared client shows as a changed request.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.base import (
    CheckResult,
    Connector,
    ConnectorConfig,
    Entity,
    FatalUpstreamError,
    MalformedResponse,
    Stream,
    TokenExpired,
)
from connectors.cursor_api.client import CursorStream, TokenClient


class _Config(ConnectorConfig):
    app_id: str


class _Upstream:
    """A list of two pages behind a token; it records what it was asked, may expire the token once, and
    answers a list request with ``body`` when given one."""

    def __init__(self, *, expire_first_read: bool = False, body: Any = None) -> None:
        self.requests: list[httpx.Request] = []
        self.tokens = 0
        self.expire_first_read = expire_first_read
        self.body = body

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/api/v1/auth/token":
            self.tokens += 1
            return httpx.Response(200, json={"code": "0", "msg": "ok", "data": {"accessToken": f"t{self.tokens}"}})
        if self.body is not None:
            return httpx.Response(200, json=self.body)
        if self.expire_first_read:
            self.expire_first_read = False
            return httpx.Response(401, json={"code": "TOKEN_EXPIRED", "msg": "expired"})
        if request.url.params.get("cursor") is None:
            page = {"records": [{"updateTime": "2026-11-20 09:00:00", "itemNo": "a"}], "hasMore": True}
            return httpx.Response(200, json={"code": "0", "msg": "ok", "data": page})
        page = {"records": [{"updateTime": "2026-11-20 10:00:00", "itemNo": "b"}], "hasMore": False}
        return httpx.Response(200, json={"code": "0", "msg": "ok", "data": page})


class _Api(TokenClient[_Config]):
    connector = "demo"
    system = "demo system"
    envelope = "demo-system"

    def __init__(self, config: _Config, upstream: _Upstream) -> None:
        super().__init__(config)
        self.upstream = upstream

    def credentials(self) -> dict[str, str]:
        return {"X-App-Id": self.config.app_id}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.config.base_url, transport=httpx.MockTransport(self.upstream))


class _Items(CursorStream[_Config]):
    name = "items"
    primary_key = ("itemNo",)
    sensitive = ()
    path = "api/v1/items"

    def prepare(self, record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "itemNo": record["itemNo"].upper()}


class _Demo(Connector[_Config]):
    kind = "demo"
    title = "demo"
    config_model = _Config

    def check(self, config: _Config) -> CheckResult:
        return CheckResult(True, "")

    def streams(self, config: _Config) -> list[Stream[_Config]]:
        return []

    def normalise(self, stream: str, record: dict[str, Any]) -> list[Entity]:
        return []


def _stream(upstream: _Upstream, **config: Any) -> _Items:
    cfg = _Config(base_url="https://upstream.example/", app_id="app-1", page_size=50, **config)
    return _Items(_Demo(), cfg, _Api(cfg, upstream))


def test_a_read_sends_the_token_and_the_cursor_and_pages_carry_prepared_records() -> None:
    # Given an upstream with two pages
    upstream = _Upstream()
    # When the stream is read from the beginning
    pages = list(_stream(upstream).read({}))
    # Then one token was bought with the credentials and each page asked with it, the second after the first
    # page's last record as prepare made it
    auth, first, second = upstream.requests
    assert (auth.method, auth.url.path, auth.headers["X-App-Id"]) == ("POST", "/api/v1/auth/token", "app-1")
    assert [(r.url.path, dict(r.url.params), r.headers["X-Access-Token"]) for r in (first, second)] == [
        ("/api/v1/items", {"pageSize": "50"}, "t1"),
        ("/api/v1/items", {"pageSize": "50", "cursor": "2026-11-20 09:00:00|A"}, "t1"),
    ]
    # and the pages carry the prepared records, each with the bookmark after it
    assert [[r["itemNo"] for r in p.records] for p in pages] == [["A"], ["B"]]
    assert [p.state for p in pages] == [{"cursor": "2026-11-20 09:00:00|A"}, {"cursor": "2026-11-20 10:00:00|B"}]


def test_a_first_read_with_a_start_date_begins_at_that_day() -> None:
    # Given a stream configured to start on 2026-11-20, without a bookmark
    upstream = _Upstream()
    # When it is read
    list(_stream(upstream, start_date="2026-11-20").read({}))
    # Then the first page is asked from that day's first update time
    assert upstream.requests[1].url.params["cursor"] == "2026-11-20 00:00:00|"


def test_an_expired_token_is_bought_again_on_the_retry() -> None:
    # Given an upstream that answers the first read with TOKEN_EXPIRED
    upstream = _Upstream(expire_first_read=True)
    stream = _stream(upstream)
    # When the stream is read, and read again as the hub retries
    with pytest.raises(TokenExpired, match="access token expired"):
        list(stream.read({}))
    list(stream.read({}))
    # Then the retry bought a new token and sent it
    assert upstream.tokens == 2
    assert upstream.requests[-1].headers["X-Access-Token"] == "t2"


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (
            {"code": "1001", "msg": "app disabled"},
            FatalUpstreamError,
            "demo/items: demo system answered 1001: app disabled",
        ),
        ([], MalformedResponse, "demo/items: not a demo-system envelope"),
        (
            {"code": "0", "msg": "ok", "data": {"rows": []}},
            MalformedResponse,
            "demo/items: a list answer without data.records",
        ),
    ],
    ids=["another-code", "not-an-envelope", "no-records"],
)
def test_an_answer_the_client_cannot_use_names_the_upstream(body: Any, error: type[Exception], message: str) -> None:
    # Given an upstream that answers a list request with ``body``
    stream = _stream(_Upstream(body=body))
    # When the stream is read
    # Then the error names the connector, the stream and the upstream as its messages do
    with pytest.raises(error) as raised:
        list(stream.read({}))
    assert str(raised.value).startswith(message)
