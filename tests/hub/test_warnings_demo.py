"""The demo's warnings are the engine's: the seeded world fires every implemented rule, and its
boundaries (an account not yet due, exactly ¥50,000 to one worker, a letter expiring in 31 days, a site
idle 14 days, pay to an unregistered worker 3 days ago …) do not."""

from __future__ import annotations

from sqlalchemy import select

from hub import models as m
from hub.db import make_engine, session_scope
from hub.rules import RULES
from hub.seed._engine_cases import BOUNDARIES, FIRING


def _warnings(demo) -> list[m.Warning]:  # type: ignore[no-untyped-def]
    engine = make_engine(demo.url)
    with session_scope(engine) as s:
        rows = list(s.scalars(select(m.Warning).order_by(m.Warning.id)))
        s.expunge_all()
    engine.dispose()
    return rows


def test_the_demo_fires_every_implemented_rule(demo) -> None:  # type: ignore[no-untyped-def]
    warnings = _warnings(demo)
    assert {w.rule_code for w in warnings} == {r.code for r in RULES}
    # every one computed by the engine: it says what it measured and has its history
    assert all(w.facts and w.level_changed_at for w in warnings)


def test_the_demo_has_raised_resolved_and_escalated_warnings(demo) -> None:  # type: ignore[no-untyped-def]
    statuses = {w.status for w in _warnings(demo)}
    assert {"active", "resolved", "escalated"} <= statuses


def test_the_demos_boundaries_do_not_fire(demo) -> None:  # type: ignore[no-untyped-def]
    situations = demo.highlights["warning_situations"]
    by_project: dict[int | None, set[str]] = {}
    for w in _warnings(demo):
        by_project.setdefault(w.project_id, set()).add(w.rule_code)
    assert "W01" not in by_project.get(situations["no_account_boundary"]["project_id"], set())
    assert "W12" not in by_project.get(situations["guarantee_boundary"]["project_id"], set())
    # the low-wage project pays one worker ¥60,000 (W08) and another exactly ¥50,000 (no warning)
    big = [w for w in _warnings(demo) if w.rule_code == "W08"]
    assert len(big) == 1 and big[0].facts is not None and big[0].facts["amount"] == 60000
    for role, code in (
        ("no_account", "W01"),
        ("not_filed", "W02"),
        ("low_wages", "W07"),
        ("low_ratio", "W04"),
        ("no_deposit", "W11"),
    ):
        assert code in by_project.get(situations[role]["project_id"], set()), role


def test_the_real_name_and_output_situations_fire_and_their_boundaries_do_not(demo) -> None:  # type: ignore[no-untyped-def]
    # Given the demo's situation projects for the rules over attendance, exits, output and the roster
    situations = demo.highlights["warning_situations"]
    fired: dict[int | None, set[str]] = {}
    for w in _warnings(demo):
        if w.status in ("active", "escalated"):
            fired.setdefault(w.project_id, set()).add(w.rule_code)
    # Then each firing one has its rule's warning, and each boundary (one step short) has none
    for role, code in FIRING.items():
        assert code in fired.get(situations[role]["project_id"], set()), role
    for role, code in BOUNDARIES.items():
        assert code not in fired.get(situations[role]["project_id"], set()), role


def test_the_demos_w06_and_w09_warnings_say_what_they_measured(demo) -> None:  # type: ignore[no-untyped-def]
    situations = demo.highlights["warning_situations"]
    by_rule = {
        (w.rule_code, w.period): w for w in _warnings(demo) if w.rule_code in ("W06", "W09") and w.facts is not None
    }
    # W06: one worker of the judged month's sheet left off it, of all who clocked in — yellow
    w06 = situations["attendance_without_pay"]
    warning = by_rule[("W06", w06["month"])]
    assert (warning.level, warning.facts["without_pay"]) == ("yellow", 1)  # type: ignore[index]
    # W09: the exits 10 and 40 days before the demo's day, yellow and red
    exits = situations["exit_not_settled"]["exit_days"]
    levels = [by_rule[("W09", day.isoformat())].level for day in exits]
    assert levels == ["yellow", "red"]
