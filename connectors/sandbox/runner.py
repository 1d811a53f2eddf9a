"""Serve the sandboxes (simulated upstreams) of the installed connectors.

Each connector class names its sandbox factory in ``sandbox`` (``"module:create_app"``); the sandbox
module may define ``DEMO_CREDENTIALS``, the fixed credentials it accepts. Two ways to run them:

- ``run_sandboxes(...)``: one process, one uvicorn server per sandbox on its own port (built-in kinds
  keep fixed ports from ``base_port`` whether or not the others are installed), with a table of
  URLs and credentials printed;
- ``mount_sandboxes(routes, ...)``: Starlette ``Mount("/sandbox/<kind>", app)`` entries that ``hub
  serve`` adds to its own app.

A connector that is not installed, fails to import or has no sandbox is skipped with a warning.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from connectors.registry import GROUP

if TYPE_CHECKING:
    from rich.console import Console
    from starlette.routing import Mount
    from starlette.types import ASGIApp

    from connectors.sandbox.world import World

log = logging.getLogger(__name__)

#: Built-in kinds in port order: ``base_port + index``, so a missing one never moves the others.
BUILTIN_KINDS = ("permits", "bank_soap", "bank_rest", "hotline12345", "national_platform", "realname")
MOUNT_PREFIX = "/sandbox"


@dataclass(frozen=True)
class Sandbox:
    """A connector's sandbox app, with what an admin needs to point a connector at it."""

    kind: str
    title: str
    app: ASGIApp
    credentials: dict[str, str] = field(default_factory=dict)


def _resolve(ref: str) -> tuple[Any, Callable[..., Any]]:
    """``"package.module:attr"`` → (module, attr)."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not attr:
        raise ValueError(f"sandbox reference {ref!r} is not 'module:factory'")
    module = importlib.import_module(module_name)
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part)
    return module, target


def _order(kind: str) -> tuple[int, str]:
    return (BUILTIN_KINDS.index(kind), "") if kind in BUILTIN_KINDS else (len(BUILTIN_KINDS), kind)


def load_sandboxes(*, world: World, clock: Callable[[], dt.datetime] | None = None) -> list[Sandbox]:
    """The sandboxes of the installed, importable connectors, built-in kinds first."""
    found: list[Sandbox] = []
    for ep in sorted(entry_points(group=GROUP), key=lambda e: _order(e.name)):
        try:
            cls = ep.load()
            ref = getattr(cls, "sandbox", None)
            if not ref:
                log.warning("connector %s has no sandbox; skipped", ep.name)
                continue
            module, factory = _resolve(ref)
            app = factory(world=world, clock=clock) if clock is not None else factory(world=world)
        except Exception as exc:
            log.warning(
                "sandbox of connector %s (%s) is unavailable; skipped: %s: %s",
                ep.name,
                ep.value,
                type(exc).__name__,
                exc,
            )
            continue
        creds = {str(k): str(v) for k, v in (getattr(module, "DEMO_CREDENTIALS", None) or {}).items()}
        found.append(Sandbox(kind=ep.name, title=str(getattr(cls, "title", ep.name)), app=app, credentials=creds))
    return found


def sandbox_apps(*, world: World, clock: Callable[[], dt.datetime] | None = None) -> dict[str, ASGIApp]:
    """Kind → sandbox ASGI app, for every installed connector whose sandbox imports."""
    return {s.kind: s.app for s in load_sandboxes(world=world, clock=clock)}


def _world(
    world: World | None, *, seed: int, scale: str, region: str, today: dt.date | None, now: dt.datetime | None = None
) -> World:
    from connectors.sandbox.world import build_world

    return world or build_world(seed=seed, scale=scale, region=region, today=today, now=now)


def mount_sandboxes(
    app_routes: list[Any] | None = None,
    *,
    world: World | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    prefix: str = MOUNT_PREFIX,
    seed: int = 20261121,
    scale: str = "city",
    region: str = "370800",
    today: dt.date | None = None,
) -> list[Mount]:
    """``Mount(f"{prefix}/<kind>", app)`` per sandbox; appended to ``app_routes`` too when given.

    The world is ``world`` or the demo world at ``seed`` / ``scale`` / ``region`` / ``today`` (the
    hub's ``HUB_SEED`` / ``HUB_SEED_SCALE`` / ``HUB_DEMO_REGION``, so the sandboxes hold what the demo
    database holds).
    """
    from starlette.routing import Mount

    w = _world(world, seed=seed, scale=scale, region=region, today=today)
    mounts = [
        Mount(f"{prefix.rstrip('/')}/{s.kind}", app=s.app, name=f"sandbox-{s.kind}")
        for s in load_sandboxes(world=w, clock=clock)
    ]
    if app_routes is not None:
        app_routes.extend(mounts)
    return mounts


def ports(kinds: list[str], base_port: int) -> dict[str, int]:
    """Port of each kind: built-in kinds at fixed offsets, others after them in name order."""
    extra = sorted(k for k in kinds if k not in BUILTIN_KINDS)
    return {
        k: base_port + (BUILTIN_KINDS.index(k) if k in BUILTIN_KINDS else len(BUILTIN_KINDS) + extra.index(k))
        for k in kinds
    }


@contextmanager
def serving(
    sandboxes: list[Sandbox], *, host: str = "127.0.0.1", base_port: int = 8100, log_level: str = "warning"
) -> Iterator[dict[str, str]]:
    """Serve each sandbox on its own port (a uvicorn server per thread); yields kind → base URL."""
    import uvicorn

    by_port = ports([s.kind for s in sandboxes], base_port)
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []
    urls: dict[str, str] = {}
    try:
        for s in sandboxes:
            port = by_port[s.kind]
            server = uvicorn.Server(uvicorn.Config(s.app, host=host, port=port, log_level=log_level, lifespan="off"))
            thread = threading.Thread(target=server.run, name=f"sandbox-{s.kind}", daemon=True)
            thread.start()
            servers.append((server, thread))
            deadline = time.monotonic() + 10
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the {s.kind} sandbox could not listen on {host}:{port}: is the port in use? "
                        "choose another --base-port"
                    )
                time.sleep(0.02)
            urls[s.kind] = f"http://{host}:{port}"
        yield urls
    finally:
        for server, _ in servers:
            server.should_exit = True
        for _, thread in servers:
            thread.join(timeout=10)


def print_table(sandboxes: list[Sandbox], urls: dict[str, str], *, console: Console | None = None) -> None:
    """A table of kind → URL and the demo credentials each sandbox accepts."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Sandboxes (simulated upstreams)")
    for column in ("kind", "upstream", "base URL", "credentials"):
        table.add_column(column)
    for s in sandboxes:
        creds = "  ".join(f"{k}={v}" for k, v in s.credentials.items()) or "-"
        table.add_row(s.kind, s.title, urls[s.kind], creds)
    (console or Console()).print(table)


def run_sandboxes(
    *,
    host: str = "127.0.0.1",
    base_port: int = 8100,
    seed: int = 20261121,
    scale: str = "city",
    region: str = "370800",
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    console: Console | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Serve every sandbox on its own port until Ctrl-C (or ``stop`` is set), after printing the table."""
    world = _world(None, seed=seed, scale=scale, region=region, today=today, now=now)
    sandboxes = load_sandboxes(world=world, clock=clock)
    if not sandboxes:
        raise RuntimeError("no connector sandbox could be loaded: are the connectors installed (pip install -e .)?")
    stop = stop or threading.Event()
    with serving(sandboxes, host=host, base_port=base_port) as urls:
        print_table(sandboxes, urls, console=console)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            log.info("sandboxes stopping")


__all__ = [
    "BUILTIN_KINDS",
    "Sandbox",
    "load_sandboxes",
    "mount_sandboxes",
    "print_table",
    "ports",
    "run_sandboxes",
    "sandbox_apps",
    "serving",
]
