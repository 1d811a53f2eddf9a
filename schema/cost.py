"""The static cost of an operation, and the per-role budget it must fit, checked before any SQL.

Depth, alias and token limits bound the *shape* of a document, not how many rows it asks for: three
aliases of ``projects(first: 500) { nodes { payroll(first: 500) { nodes { worker { name } } } } }``
pass them all and ask for 750,000 pay records. So every operation is priced from its parsed document
once validation has passed and before it executes:

* a connection costs the rows it may return, its ``first`` (the default page size when absent,
  variables and argument defaults resolved, at most the maximum page size), and its selections are
  priced per row: a connection inside a connection multiplies (500 projects × 500 pay records);
* a list field that is not a connection (``project.wageAccounts``) costs its ``first`` when it has one,
  else a fixed estimate (``LIST_ESTIMATE``), and multiplies its selections likewise;
* ``totalCount`` costs one (a COUNT statement) per connection it is asked on;
* aliases and root fields add up; fragments and inline fragments are expanded (their sum is an
  upper bound when several type conditions apply to one abstract field).

An operation over the principal's budget (``HUB_QUERY_COST_LIMITS``) is refused with
``QUERY_TOO_COSTLY``, naming the cost, the budget and the role; one with more root fields than
``HUB_MAX_ROOT_FIELDS`` with ``QUERY_TOO_COMPLEX``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution import ExecutionResult
from graphql.execution.values import get_argument_values, get_variable_values
from strawberry.extensions import SchemaExtension

from hub.errors import HubError, QueryTooComplex, QueryTooCostly
from schema.pagination import DEFAULT_PAGE_SIZE

#: The rows assumed for a list field without ``first`` (a project's wage accounts, a clue's records).
LIST_ESTIMATE = DEFAULT_PAGE_SIZE


class _Pricer:
    """Walks one operation's selections, pricing rows as described in the module docstring.

    Prices are computed per parent object ("unit" prices) and multiplied by the rows above, so a
    fragment is priced once per type and connection size however often it is spread: a document that
    spreads a fragment twice in a fragment spread twice … (2^30 fields from a few hundred tokens) is
    priced in time linear in its length.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Any,
        *,
        max_page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.max_page_size = max_page_size
        self._fragment_units: dict[tuple[str, str, int], int] = {}
        self._fragment_fields: dict[str, int] = {}

    def first(self, field_def: Any, node: FieldNode, default: int) -> int:
        """The rows a field may return: its ``first`` (variables and defaults resolved, clamped to the
        maximum page size, which the resolver enforces anyway), else ``default``."""
        if "first" not in field_def.args:
            return default
        try:
            value = get_argument_values(field_def, node, self.variables).get("first")
        except GraphQLError:  # execution reports it, before any resolver runs
            value = None
        if not isinstance(value, int):
            return DEFAULT_PAGE_SIZE
        return max(0, min(value, self.max_page_size))

    def count_fields(self, selection_set: SelectionSetNode | None, seen: frozenset[str] = frozenset()) -> int:
        """How many fields a selection set selects at its own level, fragments expanded (root fields)."""
        total = 0
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                total += 1
            elif isinstance(sel, InlineFragmentNode):
                total += self.count_fields(sel.selection_set, seen)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                frag = self.fragments.get(name)
                if frag is None or name in seen:  # validation refuses both; never loop
                    continue
                if name not in self._fragment_fields:
                    self._fragment_fields[name] = self.count_fields(frag.selection_set, seen | {name})
                total += self._fragment_fields[name]
        return total

    def unit(
        self, selection_set: SelectionSetNode | None, parent: Any, rows: int = 0, seen: frozenset[str] = frozenset()
    ) -> int:
        """The cost of ``selection_set`` selected on one ``parent`` object; ``rows`` is the page size
        when ``parent`` is a connection type (its edges and nodes are that many), else 0."""
        cost = 0
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                cost += self.field(sel, parent, rows, seen)
            elif isinstance(sel, InlineFragmentNode):
                on = self.schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
                cost += self.unit(sel.selection_set, on or parent, rows, seen)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                frag = self.fragments.get(name)
                if frag is None or name in seen:
                    continue
                on = self.schema.get_type(frag.type_condition.name.value) or parent
                key = (name, on.name, rows)
                if key not in self._fragment_units:
                    self._fragment_units[key] = self.unit(frag.selection_set, on, rows, seen | {name})
                cost += self._fragment_units[key]
        return cost

    def field(self, node: FieldNode, parent: Any, rows: int, seen: frozenset[str]) -> int:
        field_def = (getattr(parent, "fields", None) or {}).get(node.name.value)
        if field_def is None:  # __typename, __schema, __type: bounded by the schema itself
            return 0
        named = get_named_type(field_def.type)
        if _is_connection(named):
            page = self.first(field_def, node, DEFAULT_PAGE_SIZE)
            return page + self.unit(node.selection_set, named, page, seen)
        if rows and node.name.value == "totalCount":  # one COUNT statement per connection
            return 1
        if node.selection_set is None:  # a scalar or a list of scalars: no rows of its own
            return 0
        if rows and _is_list(field_def.type):  # edges / nodes: the connection's rows, counted above
            return rows * self.unit(node.selection_set, named, 0, seen)
        if _is_list(field_def.type):
            n = self.first(field_def, node, LIST_ESTIMATE)
            return n + n * self.unit(node.selection_set, named, 0, seen)
        return self.unit(node.selection_set, named, 0, seen)  # one related object, loaded with its siblings'


def _is_list(gql_type: Any) -> bool:
    if isinstance(gql_type, GraphQLNonNull):
        gql_type = gql_type.of_type
    return isinstance(gql_type, GraphQLList)


def _is_connection(named: Any) -> bool:
    fields = getattr(named, "fields", None)
    return isinstance(named, GraphQLObjectType) and fields is not None and "edges" in fields and "pageInfo" in fields


def operation_cost(
    schema: GraphQLSchema,
    document: Any,
    *,
    operation_name: str | None = None,
    variables: dict[str, Any] | None = None,
    max_page_size: int = 500,
) -> tuple[int, int] | None:
    """``(cost, root fields)`` of the operation ``operation_name`` selects in ``document``; ``None``
    when there is no such operation or its variables do not coerce (execution then reports it)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return None
    operation = operations[0]
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    if isinstance(coerced, list):
        return None
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    pricer = _Pricer(schema, fragments, coerced, max_page_size=max_page_size)
    return pricer.unit(operation.selection_set, root), pricer.count_fields(operation.selection_set)


def budget_for(role: str | None, limits: Mapping[str, int]) -> int:
    """The role's budget; a role the mapping does not name gets the smallest one."""
    if role is not None and role in limits:
        return limits[role]
    return min(limits.values())


class QueryCost(SchemaExtension):
    """Refuses, before execution, an operation whose cost exceeds the principal's budget or with too
    many root fields. Runs after ``HubRequest`` (an unauthenticated request is refused there)."""

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        if ec.result is None and ec.graphql_document is not None:
            error = self.check()
            if error is not None:
                ec.result = ExecutionResult(data=None, errors=[GraphQLError(error.message, original_error=error)])
        yield

    def check(self) -> HubError | None:
        ec = self.execution_context
        ctx = ec.context
        return check_cost(
            ec.schema._schema,
            ec.graphql_document,
            operation_name=ec.operation_name,
            variables=ec.variables,
            role=ctx.principal.role if ctx.principal is not None else None,
            settings=ctx.settings,
        )


def check_cost(
    schema: GraphQLSchema,
    document: Any,
    *,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    role: str | None,
    settings: Any,
) -> HubError | None:
    """The refusal of an operation over ``role``'s budget or with too many root fields; ``None`` when it
    fits (``QueryCost`` before execution; compiled plans, ``schema.compiled``, likewise)."""
    priced = operation_cost(
        schema, document, operation_name=operation_name, variables=variables, max_page_size=settings.max_page_size
    )
    if priced is None:
        return None
    cost, roots = priced
    if roots > settings.max_root_fields:
        return QueryTooComplex(
            f"the operation selects {roots} root fields; at most {settings.max_root_fields} are accepted",
            suggestion="split it into several requests",
            rootFields=roots,
            limit=settings.max_root_fields,
        )
    budget = budget_for(role, settings.query_cost_limits)
    if cost > budget:
        return QueryTooCostly(
            f"cost {cost:,} exceeds your budget {budget:,} (role {role}): ask for fewer rows (first) or fewer "
            "nested connections",
            cost=cost,
            budget=budget,
            role=role,
        )
    return None
