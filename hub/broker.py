"""The dramatiq broker: in-process (embedded), Redis or RabbitMQ (production), from HUB_BROKER_URL."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import dramatiq
from dramatiq.brokers.stub import StubBroker

if TYPE_CHECKING:
    from dramatiq import Broker

SCHEMES = ("memory", "redis", "rediss", "amqp", "amqps")


def make_broker(url: str) -> Broker:
    """A broker for ``url``: ``memory://``, ``redis://host:port/db`` or ``amqp://user:pass@host:port/``."""
    scheme = urlparse(url).scheme
    if scheme == "memory":
        broker: Broker = StubBroker()
        broker.emit_after("process_boot")
        return broker
    if scheme in ("redis", "rediss"):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)
    if scheme in ("amqp", "amqps"):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url)
    raise ValueError(f"unsupported HUB_BROKER_URL {url!r}: use one of {', '.join(s + '://' for s in SCHEMES)}")


def setup_broker(url: str) -> Broker:
    """Make the broker for ``url`` the global one and declare the hub's actors on it."""
    broker = make_broker(url)
    dramatiq.set_broker(broker)
    from hub.actors import ACTORS

    # Actors are declared once, at import; re-bind them so that a new broker (tests, `hub serve`
    # after `hub seed`) knows them too.
    for actor in ACTORS:
        actor.broker = broker
        broker.declare_actor(actor)
    return broker


def check_broker(url: str, *, timeout: float = 2.0) -> None:
    """Raise when the broker at ``url`` cannot be reached (for /readyz)."""
    scheme = urlparse(url).scheme
    if scheme == "memory":
        return
    if scheme in ("redis", "rediss"):
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping()
        return
    if scheme in ("amqp", "amqps"):
        import pika

        params = pika.URLParameters(url)
        params.socket_timeout = timeout
        params.blocked_connection_timeout = timeout
        pika.BlockingConnection(params).close()
        return
    raise ValueError(f"unsupported HUB_BROKER_URL {url!r}")


class InProcessWorker:
    """A dramatiq worker in a thread of the hub process (the embedded mode)."""

    def __init__(self, broker: Broker, *, threads: int = 2) -> None:
        from dramatiq import Worker

        self._worker = Worker(broker, worker_threads=threads, worker_timeout=100)
        self._lock = threading.Lock()
        self.running = False

    def start(self) -> None:
        with self._lock:
            if not self.running:
                self._worker.start()
                self.running = True

    def stop(self) -> None:
        with self._lock:
            if self.running:
                self._worker.stop()
                self.running = False
