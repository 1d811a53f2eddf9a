"""From a document to a plan: what compiles, and why the rest falls back to the interpreter.

Compiled (answered from rows, identical to the interpreter by construction and by
``tests/schema/test_compiled.py``):

- root lists served by ``schema.query._page`` (their own resolver still turns the arguments into
  filters and checks them, then the plan reads the page);
- a connection's ``edges { cursor node }``, ``nodes``, ``pageInfo { hasNextPage endCursor startCursor }``,
  ``totalCount`` (the same COUNT statement as ``schema.pagination.paginate``);
- on types served straight from rows (``schema.types._common.plain_type``): column fields, ``id``,
  ``databaseId``, free text without ``reveal`` (masked as the resolver masks it), the pure fields of
  ``PURE_FIELDS``, relations declared with ``to_one`` / ``to_many`` (unlimited), nested, and
  connections declared with ``to_pages`` or ``pages_of`` (a page per parent, all parents in one
  statement, as ``Loaders.child_pages`` reads them; the field's own arguments — ``payMonth``,
  ``from`` / ``to`` — become the conditions its ``PagedRelation.where`` declares);
- ``__typename`` anywhere.

Everything else falls back, per operation, with the field and the reason listed by ``explain``:
mutations and subscriptions, ``@skip`` / ``@include``, introspection, resolvers with their own logic
(deadlines, similar clues, stats, a connection whose arguments no ``PagedRelation`` declares …),
unmasked reads of identifiers (the resolver audits each row), interfaces and unions.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from functools import partial
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    parse,
    specified_rules,
    validate,
)
from sqlalchemy import TypeDecorator
from sqlalchemy import inspect as sa_inspect

from hub.identifiers import mask_text
from schema.build import MAX_ALIASES, MAX_TOKENS, shape_rule
from schema.compiled._plan import (
    Fallback,
    Leaf,
    Masked,
    NestedPage,
    ObjectPlan,
    PageField,
    Plan,
    RelationField,
    RootPage,
    RootTypename,
)
from schema.permissions import Permissions
from schema.prefetch import _DECLARED, PAGED, PagedRelation
from schema.types._common import ROW_MODELS, to_global_id

if TYPE_CHECKING:
    from strawberry import Schema

#: Fields computed by a resolver that reads only the named columns of its row and nothing else (no
#: clock, no principal, no database): the plan calls the resolver itself with the row.
PURE_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("ChannelRecord", "channelName"): ("channel",),
    ("Clue", "colour"): ("colour",),
}

#: ``edges``' and ``pageInfo``'s fields the plan builds.
_EDGE_PARTS = {"cursor", "node", "__typename"}
_PAGE_INFO_PARTS = {"hasNextPage", "endCursor", "startCursor", "__typename"}


class _Unsupported(Exception):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.fallback = Fallback(path, reason)


def compile_operation(
    schema: Schema, document_text: str, operation_name: str | None = None, *, max_depth: int = 12
) -> Plan:
    """The plan of ``operation_name`` in ``document_text``: validated once (the schema's rules and
    limits); ``plan.compiled`` is false when any field must be served by the interpreter, and
    ``plan.fallbacks`` says which and why."""
    sha = hashlib.sha256(document_text.encode()).hexdigest()
    plan = Plan(
        schema=schema, text=document_text, sha256=sha, operation_name=operation_name, document=None, operation=None
    )
    try:
        document = parse(document_text, max_tokens=MAX_TOKENS)
    except GraphQLError as exc:
        plan.fallbacks.append(Fallback("", f"does not parse: {exc.message}"))
        return plan
    rules = [*specified_rules, shape_rule(max_depth=max_depth, max_aliases=MAX_ALIASES)]
    errors = validate(schema._schema, document, rules)
    if errors:
        plan.fallbacks.append(Fallback("", f"does not validate: {errors[0].message}"))
        return plan
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    if len(operations) != 1:
        plan.fallbacks.append(Fallback("", "no single operation to run (name it with operationName)"))
        return plan
    operation = operations[0]
    plan.document, plan.operation = document, operation
    plan.operation_name = operation.name.value if operation.name else operation_name
    plan.variable_definitions = tuple(operation.variable_definitions or ())
    if operation.operation is not OperationType.QUERY:
        plan.fallbacks.append(Fallback("", f"a {operation.operation.value}: only queries are compiled"))
        return plan
    compiler = _Compiler(
        schema, {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    )
    root_type = schema._schema.query_type
    assert root_type is not None
    for key, nodes in compiler.collect(root_type, [operation.selection_set], "").items():
        try:
            plan.roots.append(compiler.root(key, nodes))
        except _Unsupported as exc:
            compiler.fallbacks.append(exc.fallback)
    plan.fallbacks.extend(compiler.fallbacks)
    plan.reveal_variables = compiler.reveal_variables
    return plan


def explain(plan: Plan) -> str:
    """What the plan does with the operation: compiled, or which fields forced the fallback and why."""
    name = plan.operation_name or "(anonymous)"
    if plan.compiled:
        roots = ", ".join(r.key for r in plan.roots)
        return f"{name} ({plan.sha256[:12]}): compiled — roots {roots}; no resolver runs"
    lines = [f"{name} ({plan.sha256[:12]}): served by the interpreter, because"]
    lines += [f"  {f.path or '(operation)'}: {f.reason}" for f in plan.fallbacks]
    return "\n".join(lines)


def field_support(schema: Schema) -> dict[str, dict[str, str | None]]:
    """For every type served from rows, each field's reason to fall back (``None``: it compiles, when
    selected without ``reveal: true``)."""
    compiler = _Compiler(schema, {})
    out: dict[str, dict[str, str | None]] = {}
    for type_name in sorted(ROW_MODELS):
        model = _row_model(type_name)
        gtype = schema._schema.get_type(type_name)
        if model is None:
            continue
        if not isinstance(gtype, GraphQLObjectType):  # pragma: no cover - every row type is an object
            continue
        fields: dict[str, str | None] = {}
        for name, gfield in gtype.fields.items():
            leaf = isinstance(get_named_type(gfield.type), (GraphQLScalarType, GraphQLEnumType))
            probe = parse(f"{{ {name} }}" if leaf else f"{{ {name} {{ __typename }} }}")
            node = probe.definitions[0].selection_set.selections[0]  # type: ignore[attr-defined]
            try:
                compiler._field(ObjectPlan(type_name, model), gtype, name, [node], name)
                fields[name] = compiler.fallbacks.pop().reason if compiler.fallbacks else None
            except _Unsupported as exc:
                fields[name] = exc.fallback.reason
            except GraphQLError as exc:  # pragma: no cover - a required argument
                fields[name] = exc.message
        out[type_name] = fields
    return out


def _row_model(type_name: str) -> type | None:
    """The mapped class a type's values are rows of (``None`` for types served from other objects)."""
    model = ROW_MODELS.get(type_name)
    if model is None or sa_inspect(model, raiseerr=False) is None:
        return None
    return model


def _page_roots(schema: Schema) -> set[str]:
    """Root fields whose resolver answers with ``schema.query._page`` (so, a ``PageRequest`` when asked)."""
    out = set()
    query = schema.get_type_by_name("Query")
    for f in getattr(query, "fields", []):
        resolver = f.base_resolver
        if resolver is None or getattr(resolver.wrapped_func, "__module__", None) != "schema.query":
            continue  # other modules' roots (credit, stats, webhooks …) have pages of their own
        try:
            source = inspect.getsource(resolver.wrapped_func)
        except (OSError, TypeError):  # pragma: no cover - built without source
            continue
        if "return await _page(" in source:
            out.add(f.graphql_name or schema.config.name_converter.from_field(f))
    return out


class _Compiler:
    def __init__(self, schema: Schema, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.schema = schema
        self.gql = schema._schema
        self.fragments = fragments
        self.fallbacks: list[Fallback] = []
        self.reveal_variables: set[str] = set()
        self.page_roots = _page_roots(schema)

    # ---- selections ----------------------------------------------------------------------------

    def collect(self, parent: GraphQLObjectType, sets: list[SelectionSetNode], path: str) -> dict[str, list[FieldNode]]:
        """Fields by response key, in first-seen order, fragments expanded (as graphql-core collects them)."""
        out: dict[str, list[FieldNode]] = {}

        def walk(selection_set: SelectionSetNode, seen: frozenset[str]) -> None:
            for sel in selection_set.selections:
                if sel.directives:
                    raise _Unsupported(path, "a directive (@skip / @include) decides the selection at run time")
                if isinstance(sel, FieldNode):
                    out.setdefault(sel.alias.value if sel.alias else sel.name.value, []).append(sel)
                elif isinstance(sel, InlineFragmentNode):
                    if sel.type_condition is None or self._matches(sel.type_condition.name.value, parent):
                        walk(sel.selection_set, seen)
                elif isinstance(sel, FragmentSpreadNode):
                    name = sel.name.value
                    frag = self.fragments.get(name)
                    if frag is not None and name not in seen and self._matches(frag.type_condition.name.value, parent):
                        walk(frag.selection_set, seen | {name})

        for s in sets:
            walk(s, frozenset())
        return out

    def _matches(self, condition: str, parent: GraphQLObjectType) -> bool:
        cond = self.gql.get_type(condition)
        if cond is parent:
            return True
        return cond is not None and not isinstance(cond, GraphQLObjectType) and self.gql.is_sub_type(cond, parent)  # type: ignore[arg-type]

    # ---- roots ---------------------------------------------------------------------------------

    def root(self, key: str, nodes: list[FieldNode]) -> RootPage | RootTypename:
        name = nodes[0].name.value
        if name == "__typename":
            return RootTypename(key)
        if name.startswith("__"):
            raise _Unsupported(key, "introspection (allowed per role) is left to the interpreter")
        if len(nodes) > 1:
            raise _Unsupported(key, "the same root field selected twice under one name")
        if name not in self.page_roots:
            raise _Unsupported(key, f"Query.{name} is not a root list served by schema.query._page")
        gfield = self.gql.query_type.fields[name]  # type: ignore[union-attr]
        conn = get_named_type(gfield.type)
        assert isinstance(conn, GraphQLObjectType)
        node_type = get_named_type(conn.fields["edges"].type)
        node_type = get_named_type(node_type.fields["node"].type)
        target = self._object_shell(node_type, key)
        parts = self._connection(conn, target, node_type, nodes, key)
        strawberry_field = self.schema.get_field_for_type(field_name=name, type_name="Query")
        assert strawberry_field is not None
        for ext in strawberry_field.extensions:
            if not isinstance(ext, Permissions):
                raise _Unsupported(key, f"Query.{name} has a field extension ({type(ext).__name__})")
        return RootPage(key, nodes[0], strawberry_field, gfield, conn.name, parts, target)

    def _connection(
        self, conn: GraphQLObjectType, target: ObjectPlan, node_type: Any, nodes: list[FieldNode], key: str
    ) -> list[PageField]:
        """A connection's selected parts; its nodes' fields planned into ``target``."""
        parts: list[PageField] = []
        node_sets: list[SelectionSetNode] = []
        for ckey, cnodes in self.collect(conn, [n.selection_set for n in nodes if n.selection_set], key).items():
            cname = cnodes[0].name.value
            path = f"{key}.{ckey}"
            if cname == "__typename":
                parts.append(PageField(ckey, "typename", typename=conn.name))
            elif cname == "nodes":
                parts.append(PageField(ckey, "nodes"))
                node_sets += [n.selection_set for n in cnodes if n.selection_set]
            elif cname == "edges":
                edge_type = get_named_type(conn.fields["edges"].type)
                assert isinstance(edge_type, GraphQLObjectType)
                pf = PageField(ckey, "edges", typename=edge_type.name)
                for ekey, enodes in self.collect(
                    edge_type, [n.selection_set for n in cnodes if n.selection_set], path
                ).items():
                    ename = enodes[0].name.value
                    if ename not in _EDGE_PARTS:
                        raise _Unsupported(f"{path}.{ekey}", f"Edge.{ename} is not compiled")
                    pf.parts.append((ekey, ename))
                    if ename == "node":
                        node_sets += [n.selection_set for n in enodes if n.selection_set]
                parts.append(pf)
            elif cname == "pageInfo":
                info_type = get_named_type(conn.fields["pageInfo"].type)
                assert isinstance(info_type, GraphQLObjectType)
                pf = PageField(ckey, "pageInfo", typename=info_type.name)
                for ikey, inodes in self.collect(
                    info_type, [n.selection_set for n in cnodes if n.selection_set], path
                ).items():
                    iname = inodes[0].name.value
                    if iname not in _PAGE_INFO_PARTS:  # pragma: no cover - the schema has no others
                        raise _Unsupported(f"{path}.{ikey}", f"PageInfo.{iname} is not compiled")
                    pf.parts.append((ikey, iname))
                parts.append(pf)
            elif cname == "totalCount":
                parts.append(PageField(ckey, "totalCount"))
            else:  # pragma: no cover - a connection has no other fields
                self.fallbacks.append(Fallback(path, f"{conn.name}.{cname} is not compiled"))
        self._fill(target, node_type, node_sets, f"{key}.node")
        return parts

    # ---- objects -------------------------------------------------------------------------------

    def _object_shell(self, gtype: Any, path: str) -> ObjectPlan:
        if not isinstance(gtype, GraphQLObjectType):
            raise _Unsupported(path, f"{gtype} is an interface or union (resolved per row)")
        model = _row_model(gtype.name)
        if model is None:
            raise _Unsupported(path, f"{gtype.name} is not served straight from table rows")
        return ObjectPlan(gtype.name, model)

    def _fill(self, plan: ObjectPlan, gtype: GraphQLObjectType, sets: list[SelectionSetNode], path: str) -> None:
        for key, nodes in self.collect(gtype, sets, path).items():
            try:
                plan.fields.append(self._field(plan, gtype, key, nodes, f"{path}.{key}"))
            except _Unsupported as exc:
                self.fallbacks.append(exc.fallback)

    def _field(
        self, plan: ObjectPlan, gtype: GraphQLObjectType, key: str, nodes: list[FieldNode], path: str
    ) -> Leaf | Masked | RelationField | NestedPage:
        name = nodes[0].name.value
        if name == "__typename":
            type_name = gtype.name
            return Leaf(key, lambda _row: type_name, non_null=True)
        gfield = gtype.fields[name]
        non_null = isinstance(gfield.type, GraphQLNonNull)
        sfield = self.schema.get_field_for_type(field_name=name, type_name=gtype.name)
        if sfield is None:  # pragma: no cover - validated
            raise _Unsupported(path, f"{gtype.name}.{name} is unknown")
        if sfield.extensions:
            raise _Unsupported(path, f"{gtype.name}.{name} has a field extension (a permission, …)")
        model = plan.model
        mapper: Any = sa_inspect(model)
        where = f"{gtype.name}.{name}"
        if name == "id" and sfield.base_resolver is not None and hasattr(model, "id"):
            i = plan.column(model.id)
            global_id = partial(to_global_id, gtype.name)
            return Leaf(key, lambda row: global_id(row[i]), non_null=True, index=i, serialize=global_id)
        if name == "databaseId" and hasattr(model, "id"):
            i = plan.column(model.id)
            return Leaf(key, itemgetter(i), non_null=True, index=i)
        resolver = sfield.base_resolver
        if resolver is None:
            attr = sfield.python_name
            if attr not in mapper.column_attrs:
                raise _Unsupported(path, f"{where} is not a column of {model.__name__}")
            column = getattr(model, attr)
            index = plan.column(column)
            serialize = self._serializer(gfield.type, path)
            if _identity(gfield.type, column):
                serialize = None
            return Leaf(key, self._leaf(gfield.type, index, path), non_null, index=index, serialize=serialize)
        fn = resolver.wrapped_func
        relation = _DECLARED.get(fn)
        if relation is not None:
            return self._relation(plan, gfield, key, nodes, path, relation, non_null)
        paged = PAGED.get(fn)
        if paged is not None:
            return self._nested_page(plan, gfield, sfield, key, nodes, path, paged)
        if fn.__qualname__ == "free_text.<locals>.resolve":
            attr = inspect.getclosurevars(fn).nonlocals["attr"]  # type: ignore[arg-type]
            self._reveal(nodes[0], path)
            return Masked(key, plan.column(getattr(model, attr)), mask_text, non_null)
        if (gtype.name, name) in PURE_FIELDS and not nodes[0].arguments:
            cols = PURE_FIELDS[(gtype.name, name)]
            serialize = self._serializer(gfield.type, path)
            names = list(cols)
            indexes = [plan.column(getattr(model, c)) for c in cols]

            memo: dict[tuple[Any, ...], Any] = {}

            def pure(row: Any, fn: Any = fn, names: list[str] = names, indexes: list[int] = indexes) -> Any:
                # A pure field is a function of its columns: computed once per distinct value.
                args = tuple(row[i] for i in indexes)
                try:
                    return memo[args]
                except KeyError:
                    pass
                value = fn(_RowView(dict(zip(names, args, strict=True))))
                value = None if value is None else serialize(value)
                if len(memo) < 4096:
                    memo[args] = value
                return value

            if len(indexes) == 1:
                (column_index,) = indexes

                def pure_of_value(value: Any, row_of: Callable[[Any], Any] = pure, i: int = column_index) -> Any:
                    # (the row's other columns are not read: a list holding this one at its index will do)
                    try:
                        return memo[(value,)]
                    except KeyError:
                        row = [None] * (i + 1)
                        row[i] = value
                        return row_of(row)

                return Leaf(key, pure, non_null, index=column_index, of_value=pure_of_value)
            return Leaf(key, pure, non_null, reads=tuple(indexes))
        if "pageInfo" in getattr(get_named_type(gfield.type), "fields", {}):
            raise _Unsupported(path, f"{where} is a connection with arguments or filters of its own (no PagedRelation)")
        raise _Unsupported(path, f"{where} is computed by a resolver with its own logic")

    def _reveal(self, node: FieldNode, path: str) -> Any:
        for arg in node.arguments or ():
            if arg.name.value != "reveal":
                continue
            value = arg.value
            if value.kind == "variable":
                self.reveal_variables.add(value.name.value)  # type: ignore[attr-defined]
                return False  # a run where it is true goes to the interpreter
            if value.kind == "boolean" and value.value is False:  # type: ignore[attr-defined]
                return False
            raise _Unsupported(path, "reveal: true — an unmasked read is audited per row by the resolver")
        return False

    def _relation(
        self, plan: ObjectPlan, gfield: Any, key: str, nodes: list[FieldNode], path: str, relation: Any, non_null: bool
    ) -> RelationField:
        if relation.limit is not None:
            raise _Unsupported(path, "a to-many relation with a limit per parent (row_number) is not compiled")
        if nodes[0].arguments:  # pragma: no cover - relation fields take none
            raise _Unsupported(path, "a relation with arguments")
        target_type = get_named_type(gfield.type)
        target = self._object_shell(target_type, path)
        if target.model is not relation.target:  # pragma: no cover - declared together
            raise _Unsupported(path, "the relation's model is not its type's")
        key_index = plan.column(getattr(plan.model, relation.key_attr))
        if relation.many:
            target.column(relation.fk)
        else:
            target.column(getattr(target.model, relation.by))
        self._fill(target, target_type, [n.selection_set for n in nodes if n.selection_set], path)
        by_key = not relation.many and all(c.primary_key for c in getattr(target.model, relation.by).property.columns)
        return RelationField(key, relation, key_index, target, non_null, joined=by_key)

    def _nested_page(
        self,
        plan: ObjectPlan,
        gfield: Any,
        sfield: Any,
        key: str,
        nodes: list[FieldNode],
        path: str,
        paged: PagedRelation,
    ) -> NestedPage:
        conn = get_named_type(gfield.type)
        assert isinstance(conn, GraphQLObjectType)
        node_type = get_named_type(get_named_type(conn.fields["edges"].type).fields["node"].type)
        target = self._object_shell(node_type, path)
        if target.model is not paged.target:  # pragma: no cover - declared together
            raise _Unsupported(path, "the connection's model is not its nodes' type's")
        name_of = self.schema.config.name_converter.from_argument
        arguments = tuple(
            (name_of(a), a.python_name) for a in sfield.arguments if a.python_name not in ("first", "after")
        )
        if arguments and paged.where is None:  # pragma: no cover - pages_of declares where they go
            raise _Unsupported(path, "a connection's own arguments with no conditions declared (PagedRelation.where)")
        key_index = plan.column(getattr(plan.model, paged.key_attr))
        match_indexes = tuple(plan.column(getattr(plan.model, attr)) for attr, _ in paged.match)
        target.column(paged.fk)
        for _, column in paged.match:
            target.column(column)
        sort_index = [target.column(c) for c in paged.sort.columns]
        parts = self._connection(conn, target, node_type, nodes, path)
        counted = any(p.kind == "totalCount" for p in parts)
        return NestedPage(
            key, paged, nodes[0], gfield, key_index, parts, target, sort_index, counted, arguments, match_indexes
        )

    # ---- leaves --------------------------------------------------------------------------------

    def _serializer(self, gql_type: Any, path: str) -> Any:
        named = gql_type.of_type if isinstance(gql_type, GraphQLNonNull) else gql_type
        if isinstance(named, GraphQLList):
            raise _Unsupported(path, "a list of values")
        if not isinstance(named, (GraphQLScalarType, GraphQLEnumType)):
            raise _Unsupported(path, f"{named} is not a leaf")
        if isinstance(named, GraphQLEnumType):
            return _memoized(named.serialize)
        return named.serialize

    def _leaf(self, gql_type: Any, index: int, path: str) -> Any:
        serialize = self._serializer(gql_type, path)

        def leaf(row: Any) -> Any:
            value = row[index]
            return None if value is None else serialize(value)

        return leaf


def _memoized(serialize: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """An enum's serializer, remembering each stored value's name (a vocabulary is a few terms)."""
    names: dict[Any, Any] = {}

    def serialize_term(value: Any) -> Any:
        try:
            return names[value]
        except (KeyError, TypeError):
            name = serialize(value)
            if len(names) < 1024 and isinstance(value, (str, int)):
                names[value] = name
            return name

    return serialize_term


def _identity(gql_type: Any, column: Any) -> bool:
    """True when graphql-core would return the column's values unchanged: a ``String`` read from a
    string column, a ``Boolean`` from a boolean one (``serialize_string`` / ``serialize_boolean``)."""
    named = gql_type.of_type if isinstance(gql_type, GraphQLNonNull) else gql_type
    sql_type = getattr(column.type, "impl", column.type)
    try:
        python_type = sql_type.python_type
    except NotImplementedError:  # pragma: no cover - custom types
        return False
    if isinstance(sql_type, TypeDecorator) or isinstance(column.type, TypeDecorator):
        return False  # a decorator's result type is its own business
    return (named.name, python_type) in {("String", str), ("Boolean", bool)}


class _RowView:
    """Attribute access to a few columns of a row, for a pure field's resolver."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:  # pragma: no cover - PURE_FIELDS names every column its resolver reads
            raise AttributeError(name) from None
