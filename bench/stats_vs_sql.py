"""``python -m bench.stats_vs_sql [--backend postgres|sqlite|all] [--scale city|province] [--runs N]``

The dashboard's aggregates (驾驶舱) through the hub against the same aggregates written by hand.

- **hub**: one GraphQL request through the whole stack (httpx → Starlette → strawberry → ``hub.stats``)
  asking what the dashboard's first screen asks: the region's clues by channel and by subordinate
  region (count, closed, overdue, money and workers recovered) for the month, the 12-month trend by
  China month, and the warnings by rule and level;
- **baseline**: the same four aggregates as hand-written SQL on the plain DBAPI connection (sqlite3 /
  psycopg), their rows turned into the same JSON with orjson — what the answer costs without the hub.

Before timing, the two answers are compared group by group (a mismatch stops the bench). Warm-up
first, then the sides alternate request by request, timed with ``time.perf_counter``; the figure is
the ratio of the medians. Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import time
from decimal import Decimal
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from bench import datasets
from bench.graph_vs_sql import HubClient
from hub.db import sync_url
from hub.identifiers import region_prefix
from hub.stats import period_bounds
from hub.workdays import china_today

#: The region the dashboard is for: the dataset's root (a city, or the province).
QUERY = """query($region: String!, $monthStart: Date!, $monthEnd: Date!, $yearStart: Date!) {
  stats {
    byChannel: clues(groupBy: [CHANNEL], regionCode: $region, from: $monthStart, to: $monthEnd) {
      channel count closed overdue recoveredAmount workersPaid }
    byRegion: clues(groupBy: [REGION], regionCode: $region, from: $monthStart, to: $monthEnd) {
      regionCode regionName count closed overdue recoveredAmount workersPaid }
    trend: clues(groupBy: [MONTH], regionCode: $region, from: $yearStart, to: $monthEnd) { month count closed }
    warnings(groupBy: [RULE, LEVEL], regionCode: $region) { ruleCode level count open }
  }
}"""


def periods(today: dt.date) -> dict[str, dt.date]:
    """This month so far and the twelve months up to it, China days."""
    month_start = today.replace(day=1)
    n = today.year * 12 + today.month - 1 - 11
    return {"monthStart": month_start, "monthEnd": today, "yearStart": dt.date(n // 12, n % 12 + 1, 1)}


class Baseline:
    """The four aggregates by hand, on the plain DBAPI connection of ``url``."""

    def __init__(self, url: str, backend: str, *, region: str, today: dt.date) -> None:
        self.backend, self.today = backend, today
        prefix = region_prefix(region)
        self.lo, self.hi = prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)
        self.child = len(prefix) + (2 if len(prefix) < 6 else 3)
        p = periods(today)
        self.month = period_bounds(p["monthStart"], p["monthEnd"])
        self.year = period_bounds(p["yearStart"], p["monthEnd"])
        if backend == "sqlite":
            import sqlite3

            self.conn: Any = sqlite3.connect(str(make_url(url).database))
            self.ph = "?"
        else:
            import psycopg

            u = sync_url(url)
            self.conn = psycopg.connect(
                host=u.host or "127.0.0.1",
                port=u.port or 5432,
                user=u.username,
                password=u.password,
                dbname=u.database,
                autocommit=True,
                prepare_threshold=None,  # no server-side prepare: a generic plan misjudges the date range
            )
            self.ph = "%s"
        self._sql = self._statements()

    def _statements(self) -> dict[str, str]:
        sqlite = self.backend == "sqlite"
        ph = self.ph
        child = (
            f"substr(c.region_code, 1, {self.child})"
            if self.child >= 6
            else f"substr(c.region_code, 1, {self.child}) || '{'0' * (6 - self.child)}'"
        )
        month = (
            "strftime('%Y-%m', c.received_at, '+8 hours')"
            if sqlite
            else "to_char(c.received_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')"
        )
        figures = (
            "count(*) AS n, sum(CASE WHEN c.status IN ('called_back', 'closed') THEN 1 ELSE 0 END) AS closed, "
            f"sum(CASE WHEN c.deadline < {ph} AND c.status IN ('dispatched', 'escalated', 'in_progress', 'received', "
            "'returned') THEN 1 ELSE 0 END) AS overdue, coalesce(sum(c.recovered_amount), 0) AS recovered, "
            "coalesce(sum(c.workers_paid), 0) AS workers"
        )
        where = f"c.merged_into_id IS NULL AND c.region_code >= {ph} AND c.region_code < {ph}"
        period = f"AND c.received_at >= {ph} AND c.received_at < {ph}"
        return {
            "byChannel": f"SELECT c.channel, {figures} FROM clues c WHERE {where} {period} "
            "GROUP BY c.channel ORDER BY c.channel",
            "byRegion": f"SELECT g.code, r.name, g.n, g.closed, g.overdue, g.recovered, g.workers FROM ("
            f"SELECT {child} AS code, {figures} FROM clues c "
            f"WHERE {where} {period} GROUP BY {child}) g LEFT JOIN regions r ON r.code = g.code ORDER BY g.code",
            "trend": f"SELECT {month} AS m, count(*), sum(CASE WHEN c.status IN ('called_back', 'closed') "
            f"THEN 1 ELSE 0 END) FROM clues c WHERE {where} {period} GROUP BY {month} ORDER BY m",
            "warnings": f"SELECT w.rule_code, w.level, count(*), sum(CASE WHEN w.status = 'active' THEN 1 ELSE 0 END) "
            f"FROM warnings w WHERE w.region_code >= {ph} AND w.region_code < {ph} "
            "GROUP BY w.rule_code, w.level ORDER BY w.rule_code, w.level",
        }

    def _rows(self, name: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if self.backend == "sqlite":
            params = tuple(p.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(p, dt.datetime) else p for p in params)
            return self.conn.execute(self._sql[name], params).fetchall()
        with self.conn.cursor() as cur:
            cur.execute(self._sql[name], params)
            return cur.fetchall()

    def answer(self) -> bytes:
        today, region, month, year = self.today, (self.lo, self.hi), self.month, self.year
        by_channel = self._rows("byChannel", (today, *region, *month))
        by_region = self._rows("byRegion", (today, *region, *month))
        trend = self._rows("trend", (*region, *year))
        warnings = self._rows("warnings", region)

        def money(v: Any) -> str:
            return str(Decimal(str(v)))

        doc = {
            "data": {
                "stats": {
                    "byChannel": [
                        {
                            "channel": (ch or "").upper() or None,
                            "count": n,
                            "closed": int(closed),
                            "overdue": int(overdue),
                            "recoveredAmount": money(rec),
                            "workersPaid": int(workers),
                        }
                        for ch, n, closed, overdue, rec, workers in by_channel
                    ],
                    "byRegion": [
                        {
                            "regionCode": code,
                            "regionName": name,
                            "count": n,
                            "closed": int(closed),
                            "overdue": int(overdue),
                            "recoveredAmount": money(rec),
                            "workersPaid": int(workers),
                        }
                        for code, name, n, closed, overdue, rec, workers in by_region
                    ],
                    "trend": [{"month": mo, "count": n, "closed": int(closed)} for mo, n, closed in trend],
                    "warnings": [
                        {"ruleCode": rule, "level": level.upper(), "count": n, "open": int(open_)}
                        for rule, level, n, open_ in warnings
                    ],
                }
            }
        }
        return orjson.dumps(doc)

    def close(self) -> None:
        self.conn.close()


def _normalise(body: dict[str, Any]) -> dict[str, Any]:
    """Money as numbers, so that ``"12.50"`` and ``"12.5"`` compare equal."""

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: (float(x) if k == "recoveredAmount" else walk(x)) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(body)


async def run_async(ds: datasets.Dataset, *, runs: int, warmup: int, say: Any) -> dict[str, Any]:
    today = china_today()
    region = ds.region
    variables = {"region": region, **{k: v.isoformat() for k, v in periods(today).items()}}
    baseline = Baseline(ds.url, ds.backend, region=region, today=today)
    async with HubClient(ds) as hub:

        async def hub_answer() -> dict[str, Any]:
            resp = await hub.client.post("/graphql", json={"query": QUERY, "variables": variables}, headers=hub.headers)
            body = orjson.loads(resp.content)
            if resp.status_code != 200 or body.get("errors"):
                raise RuntimeError(f"the hub answered {resp.status_code}: {body.get('errors') or resp.text[:300]}")
            return body

        mine, theirs = _normalise(await hub_answer()), _normalise(orjson.loads(baseline.answer()))
        if mine != theirs:
            for key in mine["data"]["stats"]:
                if mine["data"]["stats"][key] != theirs["data"]["stats"][key]:
                    say(
                        f"[red]{key} differs[/]\nhub:      {mine['data']['stats'][key][:5]}\nbaseline: "
                        f"{theirs['data']['stats'][key][:5]}"
                    )
            raise SystemExit("the hub and the hand-written SQL disagree: no figures")
        groups = sum(len(v) for v in mine["data"]["stats"].values())
        say(f"{ds.backend}/{ds.scale}: both answers agree ({groups} groups); warm-up {warmup}, {runs} timed runs")
        for _ in range(warmup):
            await hub_answer()
            baseline.answer()
        hub_ns, base_ns = [], []
        for _ in range(runs):
            t = time.perf_counter_ns()
            await hub_answer()
            hub_ns.append(time.perf_counter_ns() - t)
            t = time.perf_counter_ns()
            baseline.answer()
            base_ns.append(time.perf_counter_ns() - t)
    baseline.close()
    hub_p50, base_p50 = statistics.median(hub_ns) / 1e6, statistics.median(base_ns) / 1e6
    return {
        "backend": ds.backend,
        "scale": ds.scale,
        "region": region,
        "clues": ds.counts.get("clues"),
        "groups": groups,
        "hub_p50_ms": hub_p50,
        "baseline_p50_ms": base_p50,
        "ratio_p50": hub_p50 / base_p50,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stats_vs_sql", description=__doc__.split("\n\n")[1])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="postgres")
    parser.add_argument("--scale", choices=["tiny", "city", "province"], default="city")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    console = Console()
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    table = Table(title="stats (dashboard) vs hand-written SQL — p50, ms")
    for col in ("backend", "scale", "clues", "groups", "hub", "SQL by hand", "ratio"):
        table.add_column(col, justify="left" if col in ("backend", "scale") else "right")
    for backend in backends:
        if backend == "postgres" and (problem := datasets.check_postgres()):
            console.print(f"[yellow]postgres: {problem}[/]")
            continue
        ds = datasets.prepare(backend, args.scale, console=console, rebuild=args.rebuild)
        r = asyncio.run(run_async(ds, runs=args.runs, warmup=args.warmup, say=console.print))
        table.add_row(
            r["backend"],
            r["scale"],
            f"{r['clues'] or 0:,}",
            str(r["groups"]),
            f"{r['hub_p50_ms']:.2f}",
            f"{r['baseline_p50_ms']:.2f}",
            f"{r['ratio_p50']:.2f}×",
        )
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
