"""A clue's deadlines by channel, request type and stage: one table, like ``workflow.TRANSITIONS``.

Each clue passes through two stages with a deadline of their own (docs/domain.md, "Deadlines"):

- **12345** (the hotline's operating rules): 签收 within 1 working day of receipt, then 办结 (the
  answer) within 2 working days for a consultation (咨询), 5 for a help request (求助), and ~13 for a
  complaint (投诉, ``HUB_CLOSE_WITHIN_WORKING_DAYS``) — or by the work order's own ``deadlineDate``
  when the hotline sends one, counted from receipt.
- **every other channel** is a complaint to labour inspection: 受理 within 5 working days of receipt
  (劳动和社会保障部令第25号《关于实施〈劳动保障监察条例〉若干规定》第十八条), then 调查 within 60 working days of
  立案, which is the day of 受理 (《劳动保障监察条例》国务院令第423号 第十七条; 延期 up to 30 more for a complex case).

延期 (``Clue.extended_days``) extends the last stage, the one the extension in the regulations is
for. The first stage is done when the clue is accepted (``Clue.accepted_at``), the last when it is
closed. ``Clue.deadline`` holds the current stage's due date and ``Clue.deadline_provisional``
whether it was counted across a year with no official holiday schedule (hub.workdays); both are
kept by :func:`refresh`, which every action that moves a stage calls. :func:`stages` answers the
whole list for the graph, from the clue's columns alone (no query).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import select

from hub import models as m
from hub.outbox import emit
from hub.settings import get_settings
from hub.vocab import Channel, ClueStatus, DeadlineStage, RequestType, StageOutcome
from hub.workdays import add_working_days, local_date, provisional_span

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

__all__ = [
    "RULES",
    "StageDeadline",
    "StageRule",
    "current",
    "date_of",
    "recompute_provisional",
    "refresh",
    "request_type_of",
    "rules_for",
    "stages",
]


class Start(StrEnum):
    """The day a stage's working days are counted from."""

    RECEIVED = "received"  # the day the clue came in
    ACCEPTED = "accepted"  # the day it was accepted (受理 / 签收, which is also 立案)


@dataclass(frozen=True, slots=True)
class StageRule:
    """One stage's deadline: ``working_days`` after ``start``; ``upstream``: the channel's own deadline
    replaces it when the channel sends one; the last stage of a rule is done at closing and takes 延期."""

    stage: DeadlineStage
    working_days: int | None  # None: HUB_CLOSE_WITHIN_WORKING_DAYS (12345 complaints, "about 13")
    start: Start
    cite: str
    upstream: bool = False

    def days(self) -> int:
        """Its working days, the configured ones where the rule leaves the figure to the city."""
        return self.working_days if self.working_days is not None else get_settings().close_within_working_days


_HOTLINE_RULES = "12345热线工单办理时限"
_SIGN = StageRule(DeadlineStage.SIGN, 1, Start.RECEIVED, f"{_HOTLINE_RULES}：1个工作日内签收")


def _answer(days: int | None, kind: RequestType) -> StageRule:
    figure = "约13" if days is None else str(days)
    return StageRule(
        DeadlineStage.ANSWER,
        days,
        Start.RECEIVED,
        f"{_HOTLINE_RULES}：{kind.label}{figure}个工作日内办结",
        upstream=True,
    )


_LABOUR_INSPECTION = (
    StageRule(
        DeadlineStage.ACCEPT, 5, Start.RECEIVED, "劳动和社会保障部令第25号 第十八条：接到投诉之日起5个工作日内受理"
    ),
    StageRule(
        DeadlineStage.INVESTIGATE,
        60,
        Start.ACCEPTED,
        "《劳动保障监察条例》第十七条：自立案之日起60个工作日内完成，复杂的可延长30个工作日",
    ),
)

#: (channel, request type) → the stages with their deadlines, in order. ``None`` in either place is
#: "any other": a 12345 order that does not say what it asks is taken as a complaint (the longest
#: answer, never a deadline missed only because the type was unknown), and every channel but 12345
#: is a complaint to labour inspection.
RULES: Mapping[tuple[str | None, str | None], tuple[StageRule, ...]] = {
    (Channel.HOTLINE12345, RequestType.CONSULTATION): (_SIGN, _answer(2, RequestType.CONSULTATION)),
    (Channel.HOTLINE12345, RequestType.HELP): (_SIGN, _answer(5, RequestType.HELP)),
    (Channel.HOTLINE12345, RequestType.COMPLAINT): (_SIGN, _answer(None, RequestType.COMPLAINT)),
    (Channel.HOTLINE12345, None): (_SIGN, _answer(None, RequestType.COMPLAINT)),
    (None, None): _LABOUR_INSPECTION,
}


def rules_for(channel: str | None, request_type: str | None) -> tuple[StageRule, ...]:
    """The stages of a clue that came through ``channel`` asking ``request_type`` (most specific row first)."""
    for key in ((channel, request_type), (channel, None), (None, None)):
        if key in RULES:
            return RULES[key]
    raise AssertionError("RULES has a (None, None) row")  # pragma: no cover - the table's last resort


@dataclass(frozen=True, slots=True)
class StageDeadline:
    """One stage of one clue: when it is due, whether that date is provisional, and how it stands."""

    stage: DeadlineStage
    due: dt.date | None  # None: the stage has not started (调查 before 受理)
    provisional: bool
    outcome: StageOutcome
    done_on: dt.date | None
    current: bool
    cite: str


def _due(rule: StageRule, *, last: bool, clue: m.Clue) -> tuple[dt.date | None, bool]:
    """``rule``'s due date for ``clue`` and whether it is provisional."""
    extension = (clue.extended_days or 0) if last else 0
    if last and clue.reopened_at is not None:
        # 重办: the last stage runs again, its statutory days counted from the reopening (docs/domain.md).
        base = local_date(clue.reopened_at)
        due = add_working_days(base, rule.days() + extension)
        return due, provisional_span(base, due)
    if rule.upstream and clue.upstream_deadline is not None:
        # The channel's own date is official as sent; only days the hub adds to it are counted here.
        due = add_working_days(clue.upstream_deadline, extension)
        return due, extension > 0 and provisional_span(clue.upstream_deadline, due)
    if rule.start is Start.ACCEPTED:
        if clue.accepted_at is None:
            return None, False
        base = local_date(clue.accepted_at)
    else:
        base = local_date(clue.received_at)
    due = add_working_days(base, rule.days() + extension)
    return due, provisional_span(base, due)


#: States in which a clue is being worked (it has a current stage).
_OPEN = frozenset(
    {ClueStatus.RECEIVED, ClueStatus.DISPATCHED, ClueStatus.IN_PROGRESS, ClueStatus.RETURNED, ClueStatus.ESCALATED}
)
#: States only an accepted clue reaches (for rows accepted before ``accepted_at`` was kept).
_ACCEPTED = frozenset({ClueStatus.IN_PROGRESS, ClueStatus.CLOSED, ClueStatus.CALLED_BACK})
_CLOSED = frozenset({ClueStatus.CLOSED, ClueStatus.CALLED_BACK})


def stages(clue: m.Clue, *, today: dt.date) -> list[StageDeadline]:
    """Every stage of ``clue`` with its due date and outcome on ``today`` (China's day).

    The first stage is done at the first acceptance (an escalated or returned clue that was accepted
    once is in its last stage: the statutory clock runs from 立案), the last at closing. A stage not
    done is missed once ``today`` is past its due date; a merged clue's stages stay pending.
    """
    rules = rules_for(clue.channel, clue.request_type)
    accepted = clue.accepted_at is not None or clue.status in _ACCEPTED
    closed = clue.status in _CLOSED
    done = [accepted] + [closed] * (len(rules) - 1)
    done_on = [local_date(clue.accepted_at) if clue.accepted_at is not None else None] + [
        local_date(clue.closed_at) if closed and clue.closed_at is not None else None
    ] * (len(rules) - 1)
    current = (0 if not accepted else len(rules) - 1) if clue.status in _OPEN else None
    out: list[StageDeadline] = []
    for i, rule in enumerate(rules):
        due, provisional = _due(rule, last=i == len(rules) - 1, clue=clue)
        on = done_on[i]
        if done[i]:
            # Done on a day not kept (accepted before the hub kept the day) counts as met: nothing says otherwise.
            outcome = StageOutcome.MISSED if on is not None and due is not None and on > due else StageOutcome.MET
        elif due is not None and due < today and clue.status in _OPEN:
            outcome = StageOutcome.MISSED
        else:
            outcome = StageOutcome.PENDING
        out.append(StageDeadline(rule.stage, due, provisional, outcome, on, i == current, rule.cite))
    return out


def current(clue: m.Clue) -> tuple[dt.date | None, bool]:
    """The due date of ``clue``'s current stage and whether it is provisional.

    An open clue's first stage until it is accepted, its last after; a closed or merged clue keeps
    its last stage's date (the one its closing was measured against).
    """
    rules = rules_for(clue.channel, clue.request_type)
    accepted = clue.accepted_at is not None or clue.status in _ACCEPTED
    index = 0 if clue.status in _OPEN and not accepted else len(rules) - 1
    return _due(rules[index], last=index == len(rules) - 1, clue=clue)


def refresh(clue: m.Clue) -> bool:
    """Set ``clue.deadline`` and ``clue.deadline_provisional`` to its current stage's; whether either changed."""
    due, provisional = current(clue)
    changed = (clue.deadline, bool(clue.deadline_provisional)) != (due, provisional)
    clue.deadline, clue.deadline_provisional = due, provisional
    return changed


def request_type_of(value: object) -> str | None:
    """A channel's request type as stored: a :class:`RequestType` value or its Chinese name (12345's
    ``reflectName``: 咨询 / 求助 / 投诉); anything else is unknown (``None``: the channel's default row)."""
    if value is None:
        return None
    text = str(value).strip()
    for kind in RequestType:
        if text in (kind.value, kind.label):
            return kind.value
    return None


def date_of(value: object) -> dt.date | None:
    """A channel's own deadline (a date, or ISO text such as 12345's ``deadlineDate``); ``None`` when absent
    or unreadable, and then the table's deadline applies (logged: the statute's date, never a guess)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return local_date(value)
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        log.warning("unreadable upstream deadline %r: the statutory deadline applies", value)
        return None


def recompute_provisional(session: Session, *, batch: int = 500) -> int:
    """Recount every clue whose deadline is provisional on the calendar as it now stands (after a year's
    official schedule was loaded); returns how many clues' deadlines changed.

    The flag is cleared for each clue whose span is now official, with one ``clue.deadline_changed``
    event per clue whose date or flag changed (from, to, provisional), in the caller's transaction.
    The clue's version moves (an action that read the old deadline loses with CONFLICT rather than
    write it back). Idempotent: a second run finds nothing provisional that it can settle.
    """
    c = m.Clue
    changed = 0
    last_id = 0
    while True:
        clues = (
            session.execute(
                select(c)
                .where(c.deadline_provisional.is_(True), c.id > last_id)
                .order_by(c.id)
                .limit(batch)
                .execution_options(populate_existing=True)
            )
            .scalars()
            .all()
        )
        if not clues:
            return changed
        for clue in clues:
            before = clue.deadline
            if not refresh(clue):
                continue
            changed += 1
            emit(
                session,
                clue,
                "clue.deadline_changed",
                {
                    "clueNo": clue.clue_no,
                    "from": str(before) if before else None,
                    "to": str(clue.deadline) if clue.deadline else None,
                    "deadlineProvisional": clue.deadline_provisional,
                    "reason": "calendar_loaded",
                },
            )
        last_id = clues[-1].id
        session.flush()
