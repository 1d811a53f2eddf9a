"""The rules-sweep benchmark's machinery on the tiny world, on SQLite and PostgreSQL: the hand-written SQL
of every rule gives the engine's (rule, subject, period, level) set, a wrong twin is caught, a rule with
no twin is named rather than failing, and the dataset is left without warnings. No timing assertions."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if "bench" in sys.modules and getattr(sys.modules["bench"], "__file__", None) is None:
    del sys.modules["bench"]

from bench import datasets, rules_sweep
from hub.rules.catalogue import RULES, rule


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def tiny_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The tiny world (the benches' seed, region and day), migrated and seeded, on each backend."""
    from hub.crypto import Cipher
    from hub.db import make_engine
    from hub.migrate import upgrade
    from hub.seed import seed_database
    from tests.conftest import POSTGRES_URL, create_pg_database, drop_pg_database

    if request.param == "postgres":
        request.getfixturevalue("postgres_server")
        url = create_pg_database(POSTGRES_URL)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('rules') / 'tiny.db'}"
    upgrade(url)
    engine = make_engine(url)
    seed_database(
        engine,
        scale="tiny",
        seed=datasets.SEED,
        today=datasets.TODAY,
        cipher=Cipher(datasets.BENCH_SECRET),
        region=datasets.SCALES["tiny"]["region"],
    )
    engine.dispose()
    yield url
    if request.param == "postgres":
        drop_pg_database(url)


def test_the_hand_sql_of_every_rule_gives_the_engines_warnings(tiny_url: str) -> None:
    # Given the tiny world, where every rule fires at least once
    # When the sweep is measured (it compares hand SQL, the engine's SELECTs and the warnings it wrote)
    result = rules_sweep.run(tiny_url, backend="x", scale="tiny", repeat=1)
    # Then every rule of the catalogue has a twin, the sets agreed (else SweepMismatch), and each fired
    assert result.without_twin == []
    assert result.rules == [r.code for r in RULES]
    assert all(n > 0 for n in result.fired.values()), result.fired
    assert result.first_report["raised"] == sum(result.fired.values())
    assert result.again_report == {}  # nothing changed: the second sweep writes nothing


def test_a_twin_that_disagrees_stops_the_run_naming_the_rule(tiny_url: str) -> None:
    # Given a hand-written W12 that drops the red level (expired letters come out blue)
    def wrong_w12(ctx: Any, d: rules_sweep.Dialect) -> rules_sweep.HandQuery:
        q = rules_sweep.HAND["W12"](ctx, d)
        return rules_sweep.HandQuery(q.sql.replace("THEN 'red'", "THEN 'blue'"), q.params)

    hand = {**rules_sweep.HAND, "W12": wrong_w12}
    # When the sweep runs, Then it stops with the rule named
    with pytest.raises(rules_sweep.SweepMismatch, match=r"^W12: hand SQL vs the engine's SELECT differ"):
        rules_sweep.run(tiny_url, backend="x", scale="tiny", repeat=1, hand=hand)


def test_a_rule_without_a_twin_is_named_and_left_out_of_the_hand_figures(tiny_url: str) -> None:
    # Given the hand SQL of every rule but W08 (as for a rule just added to the catalogue)
    hand = {k: v for k, v in rules_sweep.HAND.items() if k != "W08"}
    # When the sweep runs
    result = rules_sweep.run(tiny_url, backend="x", scale="tiny", repeat=1, hand=hand)
    # Then W08 is named, timed for the engine and absent from the hand side; the run leaves no warning
    assert result.without_twin == ["W08"]
    assert "W08" in result.selects_s and "W08" not in result.hand_s
    from sqlalchemy import create_engine, func, select

    from hub.db import sync_url
    from hub.models import Warning

    engine = create_engine(sync_url(tiny_url))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Warning)).scalar_one() == 0
    engine.dispose()


def test_hand_sql_binds_dates_with_the_columns_types() -> None:
    # Given W15's twin (timestamps) and W12's (dates) on a fixed day
    from hub.rules.base import Context

    ctx = Context(today=dt.date(2026, 11, 20), thresholds=rule("W15").thresholds)
    q = rules_sweep.HAND["W15"](ctx, rules_sweep.Dialect("sqlite"))
    # Then the 90-day window starts at midnight China time, 89 days back
    assert q.params["since"] == dt.datetime(2026, 8, 22, 16, 0, tzinfo=dt.UTC)
    assert q.params["until"] == dt.datetime(2026, 11, 20, 16, 0, tzinfo=dt.UTC)


def test_an_incremental_run_narrowed_to_its_scope_finds_what_the_sweep_finds_there(tiny_url: str) -> None:
    # Given the tiny world, and scopes of one project, one enterprise (a general contractor or a
    # subcontractor paying wages), and both — among the projects, one where each rule fires
    from sqlalchemy import select

    from hub import models as m
    from hub.db import make_engine, session_scope
    from hub.rules.base import Context
    from hub.rules.engine import Scope, _fired, scope_sets

    engine = make_engine(tiny_url)
    with session_scope(engine) as s:
        projects = list(s.scalars(select(m.Project.id).order_by(m.Project.id)))[:6]
        payers = list(
            s.scalars(select(m.PayrollRecord.enterprise_id).distinct().order_by(m.PayrollRecord.enterprise_id))
        )[:4]
        contractors = list(s.scalars(select(m.Project.contractor_id).distinct().order_by(m.Project.contractor_id)))[:4]
        scopes = [Scope.of(project_ids=[p]) for p in projects] + [
            Scope.of(enterprise_ids=[e]) for e in payers + contractors
        ]
        scopes.append(Scope.of(project_ids=projects[:2], enterprise_ids=payers[:1]))
        for rule in RULES:  # a project (or, for a rule without one, an enterprise) each rule fires for
            sweep = _fired(s, rule, Context(today=datasets.TODAY, thresholds=rule.thresholds), None)
            row = min(sweep.values(), key=lambda r: (r["subject_id"], str(r["period"])))
            if row["project_id"] is not None:
                scopes.append(Scope.of(project_ids=[row["project_id"]]))
            else:
                scopes.append(Scope.of(enterprise_ids=[row["enterprise_id"]]))
        compared = 0
        found: set[str] = set()
        for scope in scopes:
            sets = scope_sets(s, scope)
            for rule in RULES:
                ctx = Context(today=datasets.TODAY, thresholds=rule.thresholds)
                narrowed = Context(
                    today=datasets.TODAY,
                    thresholds=rule.thresholds,
                    scope_projects=sets[0],
                    scope_enterprises=sets[1],
                    scope_people=sets[2],
                )
                in_sql = Context(  # people narrowed by a subquery, as when a scope names too many
                    today=datasets.TODAY, thresholds=rule.thresholds, scope_projects=sets[0], scope_enterprises=sets[1]
                )
                # When the rule runs narrowed to the scope, and unnarrowed (the sweep's SELECT) kept to the scope
                want = set(_fired(s, rule, ctx, scope))
                got = set(_fired(s, rule, narrowed, scope))
                assert set(_fired(s, rule, in_sql, scope)) == want, (rule.code, scope)
                # Then it finds the same warnings
                assert got == want, (rule.code, scope)
                compared += len(want)
                if want:
                    found.add(rule.code)
    engine.dispose()
    assert compared > 0  # some scopes do hold warnings
    assert found == {r.code for r in RULES}  # and every rule was compared on a scope where it fires
