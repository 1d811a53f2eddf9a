"""Signing in over HTTP (admin.auth) and using /graphql with the session cookie (hub.app, admin.session).

The clock is the test's: the app is built with ``clock=``, and the session timeouts are crossed by
moving it. CSRF: a cookie-authenticated POST without the session's token, or from another site, is
refused with 403 CSRF_REFUSED before anything runs; the same request with the token works; an API
key needs no token.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from hub.access import NATIONAL, Principal, Role
from hub.api_keys import create_api_key
from hub.db import make_engine, session_scope
from hub.models import AuditLog, Event, utcnow
from hub.users import create_user
from schema.pagination import encode_cursor
from tests.reliability.wsclient import next_events, receive, receive_json, subscribe, wait_until

ADMIN = Principal(name="cli:ops", role=Role.ADMIN, region_code=NATIONAL, can_unmask=True)  # as the CLI's
T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
PASSWORD = "Qiansheng-2026"
COUNT = {"query": "{ clues(first: 1) { totalCount } }"}
pytestmark = pytest.mark.usefixtures("fast_hashes")


class Clock:
    """The app's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def world(empty_db_url: str) -> dict[str, str]:
    """An inspector user of 任城区 and an API key, in a fresh database."""
    engine = make_engine(empty_db_url)
    with session_scope(engine) as session:
        create_user(
            session,
            principal=ADMIN,
            username="zhangsan",
            display_name="张三",
            role="inspector",
            region_code="370811",
            password=PASSWORD,
        )
        _, key = create_api_key(session, principal=ADMIN, name="system", role="viewer", region_code="370800")
    engine.dispose()
    return {"url": empty_db_url, "key": key}


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_client(world: dict[str, str], settings_for: Any, clock: Clock, **overrides: Any) -> TestClient:
    from hub.app import create_app

    # The fan-out re-checks open subscriptions on the real clock, which is not the test's T0:
    # only the test of that re-check asks for it
    overrides.setdefault("subscription_recheck_seconds", 3600)
    settings = settings_for(world["url"], sign_in_max_failures=3, **overrides)
    return TestClient(create_app(settings, clock=clock))


@pytest.fixture
def client(world: dict[str, str], settings_for: Any, clock: Clock) -> Iterator[TestClient]:
    with make_client(world, settings_for, clock) as c:
        yield c


def sign_in(client: TestClient, password: str = PASSWORD, **headers: str) -> Any:
    return client.post("/admin/api/sign-in", json={"username": "zhangsan", "password": password}, headers=headers)


def audit_actions(world: dict[str, str]) -> list[tuple[str, str]]:
    engine = make_engine(world["url"])
    with session_scope(engine) as session:
        rows = [(r.principal, r.action) for r in session.execute(select(AuditLog).order_by(AuditLog.id)).scalars()]
    engine.dispose()
    return rows


# --- sign-in, the cookie, the session --------------------------------------------------------------


def test_sign_in_sets_an_httponly_strict_cookie_and_returns_the_user_and_csrf_token(client: TestClient) -> None:
    # When the user signs in with the right password
    resp = sign_in(client)
    # Then the answer names the user and carries a CSRF token
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["user"] == {
        "username": "zhangsan",
        "displayName": "张三",
        "role": "inspector",
        "regionCode": "370811",
        "sector": None,
        "canUnmask": False,
    }
    assert len(body["csrfToken"]) == 64
    # And the cookie is HttpOnly, SameSite=Strict, Path=/, for the absolute timeout, and not Secure over http
    cookie = resp.headers["set-cookie"]
    name, _, flags = cookie.partition(";")
    assert name.startswith("hub_session=")
    assert flags.strip() == "Path=/; HttpOnly; SameSite=Strict; Max-Age=43200"
    # And GET /admin/api/session says who is signed in, with the same token
    session = client.get("/admin/api/session").json()
    assert (session["user"]["username"], session["csrfToken"]) == ("zhangsan", body["csrfToken"])
    assert session["expiresAt"] == "2026-11-20T13:00:00+00:00"


def test_over_https_the_cookie_is_secure_and_host_prefixed(
    world: dict[str, str], settings_for: Any, clock: Clock
) -> None:
    with make_client(world, settings_for, clock, public_url="https://hub.jining.example") as client:
        resp = sign_in(client, origin="https://hub.jining.example")
    assert resp.status_code == 200, resp.text
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith("__Host-hub_session=") and cookie.endswith("; Secure")


def test_without_a_session_the_session_endpoint_answers_401(client: TestClient) -> None:
    resp = client.get("/admin/api/session")
    assert resp.status_code == 401
    assert resp.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_wrong_password_sets_no_cookie_and_locks_after_n(client: TestClient, world: dict[str, str]) -> None:
    # When the password is wrong twice
    for _ in range(2):
        resp = sign_in(client, "Wrong-password-1")
        assert resp.status_code == 401 and "set-cookie" not in resp.headers
        assert resp.json()["errors"][0]["extensions"]["code"] == "BAD_CREDENTIALS"
    # And a third time (the limit is 3)
    resp = sign_in(client, "Wrong-password-1")
    # Then the account is locked, the message saying until when, in Chinese first
    err = resp.json()["errors"][0]
    assert err["extensions"]["code"] == "ACCOUNT_LOCKED"
    assert err["message"].startswith("账户已锁定：连续 3 次密码错误，2026-11-20 09:15 解锁")
    # And the right password is refused while locked
    assert sign_in(client).json()["errors"][0]["extensions"]["code"] == "ACCOUNT_LOCKED"
    assert audit_actions(world)[-4:] == [
        ("user:zhangsan", a)
        for a in ("user.sign_in_failed", "user.sign_in_failed", "user.lock", "user.sign_in_refused")
    ]


def test_a_sign_in_body_without_a_password_is_refused_naming_the_field(client: TestClient) -> None:
    resp = client.post("/admin/api/sign-in", json={"username": "zhangsan"})
    assert resp.status_code == 400
    err = resp.json()["errors"][0]
    assert (err["message"], err["extensions"]) == (
        "password is missing: send it as a non-empty string",
        {"code": "BAD_USER_INPUT", "field": "password"},
    )


def test_the_session_ends_after_the_idle_timeout(client: TestClient, clock: Clock) -> None:
    # Given a session used 29 minutes after sign-in (idle timeout 30 minutes)
    assert sign_in(client).status_code == 200
    clock.advance(minutes=29)
    assert client.get("/admin/api/session").status_code == 200
    # When 30 minutes pass without a request
    clock.advance(minutes=30)
    resp = client.get("/admin/api/session")
    # Then it has ended, and the cookie is cleared
    assert resp.status_code == 401
    assert resp.json()["errors"][0]["extensions"] == {"code": "SESSION_EXPIRED", "reason": "idle timeout"}
    assert "Max-Age=0" in resp.headers["set-cookie"]


def test_the_session_ends_at_the_absolute_timeout_however_busy(client: TestClient, clock: Clock) -> None:
    assert sign_in(client).status_code == 200
    for _ in range(35):  # a request every 20 minutes for 11 h 40 min
        clock.advance(minutes=20)
        assert client.get("/admin/api/session").status_code == 200
    clock.advance(minutes=20)
    resp = client.get("/admin/api/session")
    assert resp.json()["errors"][0]["extensions"] == {"code": "SESSION_EXPIRED", "reason": "absolute timeout"}


def test_sign_out_needs_the_csrf_token_then_ends_the_session(client: TestClient, world: dict[str, str]) -> None:
    token = sign_in(client).json()["csrfToken"]
    # A sign-out without the token is refused (another site could otherwise sign the user out)
    refused = client.post("/admin/api/sign-out")
    assert (refused.status_code, refused.json()["errors"][0]["extensions"]["code"]) == (403, "CSRF_REFUSED")
    # With it, the session ends
    resp = client.post("/admin/api/sign-out", headers={"X-CSRF-Token": token})
    assert resp.json() == {"signedOut": True}
    assert client.get("/admin/api/session").status_code == 401
    assert audit_actions(world)[-1] == ("user:zhangsan", "user.sign_out")


def test_sign_in_is_rate_limited_per_address(world: dict[str, str], settings_for: Any, clock: Clock) -> None:
    with make_client(world, settings_for, clock, sign_in_rate_limit="3/minute") as client:
        codes = [sign_in(client, "Wrong-password-1", **{"X-API-Key": f"invented-{n}"}).status_code for n in range(4)]
    # Invented API keys buy no more attempts: the address counts
    assert codes == [401, 401, 401, 429]


# --- /graphql with the cookie: CSRF -----------------------------------------------------------------


def test_a_cross_site_form_post_with_the_cookie_is_refused(client: TestClient) -> None:
    # Given a signed-in browser
    assert sign_in(client).status_code == 200
    # When another site's form posts to /graphql (the browser adds the cookie, not the token)
    resp = client.post(
        "/graphql",
        content="query=mutation+%7B+acceptClue%28clueNo%3A+%22XS-1%22%29+%7B+status+%7D+%7D",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "origin": "https://evil.example",
            "sec-fetch-site": "cross-site",
        },
    )
    # Then it is refused before anything runs
    assert resp.status_code == 403
    err = resp.json()["errors"][0]
    assert (err["extensions"]["code"], err["message"]) == (
        "CSRF_REFUSED",
        "a signed-in request from another site is refused (Sec-Fetch-Site: cross-site)",
    )


def test_a_cross_origin_fetch_is_refused_even_with_the_token(client: TestClient) -> None:
    token = sign_in(client).json()["csrfToken"]
    resp = client.post("/graphql", json=COUNT, headers={"X-CSRF-Token": token, "origin": "https://evil.example"})
    assert resp.status_code == 403
    assert resp.json()["errors"][0]["message"] == (
        "a signed-in request from another origin is refused (Origin: https://evil.example)"
    )


def test_a_fetch_without_the_token_is_refused_and_with_it_works(client: TestClient) -> None:
    token = sign_in(client).json()["csrfToken"]
    # Without the token: refused
    resp = client.post("/graphql", json=COUNT, headers={"origin": "http://testserver", "sec-fetch-site": "same-origin"})
    assert resp.status_code == 403
    assert (
        resp.json()["errors"][0]["message"]
        == "a signed-in POST without CSRF token is refused: send the X-CSRF-Token header"
    )
    # With a wrong one: refused
    resp = client.post("/graphql", json=COUNT, headers={"X-CSRF-Token": "0" * 64})
    assert (
        resp.json()["errors"][0]["message"]
        == "a signed-in POST with a wrong CSRF token is refused: send the X-CSRF-Token header"
    )
    # With it: the query runs as the user
    resp = client.post(
        "/graphql",
        json=COUNT,
        headers={"X-CSRF-Token": token, "origin": "http://testserver", "sec-fetch-site": "same-origin"},
    )
    assert resp.status_code == 200 and resp.json() == {"data": {"clues": {"totalCount": 0}}}


def test_an_api_key_needs_no_csrf_token_even_with_a_cookie_present(client: TestClient, world: dict[str, str]) -> None:
    assert sign_in(client).status_code == 200
    resp = client.post("/graphql", json=COUNT, headers={"X-API-Key": world["key"]})
    assert resp.status_code == 200 and resp.json() == {"data": {"clues": {"totalCount": 0}}}


def test_an_ended_session_on_graphql_says_so(client: TestClient, clock: Clock) -> None:
    token = sign_in(client).json()["csrfToken"]
    clock.advance(minutes=31)
    body = client.post("/graphql", json=COUNT, headers={"X-CSRF-Token": token}).json()
    assert body["errors"][0]["extensions"]["code"] == "SESSION_EXPIRED"


def test_a_websocket_from_another_origin_is_refused_at_the_handshake(client: TestClient) -> None:
    # Given a signed-in browser, When a page of another origin opens a WebSocket to /graphql (with the cookie)
    assert sign_in(client).status_code == 200
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect(
            "/graphql", subprotocols=["graphql-transport-ws"], headers={"origin": "https://evil.example"}
        ):
            pass
    # Then the handshake is refused (policy violation), before the cookie is looked at
    assert closed.value.code == 1008


def test_a_websocket_from_an_origin_other_than_the_public_url_gets_no_user(
    world: dict[str, str], settings_for: Any, clock: Clock
) -> None:
    # Given a hub whose browsers use https://hub.jining.example, and a browser signed in there
    with make_client(world, settings_for, clock, public_url="https://hub.jining.example") as client:
        resp = sign_in(client, origin="https://hub.jining.example")
        client.cookies.set("__Host-hub_session", resp.cookies["__Host-hub_session"])
        # When a page of the hub's host but not its public origin (plain http) subscribes with the cookie
        with client.websocket_connect(
            "/graphql", subprotocols=["graphql-transport-ws"], headers={"origin": "http://testserver"}
        ) as ws:
            ws.send_json({"type": "connection_init", "payload": {}})
            assert receive_json(ws)["type"] == "connection_ack"
            subscribe(ws, "1", {"a": None})
            msg = receive_json(ws)
    # Then the subscription is refused as cross-site
    assert msg["type"] == "error"
    assert msg["payload"][0]["extensions"]["code"] == "CSRF_REFUSED"


def test_a_websocket_from_the_hubs_own_page_follows_events_as_the_user(
    client: TestClient, world: dict[str, str]
) -> None:
    # Given an event in the next county (兖州区), then one in the user's county (任城区)
    engine = make_engine(world["url"])
    with session_scope(engine) as session:
        for n, region in enumerate(("370812", "370811"), start=1):
            session.add(
                Event(
                    type="clue.accept", entity_type="clue", entity_id=n, payload={}, region_code=region, created_at=T0
                )
            )
    engine.dispose()
    # When the signed-in browser subscribes from the hub's own page, replaying from the start
    assert sign_in(client).status_code == 200
    with client.websocket_connect(
        "/graphql", subprotocols=["graphql-transport-ws"], headers={"origin": "http://testserver"}
    ) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert receive_json(ws)["type"] == "connection_ack"
        subscribe(ws, "1", {"a": encode_cursor([0])})
        _, first = next_events(ws)
    # Then it gets its county's event, as the user, and not the other county's
    assert (first["node"]["regionCode"], first["node"]["type"]) == ("370811", "clue.accept")


def test_a_signed_in_subscription_is_closed_with_4403_when_the_user_signs_out(
    world: dict[str, str], settings_for: Any
) -> None:
    # Given a subscription of a signed-in browser (on the real clock: the fan-out re-checks on it)
    clock = Clock()
    clock.now = utcnow()
    with make_client(world, settings_for, clock, subscription_recheck_seconds=0.05) as client:
        token = sign_in(client).json()["csrfToken"]
        fanout = client.app.state.fanout  # type: ignore[attr-defined]
        with client.websocket_connect(
            "/graphql", subprotocols=["graphql-transport-ws"], headers={"origin": "http://testserver"}
        ) as ws:
            ws.send_json({"type": "connection_init", "payload": {}})
            assert receive_json(ws)["type"] == "connection_ack"
            subscribe(ws, "1", {"a": None})
            wait_until(lambda: fanout.live == 1, "the subscription to go live")
            # When the user signs out elsewhere (the same session)
            assert client.post("/admin/api/sign-out", headers={"X-CSRF-Token": token}).json() == {"signedOut": True}
            # Then the socket is closed with 4403 within a re-check period
            msg = receive(ws)
            while msg["type"] != "websocket.close":
                msg = receive(ws)
    assert msg["code"] == 4403
