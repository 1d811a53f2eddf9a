"""Fixtures for the browser tests: a real ``hub serve`` process and Debian's chromium via Playwright.

The server runs exactly as a new user starts it (migrate, seed demo data on first start, print
the GraphiQL link with the demo key), in a temporary data directory, on a free local port.
Missing chromium or Playwright skips locally and fails under CI (``CI=true``).

Under ``HUB_TEST_BACKEND=postgres`` the server's database is a fresh PostgreSQL database
(``hub_e2e_<random>`` on the server of ``HUB_TEST_POSTGRES_URL``), created for the package and dropped
after it; otherwise it is the embedded SQLite file of the data directory, as on a first ``hub serve``.
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
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from tests.conftest import BACKEND, POSTGRES_URL

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
#: The database URL of each running ``hub serve`` (by base URL) when it is not the embedded SQLite file.
DATABASE_URLS: dict[str, str] = {}


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


def _pg_admin(url: str) -> Engine:
    return create_engine(
        make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )


@pytest.fixture(scope="package")
def server_database() -> Iterator[str | None]:
    """The ``HUB_DATABASE_URL`` of the package's ``hub serve``: ``None`` (its embedded SQLite file) or,
    under ``HUB_TEST_BACKEND=postgres``, a fresh ``hub_e2e_<random>`` PostgreSQL database, dropped after."""
    if BACKEND != "postgres":
        yield None
        return
    name = f"hub_e2e_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin(POSTGRES_URL)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        unavailable(f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc.__class__.__name__}")
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def cli_env(base_url: str) -> dict[str, str]:
    """The environment for a ``hub`` CLI command run against the running server ``base_url``."""
    env = {**os.environ, "HUB_DATA_DIR": str(DATA_DIRS[base_url]), "COLUMNS": "300"}
    for var in ("HUB_DATABASE_URL", "HUB_BROKER_URL"):
        env.pop(var, None)
    if base_url in DATABASE_URLS:
        env["HUB_DATABASE_URL"] = DATABASE_URLS[base_url]
    return env


@pytest.fixture(scope="package")
def hub_server(tmp_path_factory: pytest.TempPathFactory, server_database: str | None) -> Iterator[tuple[str, str]]:
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
        # Every browser test signs in from 127.0.0.1, about thirty times a minute in all: the per-address
        # limit (20/minute by default, tested in tests/test_sign_in.py) would refuse the later ones.
        "HUB_SIGN_IN_RATE_LIMIT": "1000/minute",
    }
    for name in ("HUB_DATABASE_URL", "HUB_HOST", "HUB_PORT", "HUB_SEED_ON_START", "HUB_AUTO_MIGRATE", "HUB_BROKER_URL"):
        env.pop(name, None)  # this test is about the first start, whatever the developer's shell says
    if server_database:
        env["HUB_DATABASE_URL"] = server_database
        DATABASE_URLS[base_url] = server_database
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
            env = cli_env(base_url)
            cmd = [*_hub_command(), "api-key", "create", name, "--role", role, "--region", region]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
            found = re.search(r"(hub_[A-Za-z0-9_\-]+)", done.stdout)
            assert done.returncode == 0 and found, f"`{' '.join(cmd)}` failed:\n{done.stdout}\n{done.stderr}"
            made[name] = found.group(1)
        return made[name]

    return make


def sign_in(page: Any, username: str, password: str) -> int:
    """Type into the console's sign-in form (the page's, or the one over a page whose session ended) and
    submit it; the HTTP status of the hub's answer, once the form has drawn it."""
    form = page.locator('[data-test="signin"]:visible')
    form.locator('input[name="username"]').fill(username)
    form.locator('input[name="password"]').fill(password)
    with page.expect_response(lambda r: r.url.endswith("/admin/api/sign-in")) as answer:
        form.locator('[data-test="signin-submit"]').click()
    # The form has drawn the answer once its button is no longer busy
    page.wait_for_function("!document.querySelector('[data-test=signin-submit]')?.classList.contains('is-loading')")
    return int(answer.value.status)
