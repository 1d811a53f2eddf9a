"""``python -m bench.match_speed [--pool 1000000] [--queries 2000] [--backend postgres|sqlite]``

Matching one incoming clue against a pool of N clues, against an exact-key lookup on the same pool,
and re-matching the whole pool (``hub.rematch.rematch_pool``, in a fresh process: wall time and peak
RSS). The pool is built once and cached (:mod:`bench.match_pool`).

- **hub**: ``find_match(session, features, received_at=…)`` — the blocking lookup on
  ``clue_match_keys (key, received_at)``, the candidates' features, scoring, the best at or above the
  threshold — through a SQLAlchemy session, as ``ClueIntake`` runs it (the incoming record's features
  are computed beforehand: that is the same work on both sides of a real intake);
- **baseline**: ``SELECT id FROM clues WHERE complainant_phone = ? AND received_at BETWEEN ? AND ?``
  with an index on ``(complainant_phone, received_at)`` made for it, plain DBAPI, prepared;
- **hub SQL by hand**: the hub's two statements as one, plain DBAPI — what the lookup costs without
  Python on top (where the hub's time goes).

Queries: half are a pool clue's first complainant calling again (same phone and name, respondent
and project as before or the project left out, 1 hour to 7 days later), half new complaints (a new
person, a pool enterprise and project). Warm-up first, then the three sides alternate query by query
(drift hits all), timed with ``time.perf_counter``. Before the figures, every answer is checked: each
repeat's clue is found by the baseline and among the hub's candidates, and the hub joins it to that
clue or to one scoring at least as high (the candidates' scores from ``find_candidates``, untimed);
no new complaint's phone is found by the baseline. Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from bench import match_pool

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BASELINE_INDEX = "bench_ix_clues_phone_received"


@dataclass
class Query:
    kind: str  # repeat / new
    features: Any  # hub.matching.Features
    at: dt.datetime
    expected_clue: int | None = None


@dataclass
class Outcome:
    """What each side answered for one query (checked before any figure is reported)."""

    baseline: list[int]
    hub_clue: int | None
    hub_score: float | None
    hub_candidate_clues: dict[int, float]  # clue → its best candidate's score
    sql_rows: int


@dataclass
class Side:
    name: str
    ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        xs = sorted(self.ms)
        q = statistics.quantiles(xs, n=100, method="inclusive") if len(xs) > 1 else xs * 99
        return {"p50": q[49], "p95": q[94], "p99": q[98], "mean": statistics.fmean(xs), "max": xs[-1], "n": len(xs)}


# ------------------------------------------------------------------------------------------------ queries


def make_queries(url: str, *, pool: int, n: int, seed: int = match_pool.SEED) -> list[Query]:
    """``n`` incoming records: repeats of sampled pool clues' first records, and new complaints."""
    from sqlalchemy import Text, cast, func, select

    from hub import models as m
    from hub.db import make_engine
    from hub.matching import Features

    rng = random.Random(seed + 7)
    engine = make_engine(url)
    cr = m.ChannelRecord
    with engine.connect() as conn:
        lo, hi = conn.execute(select(func.min(cr.received_at), func.max(cr.received_at))).one()
        max_id = conn.execute(select(func.max(cr.id))).scalar_one()
        ids = rng.sample(range(1, max_id + 1), min(max_id, n * 3))
        rows = conn.execute(select(cr.id, cr.clue_id, cr.received_at, cast(cr.match_features, Text))
                            .where(cr.id.in_(ids), cr.match_rule == "new")).all()
    engine.dispose()
    rows = [r for r in rows if '"phone"' in r[3]]
    rng.shuffle(rows)
    queries: list[Query] = []
    for _rid, clue_id, at, raw in rows[: n // 2]:
        f = orjson.loads(raw)
        f.pop("id_hash", None)
        f.pop("uscc", None)
        if rng.random() < 0.3:
            f.pop("project", None)
            f.pop("address", None)
        queries.append(Query("repeat", Features(**f), at + dt.timedelta(seconds=rng.uniform(3600, 7 * 86400)), clue_id))
    world = match_pool.World(pool=pool, seed=seed)
    while len(queries) < n:
        e = world.enterprises[world.pick(rng)]
        proj = world.projects[rng.choice(e.projects)] if e.projects and rng.random() < 0.85 else None
        channel = rng.choice(["hotline12345", "national_platform", "walk_in"])
        person = match_pool.new_person(rng)
        f = match_pool.features(world, channel=channel, ent=e, proj=proj, person=person, short=rng.random() < 0.3,
                                with_project=True)
        queries.append(Query("new", Features(**f), lo + (hi - lo) * rng.random()))
    rng.shuffle(queries)
    return queries


# ---------------------------------------------------------------------------------------------- measuring


class Baselines:
    """The exact-key lookup and the hub's SQL by hand, on a plain DBAPI connection."""

    def __init__(self, url: str, backend: str) -> None:
        self.backend = backend
        if backend == "postgres":
            import psycopg

            self.conn = psycopg.connect(match_pool._libpq(url), autocommit=True)
            self.p = "%s"
        else:
            import sqlite3

            from sqlalchemy.engine import make_url

            self.conn = sqlite3.connect(make_url(url).database or "")
            self.p = "?"

    def _t(self, at: dt.datetime) -> Any:
        if self.backend == "postgres":
            return at
        return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # how SQLAlchemy stores it in SQLite

    def ensure_index(self) -> None:
        self.conn.execute(f"CREATE INDEX IF NOT EXISTS {BASELINE_INDEX} ON clues (complainant_phone, received_at)")
        self.conn.execute("ANALYZE clues")
        if self.backend == "sqlite":
            self.conn.commit()

    def phone(self, phone: str, at: dt.datetime, window: dt.timedelta) -> list[int]:
        p = self.p
        cur = self.conn.execute(f"SELECT id FROM clues WHERE complainant_phone = {p} AND received_at BETWEEN {p} AND {p}",
                                (phone, self._t(at - window), self._t(at + window)))
        return [r[0] for r in cur.fetchall()]

    def hub_sql(self, keys: list[str], at: dt.datetime, window: dt.timedelta, limit: int) -> int:
        p = self.p
        marks = ", ".join([p] * len(keys))
        cur = self.conn.execute(
            "SELECT id, clue_id, received_at, match_features FROM channel_records WHERE id IN ("
            f"SELECT channel_record_id FROM clue_match_keys WHERE key IN ({marks}) AND received_at >= {p} "
            f"AND received_at <= {p} ORDER BY received_at DESC LIMIT {limit})",
            (*keys, self._t(at - window), self._t(at + window)))
        return len(cur.fetchall())

    def close(self) -> None:
        self.conn.close()


def measure(url: str, backend: str, queries: list[Query], *, warmup: int) -> tuple[dict[str, Side], list[Outcome]]:
    """Warm up, then time hub / baseline / hub SQL by hand, rotating their order query by query."""
    from sqlalchemy.orm import Session

    from hub.db import make_engine
    from hub.matching import (
        DEFAULT_THRESHOLD,
        DEFAULT_WINDOW,
        MAX_CANDIDATES,
        blocking_keys,
        find_candidates,
        find_match,
    )

    engine = make_engine(url)
    session = Session(engine)
    base = Baselines(url, backend)
    base.ensure_index()
    window = DEFAULT_WINDOW
    sides = {"hub": Side("hub"), "baseline": Side("baseline"), "hub_sql": Side("hub_sql")}
    outcomes: list[Outcome] = []
    perf = time.perf_counter

    def hub(q: Query) -> Any:
        return find_match(session, q.features, received_at=q.at, window=window, threshold=DEFAULT_THRESHOLD)

    for q in queries[:warmup]:
        hub(q)
        session.commit()
        base.phone(q.features.phone, q.at, window)
        base.hub_sql(blocking_keys(q.features), q.at, window, MAX_CANDIDATES)
    for i, q in enumerate(queries):
        results: dict[str, Any] = {}
        keys = blocking_keys(q.features)
        order = ("hub", "baseline", "hub_sql")[i % 3:] + ("hub", "baseline", "hub_sql")[: i % 3]
        for name in order:
            if name == "hub":
                t0 = perf()
                results[name] = hub(q)
                sides[name].ms.append((perf() - t0) * 1000)
                # Untimed: one transaction per intake, which commits it. (A rollback would also drop the
                # connection's prepared statements — psycopg forgets them on ROLLBACK — so that every
                # match would be planned afresh, which the intake does not do.)
                session.commit()
            elif name == "baseline":
                t0 = perf()
                results[name] = base.phone(q.features.phone, q.at, window)
                sides[name].ms.append((perf() - t0) * 1000)
            else:
                t0 = perf()
                results[name] = base.hub_sql(keys, q.at, window, MAX_CANDIDATES)
                sides[name].ms.append((perf() - t0) * 1000)
        best = results["hub"]
        cands = find_candidates(session, q.features, received_at=q.at, window=window)  # untimed: for the check
        session.commit()
        by_clue: dict[int, float] = {}
        for c in cands:
            by_clue[c.clue_id] = max(by_clue.get(c.clue_id, 0.0), c.match.score)
        outcomes.append(Outcome(results["baseline"], best.clue_id if best else None, best.match.score if best else None,
                                by_clue, results["hub_sql"]))
    session.close()
    engine.dispose()
    base.close()
    return sides, outcomes


def check(queries: list[Query], outcomes: list[Outcome]) -> dict[str, int]:
    """Consistency of the answers (counts); ``problems`` must be 0."""
    c = {"repeats": 0, "repeat_found_by_baseline": 0, "repeat_among_hub_candidates": 0, "repeat_joined_own_clue": 0,
         "repeat_joined_other_clue_scoring_higher": 0, "new": 0, "new_found_by_baseline": 0, "new_joined_a_clue": 0,
         "problems": 0}
    for q, o in zip(queries, outcomes, strict=True):
        if q.kind == "repeat":
            c["repeats"] += 1
            ok_base = q.expected_clue in o.baseline
            ok_cand = q.expected_clue in o.hub_candidate_clues
            c["repeat_found_by_baseline"] += ok_base
            c["repeat_among_hub_candidates"] += ok_cand
            if o.hub_clue == q.expected_clue:
                c["repeat_joined_own_clue"] += 1
            elif o.hub_clue is not None and ok_cand and (o.hub_score or 0) >= o.hub_candidate_clues[q.expected_clue]:
                c["repeat_joined_other_clue_scoring_higher"] += 1  # e.g. its clue's group, merged by name+project
            else:
                c["problems"] += 1
            c["problems"] += (not ok_base) + (not ok_cand)
        else:
            c["new"] += 1
            c["new_found_by_baseline"] += bool(o.baseline)
            c["new_joined_a_clue"] += o.hub_clue is not None
            c["problems"] += bool(o.baseline)
    return c


# ---------------------------------------------------------------------------------------------- rematch


def rematch_in_subprocess(url: str, *, workers: int | None) -> dict[str, Any]:
    """``rematch_pool`` in a fresh process: its report, wall time, and peak RSS (MB)."""
    cmd = [sys.executable, "-m", "bench.match_speed", "--rematch-child", url]
    if workers:
        cmd += ["--workers", str(workers)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"rematch subprocess failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    out = orjson.loads(proc.stdout.strip().splitlines()[-1])
    # The largest process among those waited for (Linux: KB) — the subprocess or one of its scans.
    out["children_max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    out["subprocess_wall_seconds"] = round(wall, 2)
    return out


def _rematch_child(url: str, workers: int | None) -> None:
    from hub.db import make_engine
    from hub.rematch import rematch_pool

    engine = make_engine(url)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = rematch_pool(engine, workers=workers, max_changes=20)
    engine.dispose()
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    scans_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(orjson.dumps({
        "report": report.as_json(), "rss_at_start_mb": round(rss0, 1), "peak_rss_self_mb": round(self_mb, 1),
        "peak_rss_largest_scan_mb": round(scans_mb, 1),
        # every scan peaks at about the same time: their sum (with the parent) bounds the total
        "peak_rss_total_bound_mb": round(self_mb + scans_mb * (report.workers if report.workers > 1 else 0), 1),
    }).decode())


# --------------------------------------------------------------------------------------------------- main


def _fmt(x: float) -> str:
    return f"{x:.2f}" if x < 100 else f"{x:,.0f}"


def report_tables(sides: dict[str, Side], checks: dict[str, int], rematch: dict[str, Any] | None, *, pool: int,
                  counts: dict[str, int], backend: str) -> list[Table]:
    s = {k: v.summary() for k, v in sides.items()}
    b = s["baseline"]
    t = Table(title=f"matching one incoming record — {backend}, pool of {pool:,} clues "
                    f"({counts.get('channel_records', 0):,} records, {counts.get('clue_match_keys', 0):,} keys); ms")
    for col in ("side", "p50", "p95", "p99", "mean", "max", "ratio p50", "ratio p99"):
        t.add_column(col, justify="left" if col == "side" else "right")
    labels = {"hub": "hub: find_match", "baseline": "baseline: exact phone lookup",
              "hub_sql": "hub's SQL by hand (no Python)"}
    for k in ("hub", "baseline", "hub_sql"):
        x = s[k]
        t.add_row(labels[k], _fmt(x["p50"]), _fmt(x["p95"]), _fmt(x["p99"]), _fmt(x["mean"]), _fmt(x["max"]),
                  f"{x['p50'] / b['p50']:.1f}×", f"{x['p99'] / b['p99']:.1f}×")
    c = Table(title="answers checked (before timing is reported)")
    c.add_column("check")
    c.add_column("count", justify="right")
    for k, v in checks.items():
        c.add_row(k, f"{v:,}")
    tables = [t, c]
    if rematch:
        r = rematch["report"]
        rt = Table(title="re-matching the whole pool (hub.rematch.rematch_pool, fresh process)")
        rt.add_column("")
        rt.add_column("", justify="right")
        for label, value in [
            ("records", f"{r['records']:,}"), ("clues today", f"{r['clues']:,}"), ("clusters", f"{r['clusters']:,}"),
            ("records on another clue", f"{r['changed']:,}"), ("… onto an existing clue", f"{r['to_existing']:,}"),
            ("… onto a new clue", f"{r['to_new']:,}"), ("scans (processes)", str(r["workers"])),
            ("most records in a window", f"{r['max_window_records']:,}"),
            ("wall time (rematch_pool)", f"{r['seconds']:,.1f} s"),
            ("peak RSS: parent / largest scan / total bound", (f"{rematch['peak_rss_self_mb']:,.0f} / "
             f"{rematch['peak_rss_largest_scan_mb']:,.0f} / {rematch['peak_rss_total_bound_mb']:,.0f} MB")),
        ]:
            rt.add_row(label, value)
        tables.append(rt)
    return tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.match_speed", description=__doc__.split("\n\n")[1])
    parser.add_argument("--pool", type=int, default=1_000_000, help="clues in the pool (default 1,000,000)")
    parser.add_argument("--queries", type=int, default=2000, help="incoming records timed (default 2000)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed queries first (default queries/10, ≥ 20)")
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the pool even when cached")
    parser.add_argument("--workers", type=int, default=None, help="rematch scans in parallel (default: CPUs, ≤ 4)")
    parser.add_argument("--no-rematch", action="store_true", help="skip the whole-pool re-match")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/match-<timestamp>.json")
    parser.add_argument("--out", type=Path, default=None, help="write the results JSON here")
    parser.add_argument("--rematch-child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rematch_child:
        _rematch_child(args.rematch_child, args.workers)
        return 0

    console = Console()
    if console.width < 140:
        console = Console(width=140)
    if args.backend == "postgres":
        from bench.datasets import check_postgres, postgres_server_url

        if why := check_postgres():
            console.print(f"[red]PostgreSQL at {postgres_server_url()} is unreachable ({why})[/]")
            return 2
    started = time.perf_counter()
    url, marker = match_pool.prepare(args.backend, args.pool, rebuild=args.rebuild, log=console.print)
    results = run(url, args.backend, pool=args.pool, queries=args.queries, warmup=args.warmup,
                  rematch=not args.no_rematch, workers=args.workers, log=console.print)
    results["pool_marker"] = marker
    results["seconds"] = round(time.perf_counter() - started, 1)
    for t in report_tables(results["_sides"], results["checks"], results.get("rematch"), pool=args.pool,
                           counts=marker["counts"], backend=args.backend):
        console.print(t)
    load = os.getloadavg()
    console.print(f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} on {os.cpu_count()} CPUs")
    results.pop("_sides")
    if not args.no_save or args.out:
        path = args.out or RESULTS_DIR / f"match-{dt.datetime.now():%Y%m%dT%H%M%S}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
        console.print(f"results: {path}")
    return 0 if results["checks"]["problems"] == 0 else 1


def run(url: str, backend: str, *, pool: int, queries: int, warmup: int | None = None, rematch: bool = True,
        workers: int | None = None, log: Any = print) -> dict[str, Any]:
    """The whole benchmark on a prepared pool: the per-record comparison, then the re-match."""
    from bench.__main__ import environment

    log(f"{queries:,} incoming records (half repeats of pool clues, half new) …")
    qs = make_queries(url, pool=pool, n=queries)
    warm = warmup if warmup is not None else max(20, queries // 10)
    sides, outcomes = measure(url, backend, qs, warmup=warm)
    checks = check(qs, outcomes)
    out: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "backend": backend, "pool": pool,
        "queries": len(qs), "warmup": warm, "environment": environment(), "checks": checks,
        "timings_ms": {k: v.summary() for k, v in sides.items()},
        "_sides": sides,
    }
    b = out["timings_ms"]["baseline"]
    out["ratio"] = {k: {"p50": v["p50"] / b["p50"], "p99": v["p99"] / b["p99"]} for k, v in out["timings_ms"].items()}
    if rematch:
        log("re-matching the whole pool in a fresh process …")
        out["rematch"] = rematch_in_subprocess(url, workers=workers)
    out["queries_sample"] = [{**asdict(q.features), "kind": q.kind, "at": q.at.isoformat()} for q in qs[:3]]
    return out


if __name__ == "__main__":
    raise SystemExit(main())
