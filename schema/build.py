"""The strawberry schema with its limits and extensions."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import strawberry
from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    ValidationContext,
    ValidationRule,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from hub.security import IntrospectionByRole
from schema.cost import QueryCost
from schema.extensions import HubRequest
from schema.mutation import Mutation
from schema.query import Query
from schema.subscription import Subscription
from schema.types import cases, money, platform, realname, registry

if TYPE_CHECKING:
    from strawberry.types import ExecutionContext

#: Most aliases one operation may use (29 let three copies of a costly selection through; the cost
#: limit in schema/cost.py bounds what they ask for, this bounds the document's width).
MAX_ALIASES = 15

#: Concrete types reachable only through the Node interface must be listed for the schema.
NODE_TYPES = [
    registry.Enterprise,
    registry.Project,
    registry.Worker,
    money.WageAccount,
    money.LaborCostAllocation,
    money.PayrollRecord,
    money.GuaranteeDeposit,
    money.AccountExpense,
    money.ProjectContract,
    money.ProgressPayment,
    money.OutputValue,
    realname.Team,
    realname.SiteMovement,
    realname.Attendance,
    cases.Clue,
    cases.ChannelRecord,
    cases.CaseAction,
    cases.Warning,
    cases.WarningAction,
    cases.CreditRating,
    platform.RawRecord,
    platform.ConnectorInstance,
    platform.SyncRun,
    platform.QuarantinedRecord,
    platform.Event,
    platform.ApiKey,
    platform.User,
    platform.AuditEntry,
]


#: Most tokens a document may have (graphql-core stops parsing past it).
MAX_TOKENS = 4000


class LimitedParserCache(ParserCache):
    """strawberry's parser cache, reporting graphql-core's token limit as the limit it is
    (``QUERY_TOO_COMPLEX``, naming the limit) rather than as the syntax error the parser raises when
    it stops reading (the limit itself is set by ``MaxTokensLimiter``)."""

    def on_parse(self) -> Iterator[None]:
        try:
            yield from super().on_parse()
        except GraphQLSyntaxError as exc:
            if "Document contains more than" not in exc.message:
                raise
            raise _limit_error(
                f"the document has more than {MAX_TOKENS:,} tokens; at most {MAX_TOKENS:,} are accepted", MAX_TOKENS
            ) from exc


def _limit_error(message: str, limit: int) -> GraphQLError:
    return GraphQLError(
        message,
        extensions={"code": "QUERY_TOO_COMPLEX", "limit": limit, "suggestion": "split it into several requests"},
    )


class _Measure:
    """A document's alias count and nesting depth, fragments expanded, each fragment measured once.

    strawberry's own limiters expand a fragment at every spread, so a document that spreads a
    fragment twice in a fragment spread twice … (2^25 spreads in a few hundred tokens) kept the event
    loop busy for minutes inside validation; measured once per fragment it takes microseconds.
    """

    def __init__(self, document: Any) -> None:
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self._aliases: dict[str, int] = {}
        self._depths: dict[str, int] = {}

    def aliases(self, selection_set: Any, seen: frozenset[str] = frozenset()) -> int:
        total = 0
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                total += (sel.alias is not None) + self.aliases(sel.selection_set, seen)
            elif isinstance(sel, InlineFragmentNode):
                total += self.aliases(sel.selection_set, seen)
            elif (
                isinstance(sel, FragmentSpreadNode) and (name := sel.name.value) in self.fragments and name not in seen
            ):
                if name not in self._aliases:
                    self._aliases[name] = self.aliases(self.fragments[name].selection_set, seen | {name})
                total += self._aliases[name]
        return total

    def depth(self, selection_set: Any, seen: frozenset[str] = frozenset()) -> int:
        """Nested fields with selections, as strawberry's QueryDepthLimiter counts them (introspection aside)."""
        deepest = 0
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                if sel.selection_set is not None and not sel.name.value.startswith("__"):
                    deepest = max(deepest, 1 + self.depth(sel.selection_set, seen))
            elif isinstance(sel, InlineFragmentNode):
                deepest = max(deepest, self.depth(sel.selection_set, seen))
            elif (
                isinstance(sel, FragmentSpreadNode) and (name := sel.name.value) in self.fragments and name not in seen
            ):
                if name not in self._depths:
                    self._depths[name] = self.depth(self.fragments[name].selection_set, seen | {name})
                deepest = max(deepest, self._depths[name])
        return deepest


def shape_rule(*, max_depth: int, max_aliases: int) -> type[ValidationRule]:
    """Refuses, during validation, operations deeper than ``max_depth`` or with more than
    ``max_aliases`` aliases, with ``QUERY_TOO_COMPLEX`` and the limit."""

    class ShapeLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            measure = _Measure(context.document)
            operations = [d for d in context.document.definitions if isinstance(d, OperationDefinitionNode)]
            aliases = sum(measure.aliases(op.selection_set) for op in operations)
            if aliases > max_aliases:
                context.report_error(
                    _limit_error(
                        f"the operation uses {aliases} aliases; at most {max_aliases} are accepted", max_aliases
                    )
                )
            for op in operations:
                if (depth := measure.depth(op.selection_set)) > max_depth:
                    context.report_error(
                        _limit_error(
                            f"the operation is {depth} levels deep; at most {max_depth} are accepted", max_depth
                        )
                    )

    return ShapeLimits


class HubSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Errors are logged once, in schema.extensions.shape_error (unexpected ones with tracebacks).
        return None


@lru_cache(maxsize=4)
def build_schema(*, max_depth: int = 12) -> strawberry.Schema:
    """The hub's schema; operations deeper than ``max_depth`` are refused before they run."""
    rules: list[type[ASTValidationRule]] = [shape_rule(max_depth=max_depth, max_aliases=MAX_ALIASES)]
    return HubSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=NODE_TYPES,
        config=StrawberryConfig(auto_camel_case=True),
        extensions=[
            HubRequest,
            # Introspection per role (HUB_INTROSPECTION_ROLES), decided per request: not a validation rule.
            IntrospectionByRole,
            # After HubRequest (which refuses the unauthenticated): prices the operation, refuses it
            # over the role's budget before any resolver runs.
            QueryCost,
            # Validation rules built once: extensions made per request would make new rule classes each
            # time, and the validation cache (keyed by the rules) would never hit.
            lambda: AddValidationRules(rules),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            # Both keep their LRU cache at module level, shared by every request.
            lambda: LimitedParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
        ],
    )


def export_sdl() -> str:
    """The schema as SDL, as checked in at ``schema/schema.graphql``."""
    return build_schema().as_str() + "\n"
