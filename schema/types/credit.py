"""Credit evidence and consequences: penalties (行政处罚), blacklist listings, the deposit rate."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry

from hub import models as m
from hub.vocab import BlacklistStatus, PenaltyKind, PenaltySource
from schema.prefetch import to_one
from schema.types._common import Node, node_type
from schema.types.cases import free_text
from schema.types.refs import EnterpriseRef

strawberry.enum(
    PenaltyKind,
    description="What a penalty decided: FINE, WARNING, ORDER (责令改正), or REFUSED_RECTIFICATION (the "
    "enterprise refused a rectification order or a penalty: level C).",
)
strawberry.enum(PenaltySource, description="How a penalty reached the hub: ENTERED by an inspector or IMPORTED.")
strawberry.enum(
    BlacklistStatus, description="A blacklist listing: LISTED (in force), REMOVED (early) or EXPIRED (3 years over)."
)


@node_type(m.Penalty, name="Penalty", description="An administrative penalty (行政处罚) against an enterprise.")
class Penalty(Node):
    document_no: str = strawberry.field(description="处罚决定书文号 (unique).")
    decided_on: dt.date
    kind: PenaltyKind
    violation: str = free_text(
        "Penalty", "violation", entity_type="penalty", nullable=False, description="The violation"
    )
    amount: Decimal | None = strawberry.field(description="The fine in yuan (null for an order or a warning).")
    source: PenaltySource
    created_by: str
    created_at: dt.datetime
    region_code: str = strawberry.field(description="The issuing region.")

    enterprise = to_one(EnterpriseRef, m.Enterprise, key="enterprise_id")


@node_type(
    m.BlacklistEntry,
    name="BlacklistEntry",
    description="A listing on the 失信联合惩戒名单 (人社部令第45号): three years from the decision, or removed early.",
)
class BlacklistEntry(Node):
    document_no: str = strawberry.field(description="列入决定书文号 (unique).")
    decided_on: dt.date
    reason: str = free_text("BlacklistEntry", "reason", entity_type="blacklist_entry", nullable=False)
    ends_on: dt.date = strawberry.field(description="The day the listing ends by itself: three years from decidedOn.")
    status: BlacklistStatus
    corrected_on: dt.date | None = strawberry.field(description="When the enterprise corrected the arrears (改正).")
    promise_no: str | None = strawberry.field(description="Its credit promise (信用承诺书).")
    removal_reason: str | None = free_text("BlacklistEntry", "removal_reason", entity_type="blacklist_entry")
    ended_on: dt.date | None
    region_code: str = strawberry.field(description="The region whose authority decided the listing.")
    created_at: dt.datetime

    enterprise = to_one(EnterpriseRef, m.Enterprise, key="enterprise_id")


@strawberry.type(description="The 工资保证金 rate for a new contract (人社部发〔2021〕65号), and why.")
class DepositRate:
    rate: Decimal = strawberry.field(description="Share of the contract value (0.015 = 1.5%); 0 when exempt.")
    exempt: bool
    basis: str = strawberry.field(
        description="blacklisted / level_c / recent_arrears / three_clean_years / small_contract / "
        "two_clean_years / standard"
    )
    reason: str
    clean_years: int = strawberry.field(
        description="Consecutive rated years without arrears, counting back from last year (at most 3)."
    )
