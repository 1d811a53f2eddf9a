"""R5: schema fuzzing. Operations generated from the schema itself (hypothesis-graphql) run against the
app on the seeded demo database, for an administrator, a county inspector and a city viewer: no 5xx,
no INTERNAL, and no row from outside the principal's jurisdiction.

Bounded and reproducible: ``derandomize=True`` and a fixed number of examples per principal
(``FUZZ_EXAMPLES``): 1,050 operations on SQLite and 360 more on PostgreSQL per CI run. Generating
the operations is most of the cost (about 0.1 s each), so the PostgreSQL run, there for the
database's own answers to odd values, draws fewer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import strategies as gql_st

from hub.identifiers import region_prefix
from schema.build import build_schema
from tests.conftest import BACKEND

#: Operations per principal and backend (three principals).
FUZZ_EXAMPLES = 120 if BACKEND == "postgres" else 350
#: Types that are public registry data (not limited by jurisdiction), or the principal itself.
PUBLIC_TYPES = {"Enterprise", "CreditRating", "Me"}

SCHEMA = build_schema()._schema


def _value(
    node_type: type[graphql.ValueNode], strategy: st.SearchStrategy[Any]
) -> st.SearchStrategy[graphql.ValueNode]:
    return strategy.map(lambda v: node_type(value=str(v)))


CUSTOM_SCALARS = {
    "Date": _value(
        graphql.StringValueNode,
        st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(dt.date.isoformat) | st.text(max_size=12),
    ),
    "DateTime": _value(graphql.StringValueNode, st.datetimes().map(dt.datetime.isoformat) | st.text(max_size=12)),
    "Decimal": _value(graphql.StringValueNode, st.decimals(allow_nan=True, allow_infinity=True) | st.text(max_size=8)),
    "JSON": _value(graphql.StringValueNode, st.text(max_size=12)),
}


def with_typenames(query: str) -> str:
    """``query`` with ``__typename`` in every selection set, so that a row's type is known in the answer."""
    document = graphql.parse(query)

    class AddTypename(graphql.Visitor):
        def enter_selection_set(self, node: graphql.SelectionSetNode, *_: Any) -> graphql.SelectionSetNode:
            typename = graphql.FieldNode(name=graphql.NameNode(value="__typename"), arguments=(), directives=())
            return graphql.SelectionSetNode(selections=(*node.selections, typename))

    return graphql.print_ast(graphql.visit(document, AddTypename()))


def region_values(data: Any, path: str = "") -> Iterator[tuple[str, str, str]]:
    """(path, type name, region code) of every non-public row in an answer (aliases ``regionCode_X`` too)."""
    if isinstance(data, list):
        for i, item in enumerate(data):
            yield from region_values(item, f"{path}[{i}]")
    elif isinstance(data, dict):
        type_name = data.get("__typename", "?")
        for key, value in data.items():
            if (
                (key == "regionCode" or key.startswith("regionCode_"))
                and isinstance(value, str)
                and type_name not in PUBLIC_TYPES
            ):
                yield path, type_name, value
            elif isinstance(value, (dict, list)):
                yield from region_values(value, f"{path}.{key}")


def test_typenames_and_region_values_find_nested_rows() -> None:
    q = with_typenames("{ clues { edges { node { regionCode } } } }")
    assert q.count("__typename") == 4  # the root, clues, edges, node
    answer = {
        "clues": {
            "edges": [
                {
                    "node": {
                        "regionCode": "370811",
                        "__typename": "Clue",
                        "enterprise": {"regionCode": "110101", "__typename": "Enterprise"},
                    }
                }
            ]
        }
    }
    assert list(region_values(answer)) == [(".clues.edges[0].node", "Clue", "370811")]


@pytest.fixture(scope="module")
def fuzz_demo(writable_demo):  # type: ignore[no-untyped-def]
    """The demo database of this module (the admin's `reveal: true` writes audits: not the shared one)."""
    return writable_demo


@pytest.fixture
async def client(fuzz_demo, settings_for) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    from hub.app import create_app

    app = create_app(settings_for(fuzz_demo.url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as c:
        yield c
    await app.state.engine.dispose()
    app.state.sync_engine.dispose()


PRINCIPALS = ["admin", "county", "viewer"]


@pytest.mark.parametrize("principal", PRINCIPALS)
# No shrinking: a failure reports the generated operation as it is (shrinking one can take minutes).
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
@given(query=gql_st.queries(SCHEMA, custom_scalars=CUSTOM_SCALARS, allow_x00=False))
async def test_generated_queries_never_fail_inside_nor_cross_the_jurisdiction(
    client, fuzz_demo, principal, query
) -> None:
    key = fuzz_demo.keys[principal]
    region = {"admin": None, "county": fuzz_demo.highlights["county_code"], "viewer": "370800"}[principal]
    resp = await client.post("/graphql", json={"query": with_typenames(query)}, headers={"X-API-Key": key})
    if resp.status_code >= 500:
        pytest.fail(f"HTTP {resp.status_code} for {principal}:\n{query}\n{resp.text[:500]}")
    body = resp.json()
    internal = [e for e in body.get("errors") or [] if (e.get("extensions") or {}).get("code") in (None, "INTERNAL")]
    if internal:
        pytest.fail(f"INTERNAL for {principal}:\n{query}\n{internal}")
    if region is not None:
        prefix = region_prefix(region)
        outside = [(p, t, r) for p, t, r in region_values(body.get("data")) if not r.startswith(prefix)]
        if outside:
            pytest.fail(f"rows outside {region} for {principal}:\n{query}\n{outside[:5]}")
