"""Principals and jurisdictions (hub.access)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import aliased

from hub.access import NATIONAL, Principal, authenticate, bind_principal, jurisdiction_bounds
from hub.api_keys import create_api_key
from hub.db import make_engine, session_scope
from hub.errors import NotAuthenticated
from hub.models import ApiKey, ChannelRecord, Clue, Project, Region, Warning, utcnow


@pytest.mark.parametrize(
    ("code", "bounds"),
    [
        ("370000", ("37", "38")),
        ("370800", ("3708", "3709")),
        ("370811", ("370811", "370812")),
        ("370811001", ("370811001", "370811002")),
        ("110109", ("110109", "11010:")),
        (NATIONAL, None),
    ],
    ids=["province", "city", "county", "town", "county-ending-9", "national"],
)
def test_jurisdiction_bounds(code, bounds) -> None:
    assert jurisdiction_bounds(code) == bounds


@pytest.mark.parametrize(
    ("principal_region", "row_region", "covered"),
    [
        ("370800", "370811", True),
        ("370800", "370800", True),
        ("370800", "370100", False),
        ("370811", "370811001", True),
        ("370811", "370812", False),
        (NATIONAL, "110101", True),
    ],
    ids=["county-in-city", "city-itself", "other-city", "town-in-county", "neighbour-county", "national"],
)
def test_covers(principal_region, row_region, covered) -> None:
    assert Principal("p", "viewer", principal_region).covers(row_region) is covered


def test_api_keys_are_stored_hashed_and_authenticate(empty_db_url) -> None:
    engine = make_engine(empty_db_url)
    with session_scope(engine) as session:
        row, key = create_api_key(session, name="大屏", role="viewer", region_code="370800")
    with session_scope(engine) as session:
        stored = session.execute(select(ApiKey)).scalar_one()
        assert key not in (stored.key_hash, stored.prefix) and stored.prefix == key[:10]
        principal = authenticate(session, key)
        assert (principal.role, principal.region_code, principal.can_unmask) == ("viewer", "370800", False)
        stored.revoked_at = utcnow()
    with session_scope(engine) as session, pytest.raises(NotAuthenticated, match=r"^unknown or revoked API key hub_"):
        authenticate(session, key)
    engine.dispose()


@pytest.mark.parametrize(
    ("role", "region", "message"),
    [
        ("boss", "370800", "unknown role 'boss': use one of admin, inspector, viewer, regional, town, leader, sector"),
        ("viewer", "3708", "invalid region '3708': expected 6, 9 or 12 characters, got 4"),
    ],
    ids=["role", "region"],
)
def test_create_api_key_rejects_bad_input(empty_db_url, role, region, message) -> None:
    engine = make_engine(empty_db_url)
    with (
        session_scope(engine) as session,
        pytest.raises(ValueError, match=f"^{message}$".replace("(", r"\(").replace(")", r"\)")),
    ):
        create_api_key(session, name="x", role=role, region_code=region)
    engine.dispose()


def test_the_jurisdiction_filter_ignores_unscoped_tables(empty_db_url) -> None:
    # Regions are public reference data: a county principal still sees the whole hierarchy
    engine = make_engine(empty_db_url)
    with session_scope(engine) as session:
        session.add(Region(code="370000", name="山东省", full_name="山东省", level="province"))
    with session_scope(engine) as session:
        bind_principal(session, Principal("p", "viewer", "370811"))
        assert session.execute(select(Region.code)).scalars().all() == ["370000"]
    engine.dispose()


async def test_last_used_at_is_written_at_most_once_per_key_per_window(empty_db_url, settings_for) -> None:
    import datetime as dt

    import httpx
    from sqlalchemy import event

    from hub.app import create_app

    engine = make_engine(empty_db_url)
    with session_scope(engine) as session:
        _, key = create_api_key(session, name="大屏", role="admin", region_code=NATIONAL)
    t0 = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.timezone.utc)
    now = [t0]
    writes: list[str] = []

    def app_at_clock():  # type: ignore[no-untyped-def]
        """An app (a hub process) whose key-use clock is ``now[0]``, counting its writes to api_keys."""
        app = create_app(settings_for(empty_db_url, api_key_touch_seconds=300))
        app.state.key_usage.clock = lambda: now[0]
        event.listen(
            app.state.sync_engine,
            "before_cursor_execute",
            lambda _c, _cur, statement, *_: (
                writes.append(statement) if statement.startswith("UPDATE api_keys") else None
            ),
        )
        return app

    async def request(app) -> dict:  # type: ignore[no-untyped-def]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
            resp = await client.post(
                "/graphql",
                json={"query": "{ apiKeys(first: 5) { edges { node { name lastUsedAt } } } }"},
                headers={"X-API-Key": key},
            )
        await app.state.key_usage.settle()
        return resp.json()

    def stored() -> dt.datetime | None:
        with session_scope(engine) as session:
            return session.execute(select(ApiKey.last_used_at)).scalar_one()

    app = app_at_clock()
    try:
        # A key never used: the first request records it (and the API shows it from the next read on)
        first = await request(app)
        assert first["data"]["apiKeys"]["edges"][0]["node"] == {"name": "大屏", "lastUsedAt": None}
        assert (len(writes), stored()) == (1, t0)
        # Within the window: no write, in this process (memory) ...
        now[0] = t0 + dt.timedelta(minutes=4)
        shown = await request(app)
        assert shown["data"]["apiKeys"]["edges"][0]["node"]["lastUsedAt"] == "2026-11-20T08:00:00+00:00"
        assert (len(writes), stored()) == (1, t0)
        # ... nor in another process, which reads the stored time
        now[0] = t0 + dt.timedelta(minutes=4, seconds=59)
        other = app_at_clock()
        await request(other)
        await other.state.engine.dispose()
        assert (len(writes), stored()) == (1, t0)
        # Once the window has passed, the next request records the new time
        now[0] = t0 + dt.timedelta(minutes=5)
        await request(app)
        assert (len(writes), stored()) == (2, t0 + dt.timedelta(minutes=5))
    finally:
        await app.state.engine.dispose()
        engine.dispose()


INTROSPECTION_REFUSED = {
    "message": "introspection is disabled for role regional",
    "code": "FORBIDDEN",
    "suggestion": "use the published schema (schema/schema.graphql), or ask an administrator to add "
    "the role to HUB_INTROSPECTION_ROLES",
}


@pytest.fixture
async def introspecting(empty_db_url, settings_for):  # type: ignore[no-untyped-def]
    """``post(query, role, roles=HUB_INTROSPECTION_ROLES)``: the response body of ``query`` sent with a key of ``role``."""
    import httpx

    from hub.app import create_app

    engine = make_engine(empty_db_url)
    keys: dict[str, str] = {}
    with session_scope(engine) as session:
        for role in ("admin", "regional"):
            _, keys[role] = create_api_key(
                session, name=role, role=role, region_code="320000" if role == "regional" else NATIONAL
            )
    engine.dispose()
    apps = []

    async def post(query: str, role: str, *, roles: str | None = None) -> dict:
        app = create_app(settings_for(empty_db_url, **({"introspection_roles": roles} if roles is not None else {})))
        apps.append(app)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
            resp = await client.post("/graphql", json={"query": query}, headers={"X-API-Key": keys[role]})
        assert resp.status_code == 200, resp.text
        return resp.json()

    yield post
    for app in apps:
        await app.state.key_usage.settle()
        await app.state.engine.dispose()


PRODUCTION_ROLES = "admin,inspector,viewer"


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { queryType { name } } }",
        '{ __type(name: "Clue") { name fields { name } } }',
        "query Q { ...F } fragment F on Query { __schema { types { name } } }",
    ],
    ids=["schema", "type", "in-a-fragment"],
)
async def test_introspection_is_refused_to_a_role_left_out_of_the_setting(introspecting, query) -> None:
    body = await introspecting(query, "regional", roles=PRODUCTION_ROLES)
    assert body["data"] is None
    error = body["errors"][0]
    assert {"message": error["message"], **error["extensions"]} == INTROSPECTION_REFUSED


async def test_introspection_stays_open_to_the_roles_in_the_setting_and_typename_to_all(introspecting) -> None:
    from graphql import get_introspection_query

    # The admin's GraphiQL loads the full schema under the production setting
    body = await introspecting(get_introspection_query(), "admin", roles=PRODUCTION_ROLES)
    assert "errors" not in body and body["data"]["__schema"]["queryType"] == {"name": "Query", "kind": "OBJECT"}
    # A regional key still gets __typename (not introspection of the schema)
    assert await introspecting("{ __typename }", "regional", roles=PRODUCTION_ROLES) == {
        "data": {"__typename": "Query"}
    }
    # The default (embedded / demo) setting lets regional keys introspect too
    body = await introspecting("{ __schema { queryType { name } } }", "regional")
    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


def test_an_unknown_role_in_the_introspection_setting_is_refused() -> None:
    from pydantic import ValidationError

    from hub.settings import Settings

    with pytest.raises(
        ValidationError,
        match=r"unknown role 'auditor' in HUB_INTROSPECTION_ROLES: use some of admin, inspector, viewer, regional, town, leader, sector",
    ):
        Settings(introspection_roles="admin, auditor")
    assert Settings(introspection_roles=" admin , viewer ").introspection_role_set() == {"admin", "viewer"}


def test_the_production_compose_file_refuses_introspection_to_other_systems_and_console_users() -> None:
    # regional and sector keys belong to other systems (they use schema/schema.graphql); town handlers
    # and leaders work in the console, which never introspects
    from pathlib import Path

    import yaml

    from hub.settings import Settings

    compose = yaml.safe_load((Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text(encoding="utf-8"))
    for name in ("hub-1", "hub-2"):
        roles = compose["services"][name]["environment"]["HUB_INTROSPECTION_ROLES"]
        allowed = Settings(introspection_roles=roles).introspection_role_set()
        assert allowed == {"admin", "inspector", "viewer"}
        assert not allowed & {"regional", "sector", "town", "leader"}


@pytest.mark.parametrize(
    "principal",
    [
        Principal("zhujian", "sector", "370800", sector="住建"),
        Principal("town-handler", "town", "370811002"),  # its clues are handled there, filed in the county
    ],
    ids=["sector", "town"],
)
@pytest.mark.parametrize("model", [Project, Clue, ChannelRecord, Warning], ids=lambda m: m.__name__)
def test_an_alias_of_a_model_is_limited_exactly_as_the_model(demo, principal: Principal, model: type) -> None:  # type: ignore[no-untyped-def]
    # Given a principal whose limits go beyond a region prefix (a sector; a town's handled clues)
    engine = make_engine(demo.url)
    with session_scope(engine) as session:
        bind_principal(session, principal)
        # When the model is read directly and through an alias (as a join with another entity reads it)
        direct = set(session.scalars(select(model.id)))
        alias = aliased(model)
        through_alias = set(session.scalars(select(alias.id)))
        # And when read with no principal at all
        session.info.pop("principal")
        everything = set(session.scalars(select(model.id)))
    engine.dispose()
    # Then the alias reads exactly the rows the model does, and that is not everything
    assert through_alias == direct
    assert direct < everything or not everything


def test_a_city_administrator_reads_its_own_citys_keys_and_audit_rows_only(empty_db_url) -> None:  # type: ignore[no-untyped-def]
    from hub.access import audit
    from hub.models import AuditLog

    # Given keys and audit rows of 济宁, 济南 and the province
    engine = make_engine(empty_db_url)
    with session_scope(engine) as session:
        for name, region in (("jining", "370800"), ("jinan", "370100"), ("province", "370000")):
            create_api_key(session, name=name, role="viewer", region_code=region)
            audit(
                session,
                principal=Principal(f"cli:{name}", "admin", region),
                action="api_key.create",
                entity_type="api_key",
                entity_id=None,
                region_code=region,
            )
    # When 济宁's administrator reads the keys and the audit log
    with session_scope(engine) as session:
        bind_principal(session, Principal("济宁管理员", "admin", "370800"))
        keys = set(session.scalars(select(ApiKey.name)))
        audited = set(session.execute(select(AuditLog.principal, AuditLog.region_code)).tuples())
    engine.dispose()
    # Then it sees its city's, not 济南's nor the province's
    assert keys == {"jining"}
    assert ("cli:jining", "370800") in audited
    assert {region for _, region in audited} == {"370800"}  # the key's creation too, nothing of 济南's
