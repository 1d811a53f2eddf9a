"""Fixtures for the browser tests: a real ``hub serve`` process and Debian's chromium via Playwright.

The server runs exactly as a new user starts it (migrate, seed demo data on first start, print
the GraphiQL link with the demo key), in a temporary data directory, on a free local port.
Missing chromium or Playwright skips locally and fails under CI (``CI=true``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("HUB_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Upper bound for migrate + tiny seed + uvicorn start-up.
STARTUP_TIMEOUT = float(os.environ.get("HUB_E2E_STARTUP_TIMEOUT", "90"))
IN_CI = os.environ.get("CI", "").lower() == "true"
#: The data directory of each running ``hub serve`` (by base URL), for the CLI run against it.
DATA_DIRS: dict[str, Path] = {}
#: What each running hub printed when it started (its demo users' passwords among it), by base URL.
PRINTED: dict[str, str] = {}


def unavailable(reason: str) -> None:
    """Skip locally, fail under CI (same rule as ``tests/conftest.py``)."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: real services are required)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hub_command() -> list[str]:
    exe = Path(sys.executable).with_name("hub")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("hub")
    if found:
        return [found]
    return [sys.executable, "-c", "from hub.cli import app; app()"]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


@pytest.fixture(scope="package")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real ``hub serve`` on 127.0.0.1:<free port>, seeded (tiny, seed 7); yields (base_url, key)."""
    data_dir = tmp_path_factory.mktemp("hub-data")
    log_path = data_dir.parent / f"{data_dir.name}-serve.log"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "HUB_DATA_DIR": str(data_dir),
        "HUB_SEED_SCALE": "tiny",
        "HUB_SEED": "7",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
    }
    for name in ("HUB_DATABASE_URL", "HUB_HOST", "HUB_PORT", "HUB_SEED_ON_START", "HUB_AUTO_MIGRATE", "HUB_BROKER_URL"):
        env.pop(name, None)  # this test is about the embedded first start, whatever the developer's shell says
    cmd = [*_hub_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    log_file = log_path.open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def output() -> str:
        log_file.flush()
        return log_path.read_text(errors="replace")

    started = False
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if _healthy(f"{base_url}/healthz"):
                started = True
                break
            time.sleep(0.25)
        if not started:
            reason = (
                f"exited with code {proc.returncode}"
                if proc.poll() is not None
                else f"did not answer {base_url}/healthz within {STARTUP_TIMEOUT:g} s"
            )
            _stop(proc)
            text = output()
            print(f"--- `{' '.join(cmd)}` output ---\n{text}\n--- end of output ---")
            pytest.fail(f"hub serve {reason}; its output:\n{text[-6000:]}")
        key_file = data_dir / "demo-api-key.txt"
        if not key_file.exists():
            text = output()
            print(f"--- `{' '.join(cmd)}` output ---\n{text}\n--- end of output ---")
            pytest.fail(f"hub serve started but wrote no {key_file}; its output:\n{text[-6000:]}")
        key = key_file.read_text().strip()
        DATA_DIRS[base_url] = data_dir
        printed = output()
        PRINTED[base_url] = printed
        assert f"{base_url}/graphql#key={key}" in printed, (
            f"hub serve did not print the GraphiQL link:\n{printed[-3000:]}"
        )
        yield base_url, key
    finally:
        _stop(proc)
        log_file.close()


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """Debian's chromium, driven by Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} is missing: apt-get install -y chromium fonts-noto-cjk")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is missing: pip install playwright (do not run `playwright install`)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A fresh page in its own context (no localStorage carried over from another test)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN", service_workers="block")
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="package")
def demo_password(hub_server: tuple[str, str]) -> Callable[[str], str]:
    """``demo_password(username)``: the password ``hub serve`` printed once for a demo user."""
    base_url, _ = hub_server

    def find(username: str) -> str:
        found = re.search(rf"^\s*{re.escape(username)}\s+\S+\s+\d+\s+(\S+)\s*$", PRINTED[base_url], re.M)
        assert found, f"hub serve printed no password for {username}:\n{PRINTED[base_url][-2000:]}"
        return found.group(1)

    return find


@pytest.fixture(scope="package")
def make_key(hub_server: tuple[str, str]) -> Callable[[str, str, str], str]:
    """``make_key(name, role, region)``: a new API key on the running hub, made as an operator does it
    (``hub api-key create`` against the server's data directory); one per name for the package."""
    base_url, _ = hub_server
    made: dict[str, str] = {}

    def make(name: str, role: str, region: str) -> str:
        if name not in made:
            env = {**os.environ, "HUB_DATA_DIR": str(DATA_DIRS[base_url]), "COLUMNS": "300"}
            for var in ("HUB_DATABASE_URL", "HUB_BROKER_URL"):
                env.pop(var, None)
            cmd = [*_hub_command(), "api-key", "create", name, "--role", role, "--region", region]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
            found = re.search(r"(hub_[A-Za-z0-9_\-]+)", done.stdout)
            assert done.returncode == 0 and found, f"`{' '.join(cmd)}` failed:\n{done.stdout}\n{done.stderr}"
            made[name] = found.group(1)
        return made[name]

    return make
