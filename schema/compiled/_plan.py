"""What a compiled operation is made of: root pages, objects read from rows, and the fields of each.

A plan is a tree built once per document. Running it reads rows (a few batched statements, never one
per value) and assembles the answer with plain Python functions of a row — no resolver, no Task,
no graphql-core execution per field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graphql import DocumentNode, FieldNode, OperationDefinitionNode, VariableDefinitionNode
    from sqlalchemy.orm import InstrumentedAttribute
    from strawberry import Schema
    from strawberry.types.field import StrawberryField

    from schema.prefetch import PagedRelation, Relation


@dataclass(frozen=True, slots=True)
class Fallback:
    """A field the plan cannot answer like the interpreter, and why (``explain``)."""

    path: str
    reason: str


@dataclass(slots=True)
class Leaf:
    """A value computed from the row alone: ``value(row)``, ``None`` allowed unless ``non_null``.

    Rows are the driver's (``schema.compiled._values``): a leaf with an ``index`` is read from that
    column and converted there, the result processor fused with ``serialize``; ``value`` is called only
    for a leaf without one."""

    key: str
    value: Callable[[Any], Any]
    non_null: bool = False
    #: A column's value: its index in the row and the GraphQL serializer (``None`` when the value is
    #: already what it serialises to), so that the generated builder reads it inline.
    index: int | None = None
    serialize: Callable[[Any], Any] | None = None
    #: A function of one column's value, null included (a pure field of one column): ``of_value(row[index])``.
    of_value: Callable[[Any], Any] | None = None
    #: Without ``index``: the columns ``value`` reads (processed as SQLAlchemy would before it is called).
    reads: tuple[int, ...] = ()


@dataclass(slots=True)
class Masked:
    """A free-text field: masked (``hub.identifiers.mask_text``) unless ``reveal`` — which the plan does
    not do (an unmasked read is audited per row): a run whose ``reveal`` variable is true falls back."""

    key: str
    index: int
    mask: Callable[[str], str]
    non_null: bool = False


@dataclass(slots=True)
class RelationField:
    """A to-one or small to-many relation: one statement for all parents of a level."""

    key: str
    relation: Relation
    key_index: int
    target: ObjectPlan
    non_null: bool = False
    #: A to-one relation by the target's primary key: outer-joined into the parent's statement.
    joined: bool = False


@dataclass(slots=True)
class ObjectPlan:
    """An object read from rows of ``model``: the columns to select and the fields to build."""

    type_name: str
    model: type
    columns: list[InstrumentedAttribute[Any]] = field(default_factory=list)
    fields: list[Leaf | Masked | RelationField | NestedPage] = field(default_factory=list)
    #: Its SELECT … FROM … OUTER JOIN … and its columns' SQL types, built once per (join, extra columns)
    #: (``schema.compiled._run``), and its generated row-to-object builder, per join, dialect and result
    #: processors of its columns.
    statements: dict[Any, Any] = field(default_factory=dict)
    builders: dict[Any, Any] = field(default_factory=dict)

    def width(self, join: bool) -> int:
        """Columns a row of this object takes in its parent's statement (its joined relations' too)."""
        if not join:
            return len(self.columns)
        return len(self.columns) + sum(
            f.target.width(join) for f in self.fields if isinstance(f, RelationField) and f.joined
        )

    def column(self, attr: InstrumentedAttribute[Any]) -> int:
        """The index of ``attr`` in the row, adding it to the selected columns when new."""
        for i, c in enumerate(self.columns):
            if c.key == attr.key:
                return i
        self.columns.append(attr)
        return len(self.columns) - 1


@dataclass(slots=True)
class PageField:
    """A connection's selections: ``edges { cursor node }``, ``nodes``, ``pageInfo``."""

    key: str
    kind: str  # "edges" | "nodes" | "pageInfo" | "totalCount" | "typename"
    parts: list[tuple[str, str]] = field(default_factory=list)  # edges: (key, "cursor"|"node"|"typename")
    #: pageInfo: (key, "hasNextPage"|"endCursor"|"startCursor"|"typename")
    typename: str = ""


@dataclass(slots=True)
class NestedPage:
    """A connection field of an object (``schema.prefetch.PagedRelation``): a page per parent, all
    parents' pages in one statement (``schema.compiled._nested``); ``first`` / ``after`` and the field's
    own arguments read at run time."""

    key: str
    paged: PagedRelation
    node: FieldNode
    graphql_field: Any
    key_index: int
    parts: list[PageField]
    target: ObjectPlan
    #: The sort columns' indexes in a target row (the cursor of an edge).
    sort_index: list[int] = field(default_factory=list)
    counted: bool = False
    #: The field's own arguments (``PagedRelation.where``'s): (GraphQL name, Python name).
    arguments: tuple[tuple[str, str], ...] = ()
    #: The indexes in a parent row of ``PagedRelation.match``'s parent attributes.
    match_indexes: tuple[int, ...] = ()
    non_null: bool = True
    joined: bool = False  # never in the parent's statement


@dataclass(slots=True)
class RootPage:
    """A root list served by ``schema.query._page``: its resolver runs with the converted arguments and
    hands back a ``PageRequest`` (filters, jurisdiction-independent conditions, sort, first, after)."""

    key: str
    node: FieldNode
    field: StrawberryField
    graphql_field: Any
    connection_type: str
    parts: list[PageField]
    target: ObjectPlan


@dataclass(slots=True)
class RootTypename:
    key: str


@dataclass(slots=True)
class Plan:
    """A validated operation and, when every field compiles, its roots; else the fallbacks (``explain``)."""

    schema: Schema
    text: str
    sha256: str
    operation_name: str | None
    document: DocumentNode | None
    operation: OperationDefinitionNode | None
    variable_definitions: tuple[VariableDefinitionNode, ...] = ()
    roots: list[RootPage | RootTypename] = field(default_factory=list)
    fallbacks: list[Fallback] = field(default_factory=list)
    #: Variables given as ``reveal``: a run where one is true goes to the interpreter (it audits each row).
    reveal_variables: set[str] = field(default_factory=set)
    #: (cost, root fields) by the values of the variables that set a page size (``schema.cost``).
    costs: dict[Any, Any] = field(default_factory=dict)
    #: How long its last run read and built (seconds), by the same values (``schema.compiled._run``).
    paces: dict[Any, float] = field(default_factory=dict)

    @property
    def compiled(self) -> bool:
        """True when the plan answers the operation itself (no fallback to the interpreter)."""
        return self.document is not None and not self.fallbacks
