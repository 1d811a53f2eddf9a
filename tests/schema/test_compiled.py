"""Compiled operations answer exactly what the interpreter answers (schema/compiled).

Every case sends one operation twice through the whole HTTP stack, as one principal: once with the
view's plan cache empty (strawberry and the resolvers), once with the operation's plan in it, and the
two response bodies must be the same JSON — data, errors, codes, paths. The operations are the bench's
page and several hundred generated from the schema (seeded, so the same every run): random selections
over the types the compiler supports, nested relations and nested connections (with arguments of their
own: a month, a span of days, good and refused), free text with and without ``reveal``, filters,
orders, aliases, fragments, variables, real and broken cursors, page sizes over the limit.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
)
from sqlalchemy import event

from bench.graph_vs_sql import QUERY as BENCH_QUERY
from hub.db import dispose, sync_engine_of
from schema.compiled import Plan, PlanCache, compile_operation, explain
from schema.compiled._compile import _page_roots, field_support
from schema.compiled._plan import NestedPage, ObjectPlan, RelationField, RootPage
from schema.types._common import ROW_MODELS

#: Principals of the demo (tests/conftest.py): national admin (may unmask), a city and a county
#: inspector, another province, an unmasker, a town handler, a sector (住建) and a viewer.
PRINCIPALS = ["admin", "city", "county", "other-province", "unmasker", "town-handler", "zhujian", "viewer"]

#: ``Worker.attendance``'s ``from`` / ``to`` in generated operations: spans with days in the demo (up to
#: the longest), one day, and spans the resolver refuses (reversed, too long) or graphql-core does.
ATTENDANCE_SPANS = [
    ("2026-11-01", "2026-11-19"),
    ("2026-09-20", "2026-11-20"),
    ("2026-11-19", "2026-11-19"),
    ("2026-11-10", "2026-11-01"),
    ("2026-08-01", "2026-11-19"),
    ("2026-02-30", "2026-03-01"),
]

#: Generated operations (with the bench's page, each principal once more).
GENERATED = 320
SEED = 20261130


class Client:
    def __init__(self, client: httpx.AsyncClient, view: Any, keys: dict[str, str]) -> None:
        self.client, self.view, self.keys = client, view, keys

    async def post(self, query: str, variables: dict[str, Any], as_: str) -> dict[str, Any]:
        resp = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers={"X-API-Key": self.keys[as_]}
        )
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    async def both(self, query: str, variables: dict[str, Any], as_: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(interpreted, compiled) answers of one operation."""
        self.view.plans = PlanCache()
        interpreted = await self.post(query, variables, as_)
        self.view.plans.add(self.view.schema, query)
        compiled = await self.post(query, variables, as_)
        return interpreted, compiled


@pytest.fixture
async def client(app, demo) -> AsyncIterator[Client]:  # type: ignore[no-untyped-def]
    view = app.state.graphql
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as c:
        yield Client(c, view, demo.keys)
    view.plans = PlanCache()
    await app.state.engine.dispose()
    await dispose(app.state.read_engine)


# ---- the bench's page ------------------------------------------------------------------------------


def test_the_bench_page_compiles_with_no_fallback(app) -> None:  # type: ignore[no-untyped-def]
    # Given the bench's operation / When compiled / Then nothing falls back to the interpreter
    plan = compile_operation(app.state.graphql.schema, BENCH_QUERY)
    assert plan.compiled, explain(plan)
    assert explain(plan).startswith("BenchCluePage (")


@pytest.mark.parametrize("who", PRINCIPALS)
async def test_the_bench_page_equals_the_interpreter_for_every_principal(client: Client, who: str) -> None:
    # Given the first page and the page after it, as each principal
    interpreted, compiled = await client.both(BENCH_QUERY, {"first": 7}, who)
    # Then both answers are the same JSON
    assert compiled == interpreted
    end = interpreted["data"]["clues"]["pageInfo"]["endCursor"]
    if end is not None:
        interpreted, compiled = await client.both(BENCH_QUERY, {"first": 7, "after": end}, who)
        assert compiled == interpreted


# ---- fallbacks, errors, limits ---------------------------------------------------------------------


def test_explain_names_each_field_that_forces_the_fallback_and_why(app) -> None:  # type: ignore[no-untyped-def]
    plan = compile_operation(
        app.state.graphql.schema,
        "query Q { clues(first: 2) { totalCount nodes { id deadlines { stage } title(reveal: true) } } me { name } }",
    )
    assert not plan.compiled
    assert explain(plan).splitlines() == [
        f"Q ({plan.sha256[:12]}): served by the interpreter, because",
        "  clues.node.deadlines: Clue.deadlines is computed by a resolver with its own logic",
        "  clues.node.title: reveal: true — an unmasked read is audited per row by the resolver",
        "  me: Query.me is not a root list served by schema.query._page",
    ]


def test_nested_connections_with_arguments_or_filters_of_their_own_compile(app) -> None:  # type: ignore[no-untyped-def]
    # Given a project's workers (a plain page per project) beside its payroll of a month, its teams'
    # workers (the project's workers of the team's number) and its workers' attendance of a span
    plan = compile_operation(
        app.state.graphql.schema,
        "query P($to: Date!) { projects(first: 2) { nodes { workers(first: 2) { totalCount nodes {"
        ' attendance(from: "2026-11-01", to: $to) { totalCount } } } payroll(payMonth: "2026-10")'
        " { totalCount } teams { workers { totalCount } } } } }",
    )
    # When compiled / Then nothing falls back: each is a nested page, its own arguments read at run
    # time, the team's number matched besides the project
    assert plan.compiled, explain(plan)
    pages = {n.node.name.value + "." + str(len(n.match_indexes)): n.arguments for n in nested_pages(plan)}
    assert pages == {
        "workers.0": (),
        "attendance.0": (("from", "from_"), ("to", "to")),
        "payroll.0": (("payMonth", "pay_month"),),
        "workers.1": (),
    }


@pytest.mark.parametrize(
    ("variables", "who", "code"),
    [
        ({"first": 501}, "admin", "QUERY_TOO_COMPLEX"),
        ({"first": -1}, "admin", "QUERY_TOO_COMPLEX"),
        ({"first": 5, "after": "not-a-cursor!"}, "city", "INVALID_CURSOR"),
        ({"first": 5, "after": base64.urlsafe_b64encode(b'{"a": 1}').decode()}, "city", "INVALID_CURSOR"),
        ({"first": 5, "after": base64.urlsafe_b64encode(b'["x", 1, 2]').decode()}, "county", "INVALID_CURSOR"),
        ({"first": 5, "after": base64.urlsafe_b64encode(b'["2026-13-45", 1]').decode()}, "county", "INVALID_CURSOR"),
        ({"first": "five"}, "admin", "GRAPHQL_VALIDATION_FAILED"),
    ],
    ids=[
        "page-too-large",
        "negative-first",
        "bad-cursor",
        "cursor-not-a-list",
        "cursor-other-order",
        "cursor-bad-date",
        "bad-variable",
    ],
)
async def test_errors_come_back_with_the_interpreters_codes(
    client: Client, variables: dict[str, Any], who: str, code: str
) -> None:
    interpreted, compiled = await client.both(BENCH_QUERY, variables, who)
    assert compiled == interpreted
    assert compiled["errors"][0]["extensions"]["code"] == code


async def test_an_unknown_key_is_refused_as_by_the_interpreter(client: Client) -> None:
    client.keys = {**client.keys, "nobody": "hub_not-a-key"}
    interpreted, compiled = await client.both(BENCH_QUERY, {"first": 3}, "nobody")
    assert compiled == interpreted
    assert compiled["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_cost_budget_applies_to_compiled_plans(client: Client) -> None:
    # Given a viewer's budget (50,000) and an operation over it (500 clues × 20 records × 20 records)
    query = (
        "query Big($n: Int) { a: clues(first: $n) { nodes { channelRecords { clue { channelRecords { sourceId } } } } }"
        " b: clues(first: $n) { nodes { id } } }"
    )
    interpreted, compiled = await client.both(query, {"n": 500}, "viewer")
    assert compiled == interpreted
    assert compiled["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


@pytest.mark.parametrize("who", ["unmasker", "city"])
async def test_reveal_in_a_variable_runs_the_interpreter_when_true(client: Client, who: str) -> None:
    # Given free text behind reveal: $r — true asks the interpreter (which audits or refuses each row)
    query = "query R($r: Boolean!) { clues(first: 4) { nodes { id title(reveal: $r) content(reveal: false) } } }"
    for reveal in (False, True):
        interpreted, compiled = await client.both(query, {"r": reveal}, who)
        assert compiled == interpreted


# ---- generated operations --------------------------------------------------------------------------


@dataclass
class Case:
    query: str
    variables: dict[str, Any]
    who: str


class Generator:
    """Random operations over the compiled roots and types (seeded: the same operations every run)."""

    var_defs: list[str]
    variables: dict[str, Any]

    def __init__(self, schema: Any, county: str, rng: random.Random) -> None:
        self.gql = schema._schema
        self.rng = rng
        self.county = county
        self.roots = sorted(_page_roots(schema))
        self.support = field_support(schema)
        self.fragments: list[str] = []

    def case(self, i: int) -> Case:
        rng = self.rng
        self.fragments = []
        self.aliases = 0
        root = rng.choice(self.roots)
        field = self.gql.query_type.fields[root]
        conn = get_named_type(field.type)
        node_type = get_named_type(get_named_type(conn.fields["edges"].type).fields["node"].type)
        var_defs: list[str] = []
        variables: dict[str, Any] = {}
        self.var_defs, self.variables = var_defs, variables  # (nested connections' arguments add theirs)
        args: list[str] = []
        if "first" in field.args:
            first = rng.choice([0, 1, 3, 5, 10, 25, 60, None, 501, -1] if rng.random() < 0.15 else [1, 3, 5, 10, 25])
            if first is not None:
                if rng.random() < 0.5:
                    var_defs.append("$first: Int")
                    variables["first"] = first
                    args.append("first: $first")
                else:
                    args.append(f"first: {first}")
        if "after" in field.args and rng.random() < 0.2:
            var_defs.append("$after: String")
            variables["after"] = rng.choice(
                [
                    "garbage!",
                    base64.urlsafe_b64encode(b"[1]").decode().rstrip("="),
                    base64.urlsafe_b64encode(b'["2026-01-01T00:00:00+00:00", 99999999]').decode().rstrip("="),
                    base64.urlsafe_b64encode(b"[99999999]").decode().rstrip("="),
                    base64.urlsafe_b64encode(b'[{"x": 1}]').decode().rstrip("="),
                ]
            )
            args.append("after: $after")
        for name, arg in field.args.items():
            if name in ("first", "after") or rng.random() < 0.6:
                continue
            literal = self.value(arg.type)
            if literal is not None:
                args.append(f"{name}: {literal}")
        reveal_var = rng.random() < 0.1
        if reveal_var:
            var_defs.append("$r: Boolean!")
            variables["r"] = rng.random() < 0.5
        self.reveal_var = reveal_var
        node_sel = self.selection(node_type, depth=0)
        parts = []
        shape = rng.random()
        if shape < 0.45:
            parts.append(f"edges {{ {'cursor ' if rng.random() < 0.5 else ''}node {{ {node_sel} }} }}")
        elif shape < 0.8:
            parts.append(f"nodes {{ {node_sel} }}")
        else:
            parts.append(f"edges {{ cursor node {{ {node_sel} }} }} nodes {{ {node_sel} }}")
        if rng.random() < 0.7:
            picks = [p for p in ("hasNextPage", "endCursor", "startCursor", "__typename") if rng.random() < 0.6]
            parts.append(f"pageInfo {{ {' '.join(picks or ['hasNextPage'])} }}")
        if rng.random() < 0.1:
            parts.append("__typename")
        if rng.random() < 0.25:
            parts.append("totalCount")
        rng.shuffle(parts)
        arg_text = f"({', '.join(args)})" if args else ""
        head = f"query G{i}" + (f"({', '.join(var_defs)})" if var_defs else "")
        body = f"{root}{arg_text} {{ {' '.join(parts)} }}"
        if rng.random() < 0.2:
            body = f"page: {body}"
        if rng.random() < 0.1:
            body += " __typename"
        query = head + " { " + body + " }" + "".join(self.fragments)
        return Case(query, variables, rng.choice(PRINCIPALS))

    def nested_connection(self, name: str, conn_field: Any, depth: int) -> str:
        """A connection field of an object (``Project.workers``): small pages, now and then after a
        cursor (most of which do not fit: ``INVALID_CURSOR``). A nested page size over the limit is
        left to ``test_a_nested_connections_errors_are_the_interpreters``: the interpreter's refusal
        of one parent's page cancels its siblings' resolvers, and a data loader's future they shared
        with another field with them — a ``CancelledError`` out of the interpreter (see the notes)."""
        rng = self.rng
        conn = get_named_type(conn_field.type)
        node_type = get_named_type(get_named_type(conn.fields["edges"].type).fields["node"].type)
        args = []
        first = rng.choice([0, 1, 2, 3, None] if rng.random() < 0.1 else [1, 2, 3, None])
        if first is not None:
            args.append(f"first: {first}")
        if rng.random() < 0.15:
            after = rng.choice(["garbage!", "WzFd", "WzIwMDAwMDAwMDBd", '["x"]'])  # [1], [2000000000], …
            args.append(f"after: {json.dumps(after)}")
        args += self.own_arguments(conn_field)
        node_sel = self.selection(node_type, depth + 1)
        parts = []
        shape = rng.random()
        if shape < 0.5:
            parts.append(f"edges {{ {'cursor ' if rng.random() < 0.6 else ''}node {{ {node_sel} }} }}")
        else:
            parts.append(f"nodes {{ {node_sel} }}")
        if rng.random() < 0.6:
            picks = [p for p in ("hasNextPage", "endCursor", "startCursor") if rng.random() < 0.6]
            parts.append(f"pageInfo {{ {' '.join(picks or ['hasNextPage'])} }}")
        if rng.random() < 0.3:
            parts.append("totalCount")
        rng.shuffle(parts)
        return f"{name}{'(' + ', '.join(args) + ')' if args else ''} {{ {' '.join(parts)} }}"

    def own_arguments(self, conn_field: Any) -> list[str]:
        """A nested connection's arguments of its own (``payMonth``, ``from`` / ``to``): in the document
        or in variables, values with rows in the demo, values that match nothing, and values the
        resolver or graphql-core refuses."""
        rng = self.rng
        values: dict[str, Any] = {}
        if "payMonth" in conn_field.args and rng.random() < 0.7:
            values["payMonth"] = rng.choice(["2026-10", "2026-09", "2025-11", "", None, "2026-13", "10/2026"])
        if "from" in conn_field.args:  # required
            values["from"], values["to"] = rng.choice(ATTENDANCE_SPANS)
        out = []
        for name, value in values.items():
            if rng.random() < 0.5:
                var = f"v{len(self.var_defs)}"
                self.var_defs.append(f"${var}: {conn_field.args[name].type}")
                self.variables[var] = value
                out.append(f"{name}: ${var}")
            else:
                out.append(f"{name}: {json.dumps(value)}")
        return out

    def value(self, gtype: Any) -> str | None:
        rng = self.rng
        t = gtype.of_type if isinstance(gtype, GraphQLNonNull) else gtype
        if isinstance(t, GraphQLList):
            inner = self.value(t.of_type)
            return None if inner is None else f"[{inner}]"
        if isinstance(t, GraphQLEnumType):
            return rng.choice(list(t.values))
        if isinstance(t, GraphQLInputObjectType):
            fields = []
            for name, f in t.fields.items():
                if rng.random() < 0.25:
                    v = self.value(f.type) if not name.lower().endswith("regioncode") else self.region()
                    if v is not None and "search" not in name.lower():
                        fields.append(f"{name}: {v}")
            return "{" + ", ".join(fields) + "}"
        if isinstance(t, GraphQLScalarType):
            if t.name == "Boolean":
                return rng.choice(["true", "false"])
            if t.name == "Int":
                return str(rng.choice([0, 1, 3, 30]))
            if t.name == "String":
                return self.region()
        return None

    def region(self) -> str:
        return f'"{self.rng.choice(["370800", self.county, "370811", "320000"])}"'

    def selection(self, gtype: GraphQLObjectType, depth: int) -> str:
        rng = self.rng
        picks: list[str] = []
        for name, f in gtype.fields.items():
            named = get_named_type(f.type)
            required = {n for n, a in f.args.items() if isinstance(a.type, GraphQLNonNull) and a.default_value is None}
            # (a connection's required from / to are given by own_arguments)
            supplied = "pageInfo" in getattr(named, "fields", {}) and required <= {"from", "to"}
            if (required and not supplied) or rng.random() > (0.55 if depth == 0 else 0.4):
                continue
            if self.support.get(gtype.name, {}).get(name) is not None and rng.random() > 0.04:
                continue  # now and then a field that falls back: the whole operation goes to the interpreter
            if isinstance(named, (GraphQLScalarType, GraphQLEnumType)):
                if isinstance(f.type, GraphQLList) or (
                    isinstance(f.type, GraphQLNonNull) and isinstance(f.type.of_type, GraphQLList)
                ):
                    continue
                text = name
                if "reveal" in f.args:
                    text += rng.choice(["", "", "(reveal: false)", "(reveal: $r)" if self.reveal_var else ""])
                if rng.random() < 0.08 and self.aliases < 6:
                    self.aliases += 1
                    text = f"{name}Alias: {text}"
                picks.append(text)
            elif isinstance(named, GraphQLObjectType) and named.name in ROW_MODELS and depth < 2 and not f.args:
                picks.append(f"{name} {{ {self.selection(named, depth + 1)} }}")
            elif isinstance(named, GraphQLObjectType) and "pageInfo" in named.fields and depth < 2:
                picks.append(self.nested_connection(name, f, depth))
        if not picks or rng.random() < 0.15:
            picks.append("__typename" if rng.random() < 0.3 else "id" if "id" in gtype.fields else "__typename")
        rng.shuffle(picks)
        text = " ".join(picks)
        roll = rng.random()
        if roll < 0.1:
            frag = f"F{len(self.fragments)}x{depth}"
            self.fragments.append(f" fragment {frag} on {gtype.name} {{ {text} }}")
            return f"...{frag}"
        if roll < 0.2:
            return f"... on {gtype.name} {{ {text} }}"
        return text


def generated_cases(schema: Any, county: str) -> list[Case]:
    gen = Generator(schema, county, random.Random(SEED))
    return [gen.case(i) for i in range(GENERATED)]


async def test_generated_operations_answer_as_the_interpreter(client: Client, app, demo) -> None:  # type: ignore[no-untyped-def]
    # Given several hundred operations generated from the schema, each as one of the principals
    schema = app.state.graphql.schema
    cases = generated_cases(schema, demo.highlights["county_code"])
    compiled_count = nested_count = 0
    error_codes: set[str] = set()
    nested_error_codes: set[str] = set()
    for case in cases:
        plan = compile_operation(schema, case.query)
        compiled_count += plan.compiled
        nested_count += plan.compiled and bool(nested_pages(plan))
        # When run interpreted and compiled
        interpreted, compiled = await client.both(case.query, case.variables, case.who)
        # Then the answers are the same JSON
        assert compiled == interpreted, f"{case.who}: {case.query} {case.variables}\n{explain(plan)}"
        errors = interpreted.get("errors", [])
        error_codes |= {e["extensions"]["code"] for e in errors}
        nested_error_codes |= {e["extensions"]["code"] for e in errors if len(e.get("path") or []) > 1}
    # Most of them ran compiled (the rest fell back, with explain saying why), nested connections
    # among them, and errors were met, in nested connections too
    assert compiled_count >= GENERATED * 0.6, compiled_count
    assert nested_count >= GENERATED * 0.1, nested_count
    assert {"INVALID_CURSOR", "QUERY_TOO_COMPLEX"} <= error_codes, error_codes
    assert {"INVALID_CURSOR", "BAD_USER_INPUT"} <= nested_error_codes, nested_error_codes


def nested_pages(plan: Plan) -> list[NestedPage]:
    """The nested connections a compiled plan reads."""
    out: list[NestedPage] = []

    def walk(obj: ObjectPlan) -> None:
        for f in obj.fields:
            if isinstance(f, NestedPage):
                out.append(f)
            if isinstance(f, (NestedPage, RelationField)):
                walk(f.target)

    for root in plan.roots:
        if isinstance(root, RootPage):
            walk(root.target)
    return out


def test_the_generated_operations_include_nested_connections_that_compile(app, demo) -> None:  # type: ignore[no-untyped-def]
    # Given the generated operations
    cases = generated_cases(app.state.graphql.schema, demo.highlights["county_code"])
    # When each is compiled
    plans = [compile_operation(app.state.graphql.schema, c.query) for c in cases]
    nested = [(c, p) for c, p in zip(cases, plans, strict=True) if p.compiled and nested_pages(p)]
    # Then many compile with nested connections: with and without `first`, after a cursor (a bad one
    # too), with totalCount, under several parent types
    fields = {n.node.name.value for _, p in nested for n in nested_pages(p)}
    assert len(nested) >= GENERATED * 0.1, len(nested)
    assert len(fields) >= 4, fields
    texts = [c.query for c, _ in nested]
    assert any("(first: 1" in t for t in texts)
    assert any("after: " in t and "$after" not in t for t in texts)
    assert any('after: "garbage!"' in t for t in texts)
    assert any(any(n.counted for n in nested_pages(p)) for _, p in nested)
    # and with arguments of their own (payMonth, from / to), in the document and in variables, and
    # matching the parent's attributes besides its key (a team's workers)
    own = [(c, n) for c, p in nested for n in nested_pages(p) if n.arguments]
    assert {n.node.name.value for _, n in own} == {"payroll", "attendance"}, own
    assert any(any(a.value.kind == "variable" for a in n.node.arguments) for _, n in own)
    assert any(any(a.value.kind != "variable" and a.name.value != "first" for a in n.node.arguments) for _, n in own)
    assert any(n.match_indexes for _, p in nested for n in nested_pages(p))


@pytest.mark.parametrize(("who", "statements"), [("admin", 2), ("county", 2), ("zhujian", 2)])
async def test_the_bench_page_reads_its_rows_in_few_statements(client: Client, app, who: str, statements: int) -> None:  # type: ignore[no-untyped-def]
    # Given the plan of the bench's page, and the statements the plan runs on the synchronous engine
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if "registered_operations" not in statement:  # the registry's periodic read, not the page's
            seen.append(statement)

    client.view.plans = PlanCache()
    client.view.plans.add(client.view.schema, BENCH_QUERY)
    event.listen(sync_engine_of(app.state.read_engine), "before_cursor_execute", count)
    try:
        # When a page is read
        body = await client.post(BENCH_QUERY, {"first": 20}, who)
    finally:
        event.remove(sync_engine_of(app.state.read_engine), "before_cursor_execute", count)
    # Then the page (enterprise, project and region outer-joined) and the channel records are two
    # statements, for a sector's principal too (its criteria hold on the joined aliases)
    assert "errors" not in body
    assert len(seen) == statements, seen


#: Clues by a filter of variables, each with its channel records (a statement by the clues' ids), its
#: respondent enterprise and its project's region (by a region code: a relation by string keys).
FILTERED = (
    "query F($first: Int!, $after: String, $status: [ClueStatus!], $search: String) {"
    " clues(first: $first, after: $after, filter: {status: $status, search: $search}) {"
    " totalCount edges { cursor node { id clueNo status channelRecords { channel sourceId receivedAt }"
    " enterprise { name } project { name region { name parent { name } } } } } pageInfo { hasNextPage endCursor } } }"
)


async def test_a_plan_run_again_answers_each_run_as_the_interpreter(client: Client) -> None:
    # Given runs of one kept plan by principals of several jurisdictions, with other filters, page sizes
    # and cursors from run to run (the plan keeps its statements between runs: none may answer for another)
    runs: list[tuple[str, dict[str, Any]]] = []
    for who in ["admin", "city", "county", "zhujian", "admin", "other-province"]:
        for status, search in [
            (None, None),
            (["RECEIVED"], None),
            (["RECEIVED", "IN_PROGRESS", "CLOSED"], None),
            (None, "工程"),
        ]:
            runs.append((who, {"first": 3, "status": status, "search": search}))
    client.view.plans = PlanCache()
    expected = [await client.post(FILTERED, variables, who) for who, variables in runs]
    # each run's next page, by its own cursor
    for (who, variables), body in list(zip(runs, expected, strict=True)):
        assert body.get("data"), f"{who} {variables}: {body}"
        end = body["data"]["clues"]["pageInfo"]["endCursor"]
        if end is not None:
            runs.append((who, {**variables, "first": 2, "after": end}))
            expected.append(await client.post(FILTERED, runs[-1][1], who))
    # When they are run again in the same order with the plan kept
    plan = client.view.plans.add(client.view.schema, FILTERED)
    assert plan.compiled, explain(plan)
    answers = [await client.post(FILTERED, variables, who) for who, variables in runs]
    # Then every answer is the interpreter's, and the filters told the runs apart
    for (who, variables), answer, interpreted in zip(runs, answers, expected, strict=True):
        assert answer == interpreted, f"{who} {variables}"
    assert len({json.dumps(a, sort_keys=True) for a in answers}) > len(runs) / 3


# ---- registered operations run compiled ---------------------------------------------------------------


async def test_a_registered_query_sent_by_its_hash_runs_from_its_plan(client: Client, app) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    # Given the bench's page registered by an administrator, and no plan in the view's cache
    client.view.plans = PlanCache()
    registered = await client.post(
        'mutation($d: String!) { registerOperation(name: "BenchCluePage", document: $d) { name sha256 } }',
        {"d": BENCH_QUERY},
        "admin",
    )
    sha = registered["data"]["registerOperation"]["sha256"]
    assert sha == hashlib.sha256(BENCH_QUERY.encode()).hexdigest()
    interpreted = await client.post(BENCH_QUERY, {"first": 5}, "county")  # a text put in no cache: no plan yet…
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if (
            statement.lstrip().startswith("SELECT")
            and "api_keys" not in statement
            and "registered_operations" not in statement
        ):  # not bookkeeping
            seen.append(statement)

    # When a county sends it by its hash alone (Apollo's persisted query)
    event.listen(sync_engine_of(app.state.read_engine), "before_cursor_execute", count)
    try:
        resp = await client.client.post(
            "/graphql",
            json={"variables": {"first": 5}, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}}},
            headers={"X-API-Key": client.keys["county"]},
        )
    finally:
        event.remove(sync_engine_of(app.state.read_engine), "before_cursor_execute", count)
    # Then it was compiled once and answered from its plan (its two reads on the plan's engine), the same JSON
    plan = client.view.plans.get(BENCH_QUERY)
    assert plan is not None and plan.compiled and plan.operation_name == "BenchCluePage"
    assert len(seen) == 2, seen
    assert resp.json() == interpreted


async def test_with_compiled_operations_off_a_registered_query_is_interpreted(client: Client, app) -> None:  # type: ignore[no-untyped-def]
    # Given compiled operations switched off, and the bench's page registered
    client.view.plans = PlanCache()
    settings = client.view.settings
    client.view.settings = settings.model_copy(update={"compiled_operations": False})
    try:
        await client.post(
            'mutation($d: String!) { registerOperation(name: "BenchCluePage", document: $d) { name } }',
            {"d": BENCH_QUERY},
            "admin",
        )
        # When it is sent
        body = await client.post(BENCH_QUERY, {"first": 5}, "county")
    finally:
        client.view.settings = settings
    # Then it is answered, and nothing was compiled
    assert "errors" not in body and len(body["data"]["clues"]["edges"]) == 5
    assert len(client.view.plans) == 0


# ---- nested connections --------------------------------------------------------------------------------

#: A project's workers as a page of their own, each with an outer-joined enterprise.
WORKERS_PAGE = (
    "query Workers($n: Int, $first: Int, $after: String) { projects(first: $n) { nodes { id name"
    " workers(first: $first, after: $after) { edges { cursor node { id name enterprise { name } } }"
    " pageInfo { hasNextPage endCursor startCursor } } } } }"
)


def test_a_nested_connection_compiles(app) -> None:  # type: ignore[no-untyped-def]
    # Given a page of projects with each project's page of workers / When compiled
    plan = compile_operation(app.state.graphql.schema, WORKERS_PAGE)
    # Then nothing falls back, and the workers are a nested connection of the plan
    assert plan.compiled, explain(plan)
    assert [n.key for n in nested_pages(plan)] == ["workers"]


async def test_a_nested_page_of_one_says_more_follow_and_its_cursor_leads_to_the_next(client: Client) -> None:
    # Given each project's first worker
    interpreted, compiled = await client.both(WORKERS_PAGE, {"n": 5, "first": 1}, "admin")
    assert compiled == interpreted
    projects = compiled["data"]["projects"]["nodes"]
    # Then a project with more workers says so, its end cursor being its one edge's
    crowded = [p for p in projects if p["workers"]["pageInfo"]["hasNextPage"]]
    assert crowded, projects
    workers = crowded[0]["workers"]
    assert len(workers["edges"]) == 1
    assert workers["pageInfo"]["endCursor"] == workers["edges"][0]["cursor"] == workers["pageInfo"]["startCursor"]
    # When the page after that cursor is asked for (all projects, the same cursor, as the interpreter)
    after = workers["pageInfo"]["endCursor"]
    interpreted, compiled = await client.both(WORKERS_PAGE, {"n": 5, "first": 2, "after": after}, "admin")
    # Then both answers are the same, and that project's next page starts with another worker
    assert compiled == interpreted
    same = next(p for p in compiled["data"]["projects"]["nodes"] if p["id"] == crowded[0]["id"])
    assert same["workers"]["edges"], same
    assert same["workers"]["edges"][0]["node"]["id"] != workers["edges"][0]["node"]["id"]


async def test_a_parent_without_children_has_an_empty_page(client: Client) -> None:
    # Given enterprises and the projects they are the general contractor of (subcontractors have none)
    query = (
        "{ enterprises(first: 40) { nodes { kind projects(first: 2) { totalCount nodes { id }"
        " edges { cursor } pageInfo { hasNextPage endCursor startCursor } } } } }"
    )
    assert compile_operation(client.view.schema, query).compiled
    # When read interpreted and compiled
    interpreted, compiled = await client.both(query, {}, "admin")
    # Then the answers are the same, and an enterprise without projects has an empty page
    assert compiled == interpreted
    pages = [e["projects"] for e in compiled["data"]["enterprises"]["nodes"]]
    empty = {
        "totalCount": 0,
        "nodes": [],
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None, "startCursor": None},
    }
    assert empty in pages
    assert any(p["totalCount"] > 0 for p in pages)


@pytest.mark.parametrize("who", ["county", "other-province", "zhujian", "town-handler"])
async def test_nested_pages_keep_to_the_principals_jurisdiction(client: Client, who: str) -> None:
    # Given enterprises (not region-scoped) and each one's clues and projects (region-scoped)
    query = (
        "{ enterprises(first: 30) { nodes { id clues(first: 3) { totalCount nodes { id clueNo } }"
        " projects(first: 2) { totalCount nodes { id regionCode } } } } }"
    )
    # When a principal of a narrower jurisdiction (or a sector) reads them, and the national admin
    interpreted, compiled = await client.both(query, {}, who)
    _, national = await client.both(query, {}, "admin")
    # Then the compiled answer is the interpreter's, and it shows fewer clues and projects than the
    # admin's: the jurisdiction criteria hold on the nested statement
    assert compiled == interpreted

    def seen(body: dict[str, Any]) -> int:
        return sum(e["clues"]["totalCount"] + e["projects"]["totalCount"] for e in body["data"]["enterprises"]["nodes"])

    assert seen(compiled) < seen(national)


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"n": 3, "first": 1, "after": "garbage!"}, "INVALID_CURSOR"),
        ({"n": 3, "first": 1, "after": base64.urlsafe_b64encode(b'["x", 1]').decode()}, "INVALID_CURSOR"),
        ({"n": 3, "first": 501}, "QUERY_TOO_COMPLEX"),
        ({"n": 3, "first": -1}, "QUERY_TOO_COMPLEX"),
    ],
    ids=["bad-cursor", "cursor-other-order", "page-too-large", "negative-first"],
)
async def test_a_nested_connections_errors_are_the_interpreters(
    client: Client, variables: dict[str, Any], code: str
) -> None:
    # Given a nested page with a bad cursor or page size / When run / Then the same error, same path
    interpreted, compiled = await client.both(WORKERS_PAGE, variables, "admin")
    assert compiled == interpreted
    assert compiled["errors"][0]["extensions"]["code"] == code


async def test_a_nested_page_after_all_its_rows_still_counts_them(client: Client) -> None:
    # Given the cursor of the last project's first worker (workers in id order: every worker of the
    # projects before it lies before that cursor)
    first_page, _ = await client.both(WORKERS_PAGE, {"n": 6, "first": 1}, "admin")
    last = [p for p in first_page["data"]["projects"]["nodes"] if p["workers"]["edges"]][-1]
    after = last["workers"]["pageInfo"]["endCursor"]
    query = (
        "query Counted($after: String) { projects(first: 6) { nodes { id"
        " workers(first: 2, after: $after) { totalCount nodes { id } } } } }"
    )
    # When each project's page after it is read with totalCount
    interpreted, compiled = await client.both(query, {"after": after}, "admin")
    # Then the answers are the same: a project whose workers all come before the cursor has an empty
    # page, and its totalCount still counts them (as the interpreter counts: whatever the cursor)
    assert compiled == interpreted
    pages = [p["workers"] for p in compiled["data"]["projects"]["nodes"]]
    assert any(not w["nodes"] and w["totalCount"] > 0 for w in pages), pages


async def test_a_nested_connection_of_no_parent_raises_no_error(client: Client) -> None:
    # Given a page of no projects, whose workers would be asked after a bad cursor
    interpreted, compiled = await client.both(WORKERS_PAGE, {"n": 0, "after": "garbage!"}, "admin")
    # Then no resolver runs, so nothing is refused
    assert compiled == interpreted == {"data": {"projects": {"nodes": []}}}


# ---- nested connections with arguments or filters of their own --------------------------------------

#: A project's pay records of a month (``payMonth``: a filter of the field's own).
PAYROLL_PAGE = (
    "query Payroll($n: Int, $month: String, $first: Int, $after: String) { projects(first: $n) { nodes { id"
    " payroll(payMonth: $month, first: $first, after: $after) { totalCount edges { cursor node { id payMonth"
    " actualAmount } } pageInfo { hasNextPage endCursor } } } } }"
)
#: Workers' attendance over a span (``from`` / ``to``: checked by the resolver, then conditions).
ATTENDANCE_PAGE = (
    "query Attendance($from: Date!, $to: Date!, $first: Int) { projects(first: 4) { nodes { id workers(first: 3)"
    " { nodes { id attendance(from: $from, to: $to, first: $first) { totalCount nodes { id day timeIn }"
    " pageInfo { hasNextPage startCursor } } } } } } }"
)
#: Teams' members: the project's workers of the team's number.
TEAM_PAGE = (
    "query Teams($n: Int, $first: Int, $after: String) { projects(first: $n) { nodes { id teams { id teamSysNo"
    " workers(first: $first, after: $after) { totalCount edges { cursor node { id teamSysNo } }"
    " pageInfo { hasNextPage endCursor } } } } } }"
)


@pytest.mark.parametrize(
    "month",
    ["2026-10", "2025-11", "", None, "2026-13", "10/2026"],
    ids=["month", "oldest", "empty", "null", "13", "text"],
)
@pytest.mark.parametrize("who", ["admin", "county", "zhujian"])
async def test_a_projects_payroll_of_a_month_answers_as_the_interpreter(
    client: Client, month: str | None, who: str
) -> None:
    # Given each project's pay records of a month (an empty or null month: all; text that is no month:
    # the interpreter's error, naming payMonth)
    interpreted, compiled = await client.both(PAYROLL_PAGE, {"n": 6, "month": month, "first": 3}, who)
    # Then the compiled answer is the interpreter's
    assert compiled == interpreted
    if month in ("2026-13", "10/2026"):
        assert {e["extensions"]["code"] for e in compiled["errors"]} == {"BAD_USER_INPUT"}
        assert {e["extensions"]["field"] for e in compiled["errors"]} == {"payMonth"}
        return
    pages = [p["payroll"] for p in compiled["data"]["projects"]["nodes"]]
    months = {e["node"]["payMonth"] for p in pages for e in p["edges"]}
    if month in ("2026-10", "2025-11") and who == "admin":
        assert months == {month}
    # And the page after a project's end cursor, in the same month, too
    crowded = [p for p in pages if p["pageInfo"]["hasNextPage"]]
    if crowded:
        after = crowded[0]["pageInfo"]["endCursor"]
        variables = {"n": 6, "month": month, "first": 3, "after": after}
        interpreted, compiled = await client.both(PAYROLL_PAGE, variables, who)
        assert compiled == interpreted


@pytest.mark.parametrize(
    ("span", "code"),
    [
        (("2026-11-01", "2026-11-19"), None),
        (("2026-09-20", "2026-11-20"), None),
        (("2026-11-19", "2026-11-19"), None),
        (("2026-11-10", "2026-11-01"), "BAD_USER_INPUT"),
        (("2026-08-01", "2026-11-19"), "BAD_USER_INPUT"),
        (("2026-02-30", "2026-03-01"), "GRAPHQL_VALIDATION_FAILED"),
    ],
    ids=["weeks", "62-days", "one-day", "reversed", "too-long", "no-such-day"],
)
@pytest.mark.parametrize("who", ["admin", "town-handler"])
async def test_a_workers_attendance_of_a_span_answers_as_the_interpreter(
    client: Client, span: tuple[str, str], code: str | None, who: str
) -> None:
    # Given each worker's attendance from one day to another (a span the resolver refuses, a day that
    # does not exist)
    variables = {"from": span[0], "to": span[1], "first": 2}
    interpreted, compiled = await client.both(ATTENDANCE_PAGE, variables, who)
    # Then the compiled answer is the interpreter's: the same days, or the same error
    assert compiled == interpreted
    if code is None:
        assert "errors" not in compiled, compiled
        days = [
            n["day"]
            for p in compiled["data"]["projects"]["nodes"]
            for w in p["workers"]["nodes"]
            for n in w["attendance"]["nodes"]
        ]
        assert all(span[0] <= d <= span[1] for d in days)
        assert days or who != "admin"
    else:
        codes = {e["extensions"]["code"] for e in compiled.get("errors", [])}
        # (a principal who sees no worker runs no resolver: nothing to refuse)
        assert codes == {code} or (who != "admin" and not codes), compiled


async def test_a_bad_span_in_a_literal_is_the_interpreters_error(client: Client) -> None:
    # Given a reversed span written in the document (compiled: the resolver's check runs at run time)
    query = ATTENDANCE_PAGE.replace("$from: Date!, $to: Date!, ", "").replace(
        "from: $from, to: $to", 'from: "2026-11-10", to: "2026-11-01"'
    )
    assert compile_operation(client.view.schema, query).compiled
    interpreted, compiled = await client.both(query, {"first": 1}, "admin")
    # Then the same error, with the same path
    assert compiled == interpreted
    assert compiled["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("who", ["admin", "county", "zhujian"])
async def test_a_teams_workers_answer_as_the_interpreter(client: Client, who: str) -> None:
    # Given each team's members (the project's workers of the team's number), a page of one
    interpreted, compiled = await client.both(TEAM_PAGE, {"n": 8, "first": 1}, who)
    # Then the compiled answer is the interpreter's, each member of the team's number
    assert compiled == interpreted
    teams = [t for p in compiled["data"]["projects"]["nodes"] for t in p["teams"]]
    for t in teams:
        assert {e["node"]["teamSysNo"] for e in t["workers"]["edges"]} <= {t["teamSysNo"]}
    if who == "admin":
        assert any(t["workers"]["totalCount"] > 1 for t in teams), teams
    # And after a team's end cursor (every team the same cursor, as the interpreter), too
    crowded = [t for t in teams if t["workers"]["pageInfo"]["hasNextPage"]]
    if crowded:
        after = crowded[0]["workers"]["pageInfo"]["endCursor"]
        interpreted, compiled = await client.both(TEAM_PAGE, {"n": 8, "first": 2, "after": after}, who)
        assert compiled == interpreted


@pytest.mark.parametrize(
    ("query", "statements", "windows"),
    [
        (WORKERS_PAGE, 2, 1),
        (
            "query WorkersCounted($n: Int, $first: Int) { projects(first: $n) { nodes { id"
            " workers(first: $first) { totalCount nodes { id enterprise { name } } } } } }",
            3,
            1,
        ),
        (
            "query Deep($n: Int) { enterprises(first: $n) { nodes { id projects(first: 3) { nodes { id"
            " workers(first: 2) { nodes { id payroll(first: 1) { nodes { id } } } } } } } } }",
            4,
            3,
        ),
        (  # the page, the teams (a to-many list), their workers and how many
            "query TeamWorkers($n: Int, $first: Int) { projects(first: $n) { nodes { id teams { id"
            " workers(first: $first) { totalCount nodes { id } } } } } }",
            4,
            1,
        ),
        (
            'query Month($n: Int, $first: Int) { projects(first: $n) { nodes { id payroll(payMonth: "2026-10",'
            " first: $first) { totalCount nodes { id } } } } }",
            3,
            1,
        ),
        (
            'query Days($n: Int, $first: Int) { workers(first: $n) { nodes { id attendance(from: "2026-11-01",'
            ' to: "2026-11-19", first: $first) { nodes { id } } } } }',
            2,
            1,
        ),
    ],
    ids=["workers", "workers-with-totalCount", "three-levels", "team-workers", "payroll-of-a-month", "attendance"],
)
@pytest.mark.parametrize("who", ["admin", "county", "zhujian"])
async def test_a_nested_connection_is_one_statement_for_all_parents(  # type: ignore[no-untyped-def]
    client: Client, app, query: str, statements: int, windows: int, who: str
) -> None:
    # Given a page with nested connections, answered as the interpreter answers it
    interpreted, compiled = await client.both(query, {"n": 10, "first": 3}, who)
    assert compiled == interpreted
    # and the statements its plan runs on its engine (the key read again aside)
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if "registered_operations" not in statement and "FROM api_keys" not in statement:
            seen.append(statement)

    client.view.plans = PlanCache()
    plan = client.view.plans.add(client.view.schema, query)
    assert plan.compiled, explain(plan)
    event.listen(sync_engine_of(app.state.read_engine), "before_cursor_execute", count)
    try:
        # When a page of 10 parents is read
        body = await client.post(query, {"n": 10, "first": 3}, who)
    finally:
        event.remove(sync_engine_of(app.state.read_engine), "before_cursor_execute", count)
    # Then each nested connection is one statement whatever the number of parents (one window over
    # all of them), and totalCount one GROUP BY more
    assert "errors" not in body, body
    assert len(seen) == statements, seen
    nested = [s for s in seen if "row_number() OVER" in s]
    assert len(nested) == windows, seen
