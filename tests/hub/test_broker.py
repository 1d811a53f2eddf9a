"""The dramatiq broker for each HUB_BROKER_URL, and the hub's actors on real brokers."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select

from hub.broker import check_broker, make_broker, setup_broker
from hub.db import make_engine, session_scope
from hub.models import BlacklistEntry, Enterprise, Penalty
from hub.settings import get_settings

REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
AMQP_URL = os.environ.get("HUB_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: real services are required)")
    pytest.skip(reason)


@pytest.fixture
def redis_url() -> str:
    try:
        check_broker(REDIS_URL)
    except Exception as exc:  # noqa: BLE001
        _unavailable(f"Redis at {REDIS_URL} is unreachable: {exc.__class__.__name__}")
    return REDIS_URL


def test_memory_url_gives_the_in_process_broker() -> None:
    assert isinstance(make_broker("memory://"), StubBroker)


def test_unknown_scheme_is_rejected_with_the_choices() -> None:
    with pytest.raises(
        ValueError,
        match=r"^unsupported HUB_BROKER_URL 'kafka://x': use one of memory://, redis://, rediss://, amqp://, amqps://$",
    ):
        make_broker("kafka://x")


def test_rabbitmq_is_reachable_when_configured() -> None:
    try:
        check_broker(AMQP_URL)
    except Exception as exc:  # noqa: BLE001
        _unavailable(f"RabbitMQ at {AMQP_URL} is unreachable: {exc.__class__.__name__}")
    broker = make_broker(AMQP_URL)
    assert broker.__class__.__name__ == "RabbitmqBroker"
    broker.close()


#: The day the credit sweep runs in these tests (sent to the actor: no test depends on the day it runs).
TODAY = dt.date(2026, 6, 15)


def _enterprise_with_evidence(url: str) -> int:
    """An enterprise with three penalties this year (level C) and a blacklist listing in force."""
    engine = make_engine(url)
    with session_scope(engine) as session:
        ent = Enterprise(
            uscc="91370811MA3C00000B",
            name="济宁市恒达建设有限公司",
            region_code="370811",
            kind="general_contractor",
            credit_level="A",
        )
        session.add(ent)
        session.flush()
        for n in range(1, 4):
            session.add(Penalty(enterprise_id=ent.id, document_no=f"济任人社监罚字〔2026〕第{n}号", decided_on=dt.date(2026, n, 10),
                                kind="fine", violation="拖欠农民工工资", amount=Decimal(5000), source="entered",
                                created_by="test", region_code="370811"))
        session.add(BlacklistEntry(enterprise_id=ent.id, document_no="济任人社失信字〔2026〕第1号", decided_on=dt.date(2026, 2, 1),
                                   reason="拖欠农民工工资", ends_on=dt.date(2029, 2, 1), status="listed", created_by="test",
                                   region_code="370811"))
        ent_id = ent.id
    engine.dispose()
    return ent_id


def _level(url: str, ent_id: int) -> tuple[str, bool]:
    engine = make_engine(url)
    with engine.connect() as conn:
        row = conn.execute(select(Enterprise.credit_level, Enterprise.blacklisted).where(Enterprise.id == ent_id)).one()
    engine.dispose()
    return row.credit_level, row.blacklisted


@pytest.fixture
def hub_env(empty_db_url, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HUB_DATABASE_URL", empty_db_url)
    get_settings.cache_clear()
    yield empty_db_url
    get_settings.cache_clear()


def _run_actor_once(broker, actor_name: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    try:
        broker.get_actor(actor_name).send_with_options(kwargs=kwargs)
        broker.join(broker.get_actor(actor_name).queue_name, timeout=30_000)
        worker.join()
    finally:
        worker.stop()


def test_refresh_credit_levels_runs_on_the_in_process_broker(hub_env) -> None:
    ent_id = _enterprise_with_evidence(hub_env)
    broker = setup_broker("memory://")
    _run_actor_once(broker, "refresh_credit_levels", today=TODAY.isoformat())
    assert _level(hub_env, ent_id) == ("C", True)


def test_refresh_credit_levels_runs_on_redis(hub_env, redis_url) -> None:
    ent_id = _enterprise_with_evidence(hub_env)
    broker = setup_broker(redis_url)
    broker.flush_all()
    _run_actor_once(broker, "refresh_credit_levels", today=TODAY.isoformat())
    broker.close()
    assert _level(hub_env, ent_id) == ("C", True)


def test_refresh_credit_levels_is_idempotent(hub_env) -> None:
    from hub.actors import refresh_credit_levels_now

    ent_id = _enterprise_with_evidence(hub_env)
    engine = make_engine(hub_env)
    assert refresh_credit_levels_now(engine, today=TODAY) == 1
    assert refresh_credit_levels_now(engine, today=TODAY) == 0  # a crashed worker repeating it changes nothing
    engine.dispose()
    assert _level(hub_env, ent_id) == ("C", True)
