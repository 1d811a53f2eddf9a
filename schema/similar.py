"""Similar clues: the matcher's candidates for a clue, for an operator deciding on a merge."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from hub import models as m

if TYPE_CHECKING:
    from strawberry.types import Info

MAX_SIMILAR = 20


async def similar_clues(info: Info, clue: Any, *, first: int) -> list[Any]:
    """Up to ``first`` other clues sharing a blocking key with any channel record of ``clue``, best score first.

    Clues outside the principal's jurisdiction are left out (the loader applies it).
    """
    from hub.matching import Features, find_candidates
    from schema.types.cases import SimilarClue

    first = max(0, min(first, MAX_SIMILAR))
    records = await info.context.loaders.children(m.ChannelRecord, m.ChannelRecord.clue_id).load(clue.id)
    window = dt.timedelta(days=info.context.settings.match_window_days)

    def candidates(session):  # type: ignore[no-untyped-def]
        best: dict[int, Any] = {}
        for r in records:
            if not r.match_features:
                continue
            for c in find_candidates(session, Features.from_json(r.match_features), received_at=r.received_at,
                                     window=window, exclude_clue_id=clue.id):
                if c.clue_id not in best or c.match.score > best[c.clue_id].match.score:
                    best[c.clue_id] = c
        return sorted(best.values(), key=lambda c: c.match.score, reverse=True)

    found = await info.context.session.run_sync(candidates)
    out = []
    for c in found:
        if len(out) >= first:
            break
        other = await info.context.loaders.by_id(m.Clue).load(c.clue_id)
        if other is not None and other.status != "merged":
            out.append(SimilarClue(clue=other, rule=c.match.rule, score=c.match.score))
    return out
