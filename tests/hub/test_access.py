"""Principals and jurisdictions (hub.access)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.access import NATIONAL, Principal, authenticate, bind_principal, create_api_key, jurisdiction_bounds
from hub.db import make_engine, session_scope
from hub.errors import NotAuthenticated
from hub.models import ApiKey, Region, utcnow


@pytest.mark.parametrize(
    ("code", "bounds"),
    [("370000", ("37", "38")), ("370800", ("3708", "3709")), ("370811", ("370811", "370812")),
     ("370811001", ("370811001", "370811002")), ("110109", ("110109", "11010:")), (NATIONAL, None)],
    ids=["province", "city", "county", "town", "county-ending-9", "national"],
)
def test_jurisdiction_bounds(code, bounds) -> None:
    assert jurisdiction_bounds(code) == bounds


@pytest.mark.parametrize(
    ("principal_region", "row_region", "covered"),
    [("370800", "370811", True), ("370800", "370800", True), ("370800", "370100", False),
     ("370811", "370811001", True), ("370811", "370812", False), (NATIONAL, "110101", True)],
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
    [("boss", "370800", "unknown role 'boss': use one of admin, inspector, viewer, regional"),
     ("viewer", "3708", "invalid region '3708': expected 6, 9 or 12 characters, got 4")],
    ids=["role", "region"],
)
def test_create_api_key_rejects_bad_input(empty_db_url, role, region, message) -> None:
    engine = make_engine(empty_db_url)
    with session_scope(engine) as session, pytest.raises(ValueError, match=f"^{message}$".replace("(", r"\(").replace(")", r"\)")):
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
