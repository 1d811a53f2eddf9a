"""``python -m bench [graph|backfill|match|…] [--backend sqlite|postgres|all] [--scale city|province|all] [--runs N]``

Prepares (or re-uses) the seeded databases, runs the graph-vs-SQL benchmark on each backend × scale,
prints the table and writes ``bench/results/<timestamp>.json``. A first argument naming another
benchmark runs that one with the rest of the arguments: ``backfill`` (ingest vs PostgreSQL COPY),
``match`` (one match on the pool vs an exact-key lookup), ``rules``, ``stats``, ``subscriptions``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from bench import datasets, graph_vs_sql
from bench.graph_vs_sql import COLUMNS, BenchResult, summary_row

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_RUNS = {"tiny": 20, "city": 200, "province": 100}


def _fmt(value: Any, column: str) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.2f}×" if column.startswith("ratio") else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary_table(results: list[BenchResult]) -> Table:
    """One row per backend × scale: first page hub vs the fastest baseline (ms), and the deep page p50."""
    freeze = " — gc.freeze() after warm-up" if any(r.gc_freeze for r in results) else ""
    table = Table(title=f"graph vs SQL — a page of 100 clues with channel records, enterprise, project (ms){freeze}")
    for col in COLUMNS:
        table.add_column(col, justify="left" if col in ("backend", "scale", "baseline") else "right")
    for r in results:
        row = summary_row(r)
        table.add_row(*(_fmt(row[c], c) for c in COLUMNS))
    return table


def detail_table(results: list[BenchResult]) -> Table:
    table = Table(title="every page and baseline (ms)")
    for col in ("backend", "scale", "page", "offset", "hub p50", "hub p95", "baseline", "p50", "p95", "ratio p50"):
        table.add_column(col, justify="left" if col in ("backend", "scale", "page", "baseline") else "right")
    for r in results:
        for p in r.pages:
            for i, (name, s) in enumerate(p.baselines.items()):
                table.add_row(
                    r.backend if i == 0 else "", r.scale if i == 0 else "", p.name if i == 0 else "",
                    f"{p.offset:,}" if i == 0 else "",
                    f"{p.hub.p50_ms:.2f}" if i == 0 else "", f"{p.hub.p95_ms:.2f}" if i == 0 else "",
                    name + (" *" if name == r.baseline else ""), f"{s.p50_ms:.2f}", f"{s.p95_ms:.2f}", f"{p.hub.p50_ms / s.p50_ms:.2f}×",
                )
    return table


def environment() -> dict[str, Any]:
    from importlib.metadata import version

    env: dict[str, Any] = {
        "python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],  # other work on the machine skews the figures
    }
    for dist in ("strawberry-graphql", "graphql-core", "SQLAlchemy", "starlette", "httpx", "aiosqlite", "psycopg", "orjson", "uvloop"):
        try:
            env[dist] = version(dist)
        except Exception:  # noqa: BLE001
            env[dist] = None
    return env


#: The other benchmarks, by the name ``python -m bench NAME …`` runs them under (each its own ``main``).
OTHERS = {
    "backfill": "bench.backfill",
    "match": "bench.match_speed",
    "match-eval": "bench.match_eval",
    "rules": "bench.rules_sweep",
    "stats": "bench.stats_vs_sql",
    "subscriptions": "bench.subscriptions",
}


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in and args_in[0] in OTHERS:
        import importlib

        other: Any = importlib.import_module(OTHERS[args_in[0]])
        return int(other.main(args_in[1:]) or 0)
    if args_in and args_in[0] == "graph":
        args_in = args_in[1:]
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--scale", choices=["city", "province", "all", "tiny"], default="city",
                        help="city (370800, ~5k clues), province (370000, ~200k clues, 5M payroll records), or all")
    parser.add_argument("--runs", type=int, default=None, help="timed requests per page and side (default: 200 city, 100 province)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed requests per page and side first (default: runs/10, ≥ 5)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the seeded databases even when cached")
    parser.add_argument("--no-uvloop", action="store_true", help="use asyncio's default loop instead of uvloop")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/<timestamp>.json")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() after the warm-up: what freezing the start-up heap in the server would give")
    args = parser.parse_args(args_in)

    console = Console()
    if console.width < 160:  # a pipe or a log file: do not squeeze the table into 80 columns
        console = Console(width=160)
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    scales = ["city", "province"] if args.scale == "all" else [args.scale]
    if "postgres" in backends and (why := datasets.check_postgres()):
        console.print(f"[red]PostgreSQL at {datasets.postgres_server_url()} is unreachable ({why}); skipping it[/]")
        backends.remove("postgres")
        if not backends:
            return 2

    results: list[BenchResult] = []
    started = time.perf_counter()
    for scale in scales:
        for backend in backends:
            ds = datasets.prepare(backend, scale, console=console, rebuild=args.rebuild)
            runs = args.runs or DEFAULT_RUNS[scale]
            console.print(f"[bold]{backend}/{scale}[/]: {runs} runs per page and side")
            result = graph_vs_sql.run(ds, runs=runs, warmup=args.warmup, progress=console.print, use_uvloop=not args.no_uvloop,
                                      gc_freeze=args.gc_freeze)
            results.append(result)
    console.print()
    load = os.getloadavg()
    console.print(f"load average now {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} on {os.cpu_count()} CPUs "
                  "(other work on the machine inflates both sides, the longer hub side more)")
    console.print(summary_table(results))
    console.print(detail_table(results))
    console.print(
        "hub = POST /graphql through httpx.ASGITransport → Starlette → strawberry → SQLAlchemy (async driver), "
        "response parsed; sql = the fastest hand-written baseline (same JSON, verified before timing). "
        "Deep = a page halfway through the pool, reached by a keyset cursor."
    )
    if not args.no_save:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        path = RESULTS_DIR / f"{stamp}.json"
        path.write_bytes(orjson.dumps(
            {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "argv": sys.argv[1:] if argv is None else argv,
             "environment": environment(), "seconds": round(time.perf_counter() - started, 1),
             "results": [r.to_json() for r in results]},
            option=orjson.OPT_INDENT_2,
        ))
        console.print(f"results: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
