"""Clue mutations: the lifecycle (accept … recordCallback), merge and split, manual entry.

Each resolver looks the clue up within the principal's jurisdiction, delegates to a hub service
(hub.workflow, hub.clue_merge, hub.cluepool, hub.clue_entry) in the request's session and commits
through hub.workflow.run_action; the services write the CaseAction, the Event and the audit row in
that same transaction. Errors carry stable codes:
ILLEGAL_TRANSITION (the message names the state), FORBIDDEN (role or jurisdiction), NOT_FOUND,
BAD_USER_INPUT / INVALID_IDENTIFIER (field and value), CONFLICT (another action changed the clue
first: the message names its state now; nothing was done), DUPLICATE_SOURCE (createClue with a
register number already in the pool).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

import strawberry
from sqlalchemy.orm import Session
from strawberry.permission import PermissionExtension
from strawberry.types import Info

from hub import clue_merge, cluepool, workflow
from hub import models as m
from hub.access import Action, Principal
from hub.actors import deliver_writebacks, send_soon
from hub.clue_entry import ManualEntry, enter_clue
from hub.lookup import get_warning
from schema.filters import db_id
from schema.permissions import principal_of, requires
from schema.types.cases import Channel, Clue, Satisfaction, SupervisionLevel


@strawberry.input(description="A clue entered by hand (来访, 信访, 上级转办 …); it goes through the same matcher.")
class ManualClueInput:
    channel: Channel
    source_id: str = strawberry.field(description="The register number of the visit, petition or referral.")
    region_code: str = strawberry.field(description="Where the arrears happened (county code).")
    title: str
    content: str
    respondent_name: str
    received_at: dt.datetime | None = None
    complainant_name: str | None = None
    complainant_phone: str | None = None
    complainant_id_number: str | None = None
    respondent_uscc: str | None = None
    respondent_address: str | None = None
    project_code: str | None = None
    project_name: str | None = None
    amount: Decimal | None = strawberry.field(default=None, description="Amount in arrears (yuan, at most 2 decimals).")
    headcount: int | None = strawberry.field(default=None, description="Workers concerned (at least 1).")
    arrears_from: dt.date | None = strawberry.field(default=None, description="First month (day) unpaid.")
    arrears_to: dt.date | None = strawberry.field(default=None, description="Last month (day) unpaid.")
    public_opinion: bool = False


def _works(action: str) -> PermissionExtension:
    """The permission of a lifecycle mutation: the table's WORK_CLUES, refused as hub.workflow refuses ``action``."""
    return requires(Action.WORK_CLUES, to=f"{action} clues")


async def _run(info: Info, fn: Callable[[Session], Any]) -> Any:
    """Run the synchronous service ``fn(session)`` in the request's session and commit (roll back on error).

    Through :func:`hub.workflow.run_action`: a lost race answers CONFLICT, never INTERNAL.
    """
    session = info.context.session
    try:
        result = await session.run_sync(lambda s: workflow.run_action(s, fn))
    except BaseException:
        await session.rollback()
        raise
    return result


async def _act(info: Info, clue_no: str, fn: Callable[[Session, m.Clue, Principal], Any]) -> Any:
    """Look the clue up (locked), run ``fn(session, clue, principal)`` and commit; then kick write-backs."""
    principal = principal_of(info)
    result = await _run(info, lambda s: fn(s, workflow.get_clue(s, clue_no=clue_no), principal))
    _kick_writebacks()
    return result


def _kick_writebacks() -> None:
    """Deliver queued write-backs now rather than at the scheduler's next tick (best effort)."""
    send_soon(deliver_writebacks, what="write-back delivery")


@strawberry.type
class ClueMutations:
    @strawberry.mutation(
        description="签收: the handling region takes the clue on (→ IN_PROGRESS).", extensions=[_works("accept")]
    )
    async def accept_clue(self, info: Info, clue_no: str, note: str | None = None) -> Clue:
        return await _act(info, clue_no, lambda s, c, p: workflow.accept(s, clue=c, principal=p, note=note))

    @strawberry.mutation(
        description="分办: hand the clue to a region below the handling one, within your jurisdiction.",
        extensions=[_works("dispatch")],
    )
    async def dispatch_clue(self, info: Info, clue_no: str, to_region_code: str, note: str | None = None) -> Clue:
        return await _act(
            info,
            clue_no,
            lambda s, c, p: workflow.dispatch(s, clue=c, to_region=to_region_code, principal=p, note=note),
        )

    @strawberry.mutation(
        description="退回: send a dispatched clue back to the dispatcher, with a reason.", extensions=[_works("return")]
    )
    async def return_clue(self, info: Info, clue_no: str, reason: str) -> Clue:
        return await _act(info, clue_no, lambda s, c, p: workflow.return_(s, clue=c, principal=p, reason=reason))

    @strawberry.mutation(
        description="上报: hand the clue to the level above the handling region, with a reason.",
        extensions=[_works("escalate")],
    )
    async def escalate_clue(self, info: Info, clue_no: str, reason: str) -> Clue:
        return await _act(info, clue_no, lambda s, c, p: workflow.escalate(s, clue=c, principal=p, reason=reason))

    @strawberry.mutation(
        description="延期: move the deadline by working days (official holiday calendar), with a reason.",
        extensions=[_works("extend")],
    )
    async def extend_clue(self, info: Info, clue_no: str, working_days: int, reason: str) -> Clue:
        return await _act(
            info,
            clue_no,
            lambda s, c, p: workflow.extend(s, clue=c, principal=p, working_days=working_days, reason=reason),
        )

    @strawberry.mutation(
        description="督办 / 挂牌督办; supervising again is a 催办 (an overdue clue turns red).",
        extensions=[_works("supervise")],
    )
    async def supervise_clue(
        self, info: Info, clue_no: str, level: SupervisionLevel = SupervisionLevel.SUPERVISED, note: str | None = None
    ) -> Clue:
        return await _act(
            info, clue_no, lambda s, c, p: workflow.supervise(s, clue=c, principal=p, level=level.value, note=note)
        )

    @strawberry.mutation(
        description="办结 with the 核处结论; the outcome is written back to every channel of the clue.",
        extensions=[_works("close")],
    )
    async def close_clue(
        self,
        info: Info,
        clue_no: str,
        conclusion: str,
        recovered_amount: Decimal | None = None,
        workers_paid: int | None = None,
    ) -> Clue:
        return await _act(
            info,
            clue_no,
            lambda s, c, p: workflow.close(
                s,
                clue=c,
                principal=p,
                conclusion=conclusion,
                recovered_amount=recovered_amount,
                workers_paid=workers_paid,
            ),
        )

    @strawberry.mutation(
        description="回访: record the call-back and the complainant's satisfaction (written back too).",
        extensions=[_works("record_callback")],
    )
    async def record_callback(
        self, info: Info, clue_no: str, satisfaction: Satisfaction, note: str | None = None
    ) -> Clue:
        return await _act(
            info,
            clue_no,
            lambda s, c, p: workflow.record_callback(
                s, clue=c, principal=p, satisfaction=satisfaction.value, note=note
            ),
        )

    @strawberry.mutation(
        description="重办: the complainant says the matter is not solved (by phone, at the window): a closed or "
        "called-back clue goes back to IN_PROGRESS, its last stage due again counted from today; audited.",
        extensions=[_works("reopen")],
    )
    async def reopen_clue(self, info: Info, clue_no: str, reason: str) -> Clue:
        return await _act(
            info, clue_no, lambda s, c, p: workflow.reopen_on_request(s, clue=c, principal=p, reason=reason)
        )

    @strawberry.mutation(
        description="合并: the source clue is the same matter; its channel records join the target "
        "(audited; undo with splitClue).",
        extensions=[requires(Action.MERGE_CLUES, to="merge clues")],
    )
    async def merge_clues(self, info: Info, target_clue_no: str, source_clue_no: str, reason: str) -> Clue:
        principal = principal_of(info)

        def run(s: Session) -> m.Clue:
            # Both locked in ascending id order: opposite merges wait for each other, never deadlock.
            target, source = workflow.get_clues(s, clue_nos=[target_clue_no, source_clue_no])
            return clue_merge.merge(s, target=target, source=source, principal=principal, reason=reason)

        result = await _run(info, run)
        _kick_writebacks()
        return result

    @strawberry.mutation(
        description="拆分: move channel records off a clue — back to the clue they were merged from, "
        "or into one new clue (audited). Returns the clues they now belong to.",
        extensions=[requires(Action.MERGE_CLUES, to="split clues")],
    )
    async def split_clue(
        self, info: Info, clue_no: str, channel_record_ids: list[strawberry.ID], reason: str
    ) -> list[Clue]:
        ids = [db_id(i, m.ChannelRecord, field="channelRecordIds") for i in channel_record_ids]
        return await _act(
            info,
            clue_no,
            lambda s, c, p: clue_merge.split(
                s, clue=c, channel_record_ids=[i for i in ids if i is not None], principal=p, reason=reason
            ),
        )

    @strawberry.mutation(
        description="预警转线索: turn an active warning into a clue, through the same matcher (it may join a "
        "complaint about the same project already in the pool).",
        extensions=[requires(Action.ESCALATE_WARNINGS, to="escalate warnings")],
    )
    async def escalate_warning(self, info: Info, id: strawberry.ID) -> Clue:
        principal = principal_of(info)
        pk = cast(int, db_id(id, m.Warning, field="id"))  # a non-null ID gives a key
        ctx = info.context
        return await _run(
            info,
            lambda s: cluepool.escalate_warning(
                s, warning=get_warning(s, warning_id=pk, shown=str(id)), cipher=ctx.cipher, principal=principal
            ),
        )

    @strawberry.mutation(
        description="Enter a clue by hand; the matcher joins it to an existing clue or starts a new one. "
        "A register number (channel + sourceId) is entered once (DUPLICATE_SOURCE).",
        extensions=[requires(Action.ENTER_CLUES, to="enter clues")],
    )
    async def create_clue(self, info: Info, input: ManualClueInput) -> Clue:
        principal = principal_of(info)
        entry = ManualEntry(
            channel=input.channel.value,
            source_id=input.source_id,
            region_code=input.region_code,
            title=input.title,
            content=input.content,
            respondent_name=input.respondent_name,
            received_at=input.received_at,
            complainant_name=input.complainant_name,
            complainant_phone=input.complainant_phone,
            complainant_id_number=input.complainant_id_number,
            respondent_uscc=input.respondent_uscc,
            respondent_address=input.respondent_address,
            project_code=input.project_code,
            project_name=input.project_name,
            amount=input.amount,
            headcount=input.headcount,
            arrears_from=input.arrears_from,
            arrears_to=input.arrears_to,
            public_opinion=input.public_opinion,
        )
        ctx = info.context
        clue = await _run(
            info, lambda s: enter_clue(s, entry=entry, principal=principal, cipher=ctx.cipher, now=m.utcnow())
        )
        _kick_writebacks()
        return clue
