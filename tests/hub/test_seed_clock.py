"""The demo is seeded as of a moment, not a day: nothing seeded lies in the future, whatever the hour.

A demo started at 03:00 once held clues received at 14:00 the same day, and the clue sandboxes, which
start their live records after the seeded history, sent nothing until the afternoon.
"""

from __future__ import annotations

import datetime as dt

import pytest

from connectors.clue_channel.client import CST, TIME_FORMAT
from connectors.clue_channel.sandbox import HISTORY_TIME_FIELDS, live_epoch, live_times
from connectors.sandbox.world import build_world
from hub.crypto import Cipher
from hub.seed.world import SCALES, Generation
from tests.conftest import SECRET, TODAY

#: Seeding moments on the tests' day, China time: just after midnight, the morning the bug was seen
#: (03:11 UTC), and late in the evening.
MOMENTS = [dt.time(0, 5), dt.time(11, 11), dt.time(23, 50)]
IDS = ["00:05", "11:11", "23:50"]


def at(clock: dt.time) -> dt.datetime:
    return dt.datetime.combine(TODAY, clock, CST).astimezone(dt.UTC)


def _late_values(table: str, row: dict, now: dt.datetime) -> list[tuple[str, str, object]]:
    late: list[tuple[str, str, object]] = [
        (table, k, v) for k, v in row.items() if isinstance(v, dt.datetime) and v > now
    ]
    if table == "raw_records":
        for field in HISTORY_TIME_FIELDS:
            text = row["payload"].get(field)
            if isinstance(text, str) and text and dt.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=CST) > now:
                late.append((table, f"payload.{field}", text))
    return late


@pytest.mark.parametrize("clock", MOMENTS, ids=IDS)
def test_nothing_seeded_is_later_than_the_moment_of_seeding(clock: dt.time) -> None:
    # Given the demo generator run at a moment of the tests' day
    now = at(clock)
    gen = Generation(plan=SCALES["tiny"], seed=7, today=TODAY, cipher=Cipher(SECRET), region="370800", now=now)
    # When every row is generated
    late = [v for table, row in gen.rows() for v in _late_values(table, row, now)]
    # Then no timestamp and no upstream payload time lies after that moment
    assert late == []
    # and the demo's special situations are all there, whatever the hour
    assert {"multi_channel_clue", "group_case_clue", "large_amount_clue"} <= set(gen.highlights)


def test_the_same_moment_gives_the_same_world() -> None:
    # Given two runs of the generator at the same moment, Then they write the same clues
    now = at(dt.time(3, 0))

    def clues() -> list[tuple]:
        gen = Generation(plan=SCALES["tiny"], seed=7, today=TODAY, cipher=Cipher(SECRET), region="370800", now=now)
        return [(r["clue_no"], r["received_at"], r["status"]) for t, r in gen.rows() if t == "clues"]

    assert clues() == clues()


@pytest.mark.parametrize("clock", MOMENTS, ids=IDS)
def test_live_complaints_start_right_after_the_seeded_history(clock: dt.time) -> None:
    # Given the sandboxes' world of a demo seeded at a moment of the day
    now = at(clock)
    world = build_world(seed=7, scale="tiny", region="370800", today=TODAY, now=now)
    # Then its live complaints start no later than that moment
    assert live_epoch(world) <= now
    # and within a minute of it both clue channels have new complaints to send (one every 20 s)
    assert len(live_times(world, now + dt.timedelta(minutes=1), 20.0)) >= 2
