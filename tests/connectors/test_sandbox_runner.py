"""The sandbox runner: every installed connector's sandbox, on its own port or mounted in one app."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
from importlib.metadata import EntryPoint
from typing import Any

import httpx
import pytest
from rich.console import Console
from starlette.applications import Starlette
from starlette.routing import Mount

from connectors.permits import PermitsConnector
from connectors.permits.sandbox import DEMO_CREDENTIALS, live_epoch
from connectors.sandbox import runner
from tests.conftest import TODAY
from tests.connectors.conftest import WORLD, serve_asgi


def consecutive_free_ports(n: int) -> int:
    """A base port with ``n`` free ports from it (loopback)."""
    for base in range(20000, 60000, 97):
        try:
            socks = []
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return base
    raise RuntimeError("no free port range")


def test_sandbox_apps_resolves_the_permits_sandbox(world: Any) -> None:
    apps = runner.sandbox_apps(world=world, clock=lambda: live_epoch(world))
    assert "permits" in apps
    assert apps["permits"].state.faults.as_dict()["status_next"] == 0
    # built-in kinds come first, in port order
    builtin = [k for k in apps if k in runner.BUILTIN_KINDS]
    assert builtin == [k for k in runner.BUILTIN_KINDS if k in apps]


def test_a_missing_connector_is_skipped_with_a_warning(
    world: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = runner.entry_points

    def with_a_ghost(*, group: str) -> list[EntryPoint]:
        return [*real(group=group), EntryPoint(name="ghost", value="connectors.ghost_not_installed:Ghost", group=group)]

    monkeypatch.setattr(runner, "entry_points", with_a_ghost)
    with caplog.at_level(logging.WARNING, logger="connectors.sandbox.runner"):
        apps = runner.sandbox_apps(world=world)
    assert "ghost" not in apps and "permits" in apps
    assert any(
        "sandbox of connector ghost (connectors.ghost_not_installed:Ghost) is unavailable; skipped: ModuleNotFoundError"
        in r.getMessage()
        for r in caplog.records
    )


def test_ports_are_fixed_per_builtin_kind() -> None:
    assert runner.ports(["bank_rest", "permits", "zz_custom"], 8100) == {
        "bank_rest": 8102,
        "permits": 8100,
        "zz_custom": 8106,  # after the six built-in kinds, installed or not
    }
    assert runner.ports(["realname"], 8100) == {"realname": 8105}


def test_run_sandboxes_serves_each_on_its_own_port_and_prints_credentials(world: Any) -> None:
    base = consecutive_free_ports(len(runner.BUILTIN_KINDS) + 2)
    console = Console(record=True, width=200)
    stop = threading.Event()
    thread = threading.Thread(
        target=runner.run_sandboxes,
        kwargs={
            "base_port": base,
            "today": TODAY,
            "console": console,
            "stop": stop,
            "clock": lambda: live_epoch(world),
            **WORLD,
        },
        daemon=True,
    )
    # Given the sandboxes started in one process
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while "permits" not in console.export_text(clear=False):
            assert time.monotonic() < deadline and thread.is_alive(), "run_sandboxes did not print its table"
            time.sleep(0.05)
        table = console.export_text(clear=False)
        # Then the table names the URL and the demo credentials
        permits_url = f"http://127.0.0.1:{base}"
        assert permits_url in table and DEMO_CREDENTIALS["api_key"] in table
        # And the permits connector talks to it with those credentials
        connector = PermitsConnector()
        result = connector.check(connector.parse_config({"base_url": permits_url, **DEMO_CREDENTIALS}))
        assert result.ok, result.message
        # And every other sandbox listed answers on its own port
        loaded = [k for k in runner.BUILTIN_KINDS if f" {k} " in table]
        assert "permits" in loaded
        for kind in loaded:
            url = f"http://127.0.0.1:{runner.ports([kind], base)[kind]}/_sandbox/faults"
            assert httpx.get(url, timeout=5).json()["status_next"] == 0, kind
    finally:
        stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive()


def test_mount_sandboxes_serves_them_inside_one_app(world: Any) -> None:
    routes: list[Any] = []
    mounts = runner.mount_sandboxes(routes, world=world, clock=lambda: live_epoch(world) + dt.timedelta(seconds=1))
    assert routes == mounts and all(isinstance(m, Mount) for m in mounts)
    assert "/sandbox/permits" in [m.path for m in mounts]
    with serve_asgi(Starlette(routes=routes)) as url:
        connector = PermitsConnector()
        config = connector.parse_config({"base_url": f"{url}/sandbox/permits", "page_size": 50, **DEMO_CREDENTIALS})
        assert connector.check(config).ok
        # the fault switchboard works under the mount, for every mounted sandbox
        for mount in mounts:
            assert httpx.get(f"{url}{mount.path}/_sandbox/faults", timeout=5).status_code == 200, mount.path
        httpx.post(f"{url}/sandbox/permits/_sandbox/faults", json={"status_next": 1, "status_code": 503}, timeout=5)
        assert httpx.get(f"{url}/sandbox/permits/api/v1/projects", timeout=5).status_code == 503
        projects = [r for p in connector.streams(config)[1].read({}) for r in p.records]
        assert len(projects) == len(world.projects)
