"""Running a plan: the same checks as the interpreter, then a few batched statements and plain Python.

Every statement is an ORM select of columns on the request's session, so the jurisdiction (and a
sector's) criteria of ``hub.access`` apply to it as to the interpreter's loaders; each relation is
read with the statement its loader would run (``WHERE key IN (…)``, in the loader's order). Whatever
the plan meets at run time that the interpreter would answer differently — variables that do not
coerce, ``reveal: $var`` true, a null in a non-null field, a root whose resolver does not answer with a
page — is handed to the interpreter for the whole operation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, located_error
from graphql.execution import ExecutionResult
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from sqlalchemy import Select, select
from sqlalchemy.orm import aliased
from strawberry.types.arguments import convert_arguments
from strawberry.utils.await_maybe import await_maybe

from hub.errors import HubError
from schema.compiled._plan import Leaf, Masked, ObjectPlan, Plan, RelationField, RootPage, RootTypename
from schema.cost import check_cost
from schema.extensions import shape_error
from schema.pagination import check_first, decode_cursor, encode_cursor, jsonable
from schema.query import PageRequest

if TYPE_CHECKING:
    from schema.context import Context


class _Fallback(Exception):
    """The interpreter must answer this run (see the module docstring)."""


class _PageRequestInfo:
    """What a root resolver gets from a plan as ``info``: the request's context, and the wish to be
    handed the page request rather than the page (``schema.query._page``)."""

    wants_page_request = True

    def __init__(self, context: Context, operation: Any) -> None:
        self.context = context
        self.operation = operation  # a permission's refusal reads the operation's type


async def execute_plan(plan: Plan, variables: dict[str, Any] | None, context: Context) -> ExecutionResult:
    """The operation's result as the interpreter would give it (errors unshaped, as graphql-core's).

    Like the interpreter's ``HubRequest`` extension, it refuses a request without a principal, prices
    the operation against the role's budget (``schema.cost``) and closes the request's session."""
    if not plan.compiled:
        return await _interpret(plan, variables, context)
    try:
        if context.principal is None:
            err = context.auth_error or HubError("no principal")
            return ExecutionResult(
                data=None, errors=[GraphQLError(getattr(err, "message", str(err)), original_error=err)]
            )
        gql = plan.schema._schema
        coerced = get_variable_values(gql, plan.variable_definitions, variables or {})
        if isinstance(coerced, list):
            raise _Fallback
        refusal = check_cost(
            gql,
            plan.document,
            operation_name=plan.operation_name,
            variables=variables,
            role=context.principal.role,
            settings=context.settings,
        )
        if refusal is not None:
            return ExecutionResult(data=None, errors=[GraphQLError(refusal.message, original_error=refusal)])
        if any(coerced.coerced.get(name) for name in plan.reveal_variables):
            raise _Fallback
        data: dict[str, Any] = {}
        errors: list[GraphQLError] = []
        for root in plan.roots:
            if isinstance(root, RootTypename):
                data[root.key] = "Query"
                continue
            try:
                data[root.key] = await _root_page(plan, root, coerced, context)
            except HubError as exc:
                errors.append(located_error(exc, [root.node], [root.key]))
        # A root list is non-null: its error nulls the whole answer.
        return ExecutionResult(data=None, errors=errors) if errors else ExecutionResult(data=data)
    except _Fallback:
        return await _interpret(plan, variables, context)
    finally:
        await context.session.close()


async def run_plan(plan: Plan, variables: dict[str, Any] | None, context: Context) -> dict[str, Any]:
    """The answer as the HTTP response carries it: ``data``, and ``errors`` (shaped, with their codes)
    when there are any."""
    result = await execute_plan(plan, variables, context)
    out: dict[str, Any] = {"data": result.data}
    if result.errors:
        out["errors"] = [shape_error(e).formatted for e in result.errors]
    return out


async def _interpret(plan: Plan, variables: dict[str, Any] | None, context: Context) -> ExecutionResult:
    result = await plan.schema.execute(
        plan.text, variable_values=variables, context_value=context, operation_name=plan.operation_name
    )
    return ExecutionResult(data=result.data, errors=result.errors)


async def _root_page(plan: Plan, root: RootPage, variables: VariableValues, context: Context) -> dict[str, Any]:
    schema = plan.schema
    raw = get_argument_values(root.graphql_field, root.node, variables)
    kwargs = convert_arguments(
        raw, root.field.arguments, scalar_registry=schema.schema_converter.scalar_registry, config=schema.config
    )
    info = _PageRequestInfo(context, plan.operation)
    # The field's permissions (schema.permissions.requires / reads) first, as strawberry runs them.
    for extension in root.field.extensions:
        for permission in extension.permissions:  # type: ignore[attr-defined]
            if await await_maybe(permission.has_permission(None, info)) is not True:  # pragma: no cover - ours raise
                raise _Fallback
    resolve: Any = root.field.base_resolver.wrapped_func  # type: ignore[union-attr]
    request = await resolve(None, info, **kwargs)
    if not isinstance(request, PageRequest):
        raise _Fallback
    first = check_first(request.first, limit=context.settings.max_page_size)
    target = root.target
    sort = request.sort
    own = {c.key: i for i, c in enumerate(target.columns)}
    extra = [c for c in sort.columns if c.key not in own]
    # A sector's criterion (hub.access.sector_criterion) on an outer-joined alias of Project renders as
    # 1 = 1: for a 行业主管部门 every relation is read by its own statement, as the loaders read it.
    join = context.principal is not None and context.principal.sector is None
    width = target.width(join)
    sort_index = [own[c.key] if c.key in own else width + extra.index(c) for c in sort.columns]
    stmt = _select(target, join, extra).where(*request.conditions)
    if request.after:
        stmt = stmt.where(sort.after(decode_cursor(request.after)))
    stmt = stmt.order_by(*sort.order_by()).limit(first + 1)
    rows = (await context.session.execute(stmt)).all()
    has_next = len(rows) > first
    rows = rows[:first]
    nodes = await _materialize(target, rows, context, join)
    cursors: list[str] | None = None

    def cursor_list() -> list[str]:
        nonlocal cursors
        if cursors is None:
            cursors = [encode_cursor([jsonable(r[i]) for i in sort_index]) for r in rows]
        return cursors

    out: dict[str, Any] = {}
    for part in root.parts:
        if part.kind == "typename":
            out[part.key] = part.typename
        elif part.kind == "nodes":
            out[part.key] = nodes
        elif part.kind == "edges":
            edges = []
            want_cursor = any(what == "cursor" for _, what in part.parts)
            cs = cursor_list() if want_cursor else None
            for i, node in enumerate(nodes):
                edge: dict[str, Any] = {}
                for key, what in part.parts:
                    if what == "node":
                        edge[key] = node
                    elif what == "cursor":
                        edge[key] = cs[i]  # type: ignore[index]
                    else:
                        edge[key] = part.typename
                edges.append(edge)
            out[part.key] = edges
        else:
            page_info: dict[str, Any] = {}
            for key, what in part.parts:
                if what == "hasNextPage":
                    page_info[key] = has_next
                elif what == "endCursor":
                    page_info[key] = cursor_list()[-1] if rows else None
                elif what == "startCursor":
                    page_info[key] = cursor_list()[0] if rows else None
                else:
                    page_info[key] = part.typename
            out[part.key] = page_info
    return out


def _columns(plan: ObjectPlan, entity: Any, join: bool) -> tuple[list[Any], list[tuple[Any, Any]]]:
    """The columns of ``plan`` read from ``entity`` (its model or an alias), followed by those of its
    joined to-one relations, depth first; and the outer joins that bring those in."""
    columns = [getattr(entity, c.key) for c in plan.columns]
    joins: list[tuple[Any, Any]] = []
    for f in plan.fields:
        if isinstance(f, RelationField) and f.joined and join:
            alias: Any = aliased(f.target.model)
            joins.append((alias, getattr(alias, f.relation.by) == getattr(entity, f.relation.key_attr)))
            sub_columns, sub_joins = _columns(f.target, alias, join)
            columns += sub_columns
            joins += sub_joins
    return columns, joins


def _select(plan: ObjectPlan, join: bool, extra: Sequence[Any] = ()) -> Select[Any]:
    """``SELECT`` the plan's columns (and ``extra``) from its model, to-one relations outer-joined when
    ``join``: the jurisdiction criteria of ``hub.access`` apply to every joined entity as to the loaders'
    statements."""
    columns, joins = _columns(plan, plan.model, join)
    stmt = select(*columns, *extra).select_from(plan.model)
    for alias, on in joins:
        stmt = stmt.outerjoin(alias, on)
    return stmt


async def _materialize(plan: ObjectPlan, rows: Sequence[Any], context: Context, join: bool) -> list[dict[str, Any]]:
    """The objects of ``rows`` (each: the plan's columns, then its joined relations' columns), the other
    relations read level by level (one statement per relation)."""
    getters: list[tuple[str, Callable[[Any], Any] | None, list[Any] | None, bool]] = []
    offset = len(plan.columns)
    for f in plan.fields:
        if isinstance(f, Leaf):
            getters.append((f.key, f.value, None, f.non_null))
        elif isinstance(f, Masked):
            getters.append((f.key, _masked(f.index, f.mask), None, f.non_null))
        elif f.joined and join:
            width = f.target.width(join)
            slices = [r[offset : offset + width] for r in rows]
            offset += width
            bi = f.target.column(getattr(f.target.model, f.relation.by))
            objects = iter(await _materialize(f.target, [s for s in slices if s[bi] is not None], context, join))
            getters.append((f.key, None, [None if s[bi] is None else next(objects) for s in slices], f.non_null))
        else:
            getters.append((f.key, await _relation_getter(f, rows, context, join), None, f.non_null))
    out = []
    for i, row in enumerate(rows):
        obj = {}
        for key, get, values, non_null in getters:
            value = values[i] if values is not None else get(row)  # type: ignore[misc]
            if value is None and non_null:
                raise _Fallback  # the interpreter reports it (and nulls the parent) its own way
            obj[key] = value
        out.append(obj)
    return out


def _masked(index: int, mask: Callable[[str], str]) -> Callable[[Any], Any]:
    def get(row: Any) -> Any:
        value = row[index]
        return None if value is None else mask(value)

    return get


async def _relation_getter(f: RelationField, rows: Sequence[Any], context: Context, join: bool) -> Callable[[Any], Any]:
    """A relation the rows do not carry: one statement for all of them, as its loader would run it."""
    relation, target, ki = f.relation, f.target, f.key_index
    keys = list(dict.fromkeys(k for k in (r[ki] for r in rows) if k is not None))
    if relation.many:
        if not keys:
            return lambda _row: []
        fk = relation.fk
        order = relation.order if relation.order is not None else target.model.id  # type: ignore[attr-defined]
        stmt = _select(target, join).where(fk.in_(set(keys))).order_by(order)
        child_rows = (await context.session.execute(stmt)).all()
        objects = await _materialize(target, child_rows, context, join)
        fi = target.column(fk)
        grouped: dict[Any, list[dict[str, Any]]] = {}
        for r, o in zip(child_rows, objects, strict=True):
            grouped.setdefault(r[fi], []).append(o)
        return lambda row: [] if row[ki] is None else grouped.get(row[ki], [])
    if not keys:
        return lambda _row: None
    by = getattr(target.model, relation.by)
    stmt = _select(target, join).where(by.in_(set(keys)))
    child_rows = (await context.session.execute(stmt)).all()
    objects = await _materialize(target, child_rows, context, join)
    bi = target.column(by)
    found = {r[bi]: o for r, o in zip(child_rows, objects, strict=True)}
    return lambda row: found.get(row[ki])
