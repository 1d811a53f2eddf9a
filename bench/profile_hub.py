"""Where the hub's time goes on the benchmark page: ``python -m bench.profile_hub [--backend …] [--scale …]``.

Three views of the same request (the first page of :data:`bench.graph_vs_sql.QUERY`):

1. wall-clock split: SQL round trips (``before``/``after_cursor_execute`` on the async engine: the
   driver call including aiosqlite's thread hop or psycopg's socket wait) vs. everything else;
2. layers without the HTTP stack: ``schema.execute`` directly (graphql-core + strawberry + loaders + ORM),
   and the five ORM statements the loaders issue, timed alone on the same async session;
3. cProfile of many requests, own time grouped by package (graphql-core, strawberry, SQLAlchemy,
   the driver, Starlette/httpx, asyncio, the hub's own code), plus the top functions.

cProfile sees the main thread only: aiosqlite runs SQLite in its own thread, so the database's own
work shows up as the event loop waiting (``select``/``epoll``), as PostgreSQL's does.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import statistics
import time
from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import datasets
from bench.graph_vs_sql import PAGE_SIZE, QUERY, HubClient

BUCKETS = [
    ("graphql-core", ("/graphql/",)),
    ("strawberry", ("/strawberry/",)),
    ("sqlalchemy", ("/sqlalchemy/",)),
    ("driver (aiosqlite/psycopg/sqlite3)", ("/aiosqlite/", "/psycopg/", "/psycopg_binary/", "sqlite3")),
    ("starlette/httpx/anyio", ("/starlette/", "/httpx/", "/httpcore/", "/anyio/", "/h11/")),
    ("event loop (incl. waiting for the DB)", ("/asyncio/", "/uvloop/", "select", "epoll", "<built-in method _asyncio", "_contextvars")),
    ("hub + schema code", ("/work/main/hub/", "/work/main/schema/")),
    ("prometheus", ("/prometheus_client/",)),
    ("json", ("/json/", "orjson")),
]


def bucket_of(filename: str, funcname: str) -> str:
    key = f"{filename} {funcname}"
    for name, needles in BUCKETS:
        if any(n in key for n in needles):
            return name
    return "other (stdlib, builtins)"


async def _profile(ds: datasets.Dataset, *, requests: int, console: Console) -> None:
    from sqlalchemy import event, select

    from hub import models as m
    from schema.build import build_schema
    from schema.context import Context
    from schema.loaders import Loaders

    async with HubClient(ds) as hub:
        for _ in range(20):
            await hub.page(None)

        # 1. wall clock vs SQL round trips
        sql_ns: list[int] = []
        starts: dict[int, int] = {}

        def before(conn, cursor, *_a: Any) -> None:  # type: ignore[no-untyped-def]
            starts[id(cursor)] = time.perf_counter_ns()

        def after(conn, cursor, *_a: Any) -> None:  # type: ignore[no-untyped-def]
            sql_ns.append(time.perf_counter_ns() - starts.pop(id(cursor)))

        sync_engine = hub.app.state.engine.sync_engine
        event.listen(sync_engine, "before_cursor_execute", before)
        event.listen(sync_engine, "after_cursor_execute", after)
        totals, sqls = [], []
        for _ in range(requests):
            sql_ns.clear()
            t0 = time.perf_counter_ns()
            await hub.page(None)
            totals.append(time.perf_counter_ns() - t0)
            sqls.append(sum(sql_ns))
            n_statements = len(sql_ns)
        event.remove(sync_engine, "before_cursor_execute", before)
        event.remove(sync_engine, "after_cursor_execute", after)
        total, sql = statistics.median(totals) / 1e6, statistics.median(sqls) / 1e6

        # 2. layers: schema.execute without HTTP; the ORM statements alone
        schema = build_schema(max_depth=hub.settings.max_query_depth)
        sessions = hub.app.state.sessions
        from hub.access import authenticate, bind_principal
        from hub.crypto import Cipher

        cipher = Cipher(datasets.BENCH_SECRET)

        async def execute_once() -> None:
            session = sessions()
            principal = await session.run_sync(lambda s: authenticate(s, ds.api_key))
            bind_principal(session.sync_session, principal)
            ctx = Context(session=session, principal=principal, loaders=Loaders(session), cipher=cipher, settings=hub.settings)
            result = await schema.execute(QUERY, variable_values={"first": PAGE_SIZE, "after": None}, context_value=ctx)
            assert not result.errors, result.errors

        for _ in range(10):
            await execute_once()
        ex = []
        for _ in range(requests):
            t0 = time.perf_counter_ns()
            await execute_once()
            ex.append(time.perf_counter_ns() - t0)
        execute_ms = statistics.median(ex) / 1e6

        async def orm_once() -> None:
            async with sessions() as s:
                await s.run_sync(lambda ss: authenticate(ss, ds.api_key))
                clues = (await s.execute(
                    select(m.Clue).order_by(m.Clue.received_at.desc(), m.Clue.id.desc()).limit(PAGE_SIZE + 1)
                )).scalars().all()
                ids = {c.id for c in clues}
                (await s.execute(select(m.ChannelRecord).where(m.ChannelRecord.clue_id.in_(ids)).order_by(m.ChannelRecord.id))).scalars().all()
                ents = (await s.execute(select(m.Enterprise).where(m.Enterprise.id.in_({c.enterprise_id for c in clues if c.enterprise_id})))).scalars().all()
                projs = (await s.execute(select(m.Project).where(m.Project.id.in_({c.project_id for c in clues if c.project_id})))).scalars().all()
                (await s.execute(select(m.Region).where(m.Region.code.in_({p.region_code for p in projs})))).scalars().all()
                del ents

        for _ in range(10):
            await orm_once()
        orm = []
        for _ in range(requests):
            t0 = time.perf_counter_ns()
            await orm_once()
            orm.append(time.perf_counter_ns() - t0)
        orm_ms = statistics.median(orm) / 1e6

        # 2b. what a field costs: schema.execute on variants of the page (same 100 clues)
        variants: list[tuple[str, str]] = []
        node_basic = "clueNo title amount headcount receivedAt deadline respondentName"
        variants.append(("clueNo only (fixed cost: auth, page query, connection)", "clueNo"))
        variants.append(("clue scalars, no resolvers (7 basic fields)", node_basic))
        variants.append(("+ id status colour (3 sync resolvers)", node_basic + " id status colour"))
        variants.append(("+ enterprise { name uscc creditLevel } (1 loader)", node_basic + " id status colour enterprise { name uscc creditLevel }"))
        variants.append(("+ project { projectCode name region { name } } (2 loaders)",
                         node_basic + " id status colour enterprise { name uscc creditLevel } project { projectCode name region { name } }"))
        variants.append(("+ channelRecords {6 fields, 2 sync resolvers} = the benchmark page", "FULL"))

        def leaves(v: Any) -> int:
            if isinstance(v, dict):
                return sum(leaves(x) for x in v.values())
            if isinstance(v, list):
                return sum(leaves(x) for x in v)
            return 1

        async def execute_query(q: str) -> Any:
            session = sessions()
            try:
                principal = await session.run_sync(lambda s: authenticate(s, ds.api_key))
                bind_principal(session.sync_session, principal)
                ctx = Context(session=session, principal=principal, loaders=Loaders(session), cipher=cipher, settings=hub.settings)
                result = await schema.execute(q, variable_values={"first": PAGE_SIZE, "after": None}, context_value=ctx)
                assert not result.errors, result.errors
                return result.data
            finally:
                await session.close()

        vt = Table(title="schema.execute on variants of the page (no HTTP), median ms — what each kind of field costs")
        for col in ("selection per clue", "values", "ms", "Δ ms", "µs per added value"):
            vt.add_column(col, justify="left" if col.startswith("selection") else "right")
        prev_ms, prev_n = 0.0, 0
        for label, sel in variants:
            q = QUERY if sel == "FULL" else (
                "query V($first: Int!, $after: String) { clues(first: $first, after: $after) { edges { node { " + sel + " } } "
                "pageInfo { hasNextPage endCursor } } }"
            )
            data = await execute_query(q)
            n = leaves(data)
            for _ in range(5):
                await execute_query(q)
            ts = []
            for _ in range(max(20, requests // 2)):
                t0 = time.perf_counter_ns()
                await execute_query(q)
                ts.append(time.perf_counter_ns() - t0)
            ms = statistics.median(ts) / 1e6
            vt.add_row(label, f"{n:,}", f"{ms:.2f}", f"{ms - prev_ms:+.2f}" if prev_n else "",
                       f"{1000 * (ms - prev_ms) / max(1, n - prev_n):.1f}" if prev_n else f"{1000 * ms / n:.1f}")
            prev_ms, prev_n = ms, n

        t = Table(title=f"hub, {ds.backend}/{ds.scale}, first page: where the wall clock goes (median of {requests}, ms)")
        t.add_column("what")
        t.add_column("ms", justify="right")
        t.add_column("share", justify="right")
        for label, v in [
            ("whole request (httpx → ASGI → strawberry → ORM → DB, parsed)", total),
            (f"  of which SQL round trips in the driver ({n_statements} statements)", sql),
            ("  of which everything else (Python)", total - sql),
            ("schema.execute alone (auth + graphql-core + strawberry + loaders + ORM)", execute_ms),
            ("same 6 ORM statements alone, no GraphQL (auth + 5 selects, ORM objects)", orm_ms),
            ("  → GraphQL execution layer ≈ execute − ORM", execute_ms - orm_ms),
            ("  → HTTP/ASGI layer ≈ request − execute", total - execute_ms),
        ]:
            t.add_row(label, f"{v:.2f}", f"{100 * v / total:.0f} %")
        console.print(t)
        console.print(vt)

        # 3. cProfile
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(requests):
            await hub.page(None)
        prof.disable()

    stats = pstats.Stats(prof)
    own: dict[str, float] = defaultdict(float)
    total_tt = 0.0
    for (filename, _line, func), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        own[bucket_of(filename, func)] += tt
        total_tt += tt
    t = Table(title=f"cProfile, {requests} requests: own time by package (main thread)")
    t.add_column("package")
    t.add_column("ms / request", justify="right")
    t.add_column("share", justify="right")
    for name, v in sorted(own.items(), key=lambda kv: -kv[1]):
        t.add_row(name, f"{1000 * v / requests:.2f}", f"{100 * v / total_tt:.0f} %")
    console.print(t)
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
    console.print(buf.getvalue().split("\n", 8)[-1][:6000], markup=False, highlight=False)
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(r"(strawberry|graphql|schema|sqlalchemy/orm)", 30)
    console.print(buf.getvalue().split("\n", 8)[-1][:8000], markup=False, highlight=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_hub")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--scale", choices=["tiny", "city", "province"], default="city")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    args = parser.parse_args(argv)
    console = Console(width=180)
    ds = datasets.prepare(args.backend, args.scale, console=console)
    coro = _profile(ds, requests=args.requests, console=console)
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(coro)
    else:
        asyncio.run(coro)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
