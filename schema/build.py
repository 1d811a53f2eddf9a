"""The strawberry schema with its limits and extensions."""

from __future__ import annotations

from functools import lru_cache

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from hub.security import IntrospectionByRole
from schema.extensions import HubRequest
from schema.mutation import Mutation
from schema.query import Query
from schema.subscription import Subscription
from schema.types import cases, money, platform, registry

#: Concrete types reachable only through the Node interface must be listed for the schema.
NODE_TYPES = [
    registry.Enterprise, registry.Project, registry.Worker,
    money.WageAccount, money.LaborCostAllocation, money.PayrollRecord, money.GuaranteeDeposit,
    cases.Clue, cases.ChannelRecord, cases.CaseAction, cases.Warning, cases.CreditRating,
    platform.RawRecord, platform.ConnectorInstance, platform.SyncRun, platform.QuarantinedRecord,
    platform.Event, platform.ApiKey, platform.AuditEntry,
]


class HubSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:  # type: ignore[no-untyped-def,override]
        # Errors are logged once, in schema.extensions.shape_error (unexpected ones with tracebacks).
        return None


@lru_cache(maxsize=4)
def build_schema(*, max_depth: int = 12) -> strawberry.Schema:
    """The hub's schema; operations deeper than ``max_depth`` are refused before they run."""
    rules = [*QueryDepthLimiter(max_depth=max_depth).validation_rules, *MaxAliasesLimiter(max_alias_count=30).validation_rules]
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
            # Validation rules built once: extensions made per request would make new rule classes each
            # time, and the validation cache (keyed by the rules) would never hit.
            lambda: AddValidationRules(rules),
            lambda: MaxTokensLimiter(max_token_count=4000),
            # Both keep their LRU cache at module level, shared by every request.
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
        ],
    )


def export_sdl() -> str:
    """The schema as SDL, as checked in at ``schema/schema.graphql``."""
    return build_schema().as_str() + "\n"
