"""hub.operations without HTTP: the persisted-query cache's bound, the registry's refresh, and the
allow-list decision."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from hub.access import NATIONAL, Principal, Role
from hub.db import make_engine, session_scope
from hub.errors import OperationNotRegistered
from hub.operations import (
    KnownOperation,
    OperationRegistry,
    PersistedQueryCache,
    ResolvedOperation,
    check_allowed,
    document_hash,
    register_document,
    retire_operation,
)

ADMIN = Principal(name="cli:test", role=Role.ADMIN, region_code=NATIONAL)
VIEWER = Principal(name="apikey:screen", role=Role.VIEWER, region_code="370800")


def test_the_cache_forgets_the_least_recently_used_first() -> None:
    # Given a cache of two, holding a and b, with a read since
    cache = PersistedQueryCache(size=2)
    cache.put("a", "query A { me { name } }")
    cache.put("b", "query B { me { name } }")
    assert cache.get("a") is not None
    # When a third is remembered
    cache.put("c", "query C { me { name } }")
    # Then b, the least recently used, is forgotten, and the cache stays at its size
    assert (cache.get("a"), cache.get("b"), len(cache)) == ("query A { me { name } }", None, 2)
    with pytest.raises(ValueError, match="at least one query"):
        PersistedQueryCache(size=0)


async def test_the_registry_is_read_again_after_its_refresh_time(empty_db_url: str) -> None:
    from schema.build import build_schema

    # Given a registry served by a process whose clock we hold
    now = [0.0]
    engine = make_engine(empty_db_url)
    registry = OperationRegistry(engine, refresh_seconds=10, clock=lambda: now[0])
    doc = "query Screen { me { name } }"
    assert await registry.by_hash(document_hash(doc)) is None
    # When another process registers an operation
    with session_scope(engine) as s:
        register_document(s, principal=ADMIN, text=doc, schema=build_schema()._schema)
    # Then this process finds it only once its snapshot is older than the refresh time
    now[0] = 9.9
    assert await registry.by_hash(document_hash(doc)) is None
    now[0] = 10.0
    found = await registry.by_hash(document_hash(doc))
    assert found is not None and (found.name, found.retired) == ("Screen", False)
    # and a retirement counts at once after invalidate (this process's own change)
    with session_scope(engine) as s:
        retire_operation(s, principal=ADMIN, name="Screen")
    registry.invalidate()
    retired = await registry.by_hash(document_hash(doc))
    assert retired is not None and retired.retired is True
    engine.dispose()


async def test_a_registry_it_cannot_read_serves_nothing_instead_of_failing(tmp_path) -> None:
    # Given a database without the table (not migrated)
    engine = create_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    registry = OperationRegistry(engine, refresh_seconds=10, clock=lambda: 0.0)
    # Then lookups find nothing (allow-listed roles are refused) rather than raise
    assert await registry.by_hash("0" * 64) is None
    engine.dispose()


@pytest.mark.parametrize(
    ("principal", "registered", "roles", "refused"),
    [
        (VIEWER, None, frozenset({"viewer"}), True),
        (
            VIEWER,
            KnownOperation("Screen", "0" * 64, "query Screen { me { name } }", "query", False),
            frozenset({"viewer"}),
            False,
        ),
        (VIEWER, None, frozenset({"regional"}), False),
        (None, None, frozenset({"viewer"}), False),
    ],
    ids=["unregistered", "registered", "role-not-listed", "no-principal"],
)
def test_allowlist_decision(principal, registered, roles, refused) -> None:  # type: ignore[no-untyped-def]
    resolved = ResolvedOperation(document="query Other { me { name } }", registered=registered)
    if refused:
        with pytest.raises(OperationNotRegistered, match="^operation Other is not registered"):
            check_allowed(resolved, principal=principal, allowlist_roles=roles, operation_name=None)
    else:
        check_allowed(resolved, principal=principal, allowlist_roles=roles, operation_name=None)
