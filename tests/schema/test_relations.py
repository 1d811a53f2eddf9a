"""Relation fields: declared once (schema.prefetch.to_one / to_many), prefetched for a page, bounded in SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from strawberry.utils.str_converters import to_camel_case

from hub import models as m
from hub.access import NATIONAL
from hub.api_keys import create_api_key
from hub.db import make_engine, session_scope
from schema.build import build_schema
from schema.prefetch import RELATIONS
from schema.types._common import NODE_NAMES
from tests.schema.conftest import GraphClient, StatementCounter

RUNS_PER_CONNECTOR = 45
RUNS = "{ connectorInstances { nodes { name runs { startedAt stats } } } }"
T0 = dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
async def connectors_graph(empty_db_url, settings_for) -> AsyncIterator[GraphClient]:  # type: ignore[no-untyped-def]
    """Two connectors with 45 sync runs each, an admin key, and the app on them (statements counted)."""
    from hub.app import create_app

    engine = make_engine(empty_db_url)
    with session_scope(engine) as s:
        keys = {"admin": create_api_key(s, name="admin", role="admin", region_code=NATIONAL)[1]}
        for name in ("甲", "乙"):
            instance = m.ConnectorInstance(name=name, kind="bank_rest", config={}, state={}, schedule_seconds=600)
            s.add(instance)
            s.flush()
            s.add_all(
                m.SyncRun(
                    connector_instance_id=instance.id,
                    started_at=T0 + dt.timedelta(hours=i),
                    status="succeeded",
                    stats={"run": i},
                )
                for i in range(RUNS_PER_CONNECTOR)
            )
    engine.dispose()
    app = create_app(settings_for(empty_db_url))
    counter = StatementCounter()
    event.listen(app.state.engine.sync_engine, "before_cursor_execute", counter)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        yield GraphClient(client, keys, counter)
    await app.state.engine.dispose()
    app.state.sync_engine.dispose()


async def test_a_connectors_runs_are_its_latest_twenty_and_only_those_are_loaded(connectors_graph) -> None:
    # Given two connectors with 45 runs each; counting the run rows the database hands over
    loaded: list[Any] = []

    def count_load(target: m.SyncRun, _context: Any) -> None:
        loaded.append(target)

    event.listen(m.SyncRun, "load", count_load)
    try:
        # When their runs are asked for
        statements = await connectors_graph.count_statements(RUNS)
        data = await connectors_graph.data(RUNS)
    finally:
        event.remove(m.SyncRun, "load", count_load)

    # Then each shows its 20 newest runs, newest first
    for node in data["connectorInstances"]["nodes"]:
        assert [r["stats"]["run"] for r in node["runs"]] == list(
            range(RUNS_PER_CONNECTOR - 1, RUNS_PER_CONNECTOR - 21, -1)
        )
    # And only those 2 × 20 rows left the database, in one statement for both connectors
    assert len(loaded) == 2 * 2 * 20  # the two requests
    run_statements = [st for st in connectors_graph.counter.statements if "FROM sync_runs" in st]
    assert len(run_statements) == 1, run_statements
    assert statements <= 4, connectors_graph.counter.statements


def test_every_prefetched_relation_is_a_field_of_its_graphql_type() -> None:
    # Given the built schema and the relations the types registered
    schema = build_schema()._schema
    names = {**NODE_NAMES, m.Region: "Region"}

    # Then each (model, field) names a field that exists on the model's GraphQL type
    assert len(RELATIONS) >= 30
    for model, field in RELATIONS:
        graphql_type = schema.get_type(names[model])
        assert field in graphql_type.fields, f"{names[model]} has no field {field} (registered for prefetch)"  # type: ignore[union-attr]
        assert field == to_camel_case(field)
