"""Prefetching a page's relations, so that relation fields resolve without a coroutine per value.

A page of 100 clues asking for each clue's enterprise and project would otherwise run one async
resolver — a coroutine, a Task and a DataLoader future — per clue and relation, and that, not the
SQL, dominated the request (bench/README.md). Instead, the query root looks at the selection, loads
each selected relation of the whole page in one batch (the same DataLoaders, so still one statement
per relation), level by level, and the relation resolvers then find their value in the loader's
cache and return it synchronously. A value that was not prefetched (an unusual selection) still
comes through the loader, asynchronously: prefetching changes speed, never results.

A relation is declared once, on its type, with ``to_one`` or ``to_many``: that builds the field's
resolver and, when the type is declared (``schema.types._common.plain_type``), its entry here. A large
to-many relation is a connection declared with ``to_pages`` (not prefetched: each is one statement for
all parents already, ``Loaders.child_pages``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar, cast

import strawberry
from strawberry.types import Info
from strawberry.types.base import get_object_definition
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField
from strawberry.utils.str_converters import to_camel_case

from schema.pagination import Connection, SortSpec, check_first

if TYPE_CHECKING:
    from sqlalchemy.orm import InstrumentedAttribute
    from sqlalchemy.sql.elements import ColumnElement
    from strawberry.dataloader import DataLoader

    from schema.loaders import Loaders


@dataclass(frozen=True, slots=True)
class Relation:
    """A relation field: which loader serves it, the key a parent row gives it, and the target model."""

    loader: Callable[[Loaders], DataLoader[Any, Any]]
    key: Callable[[Any], Any]
    target: type[Any]
    many: bool = False
    #: What the loader is made of, for code that builds the same statement itself (``schema.compiled``):
    #: the parent's key attribute, the target's matching column (``by`` for a to-one, ``fk`` for a
    #: to-many), a to-many's order and limit.
    key_attr: str = "id"
    by: str = "id"
    fk: Any = None
    order: Any = None
    limit: int | None = None


#: (model, GraphQL field name) → relation; ``register_relations`` fills it in as the types are declared.
RELATIONS: dict[tuple[type[Any], str], Relation] = {}
#: A relation field's resolver → its relation, until its type registers it.
_DECLARED: dict[object, Relation] = {}


def to_one(graphql_type: Any, target: type[Any], *, key: str, by: str = "id", description: str | None = None) -> Any:
    """A field of ``graphql_type`` (or null): the ``target`` row whose ``by`` column equals the parent's
    ``key`` attribute. The one declaration both resolves the field and lets a page prefetch it."""
    relation = Relation(lambda loaders: loaders.by_id(target, by), attrgetter(key), target, key_attr=key, by=by)
    return _relation_field(relation, graphql_type | None, description=description)


def to_many(
    graphql_type: Any,
    fk: InstrumentedAttribute[Any],
    *,
    key: str = "id",
    order: ColumnElement[Any] | InstrumentedAttribute[Any] | None = None,
    limit: int | None = None,
    description: str | None = None,
) -> Any:
    """A list field of ``graphql_type``: the rows whose ``fk`` equals the parent's ``key`` attribute, in
    ``order`` (the primary key's by default), at most ``limit`` of them. For small, bounded lists:
    large relations are connections (``to_pages``)."""
    target = cast("type[Any]", fk.class_)  # a mapped class's column, never an alias's
    relation = Relation(
        lambda loaders: loaders.children(target, fk, order=order, limit=limit),
        attrgetter(key),
        target,
        many=True,
        key_attr=key,
        fk=fk,
        order=order,
        limit=limit,
    )
    return _relation_field(relation, list[graphql_type], description=description)


@dataclass(frozen=True, slots=True)
class PagedRelation:
    """A connection field of keyset pages per parent (``Loaders.child_pages``): the rows of ``target``
    whose ``fk`` equals the parent's ``key_attr``, in ``sort`` order, ``first`` / ``after`` its arguments.

    Both the field's resolver (``load_pages``) and ``schema.compiled`` read the page from this one
    declaration, so that a condition of the field's own is written once."""

    target: type[Any]
    fk: Any
    sort: SortSpec
    key_attr: str = "id"
    #: Further (parent attribute, ``target`` column) pairs a child matches besides ``fk``: a team's
    #: members are its project's workers of its team number. The parent's attribute is never null
    #: (the loader would read ``IS NULL``, a compiled plan nothing).
    match: tuple[tuple[str, Any], ...] = ()
    #: The field's own arguments beyond ``first`` / ``after`` (by their Python names) → the conditions
    #: the children meet. It checks them as the resolver must, raising ``HubError`` for a bad value.
    where: Callable[..., tuple[ColumnElement[bool], ...]] | None = None

    def conditions(self, arguments: dict[str, Any]) -> tuple[ColumnElement[bool], ...]:
        """The conditions of the field's own ``arguments`` (checked: ``HubError``)."""
        return self.where(**arguments) if self.where is not None else ()


#: A connection field's resolver → its declaration (``schema.compiled`` builds the loader's statement).
PAGED: dict[object, PagedRelation] = {}

_Resolver = TypeVar("_Resolver", bound=Callable[..., Any])


def pages_of(paged: PagedRelation) -> Callable[[_Resolver], _Resolver]:
    """Declare that a connection resolver with arguments of its own answers ``load_pages(…, paged, …)``
    with them (and nothing else), so that ``schema.compiled`` may read its pages itself."""

    def declare(resolver: _Resolver) -> _Resolver:
        PAGED[resolver] = paged
        return resolver

    return declare


async def load_pages(
    info: Info, paged: PagedRelation, parent: Any, *, first: int | None, after: str | None, **arguments: Any
) -> Connection:
    """``parent``'s page of ``paged``: the field's own ``arguments`` checked first (``paged.where``),
    then ``first``; read for all parents in one statement per page size, cursor and conditions."""
    where = paged.conditions(arguments)
    n = check_first(first, limit=info.context.settings.max_page_size)
    matched = tuple(getattr(parent, attr) for attr, _ in paged.match)
    where += tuple(column == value for (_, column), value in zip(paged.match, matched, strict=True))
    loader = info.context.loaders.child_pages(
        paged.target,
        paged.fk,
        sort=paged.sort,
        first=n,
        after=after,
        where=where,
        where_key=(id(paged), tuple(arguments.items()), matched) if where else None,
    )
    return await loader.load(getattr(parent, paged.key_attr))


def to_pages(
    graphql_type: Any,
    fk: InstrumentedAttribute[Any],
    *,
    sort: SortSpec,
    key: str = "id",
    match: tuple[tuple[str, Any], ...] = (),
    description: str | None = None,
) -> Any:
    """A connection field of ``graphql_type`` taking ``first`` / ``after``: a page of the rows whose ``fk``
    equals the parent's ``key`` attribute (and ``match``'s columns its attributes), in ``sort`` order,
    read for all parents in one statement."""
    paged = PagedRelation(cast("type[Any]", fk.class_), fk, sort, key, match)

    async def resolve_pages(
        parent: strawberry.Parent[Any], info: Info, first: int | None = None, after: str | None = None
    ) -> Any:
        return await load_pages(info, paged, parent, first=first, after=after)

    resolve_pages.__annotations__["return"] = Connection[graphql_type]
    PAGED[resolve_pages] = paged
    return strawberry.field(resolver=resolve_pages, description=description)


def _relation_field(relation: Relation, returns: Any, *, description: str | None) -> Any:
    def resolve_relation(parent: strawberry.Parent[Any], info: Info) -> Any:
        return resolve(info.context.loaders, relation, parent)

    # The field's GraphQL type: strawberry reads it from the resolver, as it would from a method's.
    resolve_relation.__annotations__["return"] = returns
    _DECLARED[resolve_relation] = relation
    return strawberry.field(resolver=resolve_relation, description=description)


def register_relations(model: type[Any], strawberry_type: type) -> None:
    """Record the relation fields of ``strawberry_type`` (served from ``model`` rows) for ``prefetch``."""
    for field in get_object_definition(strawberry_type, strict=True).fields:
        relation = _DECLARED.get(field.base_resolver.wrapped_func) if field.base_resolver else None
        if relation is not None:
            RELATIONS[(model, field.graphql_name or to_camel_case(field.python_name))] = relation


def resolve(loaders: Loaders, relation: Relation, row: Any) -> Any:
    """The relation's value: from the loader's cache when prefetched (sync), else a loader future."""
    key = relation.key(row)
    if key is None:
        return [] if relation.many else None
    loader = relation.loader(loaders)
    future = loader.cache_map.get(key)
    if future is not None and future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return loader.load(key)


def _fields(selections: Iterable[Any]) -> Iterable[SelectedField]:
    for sel in selections:
        if isinstance(sel, SelectedField):
            yield sel
        elif isinstance(sel, (InlineFragment, FragmentSpread)):
            yield from _fields(sel.selections)


def node_selections(connection_field: SelectedField) -> list[SelectedField]:
    """The fields selected on a connection's nodes (``edges { node { … } }`` and ``nodes { … }``)."""
    out: list[SelectedField] = []
    for f in _fields(connection_field.selections):
        if f.name == "nodes":
            out.extend(_fields(f.selections))
        elif f.name == "edges":
            for e in _fields(f.selections):
                if e.name == "node":
                    out.extend(_fields(e.selections))
    return out


async def prefetch(
    loaders: Loaders, model: type[Any], rows: list[Any], selections: list[SelectedField], *, depth: int = 0
) -> None:
    """Load every selected relation of ``rows`` (and theirs, recursively) into the loaders' caches."""
    if not rows or depth > 6:
        return
    wanted: dict[str, list[SelectedField]] = {}
    for f in selections:
        if (model, f.name) in RELATIONS:
            wanted.setdefault(f.name, []).append(f)
    for name, fields in wanted.items():
        relation = RELATIONS[(model, name)]
        keys = list(dict.fromkeys(k for k in (relation.key(r) for r in rows) if k is not None))
        if not keys:
            continue
        values = await relation.loader(loaders).load_many(keys)
        targets = [v for vs in values for v in vs] if relation.many else [v for v in values if v is not None]
        sub = [s for f in fields for s in _fields(f.selections)]
        await prefetch(loaders, relation.target, targets, sub, depth=depth + 1)
