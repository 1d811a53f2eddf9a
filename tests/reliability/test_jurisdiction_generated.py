"""R8: jurisdiction, generated from the schema. For every root list and every type implementing Node,
a county (or another province's) principal never gets a row outside its region: the administrator
fetches the ids of rows in other counties, the principal asks ``node(id:)`` for them (null), and every
root list it reads holds only rows of its region. Roots and types for administrators answer FORBIDDEN.

New root fields and node types are picked up from the schema; a root that takes no part here must be
listed (with the reason) in ``NOT_A_ROW_LIST``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType

from hub.identifiers import region_prefix
from schema.build import build_schema

SCHEMA = build_schema()._schema
#: Public registry data, not limited by jurisdiction (see the root fields' descriptions).
PUBLIC_TYPES = {"Enterprise", "CreditRating"}
#: Root fields that are not lists of rows with a region (or are checked by hand below).
NOT_A_ROW_LIST = {
    "node": "checked per node type below",
    "clue": "checked by hand below (clueNo of other counties)",
    "me": "the principal itself",
    "connectorKinds": "installed plugins, no data",
    "region": "the region catalogue (public)",
    "regions": "the region catalogue (public)",
    "webhookEndpoints": "admin only, limited to the admin's jurisdiction by hub.webhooks (tests/schema/test_webhooks.py)",
    "webhookDeliveries": "admin only, below one endpoint (tests/schema/test_webhooks.py)",
    "holidayCalendar": "the national holiday calendar (public, no region)",
    "townRanking": "counts per town of one county, FORBIDDEN outside the jurisdiction (tests/schema/test_town_ranking.py)",
    "stats": "aggregates, FORBIDDEN outside the jurisdiction; a county never counts another's (tests/schema/test_stats.py)",
    "registeredOperations": "the registry of named operations: GraphQL documents, no region, no data (hub.operations)",
}
#: Sample of out-of-jurisdiction rows asked per node type (bounded: one operation per type).
SAMPLE = 8


def _unwrap(t):  # type: ignore[no-untyped-def]
    while isinstance(t, (GraphQLNonNull, GraphQLList)):
        t = t.of_type
    return t


def _connection_node(field) -> GraphQLObjectType | None:  # type: ignore[no-untyped-def]
    """The node type of a connection field (``XConnection.edges.node``), else None."""
    t = _unwrap(field.type)
    if isinstance(t, GraphQLObjectType) and "edges" in t.fields:
        return _unwrap(_unwrap(t.fields["edges"].type).fields["node"].type)
    return None


#: Node types with no root list to sample from, and where their jurisdiction is tested instead.
NO_ROOT_LIST = {
    "WebhookEndpoint": "admin only; the demo has none (tests/schema/test_webhooks.py, other region's endpoint)"
}


def _node_types() -> list[str]:
    node = SCHEMA.get_type("Node")
    return sorted(t.name for t in SCHEMA.get_possible_types(node) if t.name not in NO_ROOT_LIST)


def _roots() -> dict[str, str]:
    """Root list field → its node type, for every root connection."""
    out = {}
    for name, field in SCHEMA.query_type.fields.items():
        if name in NOT_A_ROW_LIST:
            continue
        node = _connection_node(field)
        assert node is not None, f"Query.{name} is neither a connection nor listed in NOT_A_ROW_LIST"
        out[name] = node.name
    return out


ROOTS = _roots()
NODE_TYPES = _node_types()
ROOT_OF = {t: r for r, t in sorted(ROOTS.items(), reverse=True)}


def _has_region(type_name: str) -> bool:
    return "regionCode" in SCHEMA.get_type(type_name).fields


@pytest.fixture(scope="module")
def principals(demo) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Principal → the region it may see (a county inside the demo city, and another province)."""
    return {"county": demo.highlights["county_code"], "other-province": "320000"}


@pytest.fixture
async def ask(demo, settings_for) -> AsyncIterator:  # type: ignore[no-untyped-def]
    from hub.app import create_app

    app = create_app(settings_for(demo.url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:

        async def run(query: str, as_: str) -> dict:
            resp = await client.post("/graphql", json={"query": query}, headers={"X-API-Key": demo.keys[as_]})
            assert resp.status_code == 200, resp.text
            return resp.json()

        yield run
    await app.state.engine.dispose()
    app.state.sync_engine.dispose()


def test_every_node_type_has_a_root_list() -> None:
    assert set(NODE_TYPES) <= set(ROOT_OF), set(NODE_TYPES) - set(ROOT_OF)
    assert len(ROOTS) >= 19


async def _admin_rows(ask, type_name: str) -> list[dict]:  # type: ignore[no-untyped-def]
    root = ROOT_OF[type_name]
    args = "first: 500" + (", status: null" if root == "quarantine" else "")
    body = await ask(f"{{ {root}({args}) {{ edges {{ node {{ id regionCode }} }} }} }}", "admin")
    assert "errors" not in body, body
    return [e["node"] for e in body["data"][root]["edges"]]


@pytest.mark.parametrize("type_name", [t for t in NODE_TYPES if _has_region(t)])
async def test_node_of_another_region_is_null_or_forbidden(ask, principals, type_name) -> None:
    rows = await _admin_rows(ask, type_name)
    for principal, region in principals.items():
        prefix = region_prefix(region)
        outside = [r["id"] for r in rows if r["regionCode"] and not r["regionCode"].startswith(prefix)][:SAMPLE]
        if not outside:
            continue
        query = "{ " + " ".join(f'n{i}: node(id: "{gid}") {{ id }}' for i, gid in enumerate(outside)) + " }"
        body = await ask(query, principal)
        if type_name in PUBLIC_TYPES:
            assert "errors" not in body and all(body["data"][f"n{i}"] for i in range(len(outside))), body
        elif body.get("errors"):
            assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}, body["errors"][:2]
            assert body["errors"][0]["message"] == "only administrators may read this"
        else:
            assert all(body["data"][f"n{i}"] is None for i in range(len(outside))), (principal, body["data"])


async def test_the_seed_has_rows_in_other_counties(ask, principals) -> None:
    # Otherwise the test above proves nothing for the county principal
    county = region_prefix(principals["county"])
    for type_name in ("Clue", "Project", "Worker", "WageAccount", "ChannelRecord", "CaseAction", "Warning"):
        rows = await _admin_rows(ask, type_name)
        assert any(not r["regionCode"].startswith(county) for r in rows), type_name
        assert any(r["regionCode"].startswith(county) for r in rows), type_name


@pytest.mark.parametrize("root", sorted(ROOTS))
async def test_root_lists_hold_only_rows_of_the_region(ask, principals, root) -> None:
    type_name = ROOTS[root]
    fields = "id regionCode" if _has_region(type_name) else "id"
    args = "first: 500" + (", status: null" if root == "quarantine" else "")
    admin = await ask(f"{{ {root}({args}) {{ totalCount edges {{ node {{ {fields} }} }} }} }}", "admin")
    assert "errors" not in admin, admin
    for principal, region in principals.items():
        body = await ask(f"{{ {root}({args}) {{ totalCount edges {{ node {{ {fields} }} }} }} }}", principal)
        if body.get("errors"):
            assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body["errors"][:2]
            continue
        page = body["data"][root]
        codes = [e["node"].get("regionCode") for e in page["edges"]]
        if type_name in PUBLIC_TYPES:
            assert page["totalCount"] == admin["data"][root]["totalCount"]
            continue
        assert _has_region(type_name), f"{root}: {type_name} rows carry no regionCode to check"
        prefix = region_prefix(region)
        assert all(c is not None and c.startswith(prefix) for c in codes), (principal, root, sorted(set(codes))[:5])
        assert page["totalCount"] == len(codes) or page["totalCount"] > 500


async def test_clue_by_number_of_another_region_is_null(ask, principals) -> None:
    body = await ask("{ clues(first: 500) { edges { node { clueNo regionCode } } } }", "admin")
    clues = [e["node"] for e in body["data"]["clues"]["edges"]]
    for principal, region in principals.items():
        prefix = region_prefix(region)
        outside = [c["clueNo"] for c in clues if not c["regionCode"].startswith(prefix)][:SAMPLE]
        assert outside
        query = "{ " + " ".join(f'c{i}: clue(clueNo: "{no}") {{ id }}' for i, no in enumerate(outside)) + " }"
        data = (await ask(query, principal))["data"]
        assert all(data[f"c{i}"] is None for i in range(len(outside))), (principal, data)
