"""Connections inside a compiled answer: a keyset page per parent, all parents' pages in one statement.

A nested connection (a ``schema.prefetch.PagedRelation``: ``to_pages``, or a resolver declared with
``pages_of``) is read as its loader reads it (``Loaders.child_pages``): ``ROW_NUMBER() OVER (PARTITION
BY fk ORDER BY sort)`` over the children of every parent (after the cursor, when one is given, and
meeting the conditions of the field's own arguments), the first ``first + 1`` of each partition kept —
so a parent with thousands of children costs no more than one with ``first``. A relation that also
matches parent attributes (``PagedRelation.match``: a team's workers) partitions by the fk and those
columns, its parents' keys compared as tuples. It is read with the plan's reader: the subquery and its
alias carry the principal's criteria (``hub.access.limiting_options``), as the session event gives
them to the loader's statement.

The page size, the cursor and the field's own arguments (``payMonth``, ``from`` / ``to`` …) are read at
run time from the operation's variables (``bind_arguments``); they are checked as the resolver checks
them (``PagedRelation.where``, ``check_first``, ``decode_cursor``), and a ``HubError`` they raise is the
caller's to hand to the interpreter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Protocol

from graphql.execution.values import VariableValues, get_argument_values
from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import aliased

from schema.compiled._values import Processor, process_at
from schema.pagination import check_first, decode_cursor, encode_cursor, jsonable

if TYPE_CHECKING:
    from schema.compiled._plan import NestedPage, ObjectPlan, PageField


@dataclass(frozen=True, slots=True)
class RunArguments:
    """What a nested connection's arguments are read with: the run's coerced variables, and the
    configured maximum page size."""

    variables: VariableValues
    max_page_size: int


#: The arguments of the plan being run (set by ``bind_arguments`` for the run's task; a worker thread
#: of ``asyncio.to_thread`` sees its caller's context).
_ARGUMENTS: ContextVar[RunArguments] = ContextVar("compiled_nested_arguments")


def bind_arguments(variables: VariableValues, *, max_page_size: int) -> Token[RunArguments]:
    """Make the run's variables the ones nested connections read their ``first`` / ``after`` from."""
    return _ARGUMENTS.set(RunArguments(variables, max_page_size))


def release_arguments(token: Token[RunArguments]) -> None:
    _ARGUMENTS.reset(token)


class Reader(Protocol):
    """How the plan runs a statement (``schema.compiled._run._Reader``)."""

    def limited(self, stmt: Any) -> Any: ...
    def rows(
        self, stmt: Any, types: Sequence[Any] | None = None
    ) -> tuple[Sequence[Any], tuple[Processor | None, ...]]: ...
    def among(self, column: Any, keys: list[Any]) -> Any: ...


Columns = Callable[["ObjectPlan", Any], tuple[list[Any], list[tuple[Any, Any]]]]
Materialize = Callable[["ObjectPlan", Sequence[Any], Sequence["Processor | None"]], list[dict[str, Any]]]


def page_getter(
    f: NestedPage, rows: Sequence[Any], reader: Reader, *, columns: Columns, materialize: Materialize
) -> Callable[[Any], dict[str, Any]]:
    """The page of each parent row, as ``row → answer``: one statement for all of ``rows`` (and one
    GROUP BY when ``totalCount`` is selected, as ``Loaders.child_counts``), its nodes materialized
    together. ``columns(plan, entity)`` selects a plan's columns from an entity (its to-one relations
    outer-joined); ``materialize(plan, rows, procs)`` builds the objects of rows that carry them (as the
    driver gives them, ``procs`` their columns' result processors)."""
    if not rows:
        return lambda _row: {}  # never called: no parent, no resolver, no check (as the interpreter)
    arguments = _ARGUMENTS.get()
    values = get_argument_values(f.graphql_field, f.node, arguments.variables)
    paged, target = f.paged, f.target
    # As the resolver (``schema.prefetch.load_pages``): the field's own arguments checked, then first.
    where = paged.conditions({name: values[gql] for gql, name in f.arguments if gql in values})
    first = check_first(values.get("first"), limit=arguments.max_page_size)
    after = values.get("after")
    key_of = _parent_key(f.key_index, f.match_indexes)
    keys = list(dict.fromkeys(k for k in map(key_of, rows) if k is not None))
    fk, sort = paged.fk, paged.sort
    # A child's key: its fk (with the columns ``match`` pairs with the parent's attributes).
    by = [fk, *(column for _, column in paged.match)]
    matched = tuple_(*by) if paged.match else fk

    rn = func.row_number().over(partition_by=by, order_by=sort.order_by()).label("rn")
    inner = select(paged.target, rn).where(reader.among(matched, keys), *where)
    if after:  # as the loader: an empty cursor is no cursor
        inner = inner.where(sort.after(decode_cursor(after)))
    sub = reader.limited(inner).subquery()
    entity: Any = aliased(paged.target, sub)
    selected, joins = columns(target, entity)
    stmt = select(*selected).select_from(entity)
    for alias, on in joins:
        stmt = stmt.outerjoin(alias, on)
    stmt = stmt.where(sub.c.rn <= first + 1).order_by(*(getattr(entity, c.key) for c in by), sub.c.rn)
    child_key = [target.column(c) for c in by]
    child_rows, procs = reader.rows(stmt, [c.type for c in selected])
    child_rows, procs = process_at(child_rows, procs, child_key)  # matched with the parents' keys
    key_of_child = _parent_key(child_key[0], tuple(child_key[1:]))

    totals: dict[Any, int] = {}
    if f.counted:
        counts = select(*by, func.count()).where(reader.among(matched, keys), *where).group_by(*by)
        count_rows, count_procs = reader.rows(counts, [*(c.type for c in by), None])
        count_rows = process_at(count_rows, count_procs, range(len(by)))[0]
        key_of_count = _parent_key(0, tuple(range(1, len(by))))
        totals = {key_of_count(r): r[-1] for r in count_rows}

    grouped: dict[Any, list[Any]] = {}
    for r in child_rows:
        grouped.setdefault(key_of_child(r), []).append(r)
    # Only the page's rows are objects: the extra row tells that a next page exists, and nothing more
    # (the interpreter never resolves it, so its relations are not read).
    pages = {k: (rs[:first], len(rs) > first) for k, rs in grouped.items()}
    objects = iter(materialize(target, [r for rs, _ in pages.values() for r in rs], procs))
    answers: dict[Any, dict[str, Any]] = {}
    for k, (rs, has_next) in pages.items():
        nodes = [next(objects) for _ in rs]
        answers[k] = page_answer(
            f.parts, rs, nodes, has_next=has_next, total=totals.get(k, 0), sort_index=f.sort_index, procs=procs
        )
    for k, total in totals.items():  # children, but none after the cursor: still counted
        if k not in answers:
            answers[k] = page_answer(f.parts, [], [], has_next=False, total=total, sort_index=f.sort_index, procs=procs)
    empty = page_answer(f.parts, [], [], has_next=False, total=0, sort_index=f.sort_index, procs=procs)
    return lambda row: answers.get(key_of(row), empty)


def _parent_key(index: int, match_indexes: tuple[int, ...]) -> Callable[[Any], Any]:
    """A row's key at ``index`` — with ``match_indexes``, the tuple of those values (``None`` when
    one is null: no child matches it)."""
    if not match_indexes:
        return itemgetter(index)
    get = itemgetter(index, *match_indexes)

    def key(row: Any) -> Any:
        values = get(row)
        return None if None in values else values

    return key


def page_answer(
    parts: list[PageField],
    rows: Sequence[Any],
    nodes: list[dict[str, Any]],
    *,
    has_next: bool,
    total: int | None,
    sort_index: list[int],
    procs: Sequence[Processor | None],
) -> dict[str, Any]:
    """A connection's answer: its selected parts, from the page's ``rows`` (the cursors: their sort
    columns at ``sort_index``, as the driver gives them, ``procs`` the columns' result processors) and
    their objects ``nodes``."""

    def cursor(row: Any) -> str:
        values = [row[i] if (p := procs[i]) is None or row[i] is None else p(row[i]) for i in sort_index]
        return encode_cursor([jsonable(v) for v in values])

    cursors: list[str] | None = None

    out: dict[str, Any] = {}
    for part in parts:
        if part.kind == "typename":
            out[part.key] = part.typename
        elif part.kind == "totalCount":
            out[part.key] = total
        elif part.kind == "nodes":
            out[part.key] = nodes
        elif part.kind == "edges" and len(part.parts) == 1 and part.parts[0][1] == "node":
            key = part.parts[0][0]  # ``edges { node { … } }``, the usual selection
            out[part.key] = [{key: node} for node in nodes]
        elif part.kind == "edges":
            edges = []
            if cursors is None and any(what == "cursor" for _, what in part.parts):
                cursors = [cursor(r) for r in rows]
            for i, node in enumerate(nodes):
                edge: dict[str, Any] = {}
                for key, what in part.parts:
                    if what == "node":
                        edge[key] = node
                    elif what == "cursor":
                        edge[key] = cursors[i]  # type: ignore[index]
                    else:
                        edge[key] = part.typename
                edges.append(edge)
            out[part.key] = edges
        else:
            page_info: dict[str, Any] = {}
            for key, what in part.parts:
                if what == "hasNextPage":
                    page_info[key] = has_next
                elif what == "endCursor":  # the end cursors alone: not one per row
                    page_info[key] = cursor(rows[-1]) if rows else None
                elif what == "startCursor":
                    page_info[key] = cursor(rows[0]) if rows else None
                else:
                    page_info[key] = part.typename
            out[part.key] = page_info
    return out
