"""Credit in the graph: penalties and blacklist listings within the jurisdiction, and the mutations
that record a penalty (inspectors) and list or remove an enterprise (administrators).

Resolvers look up, check and delegate to ``hub.penalties`` and ``hub.blacklist``, which validate,
write, audit and write the events; after the commit the enterprise's credit is recomputed by the
``refresh_credit_levels`` actor. Errors: BAD_USER_INPUT / INVALID_IDENTIFIER (field and value),
FORBIDDEN, NOT_FOUND, DUPLICATE_DOCUMENT (a 文号 already recorded), CONFLICT (already listed),
TOO_EARLY (early removal before six months from the correction), ILLEGAL_TRANSITION (a listing that
has ended, or new arrears since the correction).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

import strawberry
from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from strawberry.types import Info
from strawberry.types.nodes import SelectedField

from hub import blacklist, penalties
from hub import models as m
from hub.access import Action
from hub.actors import refresh_credit_levels, send_soon
from hub.vocab import BlacklistStatus, PenaltyKind
from hub.workdays import china_today
from schema.filters import db_id, region_condition
from schema.pagination import Connection, SortSpec, check_first, paginate
from schema.permissions import principal_of, requires
from schema.prefetch import node_selections, prefetch
from schema.types.credit import BlacklistEntry, Penalty


@strawberry.input(description="A penalty decision as an inspector enters it (行政处罚决定书).")
class PenaltyInput:
    uscc: str = strawberry.field(description="统一社会信用代码 of the enterprise penalised (known to the hub).")
    document_no: str = strawberry.field(description="处罚决定书文号 (unique).")
    decided_on: dt.date
    kind: PenaltyKind
    violation: str = strawberry.field(description="The violation, as the decision states it.")
    region_code: str = strawberry.field(description="The issuing region (within your jurisdiction).")
    amount: Decimal | None = strawberry.field(default=None, description="The fine in yuan (required for FINE).")


@strawberry.input(description="A decision listing an enterprise on the 失信联合惩戒名单 (人社部令第45号).")
class BlacklistInput:
    uscc: str
    document_no: str = strawberry.field(description="列入决定书文号 (unique).")
    decided_on: dt.date = strawberry.field(description="The decision's date: the listing lasts three years from it.")
    reason: str
    region_code: str = strawberry.field(description="The deciding region (within your jurisdiction).")


async def _page(info: Info, stmt: Select[Any], model: Any, first: int | None, after: str | None) -> Connection[Any]:
    page = await paginate(
        info.context.session,
        stmt,
        sort=SortSpec((model.id,), descending=True),
        first=check_first(first, limit=info.context.settings.max_page_size),
        after=after,
    )
    root = cast(SelectedField, info.selected_fields[0])
    await prefetch(info.context.loaders, model, [e.node for e in page.edges], node_selections(root))
    return page


async def _run(info: Info, fn: Callable[[Session], Any]) -> Any:
    """Run the synchronous service ``fn(session)`` in the request's session and commit (roll back on error)."""
    session = info.context.session
    try:
        result = await session.run_sync(fn)
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return result


def _rerate(enterprise_id: int, *years: int) -> None:
    """Recompute the enterprise's credit for ``years`` now (best effort: the hourly sweep does it anyway)."""
    send_soon(refresh_credit_levels, [enterprise_id], sorted(set(years)), what="the credit recomputation")


@strawberry.type
class CreditQueries:
    @strawberry.field(description="Administrative penalties issued within your jurisdiction, newest first.")
    async def penalties(
        self,
        info: Info,
        enterprise_id: strawberry.ID | None = None,
        region_code: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Penalty]:
        stmt = select(m.Penalty).where(*region_condition(m.Penalty.region_code, region_code))
        if (pk := db_id(enterprise_id, m.Enterprise, field="enterpriseId")) is not None:
            stmt = stmt.where(m.Penalty.enterprise_id == pk)
        return await _page(info, stmt, m.Penalty, first, after)

    @strawberry.field(
        description="Listings on the 失信联合惩戒名单 decided within your jurisdiction, newest first: those in "
        "force today (`current`, the default), or every listing with `current: false`."
    )
    async def blacklist(
        self,
        info: Info,
        current: bool = True,
        region_code: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[BlacklistEntry]:
        stmt = select(m.BlacklistEntry).where(*region_condition(m.BlacklistEntry.region_code, region_code))
        if current:
            stmt = stmt.where(
                m.BlacklistEntry.status == BlacklistStatus.LISTED, m.BlacklistEntry.ends_on > china_today()
            )
        return await _page(info, stmt, m.BlacklistEntry, first, after)


@strawberry.type
class CreditMutations:
    @strawberry.mutation(
        description="Record an administrative penalty (audited); the enterprise's credit is recomputed.",
        extensions=[requires(Action.RECORD_PENALTIES, to="record penalties")],
    )
    async def record_penalty(self, info: Info, input: PenaltyInput) -> Penalty:
        principal = principal_of(info)
        entry = penalties.PenaltyIn(
            uscc=input.uscc,
            document_no=input.document_no,
            decided_on=input.decided_on,
            kind=input.kind.value,
            violation=input.violation,
            region_code=input.region_code,
            amount=input.amount,
        )
        today = china_today()
        row = await _run(info, lambda s: penalties.record_penalty(s, principal=principal, penalty=entry, today=today))
        _rerate(row.enterprise_id, row.decided_on.year)
        return row

    @strawberry.mutation(
        description="List an enterprise on the 失信联合惩戒名单 for three years from the decision (admin; audited; "
        "an event `blacklist.listed`).",
        extensions=[requires(Action.MANAGE_BLACKLIST, to="list enterprises on the blacklist")],
    )
    async def list_on_blacklist(self, info: Info, input: BlacklistInput) -> BlacklistEntry:
        principal = principal_of(info)
        today = china_today()
        row = await _run(
            info,
            lambda s: blacklist.list_enterprise(
                s,
                principal=principal,
                uscc=input.uscc,
                document_no=input.document_no,
                decided_on=input.decided_on,
                reason=input.reason,
                region_code=input.region_code,
                today=today,
            ),
        )
        _rerate(row.enterprise_id, today.year)
        return row

    @strawberry.mutation(
        description="Remove a listing early (admin; audited; an event `blacklist.removed`): no sooner than six "
        "months after the correction, with a credit promise, and with no new arrears since (TOO_EARLY names "
        "the first day allowed).",
        extensions=[requires(Action.MANAGE_BLACKLIST, to="remove enterprises from the blacklist")],
    )
    async def remove_from_blacklist(
        self, info: Info, id: strawberry.ID, corrected_on: dt.date, promise_no: str, reason: str
    ) -> BlacklistEntry:
        principal = principal_of(info)
        pk = cast(int, db_id(id, m.BlacklistEntry, field="id"))  # a non-null ID gives a key
        today = china_today()
        row = await _run(
            info,
            lambda s: blacklist.remove_early(
                s,
                principal=principal,
                entry=blacklist.get_entry(s, entry_id=pk, shown=str(id)),
                corrected_on=corrected_on,
                promise_no=promise_no,
                reason=reason,
                today=today,
            ),
        )
        _rerate(row.enterprise_id, today.year)
        return row
