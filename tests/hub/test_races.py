"""Two actions on one clue at once: exactly one wins, the other answers a user error, nothing is lost.

Each round starts two threads with their own sessions (separate connections) on the same clue(s).
On SQLite reading takes no lock, so the threads meet at a barrier *after* reading: both have read the
same version before either writes — the lost update the compare-and-set on ``clues.version`` must
catch (the loser answers CONFLICT). On PostgreSQL the read locks the row, so the threads meet
*before* reading: the second waits, then reads the first's result (ILLEGAL_TRANSITION naming the
state), and two merges in opposite directions lock in one order instead of deadlocking.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from hub import clue_merge, workflow
from hub import models as m
from hub.access import Principal
from hub.db import session_factory, session_scope
from hub.errors import Conflict, HubError
from tests.hub.test_workflow import CITY, COUNTY, complaint, engine, intake  # noqa: F401 - the engine fixture

ROUNDS = 20
ADMIN = Principal(name="admin", role="admin", region_code="000000")

Read = Callable[[Any], list[m.Clue]]
Act = Callable[[Any, list[m.Clue]], Any]


def race(engine, backend: str, *actions: tuple[Read, Act]) -> list[Any]:  # type: ignore[no-untyped-def]
    """Run the actions at once, each through ``workflow.run_action`` in its own session: "won" or the exception."""
    barrier = threading.Barrier(len(actions), timeout=30)
    outcomes: list[Any] = [None] * len(actions)
    reads_lock = backend == "postgres"

    def run(i: int, read: Read, act: Act) -> None:
        def step(s: Any) -> None:
            if reads_lock:
                barrier.wait()
            clues = read(s)
            if not reads_lock:
                barrier.wait()
            act(s, clues)

        with session_factory(engine)() as s:
            try:
                workflow.run_action(s, step)
                outcomes[i] = "won"
            except Exception as exc:  # noqa: BLE001 - the test reports whatever came out
                outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i, read, act)) for i, (read, act) in enumerate(actions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def loser(outcomes: list[Any]) -> HubError:
    """The one user error among exactly one winner; an INTERNAL (anything not a HubError) fails the test."""
    internal = [o for o in outcomes if o != "won" and not isinstance(o, HubError)]
    assert internal == [], f"INTERNAL: {internal!r}"
    assert outcomes.count("won") == 1, outcomes
    [error] = [o for o in outcomes if o != "won"]
    return error


def expect_loss(error: HubError, backend: str, *, conflict: str, illegal: str) -> None:
    """SQLite: both read before either wrote, so the version check refuses the second write (CONFLICT).
    PostgreSQL: the second read waited for the first to commit and saw its result (ILLEGAL_TRANSITION)."""
    if backend == "postgres":
        assert (error.code, error.message) == ("ILLEGAL_TRANSITION", illegal)
    else:
        assert (error.code, error.message) == ("CONFLICT", conflict)


def count(s: Any, model: Any, **where: Any) -> int:
    stmt = select(func.count()).select_from(model)
    for k, v in where.items():
        stmt = stmt.where(getattr(model, k) == v)
    return s.execute(stmt).scalar_one()


def fresh(source_id: str, n: int, **kw: Any) -> Any:
    """A complaint that matches no other clue of the test (its own complainant, phone and company)."""
    fields: dict[str, Any] = {
        "complainant_name": f"工人{source_id}",
        "complainant_phone": f"13{n:09d}",
        "respondent_name": f"{source_id}号测试劳务有限公司",
        "project_name": None,
    }
    fields.update(kw)
    return complaint(source_id, **fields)


def by_id(clue_id: int) -> Read:
    return lambda s: [workflow.get_clue(s, clue_id=clue_id)]


def test_two_closes_at_once_close_the_clue_once(engine, backend) -> None:  # type: ignore[no-untyped-def]
    for n in range(ROUNDS):
        [clue_id] = intake(engine, fresh(f"C{n:04d}", 100 + n))
        with session_scope(engine) as s:
            workflow.accept(s, clue=workflow.get_clue(s, clue_id=clue_id), principal=COUNTY)
            no = s.get(m.Clue, clue_id).clue_no

        def close(conclusion: str) -> Act:
            return lambda s, c: workflow.close(
                s, clue=c[0], principal=COUNTY, conclusion=conclusion, recovered_amount=Decimal(42000), workers_paid=3
            )

        error = loser(
            race(engine, backend, (by_id(clue_id), close("甲：已足额支付")), (by_id(clue_id), close("乙：已足额支付")))
        )
        expect_loss(
            error,
            backend,
            conflict=f"clue {no} was changed by another action: it is now closed (已办结); reload it and try again",
            illegal=f"cannot close (办结) clue {no}: it is closed (已办结); close is allowed from in_progress",
        )
        with session_scope(engine) as s:
            assert count(s, m.CaseAction, clue_id=clue_id, action="close") == 1
            assert count(s, m.Event, entity_id=clue_id, type="clue.close") == 1
            clue = s.get(m.Clue, clue_id)
            step = s.execute(
                select(m.CaseAction).where(m.CaseAction.clue_id == clue_id, m.CaseAction.action == "close")
            ).scalar_one()
            assert (clue.status, clue.conclusion) == ("closed", step.note)  # the winner's conclusion, consistently
            assert clue.version == 3  # created 1, accepted 2, closed 3: the loser wrote nothing


def test_two_dispatches_at_once_record_one_target(engine, backend) -> None:  # type: ignore[no-untyped-def]
    for n in range(ROUNDS):
        [clue_id] = intake(engine, fresh(f"D{n:04d}", 200 + n))
        with session_scope(engine) as s:  # the county hands it up; the city decides where it goes
            workflow.escalate(
                s, clue=workflow.get_clue(s, clue_id=clue_id), principal=COUNTY, reason="涉及跨县施工企业"
            )
            no = s.get(m.Clue, clue_id).clue_no

        def dispatch(to: str) -> Act:
            return lambda s, c: workflow.dispatch(s, clue=c[0], to_region=to, principal=CITY)

        outcomes = race(engine, backend, (by_id(clue_id), dispatch("370811")), (by_id(clue_id), dispatch("370829")))
        error = loser(outcomes)
        expect_loss(
            error,
            backend,
            conflict=f"clue {no} was changed by another action: it is now dispatched (已分办); reload it and try again",
            illegal=f"cannot dispatch (分办) clue {no}: it is dispatched (已分办); dispatch is allowed from "
            "escalated, received, returned",
        )
        winner = ["370811", "370829"][outcomes.index("won")]
        with session_scope(engine) as s:
            [step] = (
                s.execute(
                    select(m.CaseAction).where(m.CaseAction.clue_id == clue_id, m.CaseAction.action == "dispatch")
                )
                .scalars()
                .all()
            )
            assert step.to_region_code == winner == s.get(m.Clue, clue_id).handling_region_code
            [event] = s.execute(
                select(m.Event).where(m.Event.entity_id == clue_id, m.Event.type == "clue.dispatch")
            ).scalars()
            assert event.payload["handlingRegionCode"] == event.handling_region_code == winner


def test_opposite_merges_at_once_leave_exactly_one_clue_open(engine, backend) -> None:  # type: ignore[no-untyped-def]
    for n in range(ROUNDS):
        a, b = intake(engine, fresh(f"MA{n:04d}", 300 + n), fresh(f"MB{n:04d}", 400 + n, channel="petition"))
        assert a != b
        with session_scope(engine) as s:
            nos = {a: s.get(m.Clue, a).clue_no, b: s.get(m.Clue, b).clue_no}

        def merge(target: int, source: int) -> tuple[Read, Act]:
            read: Read = lambda s: workflow.get_clues(s, clue_nos=[nos[target], nos[source]])  # noqa: E731
            act: Act = lambda s, c: clue_merge.merge(s, target=c[0], source=c[1], principal=CITY, reason="同一批工人")  # noqa: E731
            return read, act

        outcomes = race(engine, backend, merge(a, b), merge(b, a))
        error = loser(outcomes)
        kept, gone = (a, b) if outcomes[0] == "won" else (b, a)
        if backend == "postgres":
            assert (error.code, error.message) == (
                "ILLEGAL_TRANSITION",
                f"cannot merge clue {nos[gone]}: it is merged (已合并) into another clue already",
            )
        else:  # the loser read (its target, its source) = (gone, kept); both moved
            assert (error.code, error.message) == (
                "CONFLICT",
                f"clue {nos[gone]} was changed by another action: it is now merged (已合并); "
                f"clue {nos[kept]} was changed by another action: it is now received (已受理); reload it and try again",
            )
        with session_scope(engine) as s:
            states = {i: (s.get(m.Clue, i).status, s.get(m.Clue, i).merged_into_id) for i in (a, b)}
            assert states == {kept: ("received", None), gone: ("merged", kept)}
            assert (
                count(s, m.CaseAction, clue_id=kept, action="merge")
                == count(s, m.CaseAction, clue_id=gone, action="merge")
                == 1
            )
            assert (
                count(s, m.Event, entity_id=kept, type="clue.merge")
                == count(s, m.Event, entity_id=gone, type="clue.merge")
                == 1
            )
            assert count(s, m.AuditLog, entity_id=kept, action="clue.merge") == 1
            assert count(s, m.AuditLog, entity_id=gone, action="clue.merge") == 0
            assert {
                r.clue_id
                for r in s.execute(
                    select(m.ChannelRecord).where(m.ChannelRecord.source_id.in_([f"MA{n:04d}", f"MB{n:04d}"]))
                ).scalars()
            } == {kept}


def test_a_deadlock_victim_answers_conflict_naming_the_clue(engine, backend) -> None:  # type: ignore[no-untyped-def]
    # Two transactions that lock two clues in opposite orders (what merges did before they sorted by id)
    if backend != "postgres":
        pytest.skip("row locks and deadlocks are PostgreSQL's; SQLite has one writer")
    a, b = intake(engine, fresh("DL0001", 1), fresh("DL0002", 2))
    with session_scope(engine) as s:
        nos = {a: s.get(m.Clue, a).clue_no, b: s.get(m.Clue, b).clue_no}
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[Any] = [None, None]

    def run(i: int, first: int, second: int) -> None:
        def step(s: Any) -> None:
            one = workflow.get_clue(s, clue_id=first)
            barrier.wait()
            workflow.get_clue(s, clue_id=second)
            workflow.supervise(s, clue=one, principal=CITY)

        with session_factory(engine)() as s:
            try:
                workflow.run_action(s, step)
                outcomes[i] = "won"
            except Exception as exc:  # noqa: BLE001
                outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(0, a, b)), threading.Thread(target=run, args=(1, b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    error = loser(outcomes)
    assert isinstance(error, Conflict) and isinstance(error.__cause__, OperationalError)
    assert error.__cause__.orig.sqlstate == "40P01"  # type: ignore[union-attr]
    victim = 0 if outcomes[1] == "won" else 1
    first, second = (a, b) if victim == 0 else (b, a)
    # The victim had locked only its first clue, which the winner then locked as its second: named, with its
    # state ("being changed" when the message was written before the winner committed)
    assert re.fullmatch(
        rf"clue {nos[first]} was (being )?changed by another action: it is now received \(已受理\); "
        r"reload it and try again",
        error.message,
    ), error.message
    with session_scope(engine) as s:
        assert count(s, m.CaseAction, action="supervise") == 1
        assert count(s, m.Event, type="clue.supervise") == 1
        assert (s.get(m.Clue, first).supervision, s.get(m.Clue, second).supervision) == (None, "supervised")


def test_a_colour_sweep_between_read_and_write_makes_the_action_lose(engine, backend) -> None:  # type: ignore[no-untyped-def]
    # The sweeper writes the clue (its colour) and bumps the version: an action that read the old colour loses
    import datetime as dt

    if backend == "postgres":
        pytest.skip("on PostgreSQL the action's read locks the clue and the sweep waits for it")
    [clue_id] = intake(engine, fresh("SW0001", 1))
    swept: list[str | None] = []
    with session_factory(engine)() as s:

        def step(s: Any) -> None:
            clue = workflow.get_clue(s, clue_id=clue_id)
            # a day on which its colour differs from the one it has (yellow when overdue, none ten days before)
            day, colour = (
                (clue.deadline + dt.timedelta(days=1), "yellow")
                if clue.colour is None
                else (clue.deadline - dt.timedelta(days=10), None)
            )
            with session_scope(engine) as other:
                assert workflow.sweep_colours(other, today=day) == 1
            swept.append(colour)
            workflow.accept(s, clue=clue, principal=COUNTY)

        with pytest.raises(Conflict, match=r"was changed by another action: it is now received \(已受理\)"):
            workflow.run_action(s, step)
    with session_scope(engine) as s:
        clue = s.get(m.Clue, clue_id)
        assert (clue.status, clue.colour, clue.version) == ("received", swept[0], 2)
        assert count(s, m.CaseAction, action="accept") == 0
