"""API keys as a service (hub.api_keys): create, list, revoke — each change audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from hub.access import NATIONAL, Principal, Role, authenticate
from hub.api_keys import create_api_key, find_api_key, list_api_keys, revoke_api_key
from hub.db import make_engine, session_scope
from hub.errors import Conflict, Forbidden, NotAuthenticated, NotFound
from hub.models import AuditLog

ADMIN = Principal(name="cli:ops", role=Role.ADMIN, region_code=NATIONAL)
VIEWER = Principal(name="apikey:大屏", role=Role.VIEWER, region_code="370800")
REVOKED_AT = dt.datetime(2026, 11, 20, 8, 30, tzinfo=dt.UTC)


@pytest.fixture
def engine(empty_db_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_db_url)
    yield engine
    engine.dispose()


def a_key(engine: Engine, name: str = "济宁市指挥中心大屏") -> tuple[int, str]:
    with session_scope(engine) as session:
        row, key = create_api_key(session, principal=ADMIN, name=name, role="viewer", region_code="370800")
        return row.id, key


def audit_rows(engine: Engine, action: str) -> list[tuple[str, str, int | None, str | None, dict[str, object]]]:
    with session_scope(engine) as session:
        rows = session.execute(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).scalars()
        return [(r.principal, r.entity_type, r.entity_id, r.region_code, dict(r.detail)) for r in rows]


def test_creating_a_key_is_audited_with_who_created_it(engine: Engine) -> None:
    # When an admin creates a key
    key_id, key = a_key(engine)
    # Then the audit log names the admin and the key, never the key itself
    assert audit_rows(engine, "api_key.create") == [
        ("cli:ops", "api_key", key_id, "370800", {"name": "济宁市指挥中心大屏", "role": "viewer"})
    ]
    assert key not in str(audit_rows(engine, "api_key.create"))


def test_revoking_a_key_stops_it_and_is_audited(engine: Engine) -> None:
    # Given a key that authenticates
    key_id, key = a_key(engine)
    # When an admin revokes it
    with session_scope(engine) as session:
        row = revoke_api_key(session, principal=ADMIN, key_id=key_id, clock=lambda: REVOKED_AT)
        assert row.revoked_at == REVOKED_AT
    # Then the audit log says who revoked which key, and when
    with session_scope(engine) as session:
        entry = session.execute(select(AuditLog).where(AuditLog.action == "api_key.revoke")).scalar_one()
        assert (entry.principal, entry.entity_type, entry.entity_id, entry.region_code) == (
            "cli:ops",
            "api_key",
            key_id,
            "370800",
        )
        assert entry.detail == {"name": "济宁市指挥中心大屏", "prefix": key[:10], "role": "viewer"}
        assert entry.at == REVOKED_AT
    # And the key no longer authenticates
    with session_scope(engine) as session, pytest.raises(NotAuthenticated, match=r"^unknown or revoked API key hub_"):
        authenticate(session, key)


def test_revoking_a_key_twice_is_refused_and_keeps_the_first_revocation(engine: Engine) -> None:
    # Given a revoked key
    key_id, _ = a_key(engine)
    with session_scope(engine) as session:
        revoke_api_key(session, principal=ADMIN, key_id=key_id, clock=lambda: REVOKED_AT)
    # When it is revoked again, Then that is refused with the first revocation's time
    later = REVOKED_AT + dt.timedelta(days=1)
    with session_scope(engine) as session, pytest.raises(Conflict) as refused:
        revoke_api_key(session, principal=ADMIN, key_id=key_id, clock=lambda: later)
    assert (
        refused.value.message
        == f"API key {key_id} (济宁市指挥中心大屏) was revoked already, at 2026-11-20T08:30:00+00:00"
    )
    assert refused.value.code == "CONFLICT"
    # And nothing changed: one revocation, at the first time
    assert len(audit_rows(engine, "api_key.revoke")) == 1
    with session_scope(engine) as session:
        (row,) = list_api_keys(session, principal=ADMIN)
        assert row.revoked_at == REVOKED_AT


def test_revoking_an_unknown_key_is_refused(engine: Engine) -> None:
    with session_scope(engine) as session, pytest.raises(NotFound, match=r"^no API key with id 42$") as refused:
        revoke_api_key(session, principal=ADMIN, key_id=42)
    assert refused.value.code == "NOT_FOUND"
    assert refused.value.suggestion == "list them with `hub api-key list`"
    assert audit_rows(engine, "api_key.revoke") == []


def test_only_an_admin_may_manage_keys(engine: Engine) -> None:
    key_id, _ = a_key(engine)
    with session_scope(engine) as session:
        with pytest.raises(Forbidden, match=r"^only administrators may revoke API keys$"):
            revoke_api_key(session, principal=VIEWER, key_id=key_id)
        with pytest.raises(Forbidden, match=r"^only administrators may create API keys$"):
            create_api_key(session, principal=VIEWER, name="x", role="admin", region_code=NATIONAL)
        with pytest.raises(Forbidden, match=r"^only administrators may list API keys$"):
            list_api_keys(session, principal=VIEWER)


def test_the_list_shows_revoked_keys_too(engine: Engine) -> None:
    # Given two keys, one revoked
    kept, _ = a_key(engine, "大屏")
    gone, key = a_key(engine, "旧系统")
    with session_scope(engine) as session:
        revoke_api_key(session, principal=ADMIN, key_id=gone, clock=lambda: REVOKED_AT)
    # Then both are listed, by id, the revoked one with its time
    with session_scope(engine) as session:
        rows = [(r.id, r.name, r.revoked_at is not None) for r in list_api_keys(session, principal=ADMIN)]
        assert rows == [(kept, "大屏", False), (gone, "旧系统", True)]
        # And a revoked key is still found by its hash (for the demo's kept key)
        found = find_api_key(session, key=key)
        assert found is not None and found.id == gone
        assert find_api_key(session, key="hub_never-issued") is None
