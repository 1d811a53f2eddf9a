"""connectors.cursor_api.sandbox, what the permit and real-name sandboxes share: tokens on the
injected clock, the list parameters and the live source's paging and replay.

The sandboxes' wire shapes (their paths, codes and messages) are pinned by the connectors' own tests;
these pin the logic both of them run.
"""

from __future__ import annotations

import datetime as dt
import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest

from connectors.cursor_api.sandbox import (
    INVALID_TOKEN,
    MAX_LIVE_EVENTS,
    TOKEN_EXPIRED,
    BadParam,
    LiveSource,
    TokenStore,
    cursor_a_day_back,
    parse_cursor,
    parse_page_size,
)
from connectors.sandbox.faults import Faults

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)


class _Clock:
    def __init__(self, t: dt.datetime) -> None:
        self.t = t

    def __call__(self) -> dt.datetime:
        return self.t


# -- tokens ---------------------------------------------------------------------------------------


def test_a_token_is_good_until_its_ttl_then_expired_then_unknown() -> None:
    # Given a token issued at T0
    clock = _Clock(T0)
    tokens = TokenStore(clock=clock, faults=Faults(), ttl_seconds=7200)
    token = tokens.issue()
    # When the clock reaches one second short of the TTL, then the TTL, then asks again
    clock.t = T0 + dt.timedelta(seconds=7199)
    before = tokens.refusal(token)
    clock.t = T0 + dt.timedelta(seconds=7200)
    at_ttl = tokens.refusal(token)
    again = tokens.refusal(token)
    # Then it is good, then expired, then no longer known
    assert (before, at_ttl, again) == (None, TOKEN_EXPIRED, INVALID_TOKEN)


def test_a_naive_clock_is_read_as_utc() -> None:
    # Given a clock that answers naive UTC instants
    clock = _Clock(T0.replace(tzinfo=None))
    tokens = TokenStore(clock=clock, faults=Faults(), ttl_seconds=60)
    token = tokens.issue()
    # When it moves past the TTL
    clock.t = (T0 + dt.timedelta(seconds=61)).replace(tzinfo=None)
    # Then the token is expired
    assert tokens.refusal(token) == TOKEN_EXPIRED


def test_the_expire_token_fault_expires_a_good_token_and_an_unknown_one_leaves_it_armed() -> None:
    # Given a good token and one expire_token_next fault
    faults = Faults(expire_token_next=1)
    tokens = TokenStore(clock=_Clock(T0), faults=faults)
    good, other = tokens.issue(), tokens.issue()
    # When an unknown token is presented first, then the good one, then another good one
    unknown = tokens.refusal("not-a-token")
    armed = faults.expire_token_next
    # Then the unknown one is refused without using the fault; the fault expires one token only
    assert (unknown, armed) == (INVALID_TOKEN, 1)
    assert tokens.refusal(good) == TOKEN_EXPIRED
    assert tokens.refusal(other) is None


# -- list parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "size"),
    [(None, 50), ("7", 7), ("1", 1), ("100", 100), ("100000", 100)],
    ids=["absent-is-default", "seven", "one", "maximum", "more-is-cut"],
)
def test_page_size(raw: str | None, size: int) -> None:
    assert parse_page_size(raw, default=50, maximum=100) == size


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("abc", "pageSize 必须是整数"),
        ("", "pageSize 必须是整数"),
        ("1.5", "pageSize 必须是整数"),
        ("0", "pageSize 必须在 1-100 之间"),
        ("-1", "pageSize 必须在 1-100 之间"),
    ],
    ids=["letters", "empty", "fraction", "zero", "negative"],
)
def test_a_bad_page_size_is_refused_as_the_upstream_words_it(raw: str, message: str) -> None:
    with pytest.raises(BadParam) as caught:
        parse_page_size(raw, default=50, maximum=100)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("cursor", "after"),
    [
        (None, None),
        ("", None),
        ("2026-11-20 09:00:00|A-1", ("2026-11-20 09:00:00", "A-1")),
        ("2026-11-20 09:00:00|", ("2026-11-20 09:00:00", "")),
        ("2026-11-20 09:00:00", ("2026-11-20 09:00:00", "")),
    ],
    ids=["absent", "empty", "time-and-key", "empty-key", "no-separator"],
)
def test_a_cursor_points_after_its_time_and_key(cursor: str | None, after: tuple[str, str] | None) -> None:
    assert parse_cursor(cursor) == after


def test_a_cursor_that_is_not_a_time_is_refused_naming_the_format() -> None:
    with pytest.raises(BadParam) as caught:
        parse_cursor("2026-11-20T09:00:00|A")
    assert str(caught.value) == "cursor 格式错误: '2026-11-20T09:00:00|A' (应为 'yyyy-MM-dd HH:mm:ss|主键')"


def test_a_backwards_cursor_is_a_day_earlier_with_the_same_key() -> None:
    assert cursor_a_day_back("2026-03-01 08:00:00|K") == "2026-02-28 08:00:00|K"


# -- the live source ------------------------------------------------------------------------------


class _Ticks(LiveSource):
    """One record in history; live event i adds record ``L<i>`` at the event's time."""

    name = "ticks"
    STREAMS = {"ticks": "tickNo"}

    def _reset(self) -> None:
        self.records = {"ticks": {"H": {"tickNo": "H", "updateTime": "2026-11-19 08:00:00"}}}
        self._reset_live()

    def _event(self, i: int) -> None:
        at = (self.epoch + i * self.interval).astimezone(dt.timezone(dt.timedelta(hours=8)))
        self.records["ticks"][f"L{i}"] = {"tickNo": f"L{i}", "updateTime": f"{at:%Y-%m-%d %H:%M:%S}"}


def _ticks() -> _Ticks:
    world = SimpleNamespace(live_start=lambda: T0)
    return _Ticks(cast(Any, world), live_interval_seconds=60)


def test_live_events_arrive_with_the_clock_and_page_after_the_cursor() -> None:
    # Given a source whose clock is three intervals past the epoch
    source = _ticks()
    source.advance(T0 + dt.timedelta(seconds=185))
    # When it is read two at a time, then after the last record of the first page
    first, more = source.page("ticks", None, 2)
    rest, more_after = source.page("ticks", ("2026-11-20 09:01:00", "L1"), 2)
    # Then the history comes first, then the live records in time order
    assert [r["tickNo"] for r in first] == ["H", "L1"] and more
    assert [r["tickNo"] for r in rest] == ["L2", "L3"] and not more_after


def test_a_clock_moved_backwards_replays_from_the_history() -> None:
    # Given a source that applied three live events
    source = _ticks()
    source.advance(T0 + dt.timedelta(seconds=180))
    # When the clock goes back to one interval past the epoch
    source.advance(T0 + dt.timedelta(seconds=60))
    # Then only the history and the first live event are held
    assert (source.applied, sorted(source.records["ticks"])) == (1, ["H", "L1"])


def test_a_page_is_a_copy_of_what_the_source_holds() -> None:
    source = _ticks()
    (record,), _ = source.page("ticks", None, 1)
    record["tickNo"] = "changed"
    assert source.records["ticks"]["H"]["tickNo"] == "H"


def test_live_events_stop_at_the_cap_with_one_warning_under_the_sandbox_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a source whose clock is far past the cap of live events
    source = _ticks()
    far = T0 + dt.timedelta(seconds=60 * (MAX_LIVE_EVENTS + 5))
    # When it is asked twice how many events are due
    with caplog.at_level(logging.WARNING, logger=__name__):
        due = (source.events_due(far), source.events_due(far))
    # Then both answers are the cap, and one warning says so under the sandbox's module
    assert due == (MAX_LIVE_EVENTS, MAX_LIVE_EVENTS)
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        (__name__, f"ticks sandbox: {MAX_LIVE_EVENTS + 5} live events due, capped at 10000 (no more live records)")
    ]
