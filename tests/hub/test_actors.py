"""The hub's actors and the scheduler that sends them (hub.actors), on the in-process broker."""

from __future__ import annotations

from collections import Counter

import dramatiq
import pytest

from hub.actors import (
    ACTORS,
    Scheduler,
    deliver_writebacks,
    recompute_deadlines,
    refresh_credit_levels,
    schedule_due_syncs,
    urge_overdue_clues,
)
from hub.broker import setup_broker
from hub.settings import get_settings


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_scheduler_sends_refresh_credit_levels_once_per_period() -> None:
    # Given the in-process broker and a scheduler on an injected clock, refreshing credit levels hourly
    assert refresh_credit_levels in ACTORS
    broker = setup_broker("memory://")
    clock = Clock()
    scheduler = Scheduler(interval=5, writeback_interval=30, credit_interval=3600, clock=clock)
    # When it ticks every 5 s for two hours and a minute (the thread is not started: the test ticks)
    sent_at: list[float] = []
    for step in range(0, 2 * 3600 + 60, 5):
        clock.now = 1000.0 + step
        if refresh_credit_levels.actor_name in scheduler.tick():
            sent_at.append(step)
    # Then refresh_credit_levels went at the first tick and once an hour after, as the broker holds it
    assert sent_at == [0, 3600, 7200]
    queued = Counter(dramatiq.Message.decode(raw).actor_name for raw in broker.queues["hub"].queue)
    assert queued[refresh_credit_levels.actor_name] == 3
    assert queued[schedule_due_syncs.actor_name] == len(range(0, 2 * 3600 + 60, 5))  # every tick
    assert queued[deliver_writebacks.actor_name] == len(range(0, 2 * 3600 + 60, 30))


def test_the_credit_period_defaults_to_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given HUB_CREDIT_REFRESH_INTERVAL_SECONDS
    monkeypatch.setenv("HUB_CREDIT_REFRESH_INTERVAL_SECONDS", "600")
    get_settings.cache_clear()
    try:
        # Then a scheduler made without a credit interval follows it; the default is hourly
        assert Scheduler().credit_interval == 600
        monkeypatch.delenv("HUB_CREDIT_REFRESH_INTERVAL_SECONDS")
        get_settings.cache_clear()
        assert Scheduler().credit_interval == 3600
    finally:
        get_settings.cache_clear()


def test_the_scheduler_sends_the_automatic_urge_hourly() -> None:
    # Given the in-process broker and a scheduler on an injected clock
    assert {urge_overdue_clues, recompute_deadlines} <= set(ACTORS)
    setup_broker("memory://")
    clock = Clock()
    scheduler = Scheduler(interval=5, urge_interval=3600, clock=clock)
    # When it ticks every 5 s for two hours and a minute
    sent_at = []
    for step in range(0, 2 * 3600 + 60, 5):
        clock.now = 1000.0 + step
        if urge_overdue_clues.actor_name in scheduler.tick():
            sent_at.append(step)
    # Then the urge sweep went at the first tick and once an hour after (it is idempotent: more often is harmless)
    assert sent_at == [0, 3600, 7200]
