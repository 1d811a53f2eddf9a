"""Running a plan: the same checks as the interpreter, then a few batched statements and plain Python.

Every statement is a select of the model's columns carrying ``hub.access.limiting_options`` of the
principal — the jurisdiction (and a sector's) criteria the session event gives the interpreter's loaders,
a joined alias's in its ON clause — run on one plain connection, on a worker thread, with the rows as
the driver gives them (no ``Row`` objects, each value converted once by whoever reads it:
``schema.compiled._values``); each relation is read with the statement its loader would run
(``WHERE key IN (…)``, in the loader's order). Whatever
the plan meets at run time that the interpreter would answer differently — variables that do not
coerce, ``reveal: $var`` true, a null in a non-null field, a root whose resolver does not answer with a
page — is handed to the interpreter for the whole operation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from graphql import GraphQLError, located_error
from graphql.execution import ExecutionResult
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased
from sqlalchemy.util import greenlet_spawn
from strawberry.types.arguments import convert_arguments
from strawberry.utils.await_maybe import await_maybe

from hub.access import KEY_READ, Principal, key_row_principal, limiting_options
from hub.crypto import api_key_hash
from hub.db import Leashed, leash
from hub.errors import HubError, QueryTimeout
from schema.compiled._driver import Kept, driver_of, driver_sql, run, run_sql
from schema.compiled._nested import bind_arguments, page_answer, page_getter, release_arguments
from schema.compiled._plan import Leaf, Masked, NestedPage, ObjectPlan, Plan, RelationField, RootPage, RootTypename
from schema.compiled._values import Processor, answer, process_at, processors
from schema.cost import check_cost
from schema.extensions import shape_error
from schema.pagination import check_first, decode_cursor
from schema.query import PageRequest

if TYPE_CHECKING:
    from schema.context import Context


T = TypeVar("T")


class _Fallback(Exception):
    """The interpreter must answer this run (see the module docstring)."""


class _PageRequestInfo:
    """What a root resolver gets from a plan as ``info``: the request's context, and the wish to be
    handed the page request rather than the page (``schema.query._page``)."""

    wants_page_request = True

    def __init__(self, context: Context, operation: Any) -> None:
        self.context = context
        self.operation = operation  # a permission's refusal reads the operation's type


@dataclass(slots=True)
class _RootRead:
    """One root list's statements, made on the event loop by its resolver; read in the plan's hop."""

    root: RootPage
    #: Limited to the principal, its cursor and page size bound by ``params`` (``_root_read``).
    stmt: Kept
    params: dict[str, Any]
    #: The SQL types of the statement's columns (their result processors are the values' business).
    types: tuple[Any, ...]
    count: Select[Any] | None
    first: int
    sort_index: list[int]
    join: bool


async def execute_plan(
    plan: Plan, variables: dict[str, Any] | None, context: Context, *, key: str | None = None
) -> ExecutionResult | None:
    """The operation's result as the interpreter would give it (errors unshaped, as graphql-core's).

    Like the interpreter's ``HubRequest`` extension, it refuses a request without a principal, prices
    the operation against the role's budget (``schema.cost``) and closes the request's session.

    With ``key`` (the request's API key) the principal is the one this process last authenticated that
    key as, and the key is read again on the plan's own connection, before any row: ``None`` when it no
    longer stands for that principal (revoked, another role or region …), and the caller authenticates
    and answers the request the usual way."""
    if not plan.compiled:
        return await _interpret(plan, variables, context)
    bound = None
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
        refusal = _check_cost(plan, variables, context)
        errors: list[GraphQLError] = []
        reads: list[_RootRead] = []
        if refusal is not None:
            errors.append(GraphQLError(refusal.message, original_error=refusal))
        elif any(coerced.coerced.get(name) for name in plan.reveal_variables):
            raise _Fallback
        else:
            # (nested connections read their first / after there: the worker thread sees this context)
            bound = bind_arguments(coerced, max_page_size=context.settings.max_page_size)
            for root in plan.roots:
                if isinstance(root, RootPage):
                    try:
                        reads.append(await _root_read(plan, root, coerced, context))
                    except HubError as exc:
                        errors.append(located_error(exc, [root.node], [root.key]))
        principal = context.principal
        if errors and key is None:  # a root list is non-null: its error nulls the whole answer
            return ExecutionResult(data=None, errors=errors)

        def work(connection: Connection) -> ExecutionResult | None:
            if key is not None and _key_principal(connection, key) != principal:
                return None  # revoked, or no longer the same role, region, rights or sector
            if errors:  # (now that the key is known to stand for the principal)
                return ExecutionResult(data=None, errors=errors)
            return _read_and_build(plan, reads, connection, principal)

        return await _in_read_connection(context, work, plan.paces, _page_sizes(variables))
    except _Fallback:
        # (with a key, its principal is not yet read again: the caller's usual path answers)
        return None if key is not None else await _interpret(plan, variables, context)
    finally:
        if bound is not None:
            release_arguments(bound)
        await context.session.close()


#: ``hub.access.KEY_READ`` as the driver's SQL, per kind of dialect (name, driver, parameter style):
#: (SQL, parameter names in order for a positional driver, or ``None`` for a named one).
_KEY_SQL: dict[tuple[str, str, str], tuple[str, tuple[str, ...] | None]] = {}
_KEY_TYPES = tuple(c.type for c in KEY_READ.selected_columns)


def _key_principal(connection: Connection, key: str) -> Principal | None:
    """``hub.access.key_principal`` with the statement compiled once per dialect and run as the driver's
    SQL (the same SQL: no cache key, no result metadata per request)."""
    dialect = connection.dialect
    kind = (dialect.name, dialect.driver, dialect.paramstyle)
    made = _KEY_SQL.get(kind)
    if made is None:
        compiled = KEY_READ.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ()) if compiled.positional else None
        made = _KEY_SQL[kind] = (compiled.string, names)
    sql, names = made
    values = {"key_hash": api_key_hash(key)}
    bound = tuple(values[n] for n in names) if names is not None else values
    driver = driver_of(connection)
    if driver is not None:
        rows, description = run_sql(connection, driver, sql, bound)
    else:
        result = connection.exec_driver_sql(sql, bound)
        description = result.cursor.description
        rows = result.all()
    if not rows:
        return None
    coltypes = [d[1] for d in description]
    (row,) = process_at(rows, processors(dialect, _KEY_TYPES, coltypes), range(len(_KEY_TYPES)))[0]
    return key_row_principal(row)


def _page_sizes(variables: dict[str, Any] | None) -> tuple[tuple[str, int], ...]:
    """The variables that are numbers (page sizes): what sets a run's price and, with the plan, its size."""
    return tuple(sorted((k, v) for k, v in (variables or {}).items() if type(v) is int))


def _check_cost(plan: Plan, variables: dict[str, Any] | None, context: Context) -> HubError | None:
    """``schema.cost.check_cost``, priced once per value of the variables that are numbers (a page size
    is the only thing a variable changes in the price; cursors and filters do not)."""
    principal = context.require_principal()
    numbers = _page_sizes(variables)
    settings = context.settings
    limits = tuple(sorted(settings.query_cost_limits.items()))
    key = (numbers, principal.role, limits, settings.max_page_size, settings.max_root_fields)
    if key not in plan.costs:
        if len(plan.costs) > 256:
            plan.costs.clear()
        plan.costs[key] = check_cost(
            plan.schema._schema,
            plan.document,
            operation_name=plan.operation_name,
            variables=variables,
            role=principal.role,
            settings=context.settings,
        )
    refusal: HubError | None = plan.costs[key]
    return refusal


def answer_body(result: ExecutionResult) -> dict[str, Any]:
    """``data``, and ``errors`` shaped with their codes when there are any (as the view answers)."""
    out: dict[str, Any] = {"data": result.data}
    if result.errors:
        out["errors"] = [shape_error(e).formatted for e in result.errors]
    return out


async def _interpret(plan: Plan, variables: dict[str, Any] | None, context: Context) -> ExecutionResult:
    result = await plan.schema.execute(
        plan.text, variable_values=variables, context_value=context, operation_name=plan.operation_name
    )
    return ExecutionResult(data=result.data, errors=result.errors)


async def _root_read(plan: Plan, root: RootPage, variables: VariableValues, context: Context) -> _RootRead:
    """The root's statements: its permissions checked and its resolver run (filters, cursor, first)."""
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
    # The to-one relations are outer-joined: the jurisdiction and sector criteria of each joined alias go
    # into its ON clause, so a relation the principal may not read comes back null, as its loader's.
    join = context.principal is not None
    width = target.width(join)
    sort_index = [own[c.key] if c.key in own else width + extra.index(c) for c in sort.columns]
    base, types = _select(target, join, extra)
    cursor = sort.cursor_values(decode_cursor(request.after)) if request.after else None
    params: dict[str, Any] = {"first": first + 1}
    if cursor is not None:
        params.update({f"after{i}": v for i, v in enumerate(cursor)})
    scope, options = _limiting_options(context.principal)  # type: ignore[arg-type]
    conditions = _conditions_key(request.conditions)
    key = ("root", join, sort, cursor is not None, scope, conditions)
    kept = target.statements.get(key) if conditions is not None else None
    if kept is None:
        stmt = base.where(*request.conditions)
        if cursor is not None:
            stmt = stmt.where(sort.beyond([bindparam(f"after{i}", type_=c.type) for i, c in enumerate(sort.columns)]))
        stmt = stmt.order_by(*sort.order_by()).limit(bindparam("first", type_=Integer()))
        # (made for this run only, it is executed by SQLAlchemy: its compiled cache serves it best)
        kept = Kept(_limited(stmt, options), driver=conditions is not None)
        if conditions is not None:
            if len(target.statements) > 256:
                target.statements.clear()
            target.statements[key] = kept
    count = None
    if any(part.kind == "totalCount" for part in root.parts):
        # as schema.pagination.paginate counts: the filtered rows, whatever the cursor
        whole: Select[Any] = select(target.model).where(*request.conditions)
        count = select(func.count()).select_from(whole.subquery())
    return _RootRead(root, kept, params, types, count, first, sort_index, join)


#: The array types of ``_Reader.among``, made once: SQLAlchemy memoizes a type's bind processor per
#: type object, so a new ARRAY per statement would rebuild it at each execution.
_BIGINT_ARRAY, _TEXT_ARRAY = ARRAY(BigInteger()), ARRAY(Text())

#: ``hub.access.limiting_options`` by what they depend on (the principal's region and sector): made once,
#: so that a statement a plan keeps (``_Reader.template``) is limited once per jurisdiction.
_OPTIONS: dict[tuple[str | None, str | None], tuple[Any, ...]] = {}


def _limiting_options(principal: Principal) -> tuple[tuple[str | None, str | None], tuple[Any, ...]]:
    scope = (principal.region_code, principal.sector)
    options = _OPTIONS.get(scope)
    if options is None:
        if len(_OPTIONS) > 1024:
            _OPTIONS.clear()
        options = _OPTIONS[scope] = limiting_options(principal)
    return scope, options


def _limited(stmt: Select[Any], options: tuple[Any, ...]) -> Select[Any]:
    """``stmt`` with ``options`` (``_limiting_options``), or as it is when there are none."""
    return stmt.options(*options) if options else stmt


def _conditions_key(conditions: Sequence[ColumnElement[bool]]) -> Any:
    """What makes a root's filter conditions the same as an earlier run's: their SQL shape (SQLAlchemy's
    cache key) and the values bound in them — so a statement kept for them filters exactly as theirs would.
    ``None`` when a value cannot be compared (the statement is then made for this run only)."""
    if not conditions:
        return ()
    made = and_(*conditions)._generate_cache_key()
    if made is None:
        return None
    values = tuple(_hashable(p.effective_value) for p in made.bindparams)
    try:
        hash(values)
    except TypeError:
        return None
    return made.key, values


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class _Reader:
    """Runs a plan's statements on one connection, each limited to the principal (``hub.access``)."""

    def __init__(self, connection: Connection, principal: Principal) -> None:
        # Rows are read by position only: SQLAlchemy need not map the new statement's columns onto the
        # cached compilation's (an option the ORM sets for its own statements).
        self.connection = connection.execution_options(_result_disable_adapt_to_context=True)
        self.dialect = connection.dialect
        self.scope, self.options = _limiting_options(principal)
        #: The driver kept statements run on as its own SQL (``_driver``), if it is one that can.
        self.driver = driver_of(connection)

    def limited(self, stmt: Select[Any]) -> Select[Any]:
        """``stmt`` with the principal's criteria (on every entity it reads, subqueries' included)."""
        return _limited(stmt, self.options)

    def rows(
        self, stmt: Select[Any], types: Sequence[Any] | None = None, params: dict[str, Any] | None = None
    ) -> tuple[Sequence[Any], tuple[Processor | None, ...]]:
        """The rows of ``stmt`` (limited; with ``params``, the values of its bound parameters) as the
        driver gives them, and each column's result processor (what SQLAlchemy would apply to it:
        ``schema.compiled._values``) for the SQL ``types`` of its columns; without ``types``, none (the
        values are used as they come: counts, keys)."""
        return self.limited_rows(self.limited(stmt), types, params)

    def limited_rows(
        self, stmt: Select[Any], types: Sequence[Any] | None = None, params: dict[str, Any] | None = None
    ) -> tuple[Sequence[Any], tuple[Processor | None, ...]]:
        """``rows`` of a statement already limited."""
        result = self.connection.execute(stmt, params)
        procs = self._processors(types, result.cursor.description)  # (the cursor is gone once fetched)
        # The driver's tuples, an error while fetching handled as SQLAlchemy handles its own (the
        # request's time limit becomes QueryTimeout, hub.db).
        return result._fetchall_impl(), procs

    def kept_rows(
        self, kept: Kept, types: Sequence[Any] | None = None, params: dict[str, Any] | None = None
    ) -> tuple[Sequence[Any], tuple[Processor | None, ...]]:
        """``rows`` of a statement the plan keeps: as the driver's SQL (``_driver``), else executed by
        SQLAlchemy."""
        driver = self.driver
        made = driver_sql(kept, self.connection) if driver is not None else None
        if driver is None or made is None:
            return self.limited_rows(kept.stmt, types, params)
        sql, compiled, bind = made
        rows, description = run(self.connection, driver, sql, compiled, bind, params or {})
        return rows, self._processors(types, description)

    def _processors(self, types: Sequence[Any] | None, description: Sequence[Any]) -> tuple[Processor | None, ...]:
        if types is None:
            return (None,) * len(description)
        return processors(self.dialect, types, [d[1] for d in description])

    def scalar(self, stmt: Select[Any]) -> Any:
        return self.connection.execute(self.limited(stmt)).scalar_one()

    def among(self, column: Any, keys: list[Any]) -> ColumnElement[bool]:
        """``column IN keys``, as one bound value (``_among``)."""
        kind, value = _keys_kind(self.dialect.name, keys)
        return _among(column, kind, value)

    def template(
        self, cache: dict[Any, Any], key: Any, keys: list[Any], make: Callable[[Callable[[Any], Any]], Select[Any]]
    ) -> tuple[Kept, dict[str, Any]]:
        """The limited statement ``make(among)`` keeps in ``cache`` under ``key`` (and this principal's
        jurisdiction), ``among(column)`` standing for ``column IN keys``; and the parameters that bind
        ``keys`` to it. The same statement object runs again for other keys: SQLAlchemy computes its
        cache key once, not at each run."""
        kind, value = _keys_kind(self.dialect.name, keys)
        full = (key, kind, self.dialect.name, self.scope)
        kept = cache.get(full)
        if kept is None:
            if len(cache) > 256:
                cache.clear()
            kept = cache[full] = Kept(self.limited(make(lambda column: _among(column, kind))))
        return kept, {"keys": value}


def _keys_kind(dialect: str, keys: list[Any]) -> tuple[str, Any]:
    """How ``keys`` are bound as one value (see ``_among``), and the value."""
    if all(type(k) is int for k in keys):
        if dialect == "postgresql":
            return "bigint[]", keys
        if dialect == "sqlite":
            return "json", orjson.dumps(keys).decode()
    if all(type(k) is str for k in keys):
        if dialect == "postgresql":
            return "text[]", keys
        if dialect == "sqlite":
            return "json", orjson.dumps(keys).decode()
    return "expanding", keys


def _among(column: Any, kind: str, value: Any = None) -> ColumnElement[bool]:
    """``column IN keys`` as one bound parameter ``keys``, so that the statement's SQL is the same for
    any number of keys: on PostgreSQL ``= ANY(array)`` (prepared once by the driver) for integer or
    string keys; on SQLite ``IN (SELECT value FROM json_each(keys))``, the keys a JSON array (SQLite's
    own table-valued function: no parameter per key, nothing to splice at run); otherwise an expanding
    parameter (the statement compiled once, the list spliced in at run)."""
    param = {"value": value} if value is not None else {}
    if kind == "bigint[]":
        return column == any_(bindparam("keys", type_=_BIGINT_ARRAY, **param))
    if kind == "text[]":
        return column == any_(bindparam("keys", type_=_TEXT_ARRAY, **param))
    if kind == "json":
        each = func.json_each(bindparam("keys", type_=Text(), **param)).table_valued("value")
        return column.in_(select(each.c.value))
    return column.in_(bindparam("keys", expanding=True, **param))


def _read_and_build(
    plan: Plan, reads: list[_RootRead], connection: Connection, principal: Principal
) -> ExecutionResult:
    """Every root's rows read and its answer built (on the plan's thread)."""
    reader = _Reader(connection, principal)
    pages = iter(reads)
    data: dict[str, Any] = {}
    errors: list[GraphQLError] = []
    for root in plan.roots:
        if isinstance(root, RootTypename):
            data[root.key] = "Query"
            continue
        read = next(pages)
        try:
            data[root.key] = _page(read, reader)
        except HubError as exc:  # a statement stopped by the time limit (QueryTimeout)
            errors.append(located_error(exc, [root.node], [root.key]))
    return ExecutionResult(data=None, errors=errors) if errors else ExecutionResult(data=data)


def _page(read: _RootRead, reader: _Reader) -> dict[str, Any]:
    """One root list's connection: its rows, their objects, and the parts the operation selected."""
    root, first, sort_index = read.root, read.first, read.sort_index
    rows, procs = reader.kept_rows(read.stmt, read.types, read.params)
    total = reader.scalar(read.count) if read.count is not None else None
    has_next = len(rows) > first
    rows = rows[:first]
    nodes = _materialize(root.target, rows, procs, reader, read.join)
    return page_answer(root.parts, rows, nodes, has_next=has_next, total=total, sort_index=sort_index, procs=procs)


#: A plan whose last run (statements and objects) took less than this runs on the event loop's thread
#: next time on SQLite (``_in_read_connection``); its statements are stopped after ``INLINE_LEASH``.
INLINE_BELOW = 0.005
INLINE_LEASH = 0.005


async def _in_read_connection(
    context: Context, work: Callable[[Connection], T], pace: dict[Any, float] | None = None, key: Any = None
) -> T:
    """``work(connection)`` on a synchronous connection of the engine compiled plans read with (its
    statements time-limited as the request's, ``hub.db.make_read_engine``), every statement of the plan in
    one go — or, without one, on the request's async session's connection.

    - PostgreSQL (an async engine): in one greenlet, its I/O waiting on the event loop.
    - SQLite: on a worker thread, one hop there and back. A plan that took less than ``INLINE_BELOW`` the
      last time (``pace[key]``: the run's time by the plan's page sizes) runs on the event loop's thread
      instead: the hop costs more than such a plan's statements, and while Python builds its objects the
      loop could not run anyway (the GIL). Its statements are stopped after ``INLINE_LEASH``
      (``hub.db.leash``), and then it runs on a worker thread under the request's own time limit: the
      loop never waits on a slow statement for longer than that."""
    engine = context.read_engine or context.sync_engine
    if engine is None:
        connection = await context.session.connection()
        return await connection.run_sync(work)
    if isinstance(engine, AsyncEngine):
        # The whole read in one greenlet: the checkout, the plan's statements, the checkin.
        return await greenlet_spawn(_on_engine, engine.sync_engine, work)
    # (only the read engine's statements can be leashed: it always has a time limit, hub.db)
    inline = engine is context.read_engine and engine.dialect.name == "sqlite"
    paces = pace if pace is not None and inline else None
    if paces is not None and len(paces) > 256:
        paces.clear()
    if paces is not None and paces.get(key, INLINE_BELOW) < INLINE_BELOW:
        started = time.perf_counter()
        try:
            with engine.connect() as connection:
                leash(connection, INLINE_LEASH)
                answer = work(connection)
        except Leashed:
            paces[key] = INLINE_BELOW
        else:
            paces[key] = time.perf_counter() - started
            return answer

    def run() -> T:
        started = time.perf_counter()
        try:
            return _on_engine(engine, work)
        finally:
            if paces is not None:
                paces[key] = time.perf_counter() - started

    return await asyncio.to_thread(run)


def _on_engine(engine: Engine, work: Callable[[Connection], T]) -> T:
    """``work`` on a connection of ``engine``; once more on a new one when the pooled one was dead (the
    server restarted, or ended it): the read engine does not ping before each checkout
    (``hub.db.make_read_engine``), and a plan only reads. (A run cancelled while it waits on the server —
    the client went away — leaves no connection behind: SQLAlchemy's pool throws it away, checked by
    ``tests/hub/test_app_compiled.py``.)"""
    try:
        with engine.connect() as connection:
            return work(connection)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    with engine.connect() as connection:
        return work(connection)


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


def _select(plan: ObjectPlan, join: bool, extra: Sequence[Any] = ()) -> tuple[Select[Any], tuple[Any, ...]]:
    """``SELECT`` the plan's columns (and ``extra``) from its model, to-one relations outer-joined when
    ``join``: the jurisdiction criteria of ``hub.access`` apply to every joined entity as to the loaders'
    statements. With the SQL types of its columns."""
    key = (join, tuple(c.key for c in extra))
    made = plan.statements.get(key)
    if made is None:
        columns, joins = _columns(plan, plan.model, join)
        stmt = select(*columns, *extra).select_from(plan.model)
        for alias, on in joins:
            stmt = stmt.outerjoin(alias, on)
        made = plan.statements[key] = (stmt, tuple(c.type for c in (*columns, *extra)))
    return made


def _read_indexes(plan: ObjectPlan) -> list[int]:
    """The plan's columns read as values rather than answers: relation keys (bound again as parameters,
    matched with the children's) and the columns a leaf's function reads (``Leaf.reads``)."""
    indexes: list[int] = []
    for f in plan.fields:
        if isinstance(f, (NestedPage, RelationField)):
            indexes.append(f.key_index)
            if isinstance(f, NestedPage):
                indexes.extend(f.match_indexes)
        elif isinstance(f, Leaf):
            indexes.extend(f.reads)
    return indexes


def _materialize(
    plan: ObjectPlan, rows: Sequence[Any], procs: Sequence[Processor | None], reader: _Reader, join: bool
) -> list[dict[str, Any]]:
    """The objects of ``rows`` (each: the plan's columns, then its joined relations' columns, as the
    driver gives them, ``procs`` their result processors), the other relations read level by level (one
    statement per relation)."""
    rows, procs = process_at(rows, procs, _read_indexes(plan))
    relations: list[Any] = []
    own = len(plan.columns)
    offset = own
    for f in plan.fields:
        if isinstance(f, NestedPage):
            relations.append(_nested_page(f, rows, reader, join))
            continue
        if not isinstance(f, RelationField):
            continue
        if f.joined and join:
            width = f.target.width(join)
            slices = [r[offset : offset + width] for r in rows]
            sub_procs = procs[offset : offset + width]
            offset += width
            bi = f.target.column(getattr(f.target.model, f.relation.by))
            present = [s for s in slices if s[bi] is not None]
            objects = iter(_materialize(f.target, present, sub_procs, reader, join))
            relations.append([None if s[bi] is None else next(objects) for s in slices])
        else:
            relations.append(_relation_getter(f, rows, reader, join))
    dialect = reader.dialect.name
    key = (join, dialect, tuple(procs[:own]))
    build = plan.builders.get(key)
    if build is None:
        if len(plan.builders) > 64:
            plan.builders.clear()
        build = plan.builders[key] = _builder(plan, join, dialect, procs[:own])
    return build(rows, relations)


def _nested_page(f: NestedPage, rows: Sequence[Any], reader: _Reader, join: bool) -> Callable[[Any], Any]:
    """A connection of each row (``schema.compiled._nested``); a bad cursor or page size is answered by
    the interpreter, whose error carries the parent's path and nulls what it must."""
    try:
        return page_getter(
            f,
            rows,
            reader,
            columns=lambda target, entity: _columns(target, entity, join),
            materialize=lambda target, child_rows, procs: _materialize(target, child_rows, procs, reader, join),
        )
    except QueryTimeout:
        raise  # the time limit is the answer, not a reason to read again
    except HubError as exc:
        raise _Fallback from exc


def _builder(
    plan: ObjectPlan, join: bool, dialect: str, procs: Sequence[Processor | None]
) -> Callable[[Sequence[Any], list[Any]], list[dict[str, Any]]]:
    """A function turning rows (as the driver gives them, ``procs`` the result processors of the plan's
    columns) into the plan's objects, generated once: one dict display per row, each value turned into
    its answer inline (``schema.compiled._values.answer``: the processor, the serializer, the mask) — no
    call per field where none is needed."""
    names: dict[str, Any] = {"Fallback": _Fallback}
    items, non_null, rel = [], [], 0
    for j, f in enumerate(plan.fields):
        # A non-null field read from a column is null exactly when the column is (a processor, a
        # serializer and the mask never answer null for a value): the test reads the row, not the dict.
        null_test = f"d[{f.key!r}] is None"
        proc = procs[f.index] if isinstance(f, (Leaf, Masked)) and f.index is not None else None
        if proc is not None:
            names[f"q{j}"] = proc
        if isinstance(f, Leaf) and f.of_value is not None:
            names[f"p{j}"] = f.of_value
            value = f"row[{f.index}]" if proc is None else f"(None if (v := row[{f.index}]) is None else q{j}(v))"
            expr = f"p{j}({value})"
        elif isinstance(f, Leaf) and f.index is not None:
            null_test = f"row[{f.index}] is None"
            convert = answer(plan.columns[f.index].type, dialect, proc, f.serialize)
            if convert is None:
                expr = f"row[{f.index}]"
            else:
                names[f"s{j}"] = convert
                expr = f"(None if (v := row[{f.index}]) is None else s{j}(v))"
        elif isinstance(f, Leaf):
            names[f"f{j}"] = f.value
            expr = f"f{j}(row)"
        elif isinstance(f, Masked):
            null_test = f"row[{f.index}] is None"
            names[f"m{j}"] = f.mask
            value = "v" if proc is None else f"q{j}(v)"
            expr = f"(None if (v := row[{f.index}]) is None else m{j}({value}))"
        else:
            expr = f"r{rel}[n]" if f.joined and join else f"r{rel}(row)"
            rel += 1
        items.append(f"{f.key!r}: {expr}")
        if f.non_null:
            non_null.append(null_test)
    unpack = "".join(f"r{i}, " for i in range(rel))
    lines = [
        "def build(rows, relations):",
        f"    {unpack}= relations" if rel else "    pass",
        "    out = []",
        "    for n, row in enumerate(rows):",
        f"        d = {{{', '.join(items)}}}",
    ]
    if non_null:
        # The interpreter reports a null in a non-null field (and nulls the parent) its own way.
        lines.append(f"        if {' or '.join(non_null)}:")
        lines.append("            raise Fallback")
    lines += ["        out.append(d)", "    return out"]
    exec(compile("\n".join(lines), f"<compiled {plan.type_name}>", "exec"), names)
    build: Callable[[Sequence[Any], list[Any]], list[dict[str, Any]]] = names["build"]
    return build


def _relation_getter(f: RelationField, rows: Sequence[Any], reader: _Reader, join: bool) -> Callable[[Any], Any]:
    """A relation the rows do not carry: one statement for all of them, as its loader would run it."""
    relation, target, ki = f.relation, f.target, f.key_index
    keys = list(dict.fromkeys(k for k in (r[ki] for r in rows) if k is not None))
    if relation.many:
        if not keys:
            return lambda _row: []
        fk = relation.fk
        order = relation.order if relation.order is not None else target.model.id  # type: ignore[attr-defined]
        fi = target.column(fk)
        base, types = _select(target, join)
        stmt, params = reader.template(
            target.statements, ("many", id(relation), join), keys, lambda among: base.where(among(fk)).order_by(order)
        )
        child_rows, procs = reader.kept_rows(stmt, types, params)
        child_rows, procs = process_at(child_rows, procs, [fi])  # matched with the parents' keys
        objects = _materialize(target, child_rows, procs, reader, join)
        grouped: dict[Any, list[dict[str, Any]]] = {}
        for r, o in zip(child_rows, objects, strict=True):
            grouped.setdefault(r[fi], []).append(o)
        return lambda row: [] if row[ki] is None else grouped.get(row[ki], [])
    if not keys:
        return lambda _row: None
    by = getattr(target.model, relation.by)
    bi = target.column(by)
    base, types = _select(target, join)
    stmt, params = reader.template(
        target.statements, ("one", id(relation), join), keys, lambda among: base.where(among(by))
    )
    child_rows, procs = reader.kept_rows(stmt, types, params)
    child_rows, procs = process_at(child_rows, procs, [bi])
    objects = _materialize(target, child_rows, procs, reader, join)
    found = {r[bi]: o for r, o in zip(child_rows, objects, strict=True)}
    return lambda row: found.get(row[ki])
