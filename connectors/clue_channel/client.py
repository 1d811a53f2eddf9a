"""The client half of the two clue channels (12345 hotline, national clue platform): what both
connectors share to read and normalise.

- ``WORDING``: how their rejections read (``fields`` converters, the channels' own words);
- ``fmt_local``: a time as both upstreams write it (local China time, "YYYY-MM-DD HH:MM:SS");
- ``batch_from`` and ``read_keyset``: incremental reading by (update time, record id) that never
  moves its bookmark backwards and survives duplicated pages (``connectors.base.read_pages``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from typing import Any

from connectors.base import Batch, MalformedResponse, Page, fields, read_pages

log = logging.getLogger(__name__)

#: Both upstreams send local (China Standard Time) timestamps as "YYYY-MM-DD HH:MM:SS".
CST = fields.CHINA
TIME_FORMAT = fields.LOCAL_TIME_FORMAT
#: (update time, record id): the order both upstreams page in; comparing the strings compares the times.
Position = tuple[str, str]
#: The clue channels' rejections name the value first and show the format by example.
WORDING = fields.Wording(
    missing="required field {field} is missing or empty",
    not_int="{field} {value} is not a whole number",
    not_number="{field} {value} is not an amount",
    negative="{field} {value} is negative",
    not_date="{field} {value} is not a date like 2026-10-31",
    not_time="{field} {value} is not a time like 2026-11-20 09:30:00",
)


# -- reading -------------------------------------------------------------------------------


def fmt_local(t: dt.datetime) -> str:
    """``t`` as both upstreams write a time: "YYYY-MM-DD HH:MM:SS" in China time."""
    return t.astimezone(CST).strftime(TIME_FORMAT)


def batch_from(
    data: Any, *, records: str, has_more: str, next_time: str, next_key: str, connector: str, stream: str
) -> Batch[Position]:
    """A ``Batch`` from a list endpoint's ``data`` object; ``MalformedResponse`` when it has another shape."""
    try:
        rows = data[records]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise TypeError(f"{records} is not a list of objects")
        nxt = (str(data[next_time]), str(data[next_key] or "")) if data.get(next_time) else None
        return Batch(records=rows, next=nxt, has_more=bool(data[has_more]))
    except (KeyError, TypeError, AttributeError) as exc:
        raise MalformedResponse(
            "unexpected list response", connector=connector, stream=stream, detail=repr(exc)[:300]
        ) from exc


def read_keyset(
    fetch: Callable[[Position | None], Batch[Position]],
    state: dict[str, Any],
    *,
    time_field: str,
    key_field: str,
    connector: str,
    stream: str,
    max_stalls: int = 3,
    start_date: dt.date | None = None,
    position: Callable[[dict[str, Any]], Position] | None = None,
) -> Iterator[Page]:
    """Pages after the bookmark ``state`` = {time_field: ..., key_field: ...}, in (time, key) order
    (``connectors.base.read_pages``: the bookmark never moves back, a duplicated page does no harm).

    Without a bookmark, ``start_date`` starts at that day (北京时间). ``position`` gives a record's
    (time, key) when the records do not carry ``time_field`` themselves (12345: their last change is
    derived from their event times); the bookmark keeps the names ``time_field`` and ``key_field``.
    """
    pos: Position | None = (state[time_field], state[key_field]) if state.get(time_field) else None
    if pos is None and start_date is not None:
        pos = (f"{start_date:%Y-%m-%d} 00:00:00", "")

    def carried(record: dict[str, Any]) -> Position:
        try:
            return position(record) if position else (str(record[time_field]), str(record[key_field]))
        except (KeyError, TypeError) as exc:
            raise MalformedResponse(
                f"record without {time_field}/{key_field}", connector=connector, stream=stream, detail=repr(exc)
            ) from exc

    yield from read_pages(
        fetch,
        pos,
        position=carried,
        bookmark=lambda p: {time_field: p[0], key_field: p[1]},
        connector=connector,
        stream=stream,
        max_stalls=max_stalls,
    )
