"""Similar clues: the matcher's candidates for a clue, for an operator deciding on a merge."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub import models as m
from hub.matching import Candidate, Features, find_candidates
from hub.vocab import ClueStatus

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from strawberry.types import Info

MAX_SIMILAR = 20


@dataclass(frozen=True, slots=True)
class Similar:
    """Another clue and how the matcher scores it against the first."""

    clue: m.Clue
    rule: str
    score: float


async def similar_clues(info: Info, clue: m.Clue, *, first: int) -> list[Similar]:
    """Up to ``first`` other clues sharing a blocking key with any channel record of ``clue``, best score first.

    Clues outside the principal's jurisdiction are left out (the loader applies it).
    """
    first = max(0, min(first, MAX_SIMILAR))
    records = await info.context.loaders.children(m.ChannelRecord, m.ChannelRecord.clue_id).load(clue.id)
    window = dt.timedelta(days=info.context.settings.match_window_days)

    def candidates(session: Session) -> list[Candidate]:
        best: dict[int, Candidate] = {}
        for r in records:
            if not r.match_features:
                continue
            for c in find_candidates(
                session,
                Features.from_json(r.match_features),
                received_at=r.received_at,
                window=window,
                exclude_clue_id=clue.id,
            ):
                if c.clue_id not in best or c.match.score > best[c.clue_id].match.score:
                    best[c.clue_id] = c
        return sorted(best.values(), key=lambda c: c.match.score, reverse=True)

    found = await info.context.session.run_sync(candidates)
    out: list[Similar] = []
    for c in found:
        if len(out) >= first:
            break
        other = await info.context.loaders.by_id(m.Clue).load(c.clue_id)
        if other is not None and other.status != ClueStatus.MERGED:
            out.append(Similar(clue=other, rule=c.match.rule, score=c.match.score))
    return out
