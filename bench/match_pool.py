"""A clue pool for the matcher benchmark: N clues over a year in one province, built once and re-used.

The pool is generated (no ClueIntake: a million clues through the matcher would take hours) but its
channel records carry what ClueIntake stores — ``match_features`` from :class:`hub.matching.Features`
and one ``clue_match_keys`` row per :func:`hub.matching.blocking_keys` key — so the matcher reads it
exactly as it reads a live pool.

Shape (seed :data:`SEED`, the year up to :data:`END`): the counties of 山东省 (370000), one enterprise
per ~66 clues (15,000 at a million) with a USCC and a name from ``hub.seed.world``, 2.5 projects per
enterprise, a new complainant (name, phone, ID hash on the channels that take one) per clue. A fifth
of the clues come back through a second channel (a twentieth through a third) within 20 days — the
same person, the respondent named in full or by its short name, the project sometimes left out; a
12345 order that follows a 12345 order is ``linked`` (its ``oldOrderNum``), as the seed does.

PostgreSQL: three ``COPY`` streams at once (clues, channel records, keys) with foreign-key triggers
off (``session_replication_role = replica``) and the secondary indexes dropped, then re-created.
SQLite: SQLAlchemy Core inserts in batches. A marker row (table ``bench_match_pool``, written last)
holds :data:`VERSION`, the pool size and the seed; a database whose marker matches is re-used.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from hub.identifiers import make_phone, make_uscc
from hub.matching import (
    Features,
    blocking_keys,
    company_core,
    normalise_address,
    normalise_company_name,
    normalise_project_name,
)
from hub.seed import world as N

#: Bump when the way a pool is built changes: cached pools are rebuilt.
VERSION = 2
SEED = 20261121
#: The pool's clues arrive over the year up to this moment.
END = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
SPAN = dt.timedelta(days=365)
PROVINCE = "370000"
CLUES_PER_ENTERPRISE = 66
MAX_ENTERPRISES = 15_000
PROJECTS_PER_ENTERPRISE = 2.5
#: Share of clues that arrive again through another channel (and again), within REPEAT_WITHIN.
REPEAT_SHARE, SECOND_REPEAT_SHARE = 0.20, 0.05
REPEAT_WITHIN = dt.timedelta(days=20)
#: A complaint about a respondent and project with a clue active this recently joins that clue.
GROUP_WINDOW = dt.timedelta(days=30)
#: Projects: 2.5 per enterprise, and at least one per this many clues (so that group clues stay groups).
CLUES_PER_PROJECT = 4
CHANNELS = (("hotline12345", 45), ("national_platform", 30), ("walk_in", 7), ("online", 7), ("petition", 5),
            ("hotline12333", 4), ("warning", 2))
WITH_ID = {"national_platform", "walk_in", "petition", "online"}
PREFIX = {"hotline12345": "", "national_platform": "GZQX", "walk_in": "LF", "online": "WS", "petition": "XF",
          "hotline12333": "LD", "warning": "YJ"}
MARKER = "bench_match_pool"

CLUE_COLUMNS = ("id", "clue_no", "title", "content", "status", "handling_region_code", "sector", "complainant_name",
                "complainant_phone", "complainant_id_hash", "respondent_name", "respondent_name_norm", "respondent_uscc",
                "project_name", "public_opinion", "received_at", "region_code", "created_at")
RECORD_COLUMNS = ("id", "clue_id", "channel", "source_id", "received_at", "complainant_name", "complainant_phone",
                  "respondent_name", "match_rule", "match_score", "match_features", "region_code", "created_at")
KEY_COLUMNS = ("id", "key", "clue_id", "channel_record_id", "received_at")
TABLES = {"clues": CLUE_COLUMNS, "channel_records": RECORD_COLUMNS, "clue_match_keys": KEY_COLUMNS}


_NORMALISED: dict[tuple[str, Any], str] = {}


@dataclass(frozen=True, slots=True)
class Ent:
    county: str
    uscc: str
    name: str
    short: str
    projects: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Proj:
    code: str
    county: str
    name: str
    address: str
    name_norm: str
    address_norm: str


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    phone: str
    id_hash: str


class World:
    """Counties, enterprises and projects of the pool (deterministic for a seed and a pool size)."""

    def __init__(self, *, pool: int, seed: int = SEED) -> None:
        from hub.regions import iter_regions

        rng = random.Random(seed)
        names = {r.code: r.name for r in iter_regions() if r.code.startswith(PROVINCE[:2])}
        self.counties = sorted(c for c in names if not c.endswith("00"))
        self.county_names = {c: (names.get(c[:4] + "00", ""), names[c]) for c in self.counties}
        n_ent = max(20, min(MAX_ENTERPRISES, pool // CLUES_PER_ENTERPRISE))
        self.enterprises: list[Ent] = []
        for _ in range(n_ent):
            county = rng.choice(self.counties)
            city, county_name = self.county_names[county]
            trade = N.trade_name(rng)
            kind = rng.random()
            if kind < 0.5:
                name = N.labour_name(rng, trade, province="山东省", city=city, county=county_name)
                short = f"{trade}劳务"
            elif kind < 0.75:
                name = N.contractor_name(rng, trade, province="山东省", city=city, county=county_name)
                short = f"{trade}建设"
            else:
                name, _ = N.subcontractor_name(rng, trade, province="山东省", city=city)
                short = f"{trade}公司"
            self.enterprises.append(Ent(county, make_uscc(rng, region_code=county), name, short))
        self.projects: list[Proj] = []
        for i in range(max(int(n_ent * PROJECTS_PER_ENTERPRISE), pool // CLUES_PER_PROJECT)):
            owner = self.enterprises[rng.randrange(n_ent)] if i >= n_ent else self.enterprises[i]
            county = owner.county if rng.random() < 0.8 else rng.choice(self.counties)
            city, county_name = self.county_names[county]
            owner.projects.append(len(self.projects))
            name = N.project_name(rng, sector="住建", city=city, county=county_name, year=2025 + i % 2)
            address = N.address(rng, city=city, county=county_name)
            prefix = city + county_name
            self.projects.append(Proj(
                f"{county}{2025 + i % 2}{i:06d}", county, name, address,
                self._normalised(name, prefix, normalise_project_name), self._normalised(address, prefix, normalise_address),
            ))
        # The shortcut above (normalise without the city and county prefix, cached) gives what the hub's
        # normalisation of the whole text gives: checked on a sample.
        for p in self.projects[:: max(1, len(self.projects) // 40)]:
            if (normalise_project_name(p.name), normalise_address(p.address)) != (p.name_norm, p.address_norm):
                raise RuntimeError(f"pool normalisation differs from the hub's for {p}")
        # 分类监管, as the seed weighs them: B and C enterprises draw 4× and 8× the complaints of an A.
        credit = [rng.choices((1, 4, 8), (60, 30, 10))[0] for _ in range(n_ent)]
        self.weights = list(_accumulate(credit))
        self._names: dict[str, str] = {}

    @staticmethod
    def _normalised(text: str, prefix: str, fn: Callable[[str], str]) -> str:
        """``fn(text)``, computed on the text without its city-and-county prefix and cached.

        The hub's normalisation tries every region name at the start (about 1.5 ms a call); project
        names and addresses repeat once that prefix is gone.
        """
        key = (text.removeprefix(prefix), fn)
        if key not in _NORMALISED:
            _NORMALISED[key] = fn(key[0])
        return _NORMALISED[key]

    def norm(self, name: str) -> tuple[str, str]:
        """The normalised name and its 字号 (cached: normalising is the slow part of a record)."""
        if name not in self._names:
            n = normalise_company_name(name)
            self._names[name] = n
        n = self._names[name]
        return n, company_core(n)

    def pick(self, rng: random.Random) -> int:
        """An enterprise's index, by its credit weight."""
        return bisect.bisect_left(self.weights, rng.random() * self.weights[-1])


def _accumulate(xs: Iterator[float] | Any) -> Iterator[float]:
    total = 0.0
    for x in xs:
        total += x
        yield total


def features(world: World, *, channel: str, ent: Ent, proj: Proj | None, person: Person | None, short: bool,
             with_project: bool) -> dict[str, Any]:
    """The ``match_features`` a channel record of this complaint gets (what ClueIntake would compute)."""
    name, core = world.norm(ent.short if short else ent.name)
    f: dict[str, Any] = {"county": (proj.county if proj else ent.county)}
    if person is not None:
        f["phone"] = person.phone
        if channel in WITH_ID:
            f["id_hash"] = person.id_hash
    if channel == "warning" or (channel == "national_platform" and person is not None and person.id_hash[0] in "0123"):
        f["uscc"] = ent.uscc
    if name:
        f["name"] = name
        f["core"] = core
    if proj is not None and with_project:
        if channel == "warning":
            f["project_code"] = proj.code
        f["project"] = proj.name_norm or None
        if channel == "national_platform":
            f["address"] = proj.address_norm or None
    if person is not None:
        f["complainant"] = person.name
    return {k: v for k, v in f.items() if v is not None}


def new_person(rng: random.Random) -> Person:
    return Person(N.person_name(rng), make_phone(rng), f"{rng.getrandbits(256):064x}")


def _channel(rng: random.Random) -> str:
    return rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]


def generate(pool: int, *, seed: int = SEED, world: World | None = None) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """``(table, row)`` in receipt order until ``pool`` clues exist: clues, channel records and their keys.

    A complaint about a respondent and project that already has a clue with a record in the last
    :data:`GROUP_WINDOW` joins that clue (rule ``name+project``: a group complaint is one matter, as the
    matcher decides); any other complaint starts a clue. Repeats of a complaint follow on their day.
    """
    world = world or World(pool=pool, seed=seed)
    rng = random.Random(seed + 1)
    at = END - SPAN
    # Clues, not complaints, arrive at pool/SPAN: the gap between complaints shrinks as more of them join.
    gap = SPAN.total_seconds() / pool
    complaints = 0
    pending: list[tuple[dt.datetime, int, dict[str, Any]]] = []  # repeats to emit at their time
    open_pairs: dict[tuple[int, int], tuple[int, dt.datetime]] = {}  # (enterprise, project) → (clue, last record)
    rec_id = key_id = clue_id = seq = 0

    def record(clue: int, when: dt.datetime, spec: dict[str, Any], rule: str) -> Iterator[tuple[str, tuple[Any, ...]]]:
        nonlocal rec_id, key_id
        rec_id += 1
        ent, person, channel = spec["ent"], spec["person"], spec["channel"]
        f = features(world, channel=channel, ent=ent, proj=spec["proj"], person=person, short=spec["short"],
                     with_project=spec["with_project"])
        if spec["proj"] is not None and spec["with_project"]:
            open_pairs[spec["pair"]] = (clue, when)
        respondent = ent.short if spec["short"] else ent.name
        yield "channel_records", (
            rec_id, clue, channel, f"{PREFIX[channel]}{rec_id:010d}", when, person.name if person else None,
            person.phone if person else None, respondent, rule, None if rule in ("new", "linked") else 0.98,
            orjson.dumps(f).decode(), f["county"], when,
        )
        for k in blocking_keys(Features(**f)):
            key_id += 1
            yield "clue_match_keys", (key_id, k, clue, rec_id, when)

    while clue_id < pool:
        complaints += 1
        at = at + dt.timedelta(seconds=round(rng.expovariate(complaints / (gap * max(clue_id, 1))), 3))
        while pending and pending[0][0] <= at:
            when, _, spec = heapq.heappop(pending)
            yield from record(spec["clue_id"], when, spec, spec["rule"])
        channel = _channel(rng)
        e = world.pick(rng)
        ent = world.enterprises[e]
        p = rng.choice(ent.projects) if ent.projects and rng.random() < 0.85 else None
        proj = world.projects[p] if p is not None else None
        person = None if channel == "warning" else new_person(rng)
        spec = {"channel": channel, "ent": ent, "proj": proj, "pair": (e, p), "person": person,
                "short": channel == "hotline12345" and rng.random() < 0.4, "with_project": True}
        group = open_pairs.get((e, p)) if proj is not None else None
        if group is not None and at - group[1] <= GROUP_WINDOW:
            spec["clue_id"] = group[0]
            yield from record(group[0], at, spec, "name+project")
        else:
            clue_id += 1
            spec["clue_id"] = clue_id
            county = proj.county if proj else ent.county
            yield "clues", (
                clue_id, f"XS{county}{at:%Y%m%d}{clue_id:08d}", f"{person.name if person else '预警'}反映{ent.short}拖欠工资",
                f"{proj.name if proj else ent.name}拖欠工资", "received", county, "工程建设" if proj else "非工程",
                person.name if person else None, person.phone if person else None, person.id_hash if person else None,
                ent.name, world.norm(ent.name)[0], ent.uscc, proj.name if proj else None, False, at, county, at,
            )
            yield from record(clue_id, at, spec, "new")
        repeats = (rng.random() < REPEAT_SHARE) + (rng.random() < SECOND_REPEAT_SHARE) if person else 0
        when = at
        for _ in range(repeats):
            when = when + dt.timedelta(seconds=rng.uniform(3600, REPEAT_WITHIN.total_seconds()))
            again = _channel(rng)
            while again == "warning":
                again = _channel(rng)
            seq += 1
            heapq.heappush(pending, (when, seq, {
                **spec, "channel": again, "short": rng.random() < 0.5, "with_project": rng.random() < 0.7,
                "rule": "linked" if again == channel == "hotline12345" else "phone",
            }))
    while pending:
        when, _, spec = heapq.heappop(pending)
        yield from record(spec["clue_id"], when, spec, spec["rule"])


# --------------------------------------------------------------------------------------------- building


def pool_url(backend: str, pool: int, *, server: str | None = None, data_dir: Any = None, name: str | None = None) -> str:
    """``bench/.data/match-<pool>.db`` or database ``bench_match_<pool>`` (or ``name``)."""
    from sqlalchemy.engine import make_url

    from bench.datasets import DATA_DIR, postgres_server_url

    name = name or f"bench_match_{pool}"
    if backend == "sqlite":
        file = name.replace("bench_match_", "match-") + ".db"
        return f"sqlite:///{(data_dir or DATA_DIR) / file}"
    return make_url(server or postgres_server_url()).set(database=name).render_as_string(hide_password=False)


def marker(url: str) -> dict[str, Any] | None:
    """The pool's marker row, or None when the database is missing or unfinished."""
    from sqlalchemy import create_engine, text

    from hub.db import sync_url

    try:
        engine = create_engine(sync_url(url))
        with engine.connect() as conn:
            row = conn.execute(text(f"SELECT version, pool, seed, counts FROM {MARKER}")).one_or_none()
        engine.dispose()
    except Exception:  # noqa: BLE001 — no database, no table: not built
        return None
    if row is None:
        return None
    counts = row[3] if isinstance(row[3], dict) else orjson.loads(row[3])
    return {"version": row[0], "pool": row[1], "seed": row[2], "counts": counts}


def prepare(backend: str, pool: int, *, rebuild: bool = False, server: str | None = None, data_dir: Any = None,
            name: str | None = None, log: Callable[[str], None] = print) -> tuple[str, dict[str, Any]]:
    """The URL of a database holding the pool (built unless a matching one exists) and its marker."""
    url = pool_url(backend, pool, server=server, data_dir=data_dir, name=name)
    found = None if rebuild else marker(url)
    if found and found["version"] == VERSION and found["pool"] == pool and found["seed"] == SEED:
        log(f"re-using the pool of {pool:,} clues at {_safe(url)}")
        return url, found
    log(f"building a pool of {pool:,} clues at {_safe(url)} …")
    t0 = time.perf_counter()
    _reset(url, backend, server=server)
    from hub.migrate import upgrade

    upgrade(url)
    counts = (_load_postgres if backend == "postgres" else _load_sqlite)(url, pool, log=log)
    _write_marker(url, pool, counts)
    seconds = time.perf_counter() - t0
    log(f"built in {seconds:,.0f} s: {counts}")
    return url, {"version": VERSION, "pool": pool, "seed": SEED, "counts": counts, "built_seconds": round(seconds, 1)}


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def drop(url: str, *, server: str | None = None) -> None:
    """Remove a pool's database (SQLite file or PostgreSQL database)."""
    from sqlalchemy.engine import make_url

    _reset(url, make_url(url).get_backend_name().replace("postgresql", "postgres"), server=server, create=False)


def _reset(url: str, backend: str, *, server: str | None, create: bool = True) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from bench.datasets import postgres_server_url
    from hub.db import sync_url

    if backend == "sqlite":
        from pathlib import Path

        path = Path(make_url(url).database or "")
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            p.unlink(missing_ok=True)
        return
    engine = create_engine(sync_url(server or postgres_server_url()), isolation_level="AUTOCOMMIT")
    name = make_url(url).database
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def _load_postgres(url: str, pool: int, *, log: Callable[[str], None]) -> dict[str, int]:
    """Three COPY streams at once, FK triggers off, secondary indexes dropped and re-created afterwards."""
    import psycopg

    dsn = _libpq(url)
    with psycopg.connect(dsn, autocommit=True) as admin:
        indexes = admin.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            [list(TABLES)]).fetchall()
        for name, _ in indexes:
            admin.execute(f'DROP INDEX "{name}"')
    conns = {t: psycopg.connect(dsn) for t in TABLES}
    counts = dict.fromkeys(TABLES, 0)
    t0 = time.perf_counter()
    try:
        copies = {}
        cms = []
        for table, conn in conns.items():
            conn.execute("SET session_replication_role = replica")  # no FK triggers: the three streams are independent
            cm = conn.cursor().copy(f"COPY {table} ({', '.join(TABLES[table])}) FROM STDIN")
            copies[table] = cm.__enter__()
            cms.append(cm)
        write = {t: c.write_row for t, c in copies.items()}
        for table, row in generate(pool):
            write[table](row)
            counts[table] += 1
            if table == "clues" and counts["clues"] % 100_000 == 0:
                log(f"  {counts['clues']:,} clues ({time.perf_counter() - t0:,.0f} s)")
        for cm in cms:
            cm.__exit__(None, None, None)
        for conn in conns.values():
            conn.commit()
    finally:
        for conn in conns.values():
            conn.close()
    log(f"  copied in {time.perf_counter() - t0:,.0f} s; indexing …")
    t1 = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SET maintenance_work_mem = '1GB'")
        for _, ddl in indexes:
            admin.execute(ddl)
        for table in TABLES:
            admin.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))")
        admin.execute("VACUUM ANALYZE")
    log(f"  indexed and analysed in {time.perf_counter() - t1:,.0f} s")
    return counts


def _load_sqlite(url: str, pool: int, *, log: Callable[[str], None]) -> dict[str, int]:
    from sqlalchemy import text

    from hub import models as m
    from hub.db import make_engine

    tables = {"clues": m.Clue.__table__, "channel_records": m.ChannelRecord.__table__,
              "clue_match_keys": m.ClueMatchKey.__table__}
    counts = dict.fromkeys(TABLES, 0)
    batches: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("PRAGMA foreign_keys=OFF"))

        def flush(table: str) -> None:
            if batches[table]:
                conn.execute(tables[table].insert(), batches[table])
                batches[table].clear()

        for table, row in generate(pool):
            values = dict(zip(TABLES[table], row, strict=True))
            if table == "channel_records":
                values["match_features"] = orjson.loads(values["match_features"])
            batches[table].append(values)
            counts[table] += 1
            if len(batches[table]) >= 5000:
                for t in TABLES:  # parents first
                    flush(t)
        for t in TABLES:
            flush(t)
        conn.execute(text("ANALYZE"))
    engine.dispose()
    log(f"  loaded {counts}")
    return counts


def _write_marker(url: str, pool: int, counts: dict[str, int]) -> None:
    from sqlalchemy import create_engine, text

    from hub.db import sync_url

    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {MARKER} (version INTEGER, pool INTEGER, seed INTEGER, counts TEXT, built_at TEXT)"))
        conn.execute(text(f"INSERT INTO {MARKER} VALUES (:v, :p, :s, :c, :t)"),
                     {"v": VERSION, "p": pool, "s": SEED, "c": orjson.dumps(counts).decode(),
                      "t": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
    engine.dispose()


def _libpq(url: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)
