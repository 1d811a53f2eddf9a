"""The ``hub`` command: serve, migrate, worker, seed, export-schema, api-key."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from starlette.routing import Mount

from hub.cli_clues import app as clues_app
from hub.cli_webhooks import app as webhooks_app
from hub.cli_writebacks import app as writebacks_app
from hub.demo import DemoWorld
from hub.models import utcnow
from hub.settings import Settings, get_settings
from hub.workdays import local_date

app = typer.Typer(help="根治欠薪数据中枢 — the wage-arrears supervision hub.", no_args_is_help=True, add_completion=False)
api_key_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(api_key_app, name="api-key")
app.add_typer(writebacks_app, name="writebacks")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(clues_app, name="clues")


def _add_connector_commands() -> None:
    from hub.cli_connectors import app as connectors_app

    app.add_typer(connectors_app, name="connectors")


_add_connector_commands()
console = Console()
DEMO_KEY_FILE = "demo-api-key.txt"


def _logging(settings: Settings) -> None:
    from hub.logs import setup_logging

    setup_logging(settings.log_level)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def run_seed(settings: Settings, *, scale: str, seed: int, region: str, today: dt.date | None = None,
             now: dt.datetime | None = None) -> dict:
    """Seed demo data with a progress bar per table; returns the seed summary's highlights."""
    from hub.crypto import Cipher
    from hub.db import make_engine
    from hub.seed import seed_database

    engine = make_engine(settings.resolved_database_url())
    tasks: dict[str, int] = {}
    with _progress() as progress:

        def report(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = progress.add_task(table, total=total)
            progress.update(tasks[table], completed=done, total=total)

        summary = seed_database(
            engine, scale=scale, seed=seed, cipher=Cipher(settings.resolved_secret_key()), region=region, progress=report,
            today=today, now=now,
        )
    engine.dispose()
    table = Table(title=f"demo data ({scale}, seed {seed})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in summary.counts.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    return summary.highlights


def _database_empty(settings: Settings) -> bool:
    from sqlalchemy import func, select

    from hub.db import make_engine
    from hub.models import Project

    engine = make_engine(settings.resolved_database_url())
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(Project)).scalar_one()
    engine.dispose()
    return n == 0


def _demo_key(settings: Settings, *, create: bool) -> str | None:
    """The embedded demo's admin key, kept in the data directory so that each start can print it."""
    from sqlalchemy import select

    from hub.access import NATIONAL, create_api_key
    from hub.crypto import api_key_hash
    from hub.db import make_engine, session_scope
    from hub.models import ApiKey

    path = settings.data_dir / DEMO_KEY_FILE
    engine = make_engine(settings.resolved_database_url())
    try:
        with session_scope(engine) as session:
            if path.exists():
                key = path.read_text().strip()
                if session.execute(select(ApiKey.id).where(ApiKey.key_hash == api_key_hash(key))).first():
                    return key
            if not create:
                return None
            _, key = create_api_key(session, name="demo-admin", role="admin", region_code=NATIONAL, can_unmask=True)
        path.write_text(key + "\n")
        path.chmod(0o600)
        return key
    finally:
        engine.dispose()


@app.command()
def serve(
    host: str = typer.Option(None, "--host", help="Address to listen on (HUB_HOST)."),
    port: int = typer.Option(None, "--port", help="Port to listen on (HUB_PORT)."),
) -> None:
    """Run the hub: migrate, seed demo data on first start, start the worker, serve HTTP."""
    import uvicorn

    from hub.app import create_app
    from hub.broker import InProcessWorker, setup_broker
    from hub.migrate import upgrade

    settings = get_settings()
    _logging(settings)
    host = host or settings.host
    port = port or settings.port
    url = settings.resolved_database_url()
    if settings.auto_migrate:
        console.print(f"[bold]migrating[/] {_safe_url(url)}")
        upgrade(url)
    seeded = False
    if settings.seed_on_start and _database_empty(settings):
        console.print(f"[bold]seeding demo data[/] (scale {settings.seed_scale}, region {settings.demo_region})")
        # The demo's day is China's (the server may run on UTC), and nothing is seeded later than now.
        now = utcnow()
        today = local_date(now)
        run_seed(settings, scale=settings.seed_scale, seed=settings.seed, region=settings.demo_region, today=today, now=now)
        DemoWorld(scale=settings.seed_scale, seed=settings.seed, region=settings.demo_region, today=today,
                  seeded_at=now).save(settings)
        seeded = True
    key = _demo_key(settings, create=seeded)
    base = f"http://{host}:{port}"
    routes: list = []
    # The sandboxes belong to a demo: a hub whose database was seeded with demo data by `hub serve`.
    if settings.sandboxes and DemoWorld.exists(settings):
        from hub.crypto import Cipher
        from hub.db import make_engine
        from hub.demo import configure_demo_connectors, sandboxes

        world = DemoWorld.load(settings)
        with console.status(f"building the sandboxes' world ({world.scale}, seed {world.seed}, {world.today})…"):
            boxes = sandboxes(world)
        routes = [Mount(f"/sandbox/{b.kind}", app=b.app, name=f"sandbox-{b.kind}") for b in boxes]
        engine = make_engine(url)
        made = configure_demo_connectors(engine, cipher=Cipher(settings.resolved_secret_key()), base_url=base,
                                         boxes=boxes, world=world)
        engine.dispose()
        if made:
            console.print(f"configured demo connectors: {', '.join(made)}")
    broker = setup_broker(settings.broker_url)
    worker = scheduler = None
    if settings.broker_url.startswith("memory://"):
        from hub.actors import Scheduler

        worker = InProcessWorker(broker, threads=4)
        worker.start()
        scheduler = Scheduler(interval=5)
        scheduler.start()
    console.rule("[bold green]根治欠薪数据中枢 is running")
    console.print(f"GraphiQL   {base}/graphql" + (f"#key={key}" if key else ""))
    console.print(f"GraphQL    POST {base}/graphql  (header X-API-Key)")
    console.print(f"Health     {base}/healthz   {base}/readyz   {base}/metrics")
    if key:
        console.print(f"Demo admin API key: [bold]{key}[/]  (kept in {settings.data_dir / DEMO_KEY_FILE})")
    for route in routes:
        console.print(f"Sandbox    {base}{route.path}/")
    try:
        # log_config=None: uvicorn's loggers propagate to the hub's handlers, which mask personal data.
        uvicorn.run(create_app(settings, extra_routes=routes), host=host, port=port, log_level=settings.log_level.lower(),
                    access_log=settings.log_level.upper() == "DEBUG", log_config=None,
                    # Subscription messages are small JSON: compressing each one cost 15 % of a core at 500
                    # subscribers for little saving.
                    ws_per_message_deflate=False)
    finally:
        if scheduler:
            scheduler.stop()
        if worker:
            worker.stop()


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def scheduler(interval: float = typer.Option(5.0, "--interval", help="Seconds between checks for due syncs.")) -> None:
    """Enqueue due connector syncs on the production broker (run one or more; a database lease dedupes)."""
    import signal
    import threading

    from hub.actors import Scheduler
    from hub.broker import setup_broker

    settings = get_settings()
    _logging(settings)
    if settings.broker_url.startswith("memory://"):
        console.print("[red]hub scheduler needs HUB_BROKER_URL=redis://… or amqp://…[/]: `hub serve` schedules in process.")
        raise typer.Exit(2)
    setup_broker(settings.broker_url)
    sched = Scheduler(interval=interval)
    sched.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    console.print(f"scheduler running (every {interval}s); Ctrl-C to stop")
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    sched.stop()


@app.command()
def sandbox(
    base_port: int = typer.Option(8100, "--base-port", help="First port; each sandbox gets the next one."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
) -> None:
    """Run the simulated upstreams on local ports, for someone developing a connector."""
    from connectors.sandbox.runner import run_sandboxes

    settings = get_settings()
    world = DemoWorld.load(settings)
    run_sandboxes(host=host, base_port=base_port, seed=world.seed, scale=world.scale, region=world.region, today=world.today,
                  now=world.seeded_at)


@app.command()
def migrate() -> None:
    """Apply database migrations (alembic upgrade head)."""
    from hub.migrate import upgrade

    settings = get_settings()
    _logging(settings)
    upgrade(settings.resolved_database_url())
    console.print(f"migrated {_safe_url(settings.resolved_database_url())} to head")


@app.command()
def worker(
    processes: int = typer.Option(1, "--processes", "-p", help="Worker processes."),
    threads: int = typer.Option(4, "--threads", "-t", help="Threads per process."),
) -> None:
    """Run dramatiq worker processes on the production broker (Redis or RabbitMQ)."""
    settings = get_settings()
    if settings.broker_url.startswith("memory://"):
        console.print(
            "[red]hub worker needs HUB_BROKER_URL=redis://… or amqp://…[/]: with the in-process broker "
            "the worker runs inside `hub serve`."
        )
        raise typer.Exit(2)
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    args = make_argument_parser().parse_args(["hub.worker_entry", "--processes", str(processes), "--threads", str(threads)])
    raise typer.Exit(dramatiq_main(args))


@app.command()
def seed(
    scale: str = typer.Option(None, "--scale", help="tiny | city | province (HUB_SEED_SCALE)."),
    random_seed: int = typer.Option(None, "--seed", help="Random seed (HUB_SEED)."),
    region: str = typer.Option(None, "--region", help="Demo city / province code (HUB_DEMO_REGION)."),
) -> None:
    """Fill an empty, migrated database with coherent demo data (progress bar per table)."""
    settings = get_settings()
    _logging(settings)
    scale = scale or settings.seed_scale
    if scale not in ("tiny", "city", "province"):
        console.print(f"[red]unknown scale {scale!r}[/]: use tiny, city or province")
        raise typer.Exit(2)
    highlights = run_seed(settings, scale=scale, seed=random_seed or settings.seed, region=region or settings.demo_region)
    for name, value in highlights.items():
        console.print(f"  {name}: {value}")


@app.command("export-schema")
def export_schema(
    output: Path = typer.Option(Path("schema/schema.graphql"), "--output", "-o", help="Where to write the SDL."),
    check: bool = typer.Option(False, "--check", help="Exit 1 if the file differs from the schema instead of writing."),
) -> None:
    """Write the GraphQL schema as SDL (checked in at schema/schema.graphql)."""
    from schema.build import export_sdl

    sdl = export_sdl()
    if check:
        if not output.exists() or output.read_text() != sdl:
            console.print(f"[red]{output} is out of date[/]: run `hub export-schema`")
            raise typer.Exit(1)
        console.print(f"{output} is up to date")
        return
    output.write_text(sdl)
    console.print(f"wrote {output} ({len(sdl):,} characters)")


@api_key_app.command("create")
def api_key_create(
    name: str = typer.Argument(..., help="Who the key is for, e.g. 济宁市指挥中心大屏."),
    role: str = typer.Option("viewer", "--role", help="admin | inspector | viewer | regional"),
    region: str = typer.Option(..., "--region", help="Jurisdiction: a GB/T 2260 code (000000 = the whole country)."),
    unmask: bool = typer.Option(False, "--unmask", help="May read ID numbers, phones and bank cards unmasked."),
) -> None:
    """Create an API key (printed once; only its hash is stored)."""
    from hub.access import create_api_key
    from hub.db import make_engine, session_scope

    settings = get_settings()
    engine = make_engine(settings.resolved_database_url())
    try:
        with session_scope(engine) as session:
            row, key = create_api_key(session, name=name, role=role, region_code=region, can_unmask=unmask)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    console.print(f"API key for {name} ({role}, region {row.region_code}): [bold]{key}[/]")


@api_key_app.command("list")
def api_key_list() -> None:
    """List API keys (never the keys themselves)."""
    from sqlalchemy import select

    from hub.db import make_engine, session_scope
    from hub.models import ApiKey

    engine = make_engine(get_settings().resolved_database_url())
    table = Table("id", "name", "prefix", "role", "region", "unmask", "revoked")
    with session_scope(engine) as session:
        for k in session.execute(select(ApiKey).order_by(ApiKey.id)).scalars():
            table.add_row(str(k.id), k.name, k.prefix + "…", k.role, k.region_code, "yes" if k.can_unmask else "", str(k.revoked_at or ""))
    engine.dispose()
    console.print(table)


@api_key_app.command("revoke")
def api_key_revoke(key_id: int = typer.Argument(..., help="The id shown by `hub api-key list`.")) -> None:
    """Revoke an API key."""
    from hub.db import make_engine, session_scope
    from hub.models import ApiKey, utcnow

    engine = make_engine(get_settings().resolved_database_url())
    with session_scope(engine) as session:
        row = session.get(ApiKey, key_id)
        if row is None:
            console.print(f"[red]no API key with id {key_id}[/]")
            raise typer.Exit(1)
        row.revoked_at = utcnow()
    engine.dispose()
    console.print(f"revoked key {key_id}")


def main() -> None:  # pragma: no cover - console script shim
    sys.exit(app())


if __name__ == "__main__":  # ``python -m hub.cli`` (used by tests that run the CLI as a real process)
    app()
