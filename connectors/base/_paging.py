"""Reading a list an upstream pages through by position (update time, then key): one loop for every
connector whose pages say where to go on.

A connector gives ``read_pages`` a ``fetch(position) -> Batch`` (one request, the upstream's answer
parsed) and says what a record's position is and how a position is stored as the bookmark; the loop
keeps the bookmark moving forward whatever the upstream's cursor does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, Self, TypeVar

from connectors.base._connector import Page
from connectors.errors import MalformedResponse

log = logging.getLogger(__name__)


class _Ordered(Protocol):
    def __lt__(self, other: Self, /) -> bool: ...


P = TypeVar("P", bound=_Ordered)


@dataclass(frozen=True, slots=True)
class Batch(Generic[P]):
    """One answer of a list endpoint: its records and the upstream's own idea of where to go on."""

    records: list[dict[str, Any]]
    next: P | None
    has_more: bool


def read_pages(
    fetch: Callable[[P | None], Batch[P]],
    start: P | None,
    *,
    position: Callable[[dict[str, Any]], P],
    bookmark: Callable[[P], dict[str, Any]],
    connector: str,
    stream: str,
    max_stalls: int = 3,
) -> Iterator[Page]:
    """Pages from ``start`` (``None``: the beginning) on, each with the bookmark after it.

    The position after a page is the largest of the one sent, the upstream's next cursor and the
    page's last record's ``position``: a cursor the upstream sends backwards is ignored (and logged),
    and a duplicated page is stored harmlessly while the next request goes on. ``max_stalls`` pages
    in a row that do not move the position raise ``MalformedResponse`` (an upstream stuck on one page
    would otherwise be read for ever). Reading stops at an empty page or one without ``has_more``.
    """
    pos = start
    stalls = 0
    while True:
        batch = fetch(pos)
        if not batch.records:
            return
        last = position(batch.records[-1])
        if batch.next is not None and pos is not None and batch.next < pos:
            log.warning(
                "%s/%s: upstream cursor %s went back behind %s; keeping the larger", connector, stream, batch.next, pos
            )
        new = max(p for p in (pos, batch.next, last) if p is not None)
        stalls = stalls + 1 if new == pos else 0
        if stalls >= max_stalls:
            raise MalformedResponse(
                "upstream pagination does not advance", connector=connector, stream=stream, detail=f"stuck at {pos}"
            )
        pos = new
        yield Page(records=batch.records, state=bookmark(pos))
        if not batch.has_more:
            return
