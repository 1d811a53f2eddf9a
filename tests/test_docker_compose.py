"""docker-compose.yml, Dockerfile and .dockerignore, checked against the code they deploy.

The compose file shows the production shape (docs/architecture.md, "Running it"). It repeats names the code
defines: CLI commands and options, ``HUB_*`` settings and HTTP routes. These tests fail with a message
naming what drifted when one side changes and the other does not.
"""

from __future__ import annotations

import fnmatch
import inspect
import json
import os
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE.get("services") or {}

REQUIRED_SERVICES = ["postgres", "redis", "migrate", "hub-1", "hub-2", "worker", "scheduler"]
HUB_SERVERS = ["hub-1", "hub-2"]
# Services that run the project's image (built from this directory): they run the `hub` CLI.
HUB_IMAGE_SERVICES = sorted(name for name, svc in SERVICES.items() if "build" in svc)
REQUIRED_SETTINGS = ["HUB_DATABASE_URL", "HUB_BROKER_URL", "HUB_SECRET_KEY"]


# --- helpers ---------------------------------------------------------------------------------


def _argv(command: str | list[str] | None) -> list[str]:
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict (compose accepts a mapping or a list of KEY=VALUE)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {key: value for key, value in pairs}
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    """depends_on as {service: condition} (the short list form means service_started)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def _healthcheck_argv(service: dict[str, Any]) -> list[str]:
    test = (service.get("healthcheck") or {}).get("test")
    return _argv(test)


def _healthcheck_url(service: dict[str, Any]) -> str | None:
    match = re.search(r"https?://[^\s'\"]+", " ".join(_healthcheck_argv(service)))
    return match.group(0) if match else None


def _option_names(argv: list[str]) -> list[str]:
    return [arg.split("=", 1)[0] for arg in argv if arg.startswith("--")]


def _option_value(argv: list[str], option: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == option and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None


def _interpolated(value: str) -> str:
    """Stand in for compose's ${VAR...} interpolation with a dummy value."""
    return re.sub(r"\$\{[^}]*\}", "dummy-interpolated-value", value)


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    logical: list[str] = []
    current = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    if current:
        logical.append(current)
    out = []
    for line in logical:
        instruction, _, args = line.partition(" ")
        out.append((instruction.upper(), args.strip()))
    return out


def _dockerfile(instruction: str) -> list[str]:
    return [args for instr, args in _dockerfile_instructions() if instr == instruction]


def _exec_form(args: str) -> list[str]:
    args = args.strip()
    if args.startswith("["):
        return [str(part) for part in json.loads(args)]
    return shlex.split(args)


# --- the CLI and the app, imported lazily so that collection never depends on them ------------


@pytest.fixture(scope="module")
def cli_commands() -> dict[str, Any]:
    """{command name: click command} of the typer app behind the `hub` console script."""
    import typer

    import hub.cli

    group = typer.main.get_command(hub.cli.app)
    # Duck-typed: recent typer builds its groups on a vendored click, not on click.Group.
    assert isinstance(getattr(group, "commands", None), dict), (
        "hub.cli.app is not a command group (typer makes a single-command app a plain command); "
        "the compose file uses `hub <command>`"
    )
    return dict(group.commands)


@pytest.fixture(scope="module")
def app_routes(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every path the Starlette app from hub.app.create_app routes, mounts included."""
    from hub import settings as hub_settings

    data_dir = tmp_path_factory.mktemp("compose-app")
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("HUB_")]:
            mp.delenv(key)
        mp.setenv("HUB_DATA_DIR", str(data_dir))
        mp.setenv("HUB_DATABASE_URL", f"sqlite:///{data_dir / 'hub.db'}")
        mp.setenv("HUB_BROKER_URL", "memory://")
        mp.setenv("HUB_SECRET_KEY", "test-secret-key-not-for-production")
        mp.setenv("HUB_AUTO_MIGRATE", "false")
        mp.setenv("HUB_SEED_ON_START", "false")
        hub_settings.get_settings.cache_clear()
        try:
            from hub.app import create_app

            parameters = inspect.signature(create_app).parameters
            kwargs = {"settings": hub_settings.Settings()} if "settings" in parameters else {}
            app = create_app(**kwargs)
        finally:
            hub_settings.get_settings.cache_clear()

    def walk(routes: list[Any], prefix: str = "") -> set[str]:
        paths: set[str] = set()
        for route in routes:
            path = prefix + (getattr(route, "path", "") or "")
            paths.add(path or "/")
            if getattr(route, "routes", None):
                paths |= walk(route.routes, path)
        return paths

    # Unwrap ASGI middleware (anything holding the app in `.app`) down to the router.
    target = app
    while not hasattr(target, "routes") and hasattr(target, "app"):
        target = target.app
    assert hasattr(target, "routes"), f"hub.app.create_app() returned {type(app).__name__}, which has no routes"
    return walk(list(target.routes))


# --- services --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REQUIRED_SERVICES, ids=REQUIRED_SERVICES)
def test_required_service_exists(name: str) -> None:
    assert name in SERVICES, f"docker-compose.yml has no service {name!r} (has: {sorted(SERVICES)})"


def test_hub_image_services_are_the_expected_ones() -> None:
    assert HUB_IMAGE_SERVICES == sorted(["migrate", "hub-1", "hub-2", "worker", "scheduler"]), (
        f"services built from this directory are {HUB_IMAGE_SERVICES}, expected migrate, hub-1, hub-2, worker, scheduler"
    )


def test_hub_image_services_share_one_image() -> None:
    images = {name: SERVICES[name].get("image") for name in HUB_IMAGE_SERVICES}
    assert len(set(images.values())) == 1, f"services built from . tag different images: {images}"


@pytest.mark.parametrize(
    ("name", "image"), [("postgres", "postgres:16"), ("redis", "redis:7")], ids=["postgres", "redis"]
)
def test_backing_service_image(name: str, image: str) -> None:
    assert SERVICES[name].get("image") == image, (
        f"service {name} runs {SERVICES[name].get('image')!r}, expected {image!r}"
    )


# --- commands against the typer app ----------------------------------------------------------


@pytest.mark.parametrize("name", HUB_IMAGE_SERVICES, ids=HUB_IMAGE_SERVICES)
def test_command_is_a_hub_cli_command(name: str, cli_commands: dict[str, Any]) -> None:
    argv = _argv(SERVICES[name].get("command"))
    assert argv, f"service {name} has no command"
    assert argv[0] == "hub", f"service {name} runs {argv[0]!r}, not the `hub` console script"
    assert len(argv) > 1, f"service {name} runs `hub` without a command"
    assert argv[1] in cli_commands, (
        f"service {name} runs `hub {argv[1]}`, but hub.cli has no command {argv[1]!r} (has: {sorted(cli_commands)})"
    )


@pytest.mark.parametrize("name", HUB_IMAGE_SERVICES, ids=HUB_IMAGE_SERVICES)
def test_command_options_exist(name: str, cli_commands: dict[str, Any]) -> None:
    argv = _argv(SERVICES[name].get("command"))
    command = cli_commands[argv[1]]
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for option in _option_names(argv[2:]):
        assert option in known, (
            f"service {name} passes {option} to `hub {argv[1]}`, which has no such option (has: {sorted(known)})"
        )


@pytest.mark.parametrize(
    ("name", "command"),
    [("migrate", "migrate"), ("hub-1", "serve"), ("hub-2", "serve"), ("worker", "worker")],
    ids=["migrate", "hub-1", "hub-2", "worker"],
)
def test_service_runs_its_role(name: str, command: str) -> None:
    argv = _argv(SERVICES[name].get("command"))
    assert argv[:2] == ["hub", command], f"service {name} runs {argv[:2]}, expected ['hub', {command!r}]"


@pytest.mark.parametrize("name", HUB_SERVERS, ids=HUB_SERVERS)
def test_server_listens_on_all_interfaces_and_publishes_its_port(name: str) -> None:
    service = SERVICES[name]
    argv = _argv(service.get("command"))
    host, port = _option_value(argv, "--host"), _option_value(argv, "--port")
    assert host == "0.0.0.0", f"service {name} serves on {host!r}: other containers cannot reach it"
    assert port, f"service {name} does not pass --port"
    container_ports = [str(mapping).rsplit(":", 1)[-1].split("/")[0] for mapping in service.get("ports") or []]
    assert port in container_ports, f"service {name} serves on port {port} but publishes {container_ports}"
    url = _healthcheck_url(service)
    assert url is not None and urlsplit(url).port == int(port), (
        f"service {name} serves on port {port} but its healthcheck asks {url!r}"
    )


def test_servers_publish_distinct_host_ports() -> None:
    host_ports = [str(p).rsplit(":", 1)[0] for name in HUB_SERVERS for p in SERVICES[name].get("ports") or []]
    assert sorted(host_ports) == ["8001", "8002"], (
        f"hub servers publish host ports {host_ports}, expected 8001 and 8002"
    )


# --- settings --------------------------------------------------------------------------------


def _setting_env_names() -> set[str]:
    from hub.settings import Settings

    prefix = Settings.model_config.get("env_prefix", "")
    return {f"{prefix}{field}".upper() for field in Settings.model_fields}


ENV_CASES = [
    (service, key)
    for service in sorted(SERVICES)
    for key in sorted(_environment(SERVICES[service]))
    if key.startswith("HUB_")
]


@pytest.mark.parametrize(("service", "key"), ENV_CASES, ids=[f"{s}-{k}" for s, k in ENV_CASES])
def test_hub_variable_is_a_setting(service: str, key: str) -> None:
    known = _setting_env_names()
    assert key in known, (
        f"service {service} sets {key}, which is not a field of hub.settings.Settings (has: {sorted(known)})"
    )


@pytest.mark.parametrize("name", HUB_IMAGE_SERVICES, ids=HUB_IMAGE_SERVICES)
def test_required_settings_are_set(name: str) -> None:
    env = _environment(SERVICES[name])
    for key in REQUIRED_SETTINGS:
        assert env.get(key), f"service {name} does not set {key}"


@pytest.mark.parametrize("name", HUB_IMAGE_SERVICES, ids=HUB_IMAGE_SERVICES)
def test_environment_is_accepted_by_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every value parses: booleans, integers, the seed scale literal, and so on."""
    from pydantic import ValidationError

    from hub.settings import Settings

    for key in [k for k in os.environ if k.startswith("HUB_")]:
        monkeypatch.delenv(key)
    for key, value in _environment(SERVICES[name]).items():
        if key.startswith("HUB_"):
            monkeypatch.setenv(key, _interpolated(value))
    try:
        Settings()
    except ValidationError as exc:  # pragma: no cover - the message is the point
        pytest.fail(f"service {name}: hub.settings.Settings rejects its environment: {exc}")


@pytest.mark.parametrize("name", HUB_SERVERS, ids=HUB_SERVERS)
@pytest.mark.parametrize("key", ["HUB_AUTO_MIGRATE", "HUB_SEED_ON_START"])
def test_servers_neither_migrate_nor_seed(name: str, key: str) -> None:
    value = _environment(SERVICES[name]).get(key)
    assert value == "false", (
        f"service {name} sets {key}={value!r}; the migrate service migrates, production is not seeded"
    )


def test_secret_key_comes_from_the_environment_and_is_required() -> None:
    for name in HUB_IMAGE_SERVICES:
        value = _environment(SERVICES[name]).get("HUB_SECRET_KEY", "")
        assert re.fullmatch(r"\$\{HUB_SECRET_KEY:\?[^}]*\}", value), (
            f"service {name} sets HUB_SECRET_KEY={value!r}; it must be ${{HUB_SECRET_KEY:?...}} "
            "(no secret in the file, and compose refuses to start without one)"
        )


@pytest.mark.parametrize("name", HUB_IMAGE_SERVICES, ids=HUB_IMAGE_SERVICES)
def test_database_url_points_at_the_postgres_service(name: str) -> None:
    from hub.db import sync_url

    url = _environment(SERVICES[name])["HUB_DATABASE_URL"]
    parts = urlsplit(url)
    assert parts.scheme == "postgresql", (
        f"service {name}: HUB_DATABASE_URL scheme is {parts.scheme!r}, expected 'postgresql'"
    )
    assert sync_url(url).drivername == "postgresql+psycopg", f"service {name}: hub.db does not map {url!r} to psycopg"
    assert parts.hostname in SERVICES, f"service {name}: HUB_DATABASE_URL host {parts.hostname!r} is not a service"
    assert (parts.port or 5432) == 5432, f"service {name}: HUB_DATABASE_URL port {parts.port} is not PostgreSQL's 5432"
    pg_env = _environment(SERVICES[parts.hostname])
    expected = (pg_env.get("POSTGRES_USER"), pg_env.get("POSTGRES_PASSWORD"), pg_env.get("POSTGRES_DB"))
    actual = (parts.username, parts.password, parts.path.lstrip("/"))
    assert actual == expected, (
        f"service {name}: HUB_DATABASE_URL has user/password/db {actual}, service {parts.hostname} creates {expected}"
    )


@pytest.mark.parametrize("name", HUB_IMAGE_SERVICES, ids=HUB_IMAGE_SERVICES)
def test_broker_url_points_at_the_redis_service(name: str) -> None:
    url = _environment(SERVICES[name])["HUB_BROKER_URL"]
    parts = urlsplit(url)
    assert parts.scheme == "redis", f"service {name}: HUB_BROKER_URL scheme is {parts.scheme!r}, expected 'redis'"
    assert parts.hostname in SERVICES, f"service {name}: HUB_BROKER_URL host {parts.hostname!r} is not a service"
    assert SERVICES[parts.hostname].get("image", "").startswith("redis"), (
        f"service {name}: HUB_BROKER_URL points at {parts.hostname!r}, which is not a Redis service"
    )


def test_all_image_services_share_the_connection_settings() -> None:
    keys = ["HUB_DATABASE_URL", "HUB_BROKER_URL", "HUB_SECRET_KEY"]
    seen = {name: tuple(_environment(SERVICES[name]).get(k) for k in keys) for name in HUB_IMAGE_SERVICES}
    assert len(set(seen.values())) == 1, f"services disagree on {keys}: {seen}"


# --- dependencies and health checks ----------------------------------------------------------

DEPENDENCY_CASES = [
    (name, target, condition)
    for name in sorted(SERVICES)
    for target, condition in sorted(_depends_on(SERVICES[name]).items())
]


@pytest.mark.parametrize(
    ("name", "target", "condition"), DEPENDENCY_CASES, ids=[f"{n}->{t}" for n, t, _ in DEPENDENCY_CASES]
)
def test_dependency_can_be_satisfied(name: str, target: str, condition: str) -> None:
    assert target in SERVICES, f"service {name} depends on {target!r}, which is not a service"
    other = SERVICES[target]
    if condition == "service_healthy":
        healthcheck = other.get("healthcheck") or {}
        assert healthcheck.get("test") and not healthcheck.get("disable"), (
            f"service {name} waits for {target} to be healthy, but {target} has no healthcheck"
        )
    elif condition == "service_completed_successfully":
        assert str(other.get("restart", "no")) == "no", (
            f"service {name} waits for {target} to complete, but {target} restarts ({other.get('restart')!r})"
        )
    else:
        assert condition == "service_started", (
            f"service {name} depends on {target} with unknown condition {condition!r}"
        )


@pytest.mark.parametrize(
    ("name", "target", "condition"),
    [
        ("migrate", "postgres", "service_healthy"),
        ("hub-1", "migrate", "service_completed_successfully"),
        ("hub-1", "redis", "service_healthy"),
        ("hub-2", "migrate", "service_completed_successfully"),
        ("hub-2", "redis", "service_healthy"),
        ("worker", "migrate", "service_completed_successfully"),
        ("worker", "redis", "service_healthy"),
    ],
    ids=[
        "migrate->postgres",
        "hub-1->migrate",
        "hub-1->redis",
        "hub-2->migrate",
        "hub-2->redis",
        "worker->migrate",
        "worker->redis",
    ],
)
def test_startup_order(name: str, target: str, condition: str) -> None:
    actual = _depends_on(SERVICES[name]).get(target)
    assert actual == condition, f"service {name} depends on {target} with {actual!r}, expected {condition!r}"


@pytest.mark.parametrize("name", ["postgres", "redis", *HUB_SERVERS, "worker"])
def test_long_running_service_has_a_healthcheck(name: str) -> None:
    healthcheck = SERVICES[name].get("healthcheck") or {}
    assert healthcheck.get("test") and not healthcheck.get("disable"), f"service {name} has no healthcheck"


@pytest.mark.parametrize(
    ("name", "word"), [("postgres", "pg_isready"), ("redis", "redis-cli")], ids=["postgres", "redis"]
)
def test_backing_service_healthcheck_tool(name: str, word: str) -> None:
    argv = _healthcheck_argv(SERVICES[name])
    assert any(word in part for part in argv), f"service {name} healthcheck {argv} does not use {word}"


@pytest.mark.parametrize("name", HUB_SERVERS, ids=HUB_SERVERS)
def test_server_healthcheck_uses_python_not_curl(name: str) -> None:
    argv = _healthcheck_argv(SERVICES[name])
    assert "python" in argv and "urllib" in " ".join(argv), (
        f"service {name} healthcheck {argv} must use python's urllib (python:3.11-slim has no curl or wget)"
    )


@pytest.mark.parametrize("name", HUB_SERVERS, ids=HUB_SERVERS)
def test_server_healthcheck_asks_readiness(name: str) -> None:
    url = _healthcheck_url(SERVICES[name])
    assert url is not None, f"service {name} healthcheck has no URL: {_healthcheck_argv(SERVICES[name])}"
    assert urlsplit(url).path == "/readyz", (
        f"service {name} healthcheck asks {urlsplit(url).path!r}, expected '/readyz'"
    )


@pytest.mark.parametrize("name", HUB_SERVERS, ids=HUB_SERVERS)
def test_server_healthcheck_path_is_a_route(name: str, app_routes: set[str]) -> None:
    path = urlsplit(_healthcheck_url(SERVICES[name]) or "").path
    assert path in app_routes, (
        f"service {name} healthcheck asks {path!r}, which hub.app.create_app() does not route (has: {sorted(app_routes)})"
    )


def test_dockerfile_healthcheck_path_is_a_route(app_routes: set[str]) -> None:
    for args in _dockerfile("HEALTHCHECK"):
        match = re.search(r"https?://[^\s'\"]+", args)
        if match:
            path = urlsplit(match.group(0)).path
            assert path in app_routes, (
                f"the Dockerfile HEALTHCHECK asks {path!r}, which hub.app.create_app() does not route"
            )


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/graphql"])
def test_operational_endpoint_is_routed(path: str, app_routes: set[str]) -> None:
    assert path in app_routes, f"hub.app.create_app() does not route {path} (has: {sorted(app_routes)})"


def test_named_volumes_are_declared() -> None:
    declared = set(COMPOSE.get("volumes") or {})
    for name, service in SERVICES.items():
        for volume in service.get("volumes") or []:
            source = str(volume).split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source and not source.startswith((".", "/", "~", "$")):
                assert source in declared, f"service {name} mounts named volume {source!r}, which is not declared"
    postgres_volumes = [str(v) for v in SERVICES["postgres"].get("volumes") or []]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres_volumes), (
        f"postgres keeps its data in {postgres_volumes}, not in a volume at /var/lib/postgresql/data"
    )


# --- Dockerfile ------------------------------------------------------------------------------


def test_dockerfile_base_image_satisfies_requires_python() -> None:
    from packaging.specifiers import SpecifierSet

    base = _dockerfile("FROM")[-1].split()[0]
    match = re.fullmatch(r"python:(\d+\.\d+)(?:\.\d+)?-slim(?:-\w+)?", base)
    assert match, f"the Dockerfile's final stage is FROM {base!r}, expected python:<version>-slim"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    assert match.group(1) in SpecifierSet(requires), f"FROM {base} does not satisfy requires-python {requires!r}"


def test_dockerfile_installs_the_project() -> None:
    runs = " && ".join(_dockerfile("RUN"))
    assert re.search(r"pip install(?:\s+-{1,2}[\w-]+(?:=\S+)?)*\s+\.(?:\s|$|\[)", runs), (
        f"no RUN in the Dockerfile pip-installs the project (`pip install .`); RUN lines: {_dockerfile('RUN')}"
    )
    copies = [_exec_form(args) for args in _dockerfile("COPY")]
    assert any("." in argv[:-1] for argv in copies), f"no COPY in the Dockerfile copies the build context (.): {copies}"


def test_dockerfile_runs_as_non_root() -> None:
    users = _dockerfile("USER")
    assert users, "the Dockerfile never switches USER: the hub would run as root"
    assert users[-1].split(":")[0] not in ("root", "0"), f"the Dockerfile's last USER is {users[-1]!r}"


def test_dockerfile_exposes_the_served_port() -> None:
    exposed = {port.split("/")[0] for args in _dockerfile("EXPOSE") for port in args.split()}
    cmd = _exec_form(_dockerfile("CMD")[-1])
    assert _option_value(cmd, "--port") in exposed, (
        f"CMD serves on {_option_value(cmd, '--port')} but EXPOSE is {sorted(exposed)}"
    )
    assert "8000" in exposed, f"the Dockerfile exposes {sorted(exposed)}, expected 8000"


def test_dockerfile_cmd_uses_the_hub_script(cli_commands: dict[str, Any]) -> None:
    cmds = _dockerfile("CMD")
    assert cmds, "the Dockerfile has no CMD"
    argv = _exec_form(cmds[-1])
    assert argv[:2] == ["hub", "serve"], f"the Dockerfile's CMD is {argv}, expected `hub serve ...`"
    assert argv[1] in cli_commands, f"the Dockerfile's CMD runs `hub {argv[1]}`, which hub.cli does not define"
    known = {opt for param in cli_commands[argv[1]].params for opt in (*param.opts, *param.secondary_opts)}
    for option in _option_names(argv[2:]):
        assert option in known, f"the Dockerfile's CMD passes {option} to `hub {argv[1]}`, which has no such option"
    assert _option_value(argv, "--host") == "0.0.0.0", (
        f"the Dockerfile's CMD serves on {_option_value(argv, '--host')!r}"
    )


def test_hub_script_is_the_typer_app() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"].get("scripts", {})
    assert scripts.get("hub") == "hub.cli:app", (
        f"pyproject.toml's console script `hub` is {scripts.get('hub')!r}; the Dockerfile and compose file run `hub`, "
        "expected hub.cli:app"
    )


# --- .dockerignore ---------------------------------------------------------------------------


def _ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _ignored(path: str) -> bool:
    """Close enough to Docker's matching for these checks: a pattern matches the path or a parent."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in _ignore_patterns():
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!")
        bare = pattern[3:] if pattern.startswith("**/") else None
        if any(
            fnmatch.fnmatchcase(c, pattern) or (bare is not None and fnmatch.fnmatchcase(c.rsplit("/", 1)[-1], bare))
            for c in candidates
        ):
            ignored = not negate
    return ignored


@pytest.mark.parametrize("path", ["data", ".git", "hub/__pycache__", ".venv", "venv"])
def test_dockerignore_excludes_local_state(path: str) -> None:
    assert _ignored(path), f".dockerignore lets {path!r} into the build context"


def _build_inputs() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    inputs = ["pyproject.toml"]
    readme = project.get("readme")
    if isinstance(readme, str):
        inputs.append(readme)
    inputs += [
        "hub/settings.py",
        "hub/cli.py",
        "hub/app.py",
        "migrations/env.py",
        "schema/templates/graphiql.html",
        "schema/static/graphiql/graphiql.min.js",
    ]
    return inputs


@pytest.mark.parametrize("path", _build_inputs())
def test_dockerignore_keeps_what_pip_install_needs(path: str) -> None:
    assert not _ignored(path), f".dockerignore drops {path!r}, which `pip install .` needs"
