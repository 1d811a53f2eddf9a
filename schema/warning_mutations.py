"""Warning mutations: acknowledge (签收), record a 核查 note, resolve by hand, mark a false positive.

Each resolver looks the warning up within the principal's jurisdiction (NOT_FOUND otherwise) and
delegates to ``hub.rules.handling``, which checks the policy table (``HANDLE_WARNINGS``), writes the
step into the warning's history, an outbox event and the audit log in the request's transaction.
Errors: FORBIDDEN (role), NOT_FOUND, ILLEGAL_TRANSITION (the warning is closed already),
BAD_USER_INPUT (an empty or over-long note or reason), CONFLICT (another action changed the warning
between this one's read and its write; the message names its state now — reload and decide again).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import strawberry
from sqlalchemy.orm import Session
from strawberry.types import Info

from hub import models as m
from hub.access import Action, Principal
from hub.rules import handling
from schema.filters import db_id
from schema.permissions import principal_of, requires
from schema.types.cases import Warning

Handle = Callable[[Session, m.Warning, Principal], m.Warning]


async def _handle(info: Info, id: strawberry.ID, fn: Handle) -> Any:
    """Look the warning up (locked), run ``fn(session, warning, principal)`` and commit through
    :func:`hub.rules.handling.run_handling` (a lost race answers CONFLICT, never INTERNAL).

    The row serves the ``Warning`` type (``Any``, as the clue mutations' rows serve theirs)."""
    principal = principal_of(info)
    pk = cast(int, db_id(id, m.Warning, field="id"))  # a non-null ID gives a key
    session = info.context.session
    try:
        warning = await session.run_sync(
            lambda s: handling.run_handling(
                s, lambda s2: fn(s2, handling.get_warning(s2, warning_id=pk, shown=str(id)), principal)
            )
        )
    except BaseException:
        await session.rollback()
        raise
    return warning


@strawberry.type
class WarningMutations:
    @strawberry.mutation(
        description="签收: take a warning in hand (an acknowledged red warning does not escalate by itself).",
        extensions=[requires(Action.HANDLE_WARNINGS, to="acknowledge warnings")],
    )
    async def acknowledge_warning(self, info: Info, id: strawberry.ID, note: str | None = None) -> Warning:
        return await _handle(info, id, lambda s, w, p: handling.acknowledge(s, warning=w, principal=p, note=note))

    @strawberry.mutation(
        description="核查: record what checking the warning found (any state).",
        extensions=[requires(Action.HANDLE_WARNINGS, to="record notes on warnings")],
    )
    async def note_warning(self, info: Info, id: strawberry.ID, note: str) -> Warning:
        return await _handle(info, id, lambda s, w, p: handling.add_note(s, warning=w, principal=p, note=note))

    @strawberry.mutation(
        description="Resolve a warning by hand, with the reason; the engine leaves it resolved for its period.",
        extensions=[requires(Action.HANDLE_WARNINGS, to="resolve warnings")],
    )
    async def resolve_warning(self, info: Info, id: strawberry.ID, reason: str) -> Warning:
        return await _handle(info, id, lambda s, w, p: handling.resolve(s, warning=w, principal=p, reason=reason))

    @strawberry.mutation(
        description="误报: mark a warning a false positive, saying why; the engine does not raise it again "
        "for its period.",
        extensions=[requires(Action.HANDLE_WARNINGS, to="mark warnings false positives")],
    )
    async def mark_warning_false_positive(self, info: Info, id: strawberry.ID, reason: str) -> Warning:
        return await _handle(
            info, id, lambda s, w, p: handling.mark_false_positive(s, warning=w, principal=p, reason=reason)
        )
