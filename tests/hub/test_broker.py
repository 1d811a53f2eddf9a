"""The dramatiq broker for each HUB_BROKER_URL, and the hub's actors on real brokers."""

from __future__ import annotations

import os

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select

from hub.broker import check_broker, make_broker, setup_broker
from hub.db import make_engine, session_scope
from hub.models import CreditRating, Enterprise, utcnow
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


def _enterprise_with_ratings(url: str) -> int:
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
        for year, level in [(2024, "A"), (2025, "C")]:
            session.add(
                CreditRating(
                    enterprise_id=ent.id,
                    year=year,
                    level=level,
                    blacklisted=level == "C",
                    evidence=[{"case": "XS-1"}],
                    rated_at=utcnow(),
                    region_code="370811",
                )
            )
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


def _run_actor_once(broker, actor_name: str) -> None:  # type: ignore[no-untyped-def]
    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    try:
        broker.get_actor(actor_name).send()
        broker.join(broker.get_actor(actor_name).queue_name, timeout=30_000)
        worker.join()
    finally:
        worker.stop()


def test_refresh_credit_levels_runs_on_the_in_process_broker(hub_env) -> None:
    ent_id = _enterprise_with_ratings(hub_env)
    broker = setup_broker("memory://")
    _run_actor_once(broker, "refresh_credit_levels")
    assert _level(hub_env, ent_id) == ("C", True)


def test_refresh_credit_levels_runs_on_redis(hub_env, redis_url) -> None:
    ent_id = _enterprise_with_ratings(hub_env)
    broker = setup_broker(redis_url)
    broker.flush_all()
    _run_actor_once(broker, "refresh_credit_levels")
    broker.close()
    assert _level(hub_env, ent_id) == ("C", True)


def test_refresh_credit_levels_is_idempotent(hub_env) -> None:
    from hub.actors import refresh_credit_levels_now

    ent_id = _enterprise_with_ratings(hub_env)
    engine = make_engine(hub_env)
    assert refresh_credit_levels_now(engine) == 1
    assert refresh_credit_levels_now(engine) == 0  # a crashed worker repeating it changes nothing
    engine.dispose()
    assert _level(hub_env, ent_id) == ("C", True)
