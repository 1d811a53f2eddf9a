"""Background actors (dramatiq). Declared on the broker set by ``hub.broker.setup_broker``.

- ``sync_connector(instance_id)``: run one sync (the database lease makes a duplicate a no-op);
- ``schedule_due_syncs()``: enqueue a sync for every enabled instance that is due (one scheduler
  wins each instance per period, by a conditional UPDATE, however many schedulers run);
- ``refresh_credit_levels(enterprise_ids=None)``: the credit sweep — end expired blacklist listings,
  rate last year and this year from the evidence (``hub.credit``), keep ``Enterprise.credit_level`` in
  step (sent by the scheduler every ``HUB_CREDIT_REFRESH_INTERVAL_SECONDS``, hourly by default, and for
  one enterprise when a penalty about it is entered);
- ``deliver_writebacks()``: write due clue outcomes back to their channels (``hub.writeback``; sent
  by the scheduler every 30 s and by mutations that close a clue, after their commit);
- ``sweep_clue_colours()``: keep every open clue's supervision colour current as deadlines pass
  (``hub.workflow.sweep_colours``; sent by the scheduler every 15 minutes);
- ``urge_overdue_clues()``: 催办 automatically the day after a missed deadline (``hub.workflow.urge_overdue``;
  sent by the scheduler hourly), after recounting provisional deadlines the calendar can now settle;
- ``recompute_deadlines()``: recount provisional deadlines on the calendar as loaded (sent when an admin
  loads a year's schedule; ``hub.deadlines.recompute_provisional``);
- ``deliver_webhooks()``: POST the outbox to the regional systems' webhook endpoints (``hub.webhooks``;
  sent by the scheduler every ``HUB_WEBHOOK_INTERVAL_SECONDS``);
- ``evaluate_warnings(project_ids, enterprise_ids)``: run the warning rules (``hub.rules``) for what a
  sync page touched (sent after the page commits), or every rule over everything — the daily sweep,
  sent by the scheduler every ``HUB_WARNING_SWEEP_INTERVAL_SECONDS``.

The :class:`Scheduler` sends them, each on its own period (its :meth:`~Scheduler.tick` decides).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

import dramatiq
import dramatiq.broker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import or_, select, update

from hub import webhooks, writeback
from hub.credit_sweep import sweep
from hub.crypto import Cipher
from hub.db import make_engine, session_factory, session_scope
from hub.deadlines import recompute_provisional
from hub.holidays import sync_calendar
from hub.models import ConnectorInstance, utcnow
from hub.records import Touched
from hub.rules import Scope, evaluate, evaluate_committed
from hub.settings import get_settings
from hub.sync import LeaseHeld, SyncEngine
from hub.workdays import china_today
from hub.workflow import sweep_colours, urge_overdue

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult, Engine

log = logging.getLogger(__name__)

# Declaring an actor needs a broker; without one, dramatiq would make a RabbitMQ broker. Declare on
# an in-process one until ``hub.broker.setup_broker`` re-binds the actors to the configured broker.
if dramatiq.broker.global_broker is None:
    dramatiq.set_broker(StubBroker())


def _engine() -> Engine:
    """One engine per database URL and worker process (actors run in its threads)."""
    return _engine_for(get_settings().resolved_database_url())


@lru_cache(maxsize=4)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def _cipher() -> Cipher:
    return Cipher(get_settings().resolved_secret_key())


def refresh_credit_levels_now(
    engine: Engine,
    *,
    today: dt.date | None = None,
    enterprise_ids: list[int] | None = None,
    years: list[int] | None = None,
) -> int:
    """The credit sweep (``hub.credit_sweep``): end the blacklist listings that are over, rate ``years``
    (last year and this year by default) from the evidence, keep each enterprise's level and blacklist
    flag in step; for ``enterprise_ids`` only when given (a penalty about them was recorded).

    Returns the number of enterprises whose row changed. Idempotent: running it twice changes nothing
    the second time, so a worker that crashes mid-way can simply run it again.
    """
    day = today or china_today()
    with session_scope(engine) as session:
        return sweep(session, today=day, years=years, enterprise_ids=enterprise_ids).enterprises_changed


def claim_due_instances(engine: Engine, *, now: dt.datetime | None = None) -> list[int]:
    """Ids of enabled instances that are due, each moved to its next period in the same statement.

    Two schedulers racing see the same due row, but only one UPDATE matches ``next_run_at <= now``.
    """
    now = now or utcnow()
    claimed: list[int] = []
    with session_scope(engine) as session:
        due = session.execute(
            select(ConnectorInstance.id, ConnectorInstance.schedule_seconds, ConnectorInstance.next_run_at).where(
                ConnectorInstance.enabled.is_(True),
                or_(ConnectorInstance.next_run_at.is_(None), ConnectorInstance.next_run_at <= now),
            )
        ).all()
        for instance_id, seconds, seen in due:
            cond = ConnectorInstance.next_run_at.is_(None) if seen is None else ConnectorInstance.next_run_at == seen
            result = session.execute(
                update(ConnectorInstance)
                .where(ConnectorInstance.id == instance_id, cond)
                .values(next_run_at=now + dt.timedelta(seconds=seconds))
            )
            if cast("CursorResult[Any]", result).rowcount == 1:  # an UPDATE's result is a cursor's
                claimed.append(instance_id)
    return claimed


def send_soon(actor: dramatiq.Actor[..., Any], *args: Any, what: str) -> None:
    """Ask a worker to run ``actor(*args)`` now rather than at the scheduler's next tick (best effort: when
    the broker cannot take the message, the scheduler runs it anyway)."""
    try:
        actor.send(*args)
    except Exception:  # a missed nudge only delays the work until the next tick
        log.warning("could not queue %s; the scheduler will run it", what, exc_info=True)


@dramatiq.actor(queue_name="hub", max_retries=5, min_backoff=1000, time_limit=3600 * 1000)
def refresh_credit_levels(
    enterprise_ids: list[int] | None = None, years: list[int] | None = None, today: str | None = None
) -> None:
    """Recompute 诚信等级 ratings from the evidence and end expired blacklist listings (``hub.credit_sweep``);
    for ``enterprise_ids`` and ``years`` only when given. ``today`` (ISO date) defaults to China's today."""
    day = dt.date.fromisoformat(today) if today else None
    n = refresh_credit_levels_now(_engine(), today=day, enterprise_ids=enterprise_ids, years=years)
    log.info("credit levels refreshed: %d enterprises changed", n)


@dramatiq.actor(queue_name="sync", max_retries=3, min_backoff=5000, time_limit=6 * 3600 * 1000)
def sync_connector(instance_id: int, full_refresh: bool = False) -> None:
    """Run one sync of a connector instance; a sync already running elsewhere makes this a no-op."""
    calendar_current()  # new clues' deadlines count on the calendar as loaded
    settings = get_settings()
    try:
        engine = SyncEngine(
            _engine(),
            cipher=_cipher(),
            lease_seconds=settings.sync_lease_seconds,
            on_page=warnings_for_page if settings.warnings_incremental else None,
            pages_per_evaluation=settings.warnings_pages_per_evaluation,
            copy_min_rows=settings.ingest_copy_min_rows,
        )
        result = engine.run(instance_id, full_refresh=full_refresh)
    except LeaseHeld as exc:
        log.info("%s; skipped", exc)
        return
    log.info(
        "sync of instance %d %s: %s", instance_id, result.status, {k: v.as_dict() for k, v in result.stats.items()}
    )


@dramatiq.actor(queue_name="hub", max_retries=0)
def schedule_due_syncs() -> None:
    """Enqueue a sync for every due instance (run by the scheduler every few seconds)."""
    for instance_id in claim_due_instances(_engine()):
        sync_connector.send(instance_id)


@dramatiq.actor(queue_name="hub", max_retries=0, time_limit=3600 * 1000)
def deliver_writebacks() -> None:
    """Deliver due write-backs (claims make concurrent runs safe; failures wait on the record's back-off)."""
    report = writeback.deliver_due(_engine(), cipher=_cipher())
    if report.items:
        log.info("write-backs delivered: %s", report.as_dict())


@dramatiq.actor(queue_name="hub", max_retries=3, time_limit=3600 * 1000)
def sweep_clue_colours() -> None:
    """Recompute supervision colours for today (China time); one event per clue whose colour changed."""
    with session_scope(_engine()) as session:
        changed = sweep_colours(session, today=china_today())
    if changed:
        log.info("supervision colours changed: %d clues", changed)


def calendar_current() -> None:
    """Install the loaded holiday schedules in this worker process if the table changed (hub.holidays)."""
    with session_scope(_engine()) as session:
        sync_calendar(session)


@dramatiq.actor(queue_name="hub", max_retries=3, time_limit=3600 * 1000)
def recompute_deadlines() -> None:
    """Recount the provisional deadlines on the holiday calendar as loaded; an event per clue changed."""
    with session_scope(_engine()) as session:
        sync_calendar(session)
        changed = recompute_provisional(session)
    log.info("provisional deadlines recounted: %d changed", changed)


@dramatiq.actor(queue_name="hub", max_retries=3, time_limit=3600 * 1000)
def urge_overdue_clues() -> None:
    """催办 each open clue the day after its deadline passed (once per deadline; China's today)."""
    with session_scope(_engine()) as session:
        sync_calendar(session)
        # A process that counted before it learnt of a loaded year may have left a deadline provisional.
        recompute_provisional(session)
    with session_scope(_engine()) as session:
        urged = urge_overdue(session, today=china_today())
    if urged:
        log.info("clues urged automatically: %d", urged)


@dramatiq.actor(queue_name="hub", max_retries=0, time_limit=3600 * 1000)
def deliver_webhooks() -> None:
    """POST due webhook batches (claims make concurrent runs safe; failures wait on the endpoint's back-off)."""
    settings = get_settings()
    report = webhooks.deliver_due(
        _engine(), cipher=_cipher(), timeout=settings.webhook_timeout_seconds, batch_size=settings.webhook_batch_size
    )
    if report.attempts:
        log.info("webhooks delivered: %s", report.as_dict())


@dramatiq.actor(queue_name="hub", max_retries=3, min_backoff=5000, time_limit=3600 * 1000)
def evaluate_warnings(
    project_ids: list[int] | None = None, enterprise_ids: list[int] | None = None, tables: list[str] | None = None
) -> None:
    """Run the warning rules as of today (China time): for the given projects and enterprises — only the
    rules reading one of ``tables``, what the sync pages wrote, when given — or, without them, every
    rule over everything (the sweep). Red warnings left unhandled escalate."""
    scope = Scope.of(project_ids=project_ids or (), enterprise_ids=enterprise_ids or ())
    # A run that lost a race over a warning to another run (a page's, the sweep) is run again at once,
    # from a fresh read, rather than failed into dramatiq's retries (hub.rules.engine.evaluate_committed).
    report = evaluate_committed(
        session_factory(_engine()),
        lambda session: evaluate(session, scope=scope or None, tables=tables if scope else None, cipher=_cipher()),
    )
    if report.counts:
        log.info("warnings %s: %s", "evaluated" if scope else "swept", report.as_dict())


def warnings_for_page(touched: Touched) -> None:
    """After a sync page commits: ask a worker to evaluate the rules for what it touched (best effort —
    the daily sweep catches anything a lost message missed)."""
    try:
        evaluate_warnings.send(sorted(touched.project_ids), sorted(touched.enterprise_ids), sorted(touched.tables))
    except Exception:  # the page is stored; a missed evaluation waits for the sweep
        log.warning("could not queue evaluate_warnings; the sweep will catch up", exc_info=True)


@dataclass
class Every:
    """An actor the scheduler sends every ``seconds`` (0: at every tick), and at its first tick."""

    actor: dramatiq.Actor[..., Any]
    seconds: float
    #: When it was last sent, on the scheduler's clock.
    last: float = -math.inf

    def due(self, now: float) -> bool:
        """Whether its period has come round at ``now``."""
        return now - self.last >= self.seconds


class Scheduler:
    """From a thread (``hub serve``, ``hub scheduler``): every ``interval`` seconds, a :meth:`tick`.

    Each tick sends ``schedule_due_syncs``; ``deliver_writebacks`` every ``writeback_interval``,
    ``sweep_clue_colours`` every ``colour_interval``, ``urge_overdue_clues`` every ``urge_interval``, ``deliver_webhooks`` every ``webhook_interval``
    (default ``HUB_WEBHOOK_INTERVAL_SECONDS``), ``refresh_credit_levels`` every ``credit_interval``
    seconds (default ``HUB_CREDIT_REFRESH_INTERVAL_SECONDS``) and the sweep ``evaluate_warnings`` every
    ``warning_interval`` (default ``HUB_WARNING_SWEEP_INTERVAL_SECONDS``), each also at the first tick. ``clock``
    is monotonic seconds (injected by tests).
    """

    def __init__(
        self,
        *,
        interval: float = 5.0,
        writeback_interval: float = 30.0,
        colour_interval: float = 900.0,
        urge_interval: float = 3600.0,
        webhook_interval: float | None = None,
        credit_interval: float | None = None,
        warning_interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = get_settings()
        self.interval = interval
        self.writeback_interval = writeback_interval
        self.colour_interval = colour_interval
        self.urge_interval = urge_interval
        self.webhook_interval = settings.webhook_interval_seconds if webhook_interval is None else webhook_interval
        self.credit_interval = settings.credit_refresh_interval_seconds if credit_interval is None else credit_interval
        self.warning_interval = (
            settings.warning_sweep_interval_seconds if warning_interval is None else warning_interval
        )
        self.clock = clock
        #: What each tick considers, in order.
        self.timetable = [
            Every(schedule_due_syncs, 0.0),
            Every(deliver_writebacks, self.writeback_interval),
            Every(sweep_clue_colours, self.colour_interval),
            Every(urge_overdue_clues, self.urge_interval),
            Every(deliver_webhooks, self.webhook_interval),
            Every(refresh_credit_levels, self.credit_interval),
            Every(evaluate_warnings, self.warning_interval),
        ]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hub-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 1)

    def tick(self) -> list[str]:
        """Send every actor whose period has come round; returns their names, in the order sent.

        An actor the broker refuses stays due: the error propagates, and the next tick sends it again.
        """
        sent: list[str] = []
        for job in self.timetable:
            now = self.clock()
            if job.due(now):
                job.actor.send()
                job.last = now
                sent.append(job.actor.actor_name)
        return sent

    def _loop(self) -> None:
        # The first tick waits one interval: `hub serve` starts this before the server is listening.
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:
                log.exception("could not enqueue the scheduler tick")


#: Every actor of the hub, for ``hub.broker.setup_broker`` to declare on its broker.
ACTORS = [
    refresh_credit_levels,
    sync_connector,
    schedule_due_syncs,
    deliver_writebacks,
    sweep_clue_colours,
    urge_overdue_clues,
    recompute_deadlines,
    deliver_webhooks,
    evaluate_warnings,
]
