"""``retryWriteback``: deliver one clue outcome's write-back to its channel now (the console's 写回 page).

The same delivery as ``hub writebacks retry --id`` (hub.writeback.deliver_due, whatever the back-off);
the upstream's refusal is stored on the record (``writebackError``), never raised: the answer is the
record as it stands after the attempt.
"""

from __future__ import annotations

import asyncio

import strawberry
from strawberry.types import Info

from hub import models as m
from hub.access import Action
from hub.writeback import deliver_due
from hub.writeback_queue import retryable_record
from schema.filters import db_id
from schema.permissions import principal_of, requires
from schema.types.cases import ChannelRecord


@strawberry.type
class WritebackMutations:
    @strawberry.mutation(
        description="Deliver a pending or failing write-back now, whatever its back-off (admin); returns the "
        "channel record after the attempt (acknowledged, or failing with the upstream's words).",
        extensions=[requires(Action.RETRY_WRITEBACKS, to="retry write-backs")],
    )
    async def retry_writeback(self, info: Info, id: strawberry.ID) -> ChannelRecord:
        principal = principal_of(info)
        pk = db_id(id, m.ChannelRecord, field="id")
        assert pk is not None  # a non-null ID argument
        session = info.context.session
        # Within the jurisdiction (the session's scope) and with something to deliver, or a clear refusal
        await session.run_sync(lambda s: retryable_record(s, principal=principal, record_id=pk))
        await session.rollback()  # deliver_due claims the row in its own transaction
        ctx = info.context
        await asyncio.to_thread(
            lambda: deliver_due(ctx.sync_engine, cipher=ctx.cipher, record_ids=[pk], ignore_schedule=True, limit=1)
        )
        record = await session.get(m.ChannelRecord, pk, populate_existing=True)
        assert record is not None  # it was there a moment ago; records are never deleted
        return record
