"""What a channel that handles a matter itself tells the hub about it: its 督办 and its 回访.

The 12345 hotline keeps its own work order open beside the hub's clue: it may put the order under
督办 (``isSupervise``), and once the hub's result has reached it, its own staff call the complainant
back (``visitTime``, ``visitIsSolved``, ``satisfaction``). The order then comes back in the next
incremental sync, and :func:`take_feedback` moves the clue through the workflow on the channel's
behalf, as the system principal ``system:<channel>`` — every step a CaseAction and an Event like an
operator's (docs/domain.md "The 12345 work order" and "重办"):

- 督办: an open clue that nobody supervises yet is supervised;
- 回访: a closed clue records the call-back; not satisfied (不满意), or not solved, reopens it (重办)
  with a new deadline counted from the reopening.

A call-back is taken once (a re-sync of the same order changes nothing): it counts only while the
clue is closed, only if it was made after the hub closed the clue (an earlier one is about an
earlier handling), and only if the clue has no call-back or reopening from that visit — or from a
later moment — already. The call-back is not written back to the order it came from, so it does not
echo between the hub and 12345 (``workflow.record_callback(source=…)``); a reopened clue writes its
next result back as usual, and the loop ends when the complainant is satisfied.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from hub import models as m
from hub import workflow
from hub.access import SYSTEM, Principal
from hub.vocab import Channel, ClueStatus, Satisfaction
from hub.workdays import CST

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connectors.base import CallbackIn, ClueIn

__all__ = ["is_new_callback", "take_feedback"]

#: Steps that show a call-back was already taken in.
_CALLBACK_STEPS = ("record_callback", "reopen")


def channel_principal(channel: str) -> Principal:
    """The system principal acting for ``channel`` (``system:hotline12345``): national, may work clues."""
    return dataclasses.replace(SYSTEM, name=f"system:{channel}")


def take_feedback(session: Session, *, record: m.ChannelRecord, clue_in: ClueIn) -> bool:
    """Take the channel's 督办 and 回访 from ``clue_in`` onto the clue of ``record``; True when it acted."""
    seen = session.get(m.Clue, record.clue_id)
    if seen is None or not _wanted(session, seen, record, clue_in):
        return False  # the usual re-sync: no lock taken on the clue
    clue = workflow.get_clue(session, clue_id=record.clue_id)  # locked and read afresh: now decide
    principal = channel_principal(record.channel)
    label = Channel.labels().get(record.channel, record.channel)
    acted = False
    if clue_in.supervised and clue.status in workflow.OPEN_STATES and not clue.supervision:
        workflow.supervise(
            session, clue=clue, principal=principal, level="supervised", note=f"{label}督办（{record.source_id}）"
        )
        acted = True
    callback = clue_in.callback
    if callback is not None and is_new_callback(session, clue=clue, record=record, callback=callback):
        note = f"{label}回访（{_mark(record, callback)}）：{callback.satisfaction}"
        if callback.solved is False:
            note += "，问题未解决"
        if clue.status == ClueStatus.CLOSED:
            workflow.record_callback(
                session, clue=clue, principal=principal, satisfaction=callback.satisfaction, note=note, source=record
            )
            acted = True
        if callback.satisfaction == Satisfaction.DISSATISFIED or callback.solved is False:
            workflow.reopen(session, clue=clue, principal=principal, reason=f"重办：{note}")
            acted = True
    return acted


def _wanted(session: Session, clue: m.Clue, record: m.ChannelRecord, clue_in: ClueIn) -> bool:
    """Whether the record asks for a step on the clue as last read (checked again once it is locked)."""
    if clue_in.supervised and clue.status in workflow.OPEN_STATES and not clue.supervision:
        return True
    callback = clue_in.callback
    return callback is not None and is_new_callback(session, clue=clue, record=record, callback=callback)


def is_new_callback(session: Session, *, clue: m.Clue, record: m.ChannelRecord, callback: CallbackIn) -> bool:
    """Whether the channel's call-back is news for the clue (see the module docstring)."""
    if clue.status not in workflow.CLOSED_STATES or clue.closed_at is None:
        return False
    # The channel writes times to the second: a call-back in the second the hub closed the clue is after it.
    if callback.at < clue.closed_at.replace(microsecond=0):
        return False
    a = m.CaseAction
    taken = session.scalar(
        select(a.id)
        .where(
            a.clue_id == clue.id,
            a.action.in_(_CALLBACK_STEPS),
            or_(a.at >= callback.at, a.note.contains(_mark(record, callback))),
        )
        .limit(1)
    )
    return taken is None


def _mark(record: m.ChannelRecord, callback: CallbackIn) -> str:
    """The call-back's identity in a step's note: the source record and the visit time (China time)."""
    return f"{record.source_id}，{callback.at.astimezone(CST):%Y-%m-%d %H:%M:%S}"
