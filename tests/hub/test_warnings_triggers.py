"""What sets the warnings engine going: a sync page that touched a rule's inputs (after it commits, once
per page, with the touched projects) and the scheduler's daily sweep — on the in-process broker."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any

import dramatiq
import pytest
from dramatiq import Worker
from sqlalchemy import select

from connectors import registry
from connectors.base import CheckResult, Connector, ConnectorConfig, EnterpriseIn, Page, ProjectIn, Stream
from hub import models as m
from hub.actors import ACTORS, Scheduler, evaluate_warnings, warnings_for_page
from hub.broker import setup_broker
from hub.db import make_engine, session_scope
from hub.identifiers import make_uscc
from hub.settings import get_settings
from hub.workdays import china_today
from tests.conftest import SECRET
from tests.connectors.conftest import create_instance

CONTRACTOR = make_uscc(random.Random(10), region_code="370811")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Permits(Stream):
    """Two pages: a contractor, then two projects signed 40 days ago with no wage account."""

    name = "permits"
    primary_key = ("code",)
    cursor_field = "n"

    def read(self, state):  # type: ignore[no-untyped-def]
        yield Page(records=[{"kind": "corp"}], state={"page": 1})
        yield Page(records=[{"kind": "project", "code": "P-1"}, {"kind": "project", "code": "P-2"}], state={"page": 2})


class PermitConnector(Connector):
    kind = "fake-permits"
    title = "scripted permits"
    config_model = ConnectorConfig

    def check(self, config):  # type: ignore[no-untyped-def]
        return CheckResult(ok=True, message="ok")

    def streams(self, config):  # type: ignore[no-untyped-def]
        return [Permits(self, config)]

    def normalise(self, stream, record):  # type: ignore[no-untyped-def]
        if record["kind"] == "corp":
            return [EnterpriseIn(uscc=CONTRACTOR, name="济宁测试建设有限公司", kind="general_contractor")]
        signed = china_today() - dt.timedelta(days=40)
        return [
            ProjectIn(
                project_code=record["code"],
                name=f"测试项目{record['code']}",
                region_code="370811",
                sector="住建",
                status="in_progress",
                contractor_uscc=CONTRACTOR,
                contract_signed_on=signed,
            )
        ]


@pytest.fixture
def permits(monkeypatch, empty_db_url):  # type: ignore[no-untyped-def]
    installed = dict(registry.available())
    monkeypatch.setattr(registry, "available", lambda: {**installed, "fake-permits": PermitConnector})
    return empty_db_url, create_instance(empty_db_url, kind="fake-permits", config={"base_url": "http://x.invalid/"})


def queued(broker: Any, queue: str = "hub") -> list[dramatiq.Message[Any]]:
    return [dramatiq.Message.decode(raw) for raw in broker.queues[queue].queue]


def test_a_sync_page_sends_the_projects_it_touched(permits, sync_engine) -> None:  # type: ignore[no-untyped-def]
    # Given the in-process broker and a sync engine that nudges the warnings engine after each page
    url, instance = permits
    broker = setup_broker("memory://")
    sync = sync_engine(url, on_page=warnings_for_page)
    # When a sync stores a page with an enterprise and a page with two projects
    assert sync.run(instance).status == "succeeded"
    # Then evaluate_warnings was sent once, for the page that touched projects, naming them and the
    # table it wrote (the rules reading projects are the ones to evaluate)
    engine = make_engine(url)
    with session_scope(engine) as s:
        projects = sorted(s.scalars(select(m.Project.id)))
    engine.dispose()
    sent = [msg for msg in queued(broker) if msg.actor_name == evaluate_warnings.actor_name]
    assert [msg.args for msg in sent] == [(projects, [], ["projects"])]


def test_an_unchanged_page_sends_nothing(permits, sync_engine) -> None:  # type: ignore[no-untyped-def]
    # Given projects already stored by a first run
    url, instance = permits
    sync_engine(url).run(instance)
    broker = setup_broker("memory://")
    # When a full refresh reads the same records again
    sync_engine(url, on_page=warnings_for_page).run(instance, full_refresh=True)
    # Then nothing was touched and nothing is sent
    assert [msg.actor_name for msg in queued(broker)] == []


def test_the_actor_evaluates_the_touched_projects_through_the_broker(permits, sync_engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Given two stored projects 40 days past their contracts with no account, and a worker on the broker
    url, instance = permits
    sync_engine(url).run(instance)
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    monkeypatch.setenv("HUB_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    broker = setup_broker("memory://")
    engine = make_engine(url)
    with session_scope(engine) as s:
        first = s.scalars(select(m.Project.id).order_by(m.Project.id)).first()
    worker = Worker(broker, worker_timeout=100)
    worker.start()
    try:
        # When evaluate_warnings is sent for the first project
        evaluate_warnings.send([first], [])
        broker.join("hub")
        worker.join()
        with session_scope(engine) as s:
            scoped = s.execute(select(m.Warning.rule_code, m.Warning.project_id).order_by(m.Warning.rule_code)).all()
        # and then the sweep (no arguments)
        evaluate_warnings.send()
        broker.join("hub")
        worker.join()
        with session_scope(engine) as s:
            swept = Counter(s.scalars(select(m.Warning.rule_code)))
    finally:
        worker.stop()
        engine.dispose()
        get_settings.cache_clear()
    # Then the first run raised W01 and W11 for that project only, and the sweep the second project's
    assert scoped == [("W01", first), ("W11", first)]
    assert swept == Counter({"W01": 2, "W11": 2})


def test_the_scheduler_sends_the_sweep_daily() -> None:
    # Given a scheduler on an injected clock with the default sweep period (a day)
    assert evaluate_warnings in ACTORS
    broker = setup_broker("memory://")
    clock = Clock()
    scheduler = Scheduler(interval=60, writeback_interval=60, credit_interval=3600, clock=clock)
    # When it ticks every minute for two days and an hour
    for step in range(0, 2 * 86400 + 3600, 60):
        clock.now = 1000.0 + step
        scheduler.tick()
    # Then the sweep went at the first tick and once a day after, with no arguments (every rule, everything)
    sweeps = [msg for msg in queued(broker) if msg.actor_name == evaluate_warnings.actor_name]
    assert len(sweeps) == 3 and all(msg.args == () for msg in sweeps)
