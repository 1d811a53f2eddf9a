"""The strawberry schema with its limits and extensions."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import strawberry
from graphql import FragmentDefinitionNode, GraphQLError, GraphQLSyntaxError, OperationDefinitionNode, ValidationContext, ValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.extensions.max_aliases import count_fields_with_alias
from strawberry.schema.config import StrawberryConfig

from schema.cost import QueryCost
from schema.extensions import HubRequest
from schema.mutation import Mutation
from schema.query import Query
from schema.subscription import Subscription
from schema.types import cases, money, platform, registry

#: Most aliases one operation may use (29 let three copies of a costly selection through; the cost
#: limit in schema/cost.py bounds what they ask for, this bounds the document's width).
MAX_ALIASES = 15

#: Concrete types reachable only through the Node interface must be listed for the schema.
NODE_TYPES = [
    registry.Enterprise, registry.Project, registry.Worker,
    money.WageAccount, money.LaborCostAllocation, money.PayrollRecord, money.GuaranteeDeposit,
    cases.Clue, cases.ChannelRecord, cases.CaseAction, cases.Warning, cases.CreditRating,
    platform.RawRecord, platform.ConnectorInstance, platform.SyncRun, platform.QuarantinedRecord,
    platform.Event, platform.ApiKey, platform.AuditEntry,
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
            raise GraphQLError(
                f"the document has more than {MAX_TOKENS:,} tokens; at most {MAX_TOKENS:,} are accepted",
                extensions={"code": "QUERY_TOO_COMPLEX", "limit": MAX_TOKENS, "suggestion": "split it into several requests"},
            ) from exc


def max_aliases_rule(limit: int) -> type[ValidationRule]:
    """strawberry's alias count (fragments expanded), reported with ``QUERY_TOO_COMPLEX`` and the limit
    (its own rule reports a bare validation error)."""

    class MaxAliases(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            document = context.document
            fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
            total = sum(count_fields_with_alias(d, fragments) for d in document.definitions if isinstance(d, OperationDefinitionNode))
            if total > limit:
                context.report_error(GraphQLError(
                    f"the operation uses {total} aliases; at most {limit} are accepted",
                    extensions={"code": "QUERY_TOO_COMPLEX", "limit": limit, "suggestion": "split it into several requests"},
                ))
            super().__init__(context)

    return MaxAliases


class HubSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:  # type: ignore[no-untyped-def,override]
        # Errors are logged once, in schema.extensions.shape_error (unexpected ones with tracebacks).
        return None


@lru_cache(maxsize=4)
def build_schema(*, max_depth: int = 12) -> strawberry.Schema:
    """The hub's schema; operations deeper than ``max_depth`` are refused before they run."""
    rules = [*QueryDepthLimiter(max_depth=max_depth).validation_rules, max_aliases_rule(MAX_ALIASES)]
    return HubSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=NODE_TYPES,
        config=StrawberryConfig(auto_camel_case=True),
        extensions=[
            HubRequest,
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
