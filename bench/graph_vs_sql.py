"""Benchmark: a page of 100 clues through the whole GraphQL stack vs. hand-written SQL.

The hub side is what a client sees: ``httpx.AsyncClient`` with ``ASGITransport`` against
``hub.app.create_app(settings)``, a real ``POST /graphql`` with an admin API key (so: Starlette, the
metrics middleware, strawberry's ASGI view, authentication, graphql-core execution, the data loaders,
SQLAlchemy ORM on the async driver, the database), the response JSON parsed with orjson.

The baseline is what a competent engineer writes by hand for the same page, in the same process, on
the same database, returning the same JSON document (bytes ready to send):

- ``sql-json``: one statement; the database builds each clue's JSON object (``json_object`` /
  ``json_group_array`` on SQLite, ``json_build_object`` / ``json_agg`` on PostgreSQL), Python only
  concatenates the 100 objects and adds ``pageInfo``;
- ``rows+orjson``: two statements (the page joined to enterprise, project and region; then the
  channel records of those clues), stitched into dicts in Python and ``orjson.dumps``-ed.

Both run on the plain synchronous DBAPI connection (``sqlite3`` / psycopg 3, statements prepared).
Before anything is timed, every baseline's JSON is compared with the hub's for every measured page
and the benchmark stops with a diff when they differ. Nothing here asserts on time.

Beside the interpreted hub, the same stack with the operation compiled (``schema.compiled``: the
request's document has a plan in the view's cache, answered from rows without a resolver per
field) is timed as ``compiled``, after its JSON is checked equal to the interpreter's on every page.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import gc
import math
import sqlite3
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

import orjson

from hub import models as m

if TYPE_CHECKING:
    from bench.datasets import Dataset

#: Clues per page (the issue's "a page of 100 clues").
PAGE_SIZE = 100

#: The operation the front-end sends: clues newest first, each with its channel records, the respondent
#: enterprise and the project with its region's name. Default order = received_at DESC, id DESC.
QUERY = """
query BenchCluePage($first: Int!, $after: String) {
  clues(first: $first, after: $after) {
    edges {
      node {
        id
        clueNo
        title
        status
        colour
        amount
        headcount
        receivedAt
        deadline
        respondentName
        channelRecords { channel channelName sourceId receivedAt matchRule matchScore }
        enterprise { name uscc creditLevel }
        project { projectCode name region { name } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

#: Pages measured: name → fraction of the clue pool skipped (reached with a keyset cursor).
PAGES: dict[str, float] = {"first": 0.0, "mid": 0.5, "late": 0.9}


class BenchmarkMismatch(AssertionError):
    """The baseline does not return the same JSON as the hub: the comparison would be meaningless."""


# --------------------------------------------------------------------------------------------------
# Cursors and formats shared by the baselines (they must match the hub's byte for byte)
# --------------------------------------------------------------------------------------------------


def global_id(type_name: str, pk: int) -> str:
    """``schema.types._common.to_global_id``, re-implemented (the baseline owes the hub nothing)."""
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode()


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    return orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def _page_document(edges: bytes, has_next: bool, end_cursor: str | None) -> bytes:
    page_info = orjson.dumps({"hasNextPage": has_next, "endCursor": end_cursor})
    return b'{"data":{"clues":{"edges":[' + edges + b'],"pageInfo":' + page_info + b"}}}"


def _channel_case(col: str) -> str:
    """``CASE channel WHEN … THEN 中文名 …`` from ``hub.models.CHANNELS`` (as ``ChannelRecord.channelName``)."""
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in m.CHANNELS.items())
    return f"CASE {col} {whens} ELSE {col} END"


# --------------------------------------------------------------------------------------------------
# Baselines
# --------------------------------------------------------------------------------------------------


class Baseline:
    """One hand-written implementation of the page: ``page(after) -> JSON bytes``."""

    name = "?"
    statements = 0

    def page(self, after: str | None, first: int = PAGE_SIZE) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - interface
        pass


def _sqlite_iso(col: str) -> str:
    """SQLAlchemy stores SQLite datetimes as ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC; the hub returns
    ``isoformat()`` of the value read back with UTC attached, which drops ``.000000`` and ends ``+00:00``."""
    return (f"CASE WHEN {col} IS NULL THEN NULL WHEN substr({col}, 20) IN ('', '.000000') "
            f"THEN replace(substr({col}, 1, 19), ' ', 'T') || '+00:00' ELSE replace({col}, ' ', 'T') || '+00:00' END")


_SQLITE_AMOUNT = "CASE WHEN c.amount IS NULL THEN NULL ELSE printf('%.2f', c.amount) END"
_SQLITE_KEYSET = "(c.received_at, c.id) < (?, ?)"


def _sqlite_bind(after: str | None) -> tuple[str, int]:
    """The keyset bound as SQLAlchemy would bind it on SQLite (its datetime storage format)."""
    if after is None:
        return ("9999-12-31 23:59:59.999999", 2**62)
    ts, pk = decode_cursor(after)
    return (dt.datetime.fromisoformat(ts).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f"), int(pk))


class _SqliteBase(Baseline):
    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, check_same_thread=False, cached_statements=32)
        self.conn.execute("PRAGMA cache_size=-65536")  # as hub.db does for the hub's connections
        self.conn.execute("PRAGMA query_only=1")
        self.conn.create_function("gid_clue", 1, lambda pk: global_id("Clue", pk), deterministic=True)

    def close(self) -> None:
        self.conn.close()


class SqliteJson(_SqliteBase):
    """SQLite: one statement, every clue's JSON built by ``json_object`` / ``json_group_array``."""

    name = "sql-json"
    statements = 1

    SQL = f"""
SELECT c.id, {_sqlite_iso('c.received_at')},
  json_object('node', json_object(
    'id', gid_clue(c.id),
    'clueNo', c.clue_no,
    'title', c.title,
    'status', upper(c.status),
    'colour', upper(c.colour),
    'amount', {_SQLITE_AMOUNT},
    'headcount', c.headcount,
    'receivedAt', {_sqlite_iso('c.received_at')},
    'deadline', c.deadline,
    'respondentName', c.respondent_name,
    'channelRecords', json((
      SELECT json_group_array(json(x.doc)) FROM (
        SELECT json_object(
          'channel', upper(cr.channel),
          'channelName', {_channel_case('cr.channel')},
          'sourceId', cr.source_id,
          'receivedAt', {_sqlite_iso('cr.received_at')},
          'matchRule', cr.match_rule,
          'matchScore', cr.match_score) AS doc
        FROM channel_records cr WHERE cr.clue_id = c.id ORDER BY cr.id) AS x)),
    'enterprise', CASE WHEN e.id IS NULL THEN NULL
                  ELSE json_object('name', e.name, 'uscc', e.uscc, 'creditLevel', e.credit_level) END,
    'project', CASE WHEN p.id IS NULL THEN NULL
               ELSE json_object('projectCode', p.project_code, 'name', p.name,
                                'region', CASE WHEN r.code IS NULL THEN NULL ELSE json_object('name', r.name) END) END
  ))
FROM clues c
LEFT JOIN enterprises e ON e.id = c.enterprise_id
LEFT JOIN projects p ON p.id = c.project_id
LEFT JOIN regions r ON r.code = p.region_code
WHERE {_SQLITE_KEYSET}
ORDER BY c.received_at DESC, c.id DESC
LIMIT ?
"""

    def page(self, after: str | None, first: int = PAGE_SIZE) -> bytes:
        rows = self.conn.execute(self.SQL, (*_sqlite_bind(after), first + 1)).fetchall()
        has_next = len(rows) > first
        rows = rows[:first]
        end = encode_cursor([rows[-1][1], rows[-1][0]]) if rows else None
        return _page_document(",".join(r[2] for r in rows).encode(), has_next, end)


class SqliteRows(_SqliteBase):
    """SQLite: two statements (page ⋈ enterprise ⋈ project ⋈ region; channel records IN page), orjson."""

    name = "rows+orjson"
    statements = 2

    PAGE_SQL = f"""
SELECT c.id, c.clue_no, c.title, c.status, c.colour, {_SQLITE_AMOUNT}, c.headcount, {_sqlite_iso('c.received_at')},
       c.deadline, c.respondent_name,
       e.id, e.name, e.uscc, e.credit_level,
       p.id, p.project_code, p.name, r.code, r.name
FROM clues c
LEFT JOIN enterprises e ON e.id = c.enterprise_id
LEFT JOIN projects p ON p.id = c.project_id
LEFT JOIN regions r ON r.code = p.region_code
WHERE {_SQLITE_KEYSET}
ORDER BY c.received_at DESC, c.id DESC
LIMIT ?
"""
    CHANNEL_SQL = f"""
SELECT clue_id, channel, source_id, {_sqlite_iso('received_at')}, match_rule, match_score
FROM channel_records WHERE clue_id IN (SELECT value FROM json_each(?)) ORDER BY id
"""

    def page(self, after: str | None, first: int = PAGE_SIZE) -> bytes:
        rows = self.conn.execute(self.PAGE_SQL, (*_sqlite_bind(after), first + 1)).fetchall()
        return _stitch(rows, first, lambda ids: self.conn.execute(self.CHANNEL_SQL, (orjson.dumps(ids).decode(),)).fetchall())


def _stitch(rows: Sequence[Sequence[Any]], first: int, channels: Callable[[list[int]], Sequence[Sequence[Any]]]) -> bytes:
    """The page document from the joined page rows and a function fetching channel records by clue id."""
    has_next = len(rows) > first
    rows = rows[:first]
    by_clue: dict[int, list[dict[str, Any]]] = {}
    nodes = []
    for (cid, no, title, status, colour, amount, headcount, received, deadline, respondent,
         eid, ename, uscc, credit, pid, pcode, pname, rcode, rname) in rows:
        records: list[dict[str, Any]] = []
        by_clue[cid] = records
        nodes.append({"node": {
            "id": global_id("Clue", cid),
            "clueNo": no,
            "title": title,
            "status": status.upper(),
            "colour": colour.upper() if colour else None,
            "amount": amount if amount is None or isinstance(amount, str) else str(amount),
            "headcount": headcount,
            "receivedAt": received,
            "deadline": deadline,
            "respondentName": respondent,
            "channelRecords": records,
            "enterprise": None if eid is None else {"name": ename, "uscc": uscc, "creditLevel": credit},
            "project": None if pid is None else {
                "projectCode": pcode, "name": pname, "region": None if rcode is None else {"name": rname},
            },
        }})
    if by_clue:
        names = m.CHANNELS
        for clue_id, channel, source_id, received, rule, score in channels(list(by_clue)):
            by_clue[clue_id].append({
                "channel": channel.upper(), "channelName": names.get(channel, channel), "sourceId": source_id,
                "receivedAt": received, "matchRule": rule, "matchScore": score,
            })
    end = None
    if rows:
        last = rows[-1]
        received = last[7]
        end = encode_cursor([received if isinstance(received, str) else received.isoformat(), last[0]])
    return orjson.dumps({"data": {"clues": {"edges": nodes, "pageInfo": {"hasNextPage": has_next, "endCursor": end}}}})


# ---- PostgreSQL ----------------------------------------------------------------------------------

_PG_KEYSET = "(c.received_at, c.id) < (%(t)s, %(id)s)"
_PG_GID = "translate(encode(convert_to('Clue:' || c.id, 'UTF8'), 'base64'), '+/', '-_')"


def _pg_bind(after: str | None, first: int) -> dict[str, Any]:
    if after is None:
        return {"t": dt.datetime(9999, 12, 31, tzinfo=dt.UTC), "id": 2**62, "n": first + 1}
    ts, pk = decode_cursor(after)
    return {"t": dt.datetime.fromisoformat(ts), "id": int(pk), "n": first + 1}


class _PgBase(Baseline):
    def __init__(self, url: str) -> None:
        import psycopg

        from hub.db import sync_url

        u = sync_url(url)
        self.conn = psycopg.connect(
            host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username, password=u.password, dbname=u.database,
            autocommit=True, prepare_threshold=0,
        )

    def close(self) -> None:
        self.conn.close()


class PgJson(_PgBase):
    """PostgreSQL: one statement, every clue's JSON built by ``json_build_object`` / ``json_agg``."""

    name = "sql-json"
    statements = 1

    SQL = f"""
SELECT c.id, c.received_at,
  json_build_object('node', json_build_object(
    'id', {_PG_GID},
    'clueNo', c.clue_no,
    'title', c.title,
    'status', upper(c.status),
    'colour', upper(c.colour),
    'amount', c.amount::text,
    'headcount', c.headcount,
    'receivedAt', c.received_at,
    'deadline', c.deadline,
    'respondentName', c.respondent_name,
    'channelRecords', COALESCE((
      SELECT json_agg(json_build_object(
          'channel', upper(cr.channel),
          'channelName', {_channel_case('cr.channel')},
          'sourceId', cr.source_id,
          'receivedAt', cr.received_at,
          'matchRule', cr.match_rule,
          'matchScore', cr.match_score) ORDER BY cr.id)
      FROM channel_records cr WHERE cr.clue_id = c.id), '[]'::json),
    'enterprise', CASE WHEN e.id IS NULL THEN NULL
                  ELSE json_build_object('name', e.name, 'uscc', e.uscc, 'creditLevel', e.credit_level) END,
    'project', CASE WHEN p.id IS NULL THEN NULL
               ELSE json_build_object('projectCode', p.project_code, 'name', p.name,
                                      'region', CASE WHEN r.code IS NULL THEN NULL ELSE json_build_object('name', r.name) END) END
  ))::text
FROM clues c
LEFT JOIN enterprises e ON e.id = c.enterprise_id
LEFT JOIN projects p ON p.id = c.project_id
LEFT JOIN regions r ON r.code = p.region_code
WHERE {_PG_KEYSET}
ORDER BY c.received_at DESC, c.id DESC
LIMIT %(n)s
"""

    def page(self, after: str | None, first: int = PAGE_SIZE) -> bytes:
        rows = self.conn.execute(self.SQL, _pg_bind(after, first)).fetchall()
        has_next = len(rows) > first
        rows = rows[:first]
        end = encode_cursor([rows[-1][1].isoformat(), rows[-1][0]]) if rows else None
        return _page_document(",".join(r[2] for r in rows).encode(), has_next, end)


class PgRows(_PgBase):
    """PostgreSQL: two statements (page ⋈ enterprise ⋈ project ⋈ region; channel records = ANY(ids)), orjson."""

    name = "rows+orjson"
    statements = 2

    PAGE_SQL = f"""
SELECT c.id, c.clue_no, c.title, c.status, c.colour, c.amount::text, c.headcount, c.received_at,
       c.deadline, c.respondent_name,
       e.id, e.name, e.uscc, e.credit_level,
       p.id, p.project_code, p.name, r.code, r.name
FROM clues c
LEFT JOIN enterprises e ON e.id = c.enterprise_id
LEFT JOIN projects p ON p.id = c.project_id
LEFT JOIN regions r ON r.code = p.region_code
WHERE {_PG_KEYSET}
ORDER BY c.received_at DESC, c.id DESC
LIMIT %(n)s
"""
    CHANNEL_SQL = """
SELECT clue_id, channel, source_id, received_at, match_rule, match_score
FROM channel_records WHERE clue_id = ANY(%s) ORDER BY id
"""

    def page(self, after: str | None, first: int = PAGE_SIZE) -> bytes:
        rows = self.conn.execute(self.PAGE_SQL, _pg_bind(after, first)).fetchall()
        return _stitch(rows, first, lambda ids: self.conn.execute(self.CHANNEL_SQL, (ids,)).fetchall())


def make_baselines(dataset: Dataset) -> list[Baseline]:
    if dataset.backend == "sqlite":
        path = dataset.sqlite_path
        return [SqliteJson(path), SqliteRows(path)]
    return [PgJson(dataset.url), PgRows(dataset.url)]


# --------------------------------------------------------------------------------------------------
# The hub side
# --------------------------------------------------------------------------------------------------


class HubClient:
    """The hub app behind httpx's ASGI transport: every request goes through the whole stack."""

    def __init__(self, dataset: Dataset, *, compiled: bool = False) -> None:
        from bench.datasets import BENCH_SECRET, DATA_DIR
        from hub.app import create_app
        from hub.settings import Settings
        from schema.compiled import PlanCache, explain

        self.settings = Settings(
            data_dir=DATA_DIR, database_url=dataset.url, secret_key=BENCH_SECRET, broker_url="memory://", seed_on_start=False,
            # One key sends hundreds of pages a minute here: the per-key rate limit would measure itself.
            rate_limit="1000000/minute",
        )
        self.app = create_app(self.settings)
        # Each side its own plan cache: the interpreted one empty, the compiled one holding QUERY's plan.
        view = self.app.state.graphql
        view.plans = PlanCache()
        if compiled:
            plan = view.plans.add(view.schema, QUERY)
            if not plan.compiled:
                raise BenchmarkMismatch(f"the bench's operation does not compile: {explain(plan)}")
        self.headers = {"X-API-Key": dataset.api_key}
        self.client: Any = None
        self.statements = 0
        self._counting = False

    async def __aenter__(self) -> Self:
        import httpx
        from sqlalchemy import event

        from hub.db import sync_engine_of

        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://hub.bench")
        event.listen(self.app.state.engine.sync_engine, "before_cursor_execute", self._count)
        event.listen(sync_engine_of(self.app.state.read_engine), "before_cursor_execute", self._count)  # compiled plans read there
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        await self.app.state.engine.dispose()

    def _count(self, *_args: Any) -> None:
        if self._counting:
            self.statements += 1

    async def page(self, after: str | None, first: int = PAGE_SIZE) -> dict[str, Any]:
        resp = await self.client.post(
            "/graphql", json={"query": QUERY, "variables": {"first": first, "after": after}}, headers=self.headers
        )
        body = orjson.loads(resp.content)
        if resp.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"the hub answered {resp.status_code}: {body.get('errors') or resp.text[:500]}")
        return body

    async def page_asgi(self, after: str | None, first: int = PAGE_SIZE) -> bytes:
        """The same request handed to the app as a server hands it (one ASGI call: scope, the body,
        the response's messages collected), without httpx's client in the measurement: the response's
        body, as the baselines give theirs (bytes, not parsed; ``check_equal`` parses it)."""
        body = orjson.dumps({"query": QUERY, "variables": {"first": first, "after": after}})
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": "/graphql", "raw_path": b"/graphql", "query_string": b"", "root_path": "",
            "headers": [(b"host", b"hub.bench"), (b"content-type", b"application/json"),
                        (b"x-api-key", self.headers["X-API-Key"].encode()), (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000), "server": ("hub.bench", 80),
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await asyncio.Event().wait()  # (never: the app reads one message)
            raise AssertionError

        status, chunks = 0, []

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        body = b"".join(chunks)
        if status != 200 or b'"errors":' in body:  # (a value holding that text would be escaped: \")
            raise RuntimeError(f"the hub answered {status}: {body[:500]!r}")
        return body

    async def count_statements(self, after: str | None) -> int:
        self.statements, self._counting = 0, True
        try:
            await self.page(after)
        finally:
            self._counting = False
        return self.statements


# --------------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------------


@dataclass
class Series:
    """Latency samples of one side on one page (nanoseconds)."""

    samples_ns: list[int] = field(default_factory=list)

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.samples_ns) / 1e6 if self.samples_ns else math.nan

    @property
    def p95_ms(self) -> float:
        if not self.samples_ns:
            return math.nan
        s = sorted(self.samples_ns)
        return s[max(0, math.ceil(0.95 * len(s)) - 1)] / 1e6

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.samples_ns) / 1e6 if self.samples_ns else math.nan

    def summary(self) -> dict[str, Any]:
        return {"n": len(self.samples_ns), "p50_ms": self.p50_ms, "p95_ms": self.p95_ms, "mean_ms": self.mean_ms,
                "min_ms": min(self.samples_ns) / 1e6 if self.samples_ns else math.nan}


@dataclass
class PageResult:
    name: str
    offset: int  # clues skipped before this page
    after: str | None
    clues: int  # clues on the page
    hub: Series
    baselines: dict[str, Series]
    response_bytes: int
    compiled: Series = field(default_factory=Series)
    #: The compiled side called as an ASGI app (no HTTP client), as a server calls it.
    compiled_asgi: Series = field(default_factory=Series)


@dataclass
class BenchResult:
    backend: str
    scale: str
    pool: int  # clues in the pool
    runs: int
    warmup: int
    pages: list[PageResult]
    hub_statements: int
    baseline: str  # the fastest strategy (by p50 on the first page), the one the summary compares with
    verified: bool
    dataset: dict[str, Any] = field(default_factory=dict)
    loop: str = "asyncio"
    gc_freeze: bool = False

    def page(self, name: str) -> PageResult:
        return next(p for p in self.pages if p.name == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": "graph_vs_sql", "backend": self.backend, "scale": self.scale, "pool": self.pool, "runs": self.runs,
            "warmup": self.warmup, "hub_statements_per_page": self.hub_statements, "baseline": self.baseline,
            "verified_equal_json": self.verified, "loop": self.loop, "gc_freeze": self.gc_freeze, "dataset": self.dataset,
            "pages": [
                {"name": p.name, "offset": p.offset, "after": p.after, "clues": p.clues, "response_bytes": p.response_bytes,
                 "hub": p.hub.summary(), "compiled": p.compiled.summary(), "compiled_asgi": p.compiled_asgi.summary(),
                 "baselines": {k: v.summary() for k, v in p.baselines.items()}}
                for p in self.pages
            ],
            "summary": summary_row(self),
        }


#: Columns of the summary table (one row per backend × scale).
COLUMNS = [
    "backend", "scale", "clues", "hub p50", "hub p95", "sql p50", "sql p95", "ratio p50", "ratio p95",
    "hub deep p50", "sql deep p50", "compiled p50", "compiled p95", "ratio compiled p50", "ratio compiled p95",
    "compiled deep p50", "compiled asgi p50", "ratio compiled asgi p50", "baseline",
]


def summary_row(r: BenchResult) -> dict[str, Any]:
    """The summary numbers: first page hub vs the fastest baseline, plus the deep (mid-pool) page p50."""
    first = r.page("first")
    deep = r.page("mid") if any(p.name == "mid" for p in r.pages) else r.pages[-1]
    base, deep_base = first.baselines[r.baseline], deep.baselines[r.baseline]
    return {
        "backend": r.backend, "scale": r.scale, "clues": r.pool,
        "hub p50": first.hub.p50_ms, "hub p95": first.hub.p95_ms,
        "sql p50": base.p50_ms, "sql p95": base.p95_ms,
        "ratio p50": first.hub.p50_ms / base.p50_ms, "ratio p95": first.hub.p95_ms / base.p95_ms,
        "hub deep p50": deep.hub.p50_ms, "sql deep p50": deep_base.p50_ms,
        "compiled p50": first.compiled.p50_ms, "compiled p95": first.compiled.p95_ms,
        "ratio compiled p50": first.compiled.p50_ms / base.p50_ms, "ratio compiled p95": first.compiled.p95_ms / base.p95_ms,
        "compiled deep p50": deep.compiled.p50_ms,
        "compiled asgi p50": first.compiled_asgi.p50_ms,
        "ratio compiled asgi p50": first.compiled_asgi.p50_ms / base.p50_ms,
        "baseline": f"{r.baseline} ({r.dataset.get('baseline_statements', {}).get(r.baseline, '?')} stmt)",
    }


def _first_difference(a: Any, b: Any, path: str = "$") -> str | None:
    if type(a) is not type(b):
        return f"{path}: hub {a!r} vs baseline {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: {'missing in baseline' if k in a else 'missing in hub'}"
            if (d := _first_difference(a[k], b[k], f"{path}.{k}")) is not None:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: hub has {len(a)} items, baseline {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if (d := _first_difference(x, y, f"{path}[{i}]")) is not None:
                return d
        return None
    return None if a == b else f"{path}: hub {a!r} vs baseline {b!r}"


def check_equal(hub_doc: dict[str, Any], baseline_bytes: bytes, *, who: str, page: str) -> None:
    """Raise :class:`BenchmarkMismatch` unless the baseline's JSON equals the hub's."""
    base_doc = orjson.loads(baseline_bytes)
    if hub_doc != base_doc:
        raise BenchmarkMismatch(
            f"baseline {who!r} differs from the hub on page {page!r}: {_first_difference(hub_doc, base_doc)}"
        )


def page_cursors(dataset: Dataset, pool: int) -> dict[str, tuple[int, str | None]]:
    """For each page in :data:`PAGES`: the offset and the keyset cursor of the row just before it.

    The cursor is built from that row's ``(received_at, id)`` exactly as the hub encodes it (the same
    driver reads the value, ``schema.pagination`` encodes it); :func:`run` checks the construction
    against a real traversal (the hub's own ``endCursor`` of the first page).
    """
    from sqlalchemy import select

    from hub.db import make_engine
    from schema.pagination import SortSpec
    from schema.pagination import encode_cursor as hub_encode

    sort = SortSpec((m.Clue.received_at, m.Clue.id), descending=True)
    engine = make_engine(dataset.url)
    out: dict[str, tuple[int, str | None]] = {}
    try:
        with engine.connect() as conn:
            for name, frac in PAGES.items():
                offset = int(pool * frac)
                if offset == 0:
                    out[name] = (0, None)
                    continue
                row = conn.execute(
                    select(m.Clue.received_at, m.Clue.id).order_by(*sort.order_by()).offset(offset - 1).limit(1)
                ).one()
                out[name] = (offset, hub_encode(sort.key_of(row)))
            if pool > PAGE_SIZE:
                row = conn.execute(
                    select(m.Clue.received_at, m.Clue.id).order_by(*sort.order_by()).offset(PAGE_SIZE - 1).limit(1)
                ).one()
                out["_after_first"] = (PAGE_SIZE, hub_encode(sort.key_of(row)))
    finally:
        engine.dispose()
    return out


def clue_pool(dataset: Dataset) -> int:
    from sqlalchemy import func, select

    from hub.db import make_engine

    engine = make_engine(dataset.url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(m.Clue)).scalar_one()
    finally:
        engine.dispose()


async def run_async(
    dataset: Dataset,
    *,
    runs: int,
    warmup: int | None = None,
    progress: Callable[[str], None] | None = None,
    gc_freeze: bool = False,
) -> BenchResult:
    """Verify, warm up, then time hub and baselines alternately on every page of :data:`PAGES`.

    ``gc_freeze`` moves everything alive after the warm-up into the permanent generation
    (``gc.freeze()``), as a server would do once after start-up: what that fix would give.
    """
    say = progress or (lambda _msg: None)
    warmup = max(5, runs // 10) if warmup is None else warmup
    pool = clue_pool(dataset)
    cursors = page_cursors(dataset, pool)
    baselines = make_baselines(dataset)
    pages: list[PageResult] = []
    try:
        async with HubClient(dataset) as hub, HubClient(dataset, compiled=True) as compiled:
            # 1. Correctness first: the same JSON, page by page, strategy by strategy.
            first_doc = await hub.page(None)
            if "_after_first" in cursors and first_doc["data"]["clues"]["pageInfo"]["endCursor"] != cursors["_after_first"][1]:
                raise BenchmarkMismatch(
                    "the keyset cursor built from a row differs from the hub's own endCursor of page 1: "
                    f"{cursors['_after_first'][1]!r} vs {first_doc['data']['clues']['pageInfo']['endCursor']!r}"
                )
            docs: dict[str, tuple[dict[str, Any], int]] = {}
            for name in PAGES:
                offset, after = cursors[name]
                resp = await hub.client.post(
                    "/graphql", json={"query": QUERY, "variables": {"first": PAGE_SIZE, "after": after}}, headers=hub.headers
                )
                doc = orjson.loads(resp.content)
                if doc.get("errors"):
                    raise RuntimeError(f"the hub answered with errors: {doc['errors']}")
                docs[name] = (doc, len(resp.content))
                for b in baselines:
                    check_equal(doc, b.page(after), who=b.name, page=name)
                check_equal(doc, orjson.dumps(await compiled.page(after)), who="compiled", page=name)
                check_equal(doc, await compiled.page_asgi(after), who="compiled (ASGI)", page=name)
            say(f"verified: {len(baselines)} baselines and the compiled plan return the hub's JSON on pages {', '.join(PAGES)}")
            hub_statements = await hub.count_statements(None)
            compiled_statements = await compiled.count_statements(None)

            # 2. Timing: warm up, then alternate hub and baselines so that drift hits all alike.
            for name in PAGES:
                offset, after = cursors[name]
                doc, size = docs[name]
                hub_series, compiled_series, asgi_series = Series(), Series(), Series()
                base_series = {b.name: Series() for b in baselines}
                for _ in range(warmup):
                    await hub.page(after)
                    await compiled.page(after)
                    await compiled.page_asgi(after)
                    for b in baselines:
                        b.page(after)
                gc.collect()
                if gc_freeze:
                    gc.freeze()
                clock = time.perf_counter_ns
                for _ in range(runs):
                    t0 = clock()
                    await hub.page(after)
                    hub_series.samples_ns.append(clock() - t0)
                    t0 = clock()
                    await compiled.page(after)
                    compiled_series.samples_ns.append(clock() - t0)
                    t0 = clock()
                    await compiled.page_asgi(after)
                    asgi_series.samples_ns.append(clock() - t0)
                    for b in baselines:
                        t0 = clock()
                        b.page(after)
                        base_series[b.name].samples_ns.append(clock() - t0)
                pages.append(PageResult(
                    name=name, offset=offset, after=after, clues=len(doc["data"]["clues"]["edges"]),
                    hub=hub_series, baselines=base_series, response_bytes=size, compiled=compiled_series,
                    compiled_asgi=asgi_series,
                ))
                say(
                    f"{dataset.backend}/{dataset.scale} page {name} (offset {offset}): hub p50 {hub_series.p50_ms:.2f} ms, "
                    f"compiled p50 {compiled_series.p50_ms:.2f} ms (ASGI {asgi_series.p50_ms:.2f}), "
                    + ", ".join(f"{k} p50 {v.p50_ms:.2f} ms" for k, v in base_series.items())
                )
    finally:
        for b in baselines:
            b.close()
    first = pages[0]
    best = min(first.baselines, key=lambda k: first.baselines[k].p50_ms)
    info = dataset.describe()
    info["strategies"] = [b.name for b in baselines]
    info["baseline_statements"] = {b.name: b.statements for b in baselines}
    info["compiled_statements"] = compiled_statements
    try:
        import uvloop  # noqa: F401

        loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
    except ImportError:  # pragma: no cover
        loop = "asyncio"
    return BenchResult(
        backend=dataset.backend, scale=dataset.scale, pool=pool, runs=runs, warmup=warmup, pages=pages,
        hub_statements=hub_statements, baseline=best, verified=True, dataset=info, loop=loop, gc_freeze=gc_freeze,
    )


def run(dataset: Dataset, *, runs: int, warmup: int | None = None, progress: Callable[[str], None] | None = None,
        use_uvloop: bool = True, gc_freeze: bool = False) -> BenchResult:
    """:func:`run_async` in a fresh event loop (uvloop when installed, as ``uvicorn[standard]`` uses)."""
    coro = run_async(dataset, runs=runs, warmup=warmup, progress=progress, gc_freeze=gc_freeze)
    try:
        return _run_loop(coro, use_uvloop)
    finally:
        if gc_freeze:
            gc.unfreeze()


def _run_loop(coro: Any, use_uvloop: bool) -> BenchResult:
    if use_uvloop:
        try:
            import uvloop

            return uvloop.run(coro)
        except ImportError:  # pragma: no cover
            pass
    return asyncio.run(coro)
