"""The dramatiq broker: in-process (embedded), Redis or RabbitMQ (production), from HUB_BROKER_URL."""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlparse

import dramatiq
import pika
import redis
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.errors import ConnectionClosed

from hub.actors import ACTORS

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
        return _redis_broker_class()(url=url)
    if scheme in ("amqp", "amqps"):
        return RabbitmqBroker(url=url)
    raise ValueError(f"unsupported HUB_BROKER_URL {url!r}: use one of {', '.join(s + '://' for s in SCHEMES)}")


@functools.cache
def _redis_broker_class() -> type[RedisBroker]:
    """dramatiq's Redis broker, giving back the delayed messages a worker forgot in a Redis restart.

    A dramatiq worker holds the delayed messages it fetched (retries waiting for their back-off) in
    memory while Redis keeps them in this process's "acks" set. On a connection error — Redis
    restarting — the worker drops that memory and makes a new consumer; the messages stay in the acks
    set, which Redis only requeues once this process's heartbeat stops, so a worker that stays up
    would never run them. A delay-queue consumer is only made when the worker holds none of that
    queue's messages in memory (at start, after a connection error or an unexpected error), so it
    safely puts every message of this process's acks set back on the delay queue first.
    """

    class HubRedisBroker(RedisBroker):
        def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> dramatiq.Consumer:
            if queue_name.endswith(".DQ"):
                try:
                    forgotten = self.client.smembers(f"{self.namespace}:__acks__.{self.broker_id}.{queue_name}")
                    if forgotten:
                        self.do_requeue(queue_name, *forgotten)
                except redis.ConnectionError as exc:
                    raise ConnectionClosed(exc) from None
            return super().consume(queue_name, prefetch, timeout)

    return HubRedisBroker


def setup_broker(url: str) -> Broker:
    """Make the broker for ``url`` the global one and declare the hub's actors on it."""
    broker = make_broker(url)
    dramatiq.set_broker(broker)
    # Actors are declared once, at import; re-bind them so that a new broker (tests, `hub serve`
    # after `hub seed`) knows them too.
    for declared in ACTORS:
        actor = cast("dramatiq.Actor[Any, Any]", declared)  # dramatiq's decorator is untyped
        actor.broker = broker
        broker.declare_actor(actor)
    return broker


def check_broker(url: str, *, timeout: float = 2.0) -> None:
    """Raise when the broker at ``url`` cannot be reached (for /readyz)."""
    scheme = urlparse(url).scheme
    if scheme == "memory":
        return
    if scheme in ("redis", "rediss"):
        redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping()
        return
    if scheme in ("amqp", "amqps"):
        params = pika.URLParameters(url)
        params.socket_timeout = timeout
        params.blocked_connection_timeout = timeout
        pika.BlockingConnection(params).close()
        return
    raise ValueError(f"unsupported HUB_BROKER_URL {url!r}")


class InProcessWorker:
    """A dramatiq worker in a thread of the hub process (the embedded mode)."""

    def __init__(self, broker: Broker, *, threads: int = 2) -> None:
        self._worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
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
