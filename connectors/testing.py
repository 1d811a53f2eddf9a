"""The connector conformance suite: the contract every connector keeps, written once.

(cf. singer-sdk's ``get_tap_test_class``.) A connector's test module subclasses one of two base
classes, declares what is particular to its upstream, and inherits the tests:

- ``ConnectorContract``: for any connector. Streams read in pages whose states survive JSON and
  restart the read right after their page; ``normalise`` rejects a stream it does not have; secret
  fields are write-only and never shown; a second sync reads nothing new; a stream that declares its
  personal fields (``Stream.sensitive``) leaves no ID number or card in clear once sealed by them.
- ``SandboxContract``: for a connector that ships a sandbox (``Connector.sandbox``) with the
  shared fault switchboard (``connectors.sandbox.faults``). Adds: ``check`` says what is wrong with
  the right credentials, wrong ones and an unreachable URL; new records appear when the sandbox's
  clock moves, from the moment the world was seeded (a full read serves the seeded history and what
  arrived since, at any hour); ``start_date`` limits a first sync; a sync survives each standard
  fault with the rows, bookmarks and counts of an undisturbed run; a bad record is quarantined and
  stays so on replay; refused credentials fail a run at once, without retries.

Example::

    from connectors.testing import BadRecord, RefusedRun, SandboxContract

    class TestMyBank(SandboxContract):
        kind = "my_bank"
        bookmark = ("updatedAfter", "lastKey")
        check_ok = "connected to {url} as 'demo'"
        check_refused = "the bank refused client_id 'demo': check client_id and client_secret"
        check_unreachable = "cannot reach the bank at {url}: connection failed"
        wrong_credentials = ({"client_secret": "wrong"},)
        refused_runs = {"http-401": RefusedRun(fault={"status_next": 1, "status_code": 401}, error="the bank refused")}
        bad_records = {"bills": BadRecord(field="billAmount", reason="required field billAmount is missing")}

The host test suite provides two fixtures: ``world`` (the ``connectors.sandbox.world.World`` the
sandboxes serve) and ``hub`` (a ``Hub``: fresh databases to sync into, seeded like ``world`` for a
built-in connector, and the cipher the hub encrypts secrets with). ``ConnectorContract`` alone also
needs a ``config`` fixture (the raw config, secrets included). Hooks (``epoch``, ``start_state``,
``snapshot``, ``check_quarantined``) let a connector's test add what only it can say.
"""

from __future__ import annotations

import datetime as dt
import importlib
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson
import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from connectors import registry
from connectors.base import CheckResult, Connector, Page, Rejection, fields
from connectors.sandbox.faults import Faults
from connectors.sandbox.world import World, build_world
from hub import models as m
from hub.archive import Sealer, clear_personal_paths, unseal
from hub.crypto import Cipher
from hub.db import make_engine, session_scope
from hub.sync import RetryPolicy, StreamStats, SyncEngine, SyncResult

__all__ = [
    "FAULTS",
    "BadRecord",
    "Clock",
    "ConnectorContract",
    "Hub",
    "Quarantined",
    "RefusedRun",
    "Sandbox",
    "SandboxContract",
    "free_port",
    "serve_asgi",
]

#: The standard faults every sandbox can switch on, and whether the hub must retry to get past them.
FAULTS = [
    pytest.param({"status_next": 2, "status_code": 503}, True, id="status-503-x2"),
    pytest.param({"timeout_next": 1, "timeout_seconds": 1.5}, True, id="timeout"),
    pytest.param({"malformed_next": 1}, True, id="malformed"),
    pytest.param({"expire_token_next": 1}, True, id="token-expired"),
    pytest.param({"duplicate_page_next": 1}, False, id="duplicate-page"),
    pytest.param({"cursor_backwards_next": 1}, False, id="cursor-backwards"),
]
#: Tables a connector writes to, counted by the default ``snapshot``.
TABLES = (
    m.Enterprise,
    m.Project,
    m.WageAccount,
    m.LaborCostAllocation,
    m.AccountExpense,
    m.ProjectContract,
    m.ProgressPayment,
    m.OutputValue,
    m.Worker,
    m.PayrollRecord,
    m.GuaranteeDeposit,
    m.Clue,
    m.ChannelRecord,
    m.Quarantine,
)


# -- serving a sandbox ---------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"sandbox did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Clock:
    """A sandbox's clock, moved by the test (no test depends on the day or hour it runs)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@dataclass
class Sandbox:
    """A served sandbox: its base URL, the ASGI app (``app.state``) and the clock it reads."""

    url: str
    app: Any
    clock: Clock

    @property
    def faults(self) -> Faults:
        faults: Faults = self.app.state.faults
        return faults


def sandbox_factory(connector: Connector[Any]) -> tuple[Callable[..., Any], dict[str, str]]:
    """The connector's sandbox ``create_app`` and its demo credentials (``Connector.sandbox``)."""
    if not connector.sandbox:
        raise ValueError(f"connector {connector.kind} declares no sandbox")
    module_name, _, factory = connector.sandbox.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, factory), dict(getattr(module, "DEMO_CREDENTIALS", {}))


# -- the hub side --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quarantined:
    """One quarantine entry with the archived record it holds."""

    stream: str
    field: str | None
    reason: str
    status: str
    source_key: str
    payload: dict[str, Any]


@dataclass
class Hub:
    """Databases to sync into, connector instances in them, and sync engines with fast retries."""

    new_database: Callable[[], str]
    cipher: Cipher
    _engines: list[Engine] = field(default_factory=list)
    _by_url: dict[str, Engine] = field(default_factory=dict)
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def database(self) -> str:
        """A fresh database (for a built-in connector: seeded like the sandboxes' world)."""
        return self.new_database()

    def _engine(self, url: str) -> Engine:
        """One engine (one pool) per database, however often it is asked: the fault tests read the
        bookmarks after every page, and an engine per call held a connection each (PostgreSQL's
        ``max_connections`` ran out once the permit system had five streams)."""
        engine = self._by_url.get(url)
        if engine is None:
            engine = self._by_url[url] = make_engine(url)
            self._engines.append(engine)
        return engine

    def instance(
        self, url: str, *, connector: Connector[Any], config: dict[str, Any], state: dict[str, Any] | None = None
    ) -> int:
        """A connector instance with ``config`` (secrets stored encrypted), as the admin API creates it."""
        secret_names = set(connector.config_model.secret_fields())
        public = {k: v for k, v in config.items() if k not in secret_names}
        secrets = {k: str(v) for k, v in config.items() if k in secret_names}
        with session_scope(self._engine(url)) as session:
            row = m.ConnectorInstance(
                name=f"{connector.kind}-{next(self._names)}",
                kind=connector.kind,
                config=public,
                secrets_enc=self.cipher.encrypt(orjson.dumps(secrets).decode()) if secrets else None,
                state=state or {},
                schedule_seconds=60,
                enabled=True,
            )
            session.add(row)
            session.flush()
            return row.id

    def engine(self, url: str) -> SyncEngine:
        """A sync engine on ``url`` that retries at once (tests must not wait out back-off)."""
        return SyncEngine(self._engine(url), cipher=self.cipher, retry=RetryPolicy(max_attempts=4, base_delay=0.01))

    def state(self, url: str, instance_id: int) -> dict[str, Any]:
        """The bookmarks committed for an instance."""
        with Session(self._engine(url)) as session:
            row = session.get(m.ConnectorInstance, instance_id)
            return dict(row.state or {}) if row else {}

    def quarantine(self, url: str) -> list[Quarantined]:
        """Every quarantine entry, oldest first, with its archived record as received (unsealed)."""
        with Session(self._engine(url)) as session:
            rows = session.execute(
                select(m.Quarantine, m.RawRecord)
                .join(m.RawRecord, m.RawRecord.id == m.Quarantine.raw_record_id)
                .order_by(m.Quarantine.id)
            ).all()
            return [
                Quarantined(q.stream, q.field, q.reason, q.status, r.source_key, unseal(dict(r.payload), self.cipher))
                for q, r in rows
            ]

    def counts(self, url: str) -> dict[str, int]:
        """Rows per table a connector writes to."""
        with Session(self._engine(url)) as session:
            return {t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0 for t in TABLES}

    def close(self) -> None:
        for engine in self._engines:
            engine.dispose()
        self._engines.clear()
        self._by_url.clear()


# -- what a connector declares -------------------------------------------------------------------


@dataclass(frozen=True)
class RefusedRun:
    """A way the upstream refuses the credentials: a fault to switch on or a config to use, and the
    run's error after ``kind/stream: `` (``whole``: the error is exactly that, else it starts so)."""

    error: str
    fault: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    whole: bool = False


@dataclass(frozen=True)
class BadRecord:
    """What the sandbox's ``bad_records_next`` spoils on a stream: the field quarantine names, and a
    part of the reason."""

    field: str
    reason: str


def _records(pages: Sequence[Page]) -> list[dict[str, Any]]:
    return [r for p in pages for r in p.records]


# -- the contract ----------------------------------------------------------------------------------


class ConnectorContract:
    """The contract of any connector. Declare ``kind``; provide a ``config`` fixture."""

    #: The connector's entry-point name.
    kind: ClassVar[str]
    #: Records per page asked for in the reading tests (``page_sizes`` per stream overrides it).
    page_size: ClassVar[int] = 10
    page_sizes: ClassVar[dict[str, int]] = {}
    #: The state fields whose tuple orders bookmarks, e.g. ("updateTime", "orderNum"): they never go back.
    bookmark: ClassVar[tuple[str, ...] | None] = None
    #: The config fields marked ``secret()``, when the test wants them named.
    secret_fields: ClassVar[tuple[str, ...] | None] = None

    @pytest.fixture
    def connector(self) -> Connector[Any]:
        return registry.get(self.kind)

    def stream_config(self, config: dict[str, Any], stream: str) -> dict[str, Any]:
        """The config a reading test uses for ``stream``."""
        return {**config, "page_size": self.page_sizes.get(stream, config.get("page_size", self.page_size))}

    def test_normalise_rejects_a_stream_it_does_not_have(self, connector: Connector[Any]) -> None:
        with pytest.raises(Rejection) as info:
            connector.normalise("no_such_stream", {})
        assert (info.value.field, info.value.value) == ("stream", "no_such_stream")
        assert "no_such_stream" in info.value.reason

    def test_secret_fields_are_write_only_and_never_shown(
        self, connector: Connector[Any], config: dict[str, Any]
    ) -> None:
        parsed = connector.parse_config(config)
        if self.secret_fields is not None:
            assert tuple(parsed.secret_fields()) == self.secret_fields
        properties = connector.json_schema()["properties"]
        for name in parsed.secret_fields():
            assert properties[name].get("writeOnly") is True, name
            value = parsed.secret_dict()[name]
            assert value not in repr(parsed) and value not in json.dumps(parsed.public_dict()), name

    def test_every_stream_reads_in_pages_that_restart_after_themselves(
        self, connector: Connector[Any], config: dict[str, Any]
    ) -> None:
        for name in [s.name for s in connector.streams(connector.parse_config(config))]:
            cfg = connector.parse_config(self.stream_config(config, name))
            stream = next(s for s in connector.streams(cfg) if s.name == name)
            size = getattr(cfg, "page_size", None)
            # Given the stream read from the start
            pages = list(stream.read({}))
            records = _records(pages)
            keys = [stream.key_of(r) for r in records]
            # Then every record comes once, in pages no larger than asked
            assert len(keys) == len(set(keys)), f"{name}: a record came twice"
            if size is not None:
                assert all(len(p.records) <= size for p in pages), name
            # And each state survives JSON (the hub stores it), and restarts the read right after its page
            states = [json.loads(json.dumps(p.state)) for p in pages]
            assert states == [p.state for p in pages], name
            marks = [self._mark(state) for state in states]
            assert marks == sorted(marks), f"{name}: a bookmark went back"
            if len(pages) >= 2:
                k = len(pages) // 2
                rest = _records(list(stream.read(states[k - 1])))
                assert [stream.key_of(r) for r in rest] == keys[sum(len(p.records) for p in pages[:k]) :], name
            # And after the last page there is nothing more
            if states:
                assert list(stream.read(states[-1])) == [], name

    def test_declared_personal_fields_leave_no_personal_value_in_clear(
        self, connector: Connector[Any], config: dict[str, Any]
    ) -> None:
        # Given every record of every stream that declares its personal fields (``Stream.sensitive``)
        declared = [s for s in connector.streams(connector.parse_config(config)) if s.sensitive is not None]
        for stream in declared:
            records = _records(list(stream.read({})))
            assert records, f"{stream.name}: the sandbox served nothing to check the declaration against"
            sealer = Sealer(Cipher("conformance"))
            for record in records:
                # When the hub seals it for the raw archive by the declaration alone
                sealed = sealer.seal(record, stream.sensitive)
                # Then no ID number, card or personal account number is left in clear, and unsealing
                # gives the record back exactly
                clear = list(clear_personal_paths(sealed))
                assert not clear, f"{stream.name}: {clear} hold personal data but are not in Stream.sensitive"
                assert unseal(sealed, sealer.cipher) == record, stream.name

    def _mark(self, state: dict[str, Any]) -> tuple[Any, ...]:
        """A state's position, comparable with another's (``bookmark``; lists compare as JSON text)."""
        return tuple(
            json.dumps(state.get(f)) if isinstance(state.get(f), list) else state.get(f) for f in self.bookmark or ()
        )

    def test_a_second_sync_reads_nothing_new(self, connector: Connector[Any], config: dict[str, Any], hub: Hub) -> None:
        url = hub.database()
        instance = hub.instance(url, connector=connector, config=config)
        first = hub.engine(url).run(instance)
        assert (first.status, first.error) == ("succeeded", None)
        assert {name: s.quarantined for name, s in first.stats.items()} == dict.fromkeys(first.stats, 0)
        second = hub.engine(url).run(instance)
        assert second.status == "succeeded"
        assert {name: (s.read, s.created) for name, s in second.stats.items()} == dict.fromkeys(first.stats, (0, 0))


class SandboxContract(ConnectorContract):
    """The contract of a connector with a sandbox. Declare the class variables below."""

    #: Seconds between the sandbox's live records.
    interval: ClassVar[float] = 20.0
    #: Live intervals that pass before a sync test (each brings new records).
    live_intervals: ClassVar[int] = 2
    #: ``check``'s message with the demo credentials (``{url}``: the sandbox's), or a pattern it matches.
    check_ok: ClassVar[str | re.Pattern[str]]
    #: ``check``'s message with each of ``wrong_credentials``.
    check_refused: ClassVar[str]
    wrong_credentials: ClassVar[tuple[dict[str, Any], ...]]
    #: ``check``'s message when nothing listens at ``{url}``.
    check_unreachable: ClassVar[str]
    #: Ways the upstream refuses the credentials during a sync, by name.
    refused_runs: ClassVar[dict[str, RefusedRun]]
    #: Streams whose next page ``bad_records_next`` spoils, and what quarantine then says.
    bad_records: ClassVar[dict[str, BadRecord]]
    #: The standard faults; override to tune a fault's counts (matched to a standard one by its switch).
    faults: ClassVar[list[Any]] = FAULTS
    #: Merged into the config while a fault strikes (a short time-out; small pages, so there are several).
    fault_config: ClassVar[dict[str, Any]] = {"timeout_seconds": 0.5}
    #: Strike once the first page is stored (mid-run), not before the run.
    fault_mid_run: ClassVar[bool] = False
    #: The streams the fault tests sync (None: all).
    fault_streams: ClassVar[tuple[str, ...] | None] = None
    #: Records each stream creates in the fault tests, when the connector's test can say exactly.
    fault_created: ClassVar[dict[str, int] | None] = None

    _undisturbed: ClassVar[dict[type, tuple[Any, dict[str, Any], dict[str, tuple[int, int, int]]]]] = {}

    # -- hooks ---------------------------------------------------------------------------------

    def epoch(self, world: World) -> dt.datetime:
        """When the sandbox's live records start: the tests' clock starts here (none is live yet)."""
        return dt.datetime.combine(world.today, dt.time(), tzinfo=fields.CHINA)

    def start_state(self, sandbox: Sandbox) -> dict[str, Any]:
        """The instance's state before a fault or quarantine test (e.g. near the end of a long history)."""
        return {}

    def snapshot(self, hub: Hub, url: str) -> Any:
        """What a sync left in the hub, compared between a disturbed and an undisturbed run."""
        return hub.counts(url)

    def check_quarantined(self, sandbox: Sandbox, entry: Quarantined, stats: StreamStats) -> None:
        """More a connector can say of the record ``bad_records_next`` spoiled."""

    def observe_fault(self, sandbox: Sandbox, fault: dict[str, Any]) -> Callable[[], None]:
        """Called before the disturbed run; what it returns is called after it, to assert more."""
        return lambda: None

    # -- fixtures --------------------------------------------------------------------------------

    @pytest.fixture
    def clock(self, world: World) -> Clock:
        return Clock(self.epoch(world))

    @pytest.fixture
    def sandbox(self, connector: Connector[Any], world: World, clock: Clock) -> Iterator[Sandbox]:
        create_app, _ = sandbox_factory(connector)
        app = create_app(world=world, faults=Faults(), clock=clock, live_interval_seconds=self.interval)
        with serve_asgi(app) as url:
            yield Sandbox(url=url, app=app, clock=clock)

    @pytest.fixture
    def config(self, connector: Connector[Any], sandbox: Sandbox) -> dict[str, Any]:
        _, credentials = sandbox_factory(connector)
        return {**credentials, "base_url": sandbox.url, "page_size": self.page_size, "timeout_seconds": 5}

    # -- check -------------------------------------------------------------------------------------

    def test_check_accepts_the_right_credentials(
        self, connector: Connector[Any], config: dict[str, Any], sandbox: Sandbox
    ) -> None:
        result = connector.check(connector.parse_config(config))
        if isinstance(self.check_ok, re.Pattern):
            assert result.ok and self.check_ok.fullmatch(result.message), result
        else:
            assert result == CheckResult(True, self.check_ok.format(url=sandbox.url))

    def test_check_explains_wrong_credentials(self, connector: Connector[Any], config: dict[str, Any]) -> None:
        for wrong in self.wrong_credentials:
            result = connector.check(connector.parse_config({**config, **wrong}))
            assert result == CheckResult(False, self.check_refused), wrong
            assert not any(str(v) in result.message for v in wrong.values()), "a credential in the message"

    def test_check_explains_an_unreachable_upstream(self, connector: Connector[Any], config: dict[str, Any]) -> None:
        url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        result = connector.check(connector.parse_config({**config, "base_url": url, "timeout_seconds": 2}))
        assert result == CheckResult(False, self.check_unreachable.format(url=url))

    # -- reading -------------------------------------------------------------------------------------

    def test_new_records_arrive_as_the_clock_moves(
        self, connector: Connector[Any], config: dict[str, Any], sandbox: Sandbox
    ) -> None:
        # Given every stream read to its end
        streams = {
            name: next(
                s for s in connector.streams(connector.parse_config(self.stream_config(config, name))) if s.name == name
            )
            for name in [s.name for s in connector.streams(connector.parse_config(config))]
        }
        finals = {name: ([p.state for p in s.read({})] or [{}])[-1] for name, s in streams.items()}
        # When live intervals pass, Then an incremental read brings new records, and after them nothing
        sandbox.clock.advance(self.live_intervals * self.interval)
        new = {name: list(s.read(finals[name])) for name, s in streams.items()}
        assert sum(len(_records(pages)) for pages in new.values()) > 0, "no live record arrived"
        for name, pages in new.items():
            if pages:
                assert list(streams[name].read(pages[-1].state)) == [], name

    def test_a_first_sync_with_a_start_date_skips_older_records(self, connector: Connector[Any], world: World) -> None:
        # Given a sandbox a day after the world's today: live records of that day next to the history
        create_app, credentials = sandbox_factory(connector)
        clock = Clock(dt.datetime.combine(world.today + dt.timedelta(days=1), dt.time(12), fields.CHINA))
        app = create_app(world=world, clock=clock)
        with serve_asgi(app) as base:
            raw = {**credentials, "base_url": base + "/", "page_size": 50}
            everything = {s.name: _records(list(s.read({}))) for s in connector.streams(connector.parse_config(raw))}
            start = world.today
            recent = {
                s.name: _records(list(s.read({})))
                for s in connector.streams(connector.parse_config({**raw, "start_date": start.isoformat()}))
            }
        # Then a first read with start_date gives exactly the records updated from that day on (北京时间)
        for stream in connector.streams(connector.parse_config({**raw, "base_url": "http://x/"})):
            assert stream.cursor_field, f"{stream.name} has no cursor field"
            expected = [r for r in everything[stream.name] if _day(stream.cursor_value(r)) >= start]
            assert [stream.key_of(r) for r in recent[stream.name]] == [stream.key_of(r) for r in expected], stream.name
        assert sum(map(len, recent.values())) < sum(map(len, everything.values())), (
            "start_date should leave history out"
        )
        assert sum(map(len, recent.values())) > 0, "the sandbox should have records from the start date on"

    @pytest.mark.parametrize(
        ("days", "hour"), [(0, dt.time(0, 5)), (1, dt.time(23, 50))], ids=["00:05", "next-day-23:50"]
    )
    def test_a_full_read_serves_the_seeded_history_and_what_arrived_since_whatever_the_hour(
        self, connector: Connector[Any], world: World, days: int, hour: dt.time
    ) -> None:
        # Given a demo's world seeded at that moment (China time: just after midnight, or late in the
        # evening), and what its sandbox holds before any live record (its clock a day before the seeding)
        seeded_at = dt.datetime.combine(world.today + dt.timedelta(days=days), hour, fields.CHINA)
        seeded = build_world(
            seed=world.seed,
            scale=world.scale,
            region=world.region,
            today=seeded_at.date(),
            now=seeded_at.astimezone(dt.UTC),
        )
        history = self._read_everything(connector, seeded, Clock(seeded_at - dt.timedelta(days=1)))
        # When its clock reads three live intervals (and a bit) after the seeding, and a client reads everything
        now = seeded_at + dt.timedelta(seconds=3 * self.interval + 5)
        served = self._read_everything(connector, seeded, Clock(now))
        # Then each stream serves the seeded history, and beside it only records that arrived since the
        # seeding: at most one per live interval — not a backlog of one every interval since the day's
        # 00:00 (thousands at 23:50)
        for name, records in served.items():
            assert {key for key, _ in history[name]} <= {key for key, _ in records}, f"{name}: history is missing"
            arrived = sorted(at for key, at in records - history[name])
            assert all(seeded_at <= at <= now for at in arrived), (name, seeded_at, arrived[:3], arrived[-3:])
            assert len(arrived) <= 3, (name, len(arrived))
        assert any(records - history[name] for name, records in served.items()), "nothing arrived since the seeding"

    def _read_everything(
        self, connector: Connector[Any], world: World, clock: Clock
    ) -> dict[str, set[tuple[Any, dt.datetime]]]:
        """Stream → (key, cursor moment) of every record a full read of ``world``'s sandbox serves at ``clock``."""
        create_app, credentials = sandbox_factory(connector)
        app = create_app(world=world, faults=Faults(), clock=clock, live_interval_seconds=self.interval)
        with serve_asgi(app) as url:
            streams = connector.streams(connector.parse_config({**credentials, "base_url": url + "/"}))
            return {
                s.name: {(s.key_of(r), _moment(s.cursor_value(r))) for r in _records(list(s.read({})))} for s in streams
            }

    # -- syncing -------------------------------------------------------------------------------------

    def _run(
        self,
        hub: Hub,
        url: str,
        connector: Connector[Any],
        config: dict[str, Any],
        state: dict[str, Any],
        progress: Callable[[str, StreamStats], None] | None = None,
    ) -> tuple[int, SyncResult]:
        instance = hub.instance(url, connector=connector, config=config, state=state)
        streams = list(self.fault_streams) if self.fault_streams else None
        return instance, hub.engine(url).run(instance, streams=streams, progress=progress)

    def _baseline(
        self, hub: Hub, connector: Connector[Any], config: dict[str, Any], state: dict[str, Any]
    ) -> tuple[Any, dict[str, Any], dict[str, tuple[int, int, int]]]:
        """Rows, bookmarks and counts of an undisturbed run (one per class: the sandbox is deterministic)."""
        if type(self) not in self._undisturbed:
            url = hub.database()
            instance, result = self._run(hub, url, connector, config, state)
            assert (result.status, result.error) == ("succeeded", None)
            self._undisturbed[type(self)] = (
                self.snapshot(hub, url),
                hub.state(url, instance),
                {k: (s.created, s.updated, s.quarantined) for k, s in result.stats.items()},
            )
        return self._undisturbed[type(self)]

    @pytest.mark.parametrize(("fault", "retried"), FAULTS)
    def test_a_sync_survives_a_fault_with_the_rows_of_an_undisturbed_run(
        self,
        connector: Connector[Any],
        config: dict[str, Any],
        sandbox: Sandbox,
        hub: Hub,
        fault: dict[str, Any],
        retried: bool,
    ) -> None:
        fault = self._fault(fault)
        # Given live intervals have passed, and what an undisturbed run leaves
        sandbox.clock.advance(self.live_intervals * self.interval)
        state = self.start_state(sandbox)
        config = {**config, **self.fault_config}
        expected = self._baseline(hub, connector, config, state)
        # When a sync runs with the fault switched on (before the run, or once its first page is stored)
        url = hub.database()
        bookmarks: list[tuple[str, dict[str, Any]]] = []
        instance_id: list[int] = []

        def progress(stream: str, stats: StreamStats) -> None:
            if self.fault_mid_run and stats.pages == 1 and not bookmarks:
                sandbox.faults.set(**fault)
            bookmarks.append((stream, hub.state(url, instance_id[0]).get(stream, {})))

        after = self.observe_fault(sandbox, fault)
        if not self.fault_mid_run:
            sandbox.faults.set(**fault)
        instance = hub.instance(url, connector=connector, config=config, state=state)
        instance_id.append(instance)
        streams = list(self.fault_streams) if self.fault_streams else None
        result = hub.engine(url).run(instance, streams=streams, progress=progress)
        # Then it succeeds, retrying where the fault is transient, and the fault did strike
        assert (result.status, result.error) == ("succeeded", None)
        assert [k for k, v in sandbox.faults.as_dict().items() if k.endswith("_next") and v] == []
        retries = sum(s.retries for s in result.stats.values())
        assert retries >= 1 if retried else retries == 0
        if self.fault_created is not None:
            assert {k: s.created for k, s in result.stats.items()} == self.fault_created
        after()
        # And no bookmark went back, and rows, bookmarks and counts are those of an undisturbed run
        for name in {s for s, _ in bookmarks}:
            marks = [self._mark(b) for s, b in bookmarks if s == name and b]
            assert marks == sorted(marks), name
        assert (
            self.snapshot(hub, url),
            hub.state(url, instance),
            {k: (s.created, s.updated, s.quarantined) for k, s in result.stats.items()},
        ) == expected

    def _fault(self, fault: dict[str, Any]) -> dict[str, Any]:
        """The class's own variant of a standard fault (``faults`` overrides counts), by its switch."""
        switch = next(k for k in fault if k.endswith("_next"))
        for param in self.faults:
            own = param.values[0]
            if switch in own:
                return dict(own)
        return fault

    def test_a_bad_record_is_quarantined_and_stays_so_on_replay(
        self, connector: Connector[Any], config: dict[str, Any], sandbox: Sandbox, hub: Hub
    ) -> None:
        for stream, bad in self.bad_records.items():
            # Given the stream's next page carries one record that cannot be stored
            url = hub.database()
            instance = hub.instance(url, connector=connector, config=config, state=self.start_state(sandbox))
            sandbox.faults.set(bad_records_next=1)
            engine = hub.engine(url)
            # When it syncs, Then the run succeeds and exactly that record is quarantined, naming the field
            result = engine.run(instance, streams=[stream])
            assert (result.status, result.error) == ("succeeded", None), stream
            assert result.stats[stream].quarantined == 1, stream
            [entry] = hub.quarantine(url)
            assert (entry.stream, entry.field, entry.status) == (stream, bad.field, "open")
            assert bad.reason in entry.reason, entry.reason
            self.check_quarantined(sandbox, entry, result.stats[stream])
            # And replaying it from the archive fails the same way: it stays quarantined
            assert engine.replay(instance_id=instance) == {"still_failing": 1}
            assert [(q.stream, q.field, q.status) for q in hub.quarantine(url)] == [(stream, bad.field, "open")]

    def test_refused_credentials_fail_the_run_without_retries(
        self, connector: Connector[Any], config: dict[str, Any], sandbox: Sandbox, hub: Hub
    ) -> None:
        first = connector.streams(connector.parse_config(config))[0].name
        for name, refused in self.refused_runs.items():
            url = hub.database()
            instance = hub.instance(url, connector=connector, config={**config, **refused.config})
            sandbox.faults.reset()
            sandbox.faults.set(**refused.fault)
            result = hub.engine(url).run(instance)
            assert result.status == "failed", name
            assert result.error is not None
            expected = f"{self.kind}/{first}: {refused.error}"
            assert result.error == expected if refused.whole else result.error.startswith(expected), (
                name,
                result.error,
            )
            assert (result.stats[first].retries, result.stats[first].read) == (0, 0), name
            assert not any(str(v) in result.error for v in refused.config.values()), "a credential in the error"


def _moment(value: Any) -> dt.datetime:
    """A cursor value as an instant: a datetime, ISO 8601 text, or ``YYYY-MM-DD HH:MM:SS`` in China time."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=fields.CHINA)
    text = str(value)
    if "T" in text:
        parsed = dt.datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=fields.CHINA)
    return dt.datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=fields.CHINA)


def _day(value: Any) -> dt.date:
    text = str(value)
    if "T" in text:
        parsed = dt.datetime.fromisoformat(text)
        return (parsed.astimezone(fields.CHINA) if parsed.tzinfo else parsed).date()
    return dt.date.fromisoformat(text[:10])
