"""``python -m bench.subscriptions``: WebSocket subscribers over several hub processes, commit-to-delivery
latency and server memory, against a raw Starlette WebSocket broadcast of the same messages.

Both sides run in the same invocation, one after the other, with the same client machinery: ``--servers``
real uvicorn processes on 127.0.0.1 (per-message compression off on both), ``--subscribers`` WebSocket
clients spread over them (in ``--client-procs`` processes), ``--rate`` messages a second for
``--duration`` seconds.

* hub: each message is an outbox event committed through an ORM session (one transaction each); each
  client holds an ``events(types: ["bench.tick"])`` subscription (graphql-transport-ws). Latency is from
  the commit's return to the client's receipt.
* raw: a tiny Starlette app keeps its sockets in a set and sends every published message to all of
  them; the orchestrator POSTs a message of the same JSON shape and size to every raw server. Latency is
  from the publish to the receipt.

Prints p50 / p99 of both, their ratio, delivered/expected counts and the servers' RSS (peak and at the
end); ``--json`` prints the same as one JSON object. Goal: hub p99 ≤ 250 ms and ≤ 2× the raw broadcast.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TYPE = "bench.tick"
REGION = "370800"
SUBSCRIPTION = {"query": 'subscription { events(types: ["bench.tick"]) { cursor node { databaseId type regionCode payload } } }'}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_url() -> str:
    return os.environ.get("HUB_BENCH_POSTGRES_URL") or os.environ.get("HUB_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1/test"


def _rss(pid: int) -> dict[str, float]:
    """Resident memory of a process in MiB: now and peak (Linux /proc)."""
    out = {"rss_mib": 0.0, "peak_rss_mib": 0.0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss_mib"] = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                out["peak_rss_mib"] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


# -- servers (run as subprocesses: `python -m bench.subscriptions serve-hub|serve-raw PORT`) ---------------


def serve_hub(port: int) -> None:
    import uvicorn

    from hub.app import create_app

    uvicorn.run(create_app(), host="127.0.0.1", port=port, log_level="warning", ws_per_message_deflate=False)


def raw_app() -> Any:
    """The baseline: accept sockets, broadcast whatever is POSTed to /publish to every one of them."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    clients: set[WebSocket] = set()

    async def ws_endpoint(ws: WebSocket) -> None:
        await ws.accept()
        clients.add(ws)
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            clients.discard(ws)

    async def broadcast(text: str) -> None:
        for ws in list(clients):
            try:
                await ws.send_text(text)
            except Exception:  # noqa: BLE001 - a client that left
                clients.discard(ws)

    tasks: set[asyncio.Task[None]] = set()

    async def publish(request: Request) -> Response:
        # Answer at once and broadcast in the background, as the hub's commit returns before delivery.
        task = asyncio.create_task(broadcast((await request.body()).decode()))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return Response(status_code=204)

    async def healthz(_: Request) -> Response:
        return Response("ok")

    return Starlette(routes=[WebSocketRoute("/ws", ws_endpoint), Route("/publish", publish, methods=["POST"]),
                             Route("/healthz", healthz)])


def serve_raw(port: int) -> None:
    import uvicorn

    uvicorn.run(raw_app(), host="127.0.0.1", port=port, log_level="warning", ws_per_message_deflate=False)


# -- clients (subprocesses: `python -m bench.subscriptions clients KIND N URL...`) -------------------------


def _seq_of(kind: str, text: str) -> int:
    msg = json.loads(text)
    return int(msg["payload"]["data"]["events"]["node"]["payload"]["seq"])


async def run_clients(kind: str, n: int, urls: list[str], key: str) -> None:
    """Open ``n`` sockets, report ready, record (seq, time) per message; on "stop" + the send times on
    stdin, wait (bounded) for the rest and print a latency histogram (0.1 ms bins) and counts."""
    import websockets

    socks = []
    for i in range(n):
        url = urls[i % len(urls)]
        if kind == "hub":
            ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"], compression=None, max_queue=None,
                                          open_timeout=60)
            await ws.send(json.dumps({"type": "connection_init", "payload": {"X-API-Key": key}}))
            await ws.recv()
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": SUBSCRIPTION}))
        else:
            ws = await websockets.connect(url, compression=None, max_queue=None, open_timeout=60)
        socks.append(ws)
    received: list[tuple[int, float]] = []

    async def reader(ws: Any) -> None:
        try:
            async for text in ws:
                received.append((_seq_of(kind, text), time.time()))
        except websockets.ConnectionClosed:
            pass

    tasks = [asyncio.create_task(reader(ws)) for ws in socks]
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    sent = {int(k): v for k, v in json.loads(line).items()}
    expected = len(sent) * n
    deadline = time.time() + 30
    while len([1 for s, _ in received if s in sent]) < expected and time.time() < deadline:
        await asyncio.sleep(0.05)
    for ws in socks:
        await ws.close()
    for t in tasks:
        t.cancel()
    hist: Counter[int] = Counter()
    delivered = 0
    for seq, at in received:
        if seq in sent:
            delivered += 1
            hist[max(0, round((at - sent[seq]) * 10000))] += 1
    print(json.dumps({"delivered": delivered, "expected": expected, "hist": hist}), flush=True)


# -- orchestration -----------------------------------------------------------------------------------


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bench.subscriptions", *args], cwd=ROOT, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def _wait_http(port: int, path: str, timeout: float = 120) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not come up")


def _percentile(hist: Counter[int], q: float) -> float:
    total = sum(hist.values())
    if not total:
        return float("nan")
    rank, seen = q * (total - 1), 0
    for bin_, count in sorted(hist.items()):
        seen += count
        if seen > rank:
            return bin_ / 10  # ms
    return max(hist) / 10


def _phase(kind: str, *, ports: list[int], subscribers: int, client_procs: int, rate: float, duration: float,
           key: str, env: dict[str, str], publish: Any) -> dict[str, Any]:
    scheme = "/graphql" if kind == "hub" else "/ws"
    urls = [f"ws://127.0.0.1:{p}{scheme}" for p in ports]
    shares = [subscribers // client_procs + (1 if i < subscribers % client_procs else 0) for i in range(client_procs)]
    clients = [_spawn(["clients", kind, str(n), key, *urls], env) for n in shares if n]
    for c in clients:
        assert c.stdout is not None
        if c.stdout.readline().strip() != "ready":
            raise RuntimeError("a client process failed to connect")
    time.sleep(1.0)  # let every subscription finish its (empty) replay and go live
    sent: dict[int, float] = {}
    start = time.time()
    n = max(1, int(rate * duration))
    for seq in range(n):
        due = start + seq / rate
        if (pause := due - time.time()) > 0:
            time.sleep(pause)
        sent[seq] = publish(seq)
    send_seconds = time.time() - start
    line = json.dumps(sent) + "\n"
    hist: Counter[int] = Counter()
    delivered = expected = 0
    for c in clients:
        assert c.stdin is not None and c.stdout is not None
        c.stdin.write(line)
        c.stdin.flush()
    for c in clients:
        assert c.stdout is not None
        out = json.loads(c.stdout.readline())
        delivered += out["delivered"]
        expected += out["expected"]
        hist.update({int(k): v for k, v in out["hist"].items()})
        c.wait(timeout=60)
    return {"p50_ms": _percentile(hist, 0.50), "p99_ms": _percentile(hist, 0.99), "delivered": delivered,
            "expected": expected, "messages": n, "send_seconds": round(send_seconds, 2)}


def _prepare_database(backend: str, data_dir: Path) -> tuple[str, str, Any]:
    """A fresh migrated database with an admin key; (url, key, drop)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from hub.access import NATIONAL
    from hub.api_keys import create_api_key
    from hub.db import make_engine, session_scope
    from hub.migrate import upgrade

    if backend == "postgres":
        server = _server_url()
        name = f"hubbench_subs_{uuid.uuid4().hex[:8]}"
        admin = create_engine(make_url(server).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(server).set(database=name).render_as_string(hide_password=False)

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        url = f"sqlite:///{data_dir / 'hub.db'}"

        def drop() -> None:
            return None

    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        _, key = create_api_key(session, name="bench-subscriptions", role="admin", region_code=NATIONAL)
    engine.dispose()
    return url, key, drop


def run(*, backend: str = "postgres", subscribers: int = 1000, servers: int = 2, rate: float = 100,
        duration: float = 60, client_procs: int = 2) -> dict[str, Any]:
    """Run both phases; the summary (also what ``--json`` prints)."""
    import httpx

    from hub import models as m
    from hub.db import make_engine, session_scope
    from hub.models import utcnow

    data_dir = Path(tempfile.mkdtemp(prefix="bench-subs-"))
    url, key, drop = _prepare_database(backend, data_dir)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "HUB_DATABASE_URL": url, "HUB_SECRET_KEY": "bench-subscriptions", "HUB_DATA_DIR": str(data_dir),
           "HUB_BROKER_URL": "memory://", "HUB_SUBSCRIPTION_MAX_PER_KEY": str(subscribers + 1),
           "HUB_LOG_LEVEL": "WARNING"}
    result: dict[str, Any] = {"backend": backend, "subscribers": subscribers, "servers": servers, "rate": rate,
                              "duration_s": duration, "client_procs": client_procs, "cpus": os.cpu_count(),
                              "loadavg": os.getloadavg()}
    procs: list[subprocess.Popen[str]] = []
    try:
        # raw broadcast
        raw_ports = [_free_port() for _ in range(servers)]
        raw_procs = [_spawn(["serve-raw", str(p)], env) for p in raw_ports]
        procs += raw_procs
        for p in raw_ports:
            _wait_http(p, "/healthz")
        pad_client = httpx.Client(timeout=10)

        def publish_raw(seq: int) -> float:
            text = json.dumps({"id": "1", "type": "next", "payload": {"data": {"events": {
                "cursor": "W" + "x" * 11, "node": {"databaseId": seq, "type": TYPE, "regionCode": REGION,
                                                   "payload": {"seq": seq}}}}}}, separators=(",", ":"))
            at = time.time()
            for p in raw_ports:
                pad_client.post(f"http://127.0.0.1:{p}/publish", content=text)
            return at

        result["raw"] = _phase("raw", ports=raw_ports, subscribers=subscribers, client_procs=client_procs, rate=rate,
                               duration=duration, key=key, env=env, publish=publish_raw)
        result["raw"]["servers_rss"] = [_rss(p.pid) for p in raw_procs]
        for p in raw_procs:
            p.terminate()
            p.wait(timeout=30)
        # the hub
        hub_ports = [_free_port() for _ in range(servers)]
        hub_procs = [_spawn(["serve-hub", str(p)], env) for p in hub_ports]
        procs += hub_procs
        for p in hub_ports:
            _wait_http(p, "/healthz")
        engine = make_engine(url)

        def publish_hub(seq: int) -> float:
            with session_scope(engine) as session:
                session.add(m.Event(type=TYPE, region_code=REGION, entity_type="bench", entity_id=seq,
                                    payload={"seq": seq}, created_at=utcnow()))
            return time.time()

        result["hub"] = _phase("hub", ports=hub_ports, subscribers=subscribers, client_procs=client_procs, rate=rate,
                               duration=duration, key=key, env=env, publish=publish_hub)
        result["hub"]["servers_rss"] = [_rss(p.pid) for p in hub_procs]
        engine.dispose()
        raw, hub = result["raw"], result["hub"]
        result["ratio_p50"] = hub["p50_ms"] / raw["p50_ms"] if raw["p50_ms"] else float("nan")
        result["ratio_p99"] = hub["p99_ms"] / raw["p99_ms"] if raw["p99_ms"] else float("nan")
        result["goal_met"] = bool(hub["p99_ms"] <= 250 and result["ratio_p99"] <= 2)
        pad_client.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        drop()
    return result


def _print(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result['subscribers']} subscribers over {result['servers']} servers, {result['rate']:g} msg/s "
                        f"for {result['duration_s']:g} s ({result['backend']}; load {result['loadavg'][0]:.2f})")
    for col in ("side", "p50 ms", "p99 ms", "delivered / expected", "server RSS MiB (peak)"):
        table.add_column(col, justify="right")
    for side in ("raw", "hub"):
        r = result[side]
        rss = " + ".join(f"{s['rss_mib']:.0f} ({s['peak_rss_mib']:.0f})" for s in r["servers_rss"])
        table.add_row(side, f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}", f"{r['delivered']:,} / {r['expected']:,}", rss)
    table.add_row("hub / raw", f"{result['ratio_p50']:.2f}×", f"{result['ratio_p99']:.2f}×", "", "")
    Console().print(table)
    print(f"goal (hub p99 ≤ 250 ms and ≤ 2× raw): {'met' if result['goal_met'] else 'NOT met'}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "serve-hub":
        serve_hub(int(argv[1]))
        return 0
    if argv and argv[0] == "serve-raw":
        serve_raw(int(argv[1]))
        return 0
    if argv and argv[0] == "clients":
        asyncio.run(run_clients(argv[1], int(argv[2]), argv[4:], argv[3]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.subscriptions", description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=100, help="messages per second")
    parser.add_argument("--duration", type=float, default=60, help="seconds of writing")
    parser.add_argument("--client-procs", type=int, default=2, help="processes the WebSocket clients are spread over")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args(argv)
    result = run(backend=args.backend, subscribers=args.subscribers, servers=args.servers, rate=args.rate,
                 duration=args.duration, client_procs=args.client_procs)
    if args.json:
        print(json.dumps(result))
    else:
        _print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
