"""Two people handling one warning at once: exactly one wins, the other answers a user error, nothing is
recorded twice. Two evaluations of the rules changing or raising one warning at once: the one that
lost runs again and finds nothing left to do (no error, nothing recorded twice).

As for clues (tests/hub/test_races.py): two threads with their own sessions. On SQLite reading takes no
lock, so the threads meet at a barrier *after* reading: both read the same version before either
writes — the lost update the compare-and-set on ``warnings.version`` must catch (CONFLICT naming the
state now). On PostgreSQL the read locks the row, so the threads meet *before* reading: the second
waits, then reads the first's result (ILLEGAL_TRANSITION naming the state).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from hub import models as m
from hub.access import Principal
from hub.db import make_engine, session_factory, session_scope
from hub.errors import HubError
from hub.rules import Report, acknowledge, evaluate, evaluate_committed, handling, resolve
from hub.workflow import lost_race
from tests.hub.warning_world import NOW, TODAY, World, days, empty

ROUNDS = 8
ANNA = Principal(name="apikey:anna", role="inspector", region_code="370800")
BO = Principal(name="apikey:bo", role="inspector", region_code="370800")

Act = Callable[[Session, m.Warning], Any]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Engine]:
    from hub.migrate import upgrade
    from tests.conftest import _fresh_url

    url = _fresh_url(tmp_path_factory.mktemp("warning-races"), request)
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def red_warning(engine: Engine) -> int:
    """A fresh world with one open red W05 warning (September unpaid); its id."""
    with session_scope(engine) as s:
        empty(s)
        w = World(s)
        w.pay(w.worker(), month="2026-09", status=0, account=w.account())
        evaluate(s, rules=["W05"], today=TODAY, now=NOW)
        return s.scalars(select(m.Warning.id)).one()


def race(engine: Engine, backend: str, warning_id: int, *acts: Act) -> list[Any]:
    """Run the acts at once, each through ``handling.run_handling`` in its own session: "won" or the exception."""
    barrier = threading.Barrier(len(acts), timeout=30)
    outcomes: list[Any] = [None] * len(acts)
    reads_lock = backend == "postgres"

    def run(i: int, act: Act) -> None:
        def step(s: Session) -> None:
            if reads_lock:
                barrier.wait()
            warning = handling.get_warning(s, warning_id=warning_id)
            if not reads_lock:
                barrier.wait()
            act(s, warning)

        with session_factory(engine)() as s:
            try:
                handling.run_handling(s, step)
                outcomes[i] = "won"
            except Exception as exc:  # noqa: BLE001 - the test reports whatever came out
                outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i, act)) for i, act in enumerate(acts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def loser(outcomes: list[Any]) -> tuple[int, HubError]:
    """Which act won, and the one user error; an INTERNAL (anything not a HubError) fails the test."""
    internal = [o for o in outcomes if o != "won" and not isinstance(o, HubError)]
    assert internal == [], f"INTERNAL: {internal!r}"
    assert outcomes.count("won") == 1, outcomes
    [error] = [o for o in outcomes if o != "won"]
    return outcomes.index("won"), error


def actions(engine: Engine, warning_id: int) -> list[tuple[str, str]]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(m.WarningAction.action, m.WarningAction.actor)
            .where(m.WarningAction.warning_id == warning_id)
            .order_by(m.WarningAction.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_two_resolutions_at_once_resolve_the_warning_once(engine: Engine, backend: str) -> None:
    for n in range(ROUNDS):
        # Given an open red warning
        warning_id = red_warning(engine)
        # When Anna and Bo resolve it at the same moment, each with their reason
        won, error = loser(
            race(
                engine,
                backend,
                warning_id,
                lambda s, w, n=n: resolve(s, warning=w, principal=ANNA, reason=f"已补发（Anna {n}）"),
                lambda s, w, n=n: resolve(s, warning=w, principal=BO, reason=f"已补发（Bo {n}）"),
            )
        )
        # Then one resolution stands, recorded once, and the other is told who got there first
        winner = (ANNA, BO)[won]
        if backend == "postgres":
            assert (error.code, error.message) == (
                "ILLEGAL_TRANSITION",
                f"cannot resolve warning W05/{warning_id}: it is resolved",
            )
        else:
            assert (error.code, error.message) == (
                "CONFLICT",
                f"warning W05/{warning_id} was changed by another action: it is now resolved by {winner.name}; "
                "reload it and try again",
            )
            assert error.extensions()["state"] == "resolved"
        assert actions(engine, warning_id) == [("raised", "system"), ("resolved", winner.name)]
        with session_scope(engine) as s:
            stored = s.get_one(m.Warning, warning_id)
            assert (stored.status, stored.resolved_by, stored.version) == ("resolved", winner.name, 2)
            audited = s.scalar(
                select(func.count()).select_from(m.AuditLog).where(m.AuditLog.action == "warning.resolved")
            )
            assert audited == 1


def test_an_acknowledgement_racing_a_resolution_is_never_lost_silently(engine: Engine, backend: str) -> None:
    for _ in range(ROUNDS):
        # Given an open red warning
        warning_id = red_warning(engine)
        # When Anna acknowledges it while Bo resolves it
        outcomes = race(
            engine,
            backend,
            warning_id,
            lambda s, w: acknowledge(s, warning=w, principal=ANNA),
            lambda s, w: resolve(s, warning=w, principal=BO, reason="总包已补发"),
        )
        history = actions(engine, warning_id)
        if outcomes == ["won", "won"]:
            # Then either both stand in order — only on PostgreSQL, where Bo's read waited for Anna's commit
            assert backend == "postgres"
            assert history == [("raised", "system"), ("acknowledged", ANNA.name), ("resolved", BO.name)]
            continue
        won, error = loser(outcomes)
        if won == 1:
            # or Bo's resolution stands and Anna is told it is resolved
            assert history == [("raised", "system"), ("resolved", BO.name)]
            if backend == "postgres":
                assert (error.code, error.message) == (
                    "ILLEGAL_TRANSITION",
                    f"cannot acknowledge warning W05/{warning_id}: it is resolved",
                )
            else:
                assert (error.code, error.message) == (
                    "CONFLICT",
                    f"warning W05/{warning_id} was changed by another action: it is now resolved by {BO.name}; "
                    "reload it and try again",
                )
        else:
            # or (SQLite) Anna's acknowledgement stands and Bo's resolution, read before it, loses
            assert backend == "sqlite"
            assert history == [("raised", "system"), ("acknowledged", ANNA.name)]
            assert (error.code, error.message) == (
                "CONFLICT",
                f"warning W05/{warning_id} was changed by another action: it is now active, acknowledged by "
                f"{ANNA.name}; reload it and try again",
            )


def test_handling_what_the_engine_changed_since_reading_loses(engine: Engine, backend: str) -> None:
    if backend == "postgres":
        pytest.skip("on PostgreSQL the read locks the row: the engine waits for the action instead")
    # Given an inspector who read the open warning
    warning_id = red_warning(engine)
    with session_factory(engine)() as s:

        def step(s: Session) -> None:
            warning = handling.get_warning(s, warning_id=warning_id)
            # When, before the inspector writes, the wages are paid and a sweep resolves the warning
            with session_scope(engine) as other:
                other.execute(m.PayrollRecord.__table__.update().values(pay_status=20, balance_date=TODAY))
                evaluate(other, rules=["W05"], today=TODAY, now=NOW)
            acknowledge(s, warning=warning, principal=ANNA)

        with pytest.raises(HubError) as lost:
            handling.run_handling(s, step)
    # Then the acknowledgement loses, naming the engine's resolution
    assert (lost.value.code, lost.value.message) == (
        "CONFLICT",
        f"warning W05/{warning_id} was changed by another action: it is now resolved by system; "
        "reload it and try again",
    )
    assert actions(engine, warning_id) == [("raised", "system"), ("resolved", "system")]


def w01(today: dt.date) -> Callable[[Session], Report]:
    """An evaluation of W01 (no wage account opened) as of ``today``, 10:00 China time."""
    return lambda s: evaluate(s, rules=["W01"], today=today, now=dt.datetime.combine(today, dt.time(2), dt.UTC))


def overtaken(engine: Engine, first: Callable[[Session], Report]) -> tuple[Callable[[], Session], list[Report]]:
    """Sessions for the second of two evaluations, and the first's report once it ran: the second reads,
    then — at its first write — the first evaluation runs and commits in a session of its own, then the
    second writes what it decided from its read. The same interleaving on SQLite and PostgreSQL, in one
    thread: the second holds no lock before it writes (pysqlite begins at the first write; PostgreSQL's
    plain SELECT locks nothing)."""
    reports: list[Report] = []

    def sessions() -> Session:
        session = session_factory(engine)()
        if not reports:  # the first attempt only: a rerun meets nobody

            @event.listens_for(session, "before_flush")
            def the_first_commits(*_: Any) -> None:
                if not reports:
                    with session_scope(engine) as other:
                        reports.append(first(other))

        return session

    return sessions, reports


def history(engine: Engine) -> tuple[list[tuple[Any, ...]], list[str], list[tuple[str, str, int]]]:
    """Every warning action (action, from, to), event type and warning (rule, level, version)."""
    with session_scope(engine) as s:
        steps = s.execute(
            select(m.WarningAction.action, m.WarningAction.from_level, m.WarningAction.to_level).order_by(
                m.WarningAction.id
            )
        ).all()
        events = s.scalars(select(m.Event.type).order_by(m.Event.id)).all()
        warnings = s.execute(select(m.Warning.rule_code, m.Warning.level, m.Warning.version)).all()
        return [tuple(r) for r in steps], list(events), [tuple(r) for r in warnings]  # type: ignore[misc]


def yellow_w01(engine: Engine) -> None:
    """A fresh world: a project whose contract is 25 days old and has no wage account — W01 yellow."""
    with session_scope(engine) as s:
        empty(s)
        World(s).add_project(contract_signed_on=days(-25))
        w01(TODAY)(s)


def test_two_evaluations_changing_one_warning_at_once_change_it_once(engine: Engine) -> None:
    # Given a yellow W01 warning
    yellow_w01(engine)
    # When two evaluations six days later meet: the second reads it yellow, the first turns it red and
    # commits, then the second writes the same change over the version it read
    sessions, first = overtaken(engine, w01(days(6)))
    second = evaluate_committed(sessions, w01(days(6)))
    # Then the second lost the race, ran again without an error and found nothing left to change
    assert ([r.counts["changed"] for r in first], first[0].reruns) == ([1], 0)
    assert (second.reruns, second.as_dict()) == (1, {})
    # And the warning is red, changed once: one step in its history, one event
    steps, events, warnings = history(engine)
    assert steps == [("raised", None, "yellow"), ("level_changed", "yellow", "red")]
    assert events == ["warning.raised", "warning.changed"]
    assert warnings == [("W01", "red", 2)]


def test_two_evaluations_raising_one_warning_at_once_raise_it_once(engine: Engine) -> None:
    # Given a project with no wage account whose W01 nobody has evaluated yet
    with session_scope(engine) as s:
        empty(s)
        World(s).add_project(contract_signed_on=days(-25))
    # When two evaluations meet: the second finds no warning, the first raises it and commits, then the
    # second raises it too
    sessions, first = overtaken(engine, w01(TODAY))
    second = evaluate_committed(sessions, w01(TODAY))
    # Then the second lost on the warning's unique key, ran again and found it raised
    assert [r.counts["raised"] for r in first] == [1]
    assert (second.reruns, second.as_dict()) == (1, {})
    steps, events, warnings = history(engine)
    assert (steps, events, warnings) == ([("raised", None, "yellow")], ["warning.raised"], [("W01", "yellow", 1)])


def test_an_evaluation_out_of_attempts_lets_the_lost_race_through(engine: Engine) -> None:
    # Given a yellow W01 warning
    yellow_w01(engine)
    # When two evaluations meet as above and the second may run only once
    sessions, first = overtaken(engine, w01(days(6)))
    with pytest.raises(Exception) as lost:
        evaluate_committed(sessions, w01(days(6)), attempts=1)
    # Then it fails with the lost race (the worker's retry takes it from there), and rolled back all it
    # wrote: the first's change stands alone
    assert lost_race(lost.value), lost.value
    steps, events, warnings = history(engine)
    assert (len(first), steps[-1], events, warnings) == (
        1,
        ("level_changed", "yellow", "red"),
        ["warning.raised", "warning.changed"],
        [("W01", "red", 2)],
    )
