"""The warnings engine's incremental path kept cheap and correct: each rule declares the tables it reads,
a sync page evaluates only the rules reading what it wrote (and a sweep afterwards finds nothing
missed), and the sync engine coalesces pages into one evaluation per N pages and at each run's end."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql import visitors

from connectors import registry
from connectors.base import (
    CheckResult,
    Connector,
    ConnectorConfig,
    EnterpriseIn,
    FatalUpstreamError,
    Page,
    PayrollIn,
    ProjectIn,
    Stream,
)
from hub import models as m
from hub.crypto import Cipher
from hub.db import make_engine, session_scope
from hub.identifiers import make_id_number, make_uscc
from hub.ingest import Ingestor
from hub.records import Item, Touched
from hub.rules import RULES, Scope, evaluate
from hub.rules.base import Context, month_of
from hub.sync import SyncEngine
from tests.conftest import SECRET, TODAY
from tests.connectors.conftest import create_instance

CONTRACTOR = make_uscc(random.Random(10), region_code="370811")
NOW = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)


def tables_named(statement: Any) -> set[str]:
    """The tables a statement reads (through its subqueries and CTEs)."""
    return {el.name for el in visitors.iterate(statement) if isinstance(el, Table)}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_each_rule_declares_the_tables_its_select_reads(rule: Any) -> None:
    # Given the rule's SELECT for the sweep and for an incremental run (narrowed, people in SQL)
    sweep = Context(today=TODAY, thresholds=rule.thresholds)
    narrowed = Context(
        today=TODAY, thresholds=rule.thresholds, scope_projects=frozenset({1}), scope_enterprises=frozenset({2})
    )
    # When the tables they name are listed, Then they are the rule's declared inputs, neither more nor less
    assert tables_named(rule.select(sweep)) == rule.input_tables()
    assert tables_named(rule.select(narrowed)) == rule.input_tables()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The tiny world (seeded as of TODAY), swept once: every warning that holds is raised."""
    from hub.migrate import upgrade
    from hub.seed import seed_database
    from tests.conftest import _fresh_url

    url = _fresh_url(tmp_path_factory.mktemp("incremental"), request)
    upgrade(url)
    engine = make_engine(url)
    seed_database(engine, scale="tiny", seed=20261121, today=TODAY, cipher=Cipher(SECRET), region="370800")
    with session_scope(engine) as s:
        evaluate(s, today=TODAY, now=NOW)
    yield engine
    engine.dispose()


def test_a_page_of_pay_details_evaluates_exactly_the_rules_reading_payroll_and_nothing_is_missed(
    tiny: Engine,
) -> None:
    # Given the swept tiny world and a project with a sheet for the month two back and no W05 warning on it
    month = month_of(TODAY, -2)
    with session_scope(tiny) as s:
        warned = select(m.Warning.project_id).where(m.Warning.rule_code == "W05", m.Warning.period == month)
        project = s.execute(
            select(m.Project.id, m.Project.project_code, m.Project.region_code)
            .join(m.PayrollRecord, m.PayrollRecord.project_id == m.Project.id)
            .where(m.PayrollRecord.pay_month == month, m.Project.id.not_in(warned))
            .order_by(m.Project.id)
            .limit(1)
        ).one()
        before = s.scalar(select(func.count()).select_from(m.Warning))
        # When a page brings an unpaid pay record of that month for a person the roster does not list
        person = make_id_number(random.Random(5), region_code=project.region_code, birth=dt.date(1980, 5, 1))
        page = [
            Item(
                PayrollIn(
                    pay_roll_code="INC-1",
                    project_code=project.project_code,
                    id_number=person,
                    pay_month=month,
                    total_pay_amount=Decimal("6000"),
                    actual_amount=Decimal("6000"),
                    pay_status=0,
                    worker_name="补录工人",
                ),
                None,
            )
        ]
        ingestor = Ingestor(s, cipher=Cipher(SECRET), source="bank_rest")
        assert ingestor.apply(page).problems == []
        touched = ingestor.touched()
        scope = Scope.of(project_ids=touched.project_ids, enterprise_ids=touched.enterprise_ids)
        incremental = evaluate(s, scope=scope, tables=touched.tables, today=TODAY, now=NOW)
        # and then the daily sweep runs
        sweep = evaluate(s, today=TODAY, now=NOW)
        after = s.scalar(select(func.count()).select_from(m.Warning))
    # Then the page wrote pay records and a worker, for that project only
    assert touched == Touched(frozenset({project.id}), frozenset(), frozenset({"payroll_records", "workers"}))
    # and exactly the rules reading them were evaluated, W05 raising the month's unpaid wages
    assert sorted(incremental.seconds) == ["W05", "W06", "W07", "W08", "W09", "W10", "W14", "W16"]
    assert incremental.by_rule["W05"]["raised"] == 1
    assert after == before + incremental.counts["raised"]
    # and the sweep after it finds nothing the incremental run missed
    assert sweep.as_dict() == {}


def test_a_page_that_wrote_no_table_a_rule_reads_evaluates_nothing(tiny: Engine) -> None:
    # Given the tiny world
    with session_scope(tiny) as s:
        project = s.scalars(select(m.Project.id).order_by(m.Project.id)).first()
        # When the engine is asked about a page that wrote only progress payments (no rule reads them)
        report = evaluate(s, scope=Scope.of(project_ids=[project]), tables=["progress_payments"], today=TODAY, now=NOW)
    # Then no rule ran
    assert report.seconds == {} and report.as_dict() == {}


# -- coalescing in the sync engine ---------------------------------------------------------------------


class Projects(Stream):
    """Three pages of one project each after the bookmark (P-1 … P-3 from none, P-4 … P-6 from 3); with
    ``fail``, the third page's read fails for good."""

    name = "projects"
    primary_key = ("code",)
    cursor_field = "n"
    fail = False

    def read(self, state):  # type: ignore[no-untyped-def]
        start = state.get("n", 0)
        for n in (start + 1, start + 2, start + 3):
            if n == start + 3 and self.fail:
                raise FatalUpstreamError("the permits system answered 400")
            yield Page(records=[{"code": f"P-{n}"}], state={"n": n})


class ProjectsConnector(Connector):
    kind = "fake-project-pages"
    title = "scripted project pages"
    config_model = ConnectorConfig
    fail = False

    def check(self, config):  # type: ignore[no-untyped-def]
        return CheckResult(ok=True, message="ok")

    def streams(self, config):  # type: ignore[no-untyped-def]
        stream = Projects(self, config)
        stream.fail = self.fail
        return [stream]

    def normalise(self, stream, record):  # type: ignore[no-untyped-def]
        return [
            EnterpriseIn(uscc=CONTRACTOR, name="济宁测试建设有限公司", kind="general_contractor"),
            ProjectIn(
                project_code=record["code"],
                name=f"测试项目{record['code']}",
                region_code="370811",
                sector="住建",
                status="in_progress",
                contractor_uscc=CONTRACTOR,
            ),
        ]


@pytest.fixture
def project_pages(monkeypatch, empty_db_url):  # type: ignore[no-untyped-def]
    installed = dict(registry.available())
    monkeypatch.setattr(registry, "available", lambda: {**installed, "fake-project-pages": ProjectsConnector})
    instance = create_instance(empty_db_url, kind="fake-project-pages", config={"base_url": "http://x.invalid/"})
    return empty_db_url, instance


def project_ids(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with session_scope(engine) as s:
        ids = {code: id_ for code, id_ in s.execute(select(m.Project.project_code, m.Project.id))}
    engine.dispose()
    return ids


def test_a_backfill_is_evaluated_once_at_the_end_and_later_syncs_every_n_pages(project_pages, sync_engine) -> None:  # type: ignore[no-untyped-def]
    # Given a sync engine evaluating once per two pages, and a stream of three pages of one project each
    url, instance = project_pages
    calls: list[Touched] = []
    sync: SyncEngine = sync_engine(url, on_page=calls.append, pages_per_evaluation=2)
    # When the first sync runs (no bookmark: a backfill)
    assert sync.run(instance).status == "succeeded"
    # Then its three pages are evaluated together, once, at the end of the run
    ids = project_ids(url)
    assert calls == [
        Touched(frozenset({ids["P-1"], ids["P-2"], ids["P-3"]}), frozenset(), frozenset({"enterprises", "projects"})),
    ]
    # When the next sync reads on from the bookmark
    calls.clear()
    assert sync.run(instance).status == "succeeded"
    # Then its first two pages are evaluated together, and the third at the end of the run
    ids = project_ids(url)
    assert calls == [
        Touched(frozenset({ids["P-4"], ids["P-5"]}), frozenset(), frozenset({"projects"})),
        Touched(frozenset({ids["P-6"]}), frozenset(), frozenset({"projects"})),
    ]


def test_a_failed_run_still_evaluates_the_pages_it_stored(project_pages, sync_engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Given a sync engine evaluating once per five pages, and a stream whose third page fails
    url, instance = project_pages
    monkeypatch.setattr(ProjectsConnector, "fail", True)
    calls: list[Touched] = []
    sync: SyncEngine = sync_engine(url, on_page=calls.append, pages_per_evaluation=5)
    # When the sync runs and fails
    assert sync.run(instance).status == "failed"
    # Then the two pages it stored were evaluated once, at the end of the run
    ids = project_ids(url)
    assert calls == [Touched(frozenset({ids["P-1"], ids["P-2"]}), frozenset(), frozenset({"enterprises", "projects"}))]


def test_pages_per_evaluation_below_one_is_refused() -> None:
    # When a sync engine is made to evaluate every zero pages, Then it refuses, naming the value
    with pytest.raises(ValueError, match=r"^pages_per_evaluation must be at least 1, not 0$"):
        SyncEngine(None, cipher=Cipher(SECRET), pages_per_evaluation=0)
