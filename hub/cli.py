"""The ``hub`` command: run the hub and its parts, prepare its database, and administer it.

``serve`` runs everything in one process (the demo); ``scheduler``, ``worker`` and ``sandbox`` run
the parts of a production deployment; ``migrate`` and ``seed`` prepare the database;
``export-schema`` writes the GraphQL SDL. The groups ``user``, ``api-key``, ``connectors``, ``webhooks``,
``writebacks``, ``clues``, ``penalties``, ``credit`` and ``regions`` administer the hub through its services, each in its own module; what
they share (the console, ``fail``, the database context) is ``hub.cli_common``.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
from pathlib import Path

import typer
from dramatiq.cli import main as dramatiq_main
from dramatiq.cli import make_argument_parser
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from starlette.routing import Mount

from connectors.sandbox.runner import run_sandboxes
from hub.access import ROLES, SECTORS
from hub.api_keys import create_api_key, list_api_keys, revoke_api_key
from hub.broker import InProcessWorker, setup_broker
from hub.cli_calendar import app as calendar_app
from hub.cli_clues import app as clues_app
from hub.cli_common import USAGE, CliContext, cli_context, console, fail, load_settings, safe_url, when
from hub.cli_connectors import app as connectors_app
from hub.cli_credit import credit_app, penalties_app
from hub.cli_operations import app as operations_app
from hub.cli_regions import app as regions_app
from hub.cli_users import app as users_app
from hub.cli_webhooks import app as webhooks_app
from hub.cli_writebacks import app as writebacks_app
from hub.demo import (
    DEMO_KEY_FILE,
    DemoUser,
    DemoWorld,
    configure_demo_connectors,
    database_empty,
    demo_admin_key,
    demo_users,
    sandboxes,
)
from hub.models import utcnow
from hub.settings import Settings
from hub.workdays import local_date

app = typer.Typer(
    help="根治欠薪数据中枢 — the wage-arrears supervision hub: serve it, run its workers, administer it.",
    no_args_is_help=True,
    add_completion=False,
)
api_key_app = typer.Typer(help="API keys of apps and regional systems: create, list, revoke.", no_args_is_help=True)
app.add_typer(api_key_app, name="api-key")
app.add_typer(connectors_app, name="connectors")
app.add_typer(writebacks_app, name="writebacks")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(clues_app, name="clues")
app.add_typer(calendar_app, name="calendar")
app.add_typer(penalties_app, name="penalties")
app.add_typer(credit_app, name="credit")
app.add_typer(regions_app, name="regions")
app.add_typer(users_app, name="user")
app.add_typer(operations_app, name="operations")

#: The broker URL scheme of the in-process broker, which only `hub serve` can use.
IN_PROCESS_BROKER = "memory://"


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def run_seed(
    ctx: CliContext, *, scale: str, seed: int, region: str, today: dt.date | None = None, now: dt.datetime | None = None
) -> dict[str, object]:
    """Seed demo data with a progress bar per table and print the counts; returns the seed's highlights."""
    # The generators load faker's name tables (half a second): only `seed` and `serve` need them.
    from hub.seed import seed_database

    tasks: dict[str, TaskID] = {}
    with _progress() as progress:

        def report(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = progress.add_task(table, total=total)
            progress.update(tasks[table], completed=done, total=total)

        summary = seed_database(
            ctx.engine, scale=scale, seed=seed, cipher=ctx.cipher, region=region, progress=report, today=today, now=now
        )
    table = Table(title=f"demo data ({scale}, seed {seed})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in summary.counts.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    return dict(summary.highlights)


def _prepare(ctx: CliContext, *, base: str) -> tuple[str | None, list[Mount], list[DemoUser]]:
    """Migrate, seed and configure the demo as the settings ask; the demo's admin key, the sandboxes'
    routes and the demo users (with their passwords on the first start only)."""
    # alembic takes a third of a second to import: only `serve` and `migrate` use it.
    from hub.migrate import upgrade

    settings = ctx.settings
    url = settings.resolved_database_url()
    if settings.auto_migrate:
        console.print(f"[bold]migrating[/] {safe_url(url)}")
        upgrade(url)
    seeded = False
    if settings.seed_on_start and database_empty(ctx.engine):
        console.print(f"[bold]seeding demo data[/] (scale {settings.seed_scale}, region {settings.demo_region})")
        # The demo's day is China's (the server may run on UTC), and nothing is seeded later than now.
        now = utcnow()
        today = local_date(now)
        run_seed(ctx, scale=settings.seed_scale, seed=settings.seed, region=settings.demo_region, today=today, now=now)
        DemoWorld(
            scale=settings.seed_scale, seed=settings.seed, region=settings.demo_region, today=today, seeded_at=now
        ).save(settings)
        seeded = True
    key = demo_admin_key(ctx.engine, path=settings.data_dir / DEMO_KEY_FILE, create=seeded)
    users = demo_users(ctx.engine, region=settings.demo_region, create=seeded)
    routes: list[Mount] = []
    # The sandboxes belong to a demo: a hub whose database was seeded with demo data by `hub serve`.
    if settings.sandboxes and DemoWorld.exists(settings):
        world = DemoWorld.load(settings)
        with console.status(f"building the sandboxes' world ({world.scale}, seed {world.seed}, {world.today})…"):
            boxes = sandboxes(world)
        routes = [Mount(f"/sandbox/{b.kind}", app=b.app, name=f"sandbox-{b.kind}") for b in boxes]
        made = configure_demo_connectors(ctx.engine, cipher=ctx.cipher, base_url=base, boxes=boxes, world=world)
        if made:
            console.print(f"configured demo connectors: {', '.join(made)}")
    return key, routes, users


def _print_demo_users(users: list[DemoUser]) -> None:
    """The demo users next to the GraphiQL link; passwords only when just generated (never stored)."""
    if not users:
        return
    shown = any(u.password for u in users)
    note = "passwords shown once, now" if shown else "passwords were shown on the first start"
    console.print(f"Demo users ({note}; `hub user reset-password NAME` gives a new one):")
    for u in users:
        console.print(
            f"  {u.username:<16} {u.role:<10} {u.region_code:<10} " + (f"[bold]{u.password}[/]" if u.password else "")
        )


@app.command()
def serve(
    host: str = typer.Option(None, "--host", help="Address to listen on (HUB_HOST)."),
    port: int = typer.Option(None, "--port", help="Port to listen on (HUB_PORT)."),
) -> None:
    """Run the hub: migrate, seed demo data on first start, start the worker, serve HTTP."""
    # The app imports the whole GraphQL schema (strawberry builds it on import, about a second): only
    # this command needs it, so `hub --help` and the other commands do not wait for it. Importing the
    # actors declares them on a broker: only the commands that send them should.
    import uvicorn

    from hub.actors import Scheduler
    from hub.app import create_app

    with cli_context(log=True) as ctx:
        settings = ctx.settings
        host = host or settings.host
        port = port or settings.port
        base = f"http://{host}:{port}"
        key, routes, users = _prepare(ctx, base=base)
    broker = setup_broker(settings.broker_url)
    worker = scheduler = None
    if settings.broker_url.startswith(IN_PROCESS_BROKER):
        worker = InProcessWorker(broker, threads=4)
        worker.start()
        scheduler = Scheduler(interval=5)
        scheduler.start()
    console.rule("[bold green]根治欠薪数据中枢 is running")
    console.print(f"GraphiQL   {base}/graphql" + (f"#key={key}" if key else ""))
    console.print(f"Console    {base}/admin" + (f"#key={key}" if key else "") + "  (管理后台)")
    console.print(f"GraphQL    POST {base}/graphql  (header X-API-Key, or signed in: cookie + X-CSRF-Token)")
    console.print(f'Sign-in    POST {base}/admin/api/sign-in  {{"username": …, "password": …}}')
    console.print(f"Health     {base}/healthz   {base}/readyz   {base}/metrics")
    if key:
        console.print(f"Demo admin API key: [bold]{key}[/]  (kept in {settings.data_dir / DEMO_KEY_FILE})")
    _print_demo_users(users)
    for route in routes:
        console.print(f"Sandbox    {base}{route.path}/")
    try:
        # log_config=None: uvicorn's loggers propagate to the hub's handlers, which mask personal data.
        uvicorn.run(
            create_app(settings, extra_routes=routes),
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            access_log=settings.log_level.upper() == "DEBUG",
            log_config=None,
            # Subscription messages are small JSON: compressing each one cost 15 % of a core at 500
            # subscribers for little saving.
            ws_per_message_deflate=False,
        )
    finally:
        if scheduler:
            scheduler.stop()
        if worker:
            worker.stop()


def _production_broker(settings: Settings, *, command: str, otherwise: str) -> None:
    """Refuse to run ``command`` on the in-process broker, which lives inside `hub serve`."""
    if settings.broker_url.startswith(IN_PROCESS_BROKER):
        fail(f"hub {command} needs HUB_BROKER_URL=redis://… or amqp://…", suggestion=otherwise, code=USAGE)


@app.command()
def scheduler(interval: float = typer.Option(5.0, "--interval", help="Seconds between checks for due syncs.")) -> None:
    """Send the hub's periodic jobs (due syncs, write-backs, webhook deliveries …) to the production broker.

    Run one or more: each due sync is sent once, whichever scheduler sees it first.
    """
    # Importing the actors declares them on a broker (an in-process one until `setup_broker`): only
    # the commands that send them should.
    from hub.actors import Scheduler

    settings = load_settings(log=True)
    _production_broker(settings, command="scheduler", otherwise="`hub serve` schedules in process")
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
    """Run the simulated upstreams on local ports, over the demo's world, for developing a connector."""
    world = DemoWorld.load(load_settings())
    run_sandboxes(
        host=host,
        base_port=base_port,
        seed=world.seed,
        scale=world.scale,
        region=world.region,
        today=world.today,
        now=world.seeded_at,
    )


@app.command()
def migrate() -> None:
    """Apply database migrations (alembic upgrade head)."""
    # alembic takes a third of a second to import: only `serve` and `migrate` use it.
    from hub.migrate import upgrade

    url = load_settings(log=True).resolved_database_url()
    upgrade(url)
    console.print(f"migrated {safe_url(url)} to head")


@app.command()
def worker(
    processes: int = typer.Option(1, "--processes", "-p", help="Worker processes."),
    threads: int = typer.Option(4, "--threads", "-t", help="Threads per process."),
) -> None:
    """Run dramatiq worker processes on the production broker (Redis or RabbitMQ)."""
    _production_broker(
        load_settings(), command="worker", otherwise="with the in-process broker the worker runs inside `hub serve`"
    )
    args = make_argument_parser().parse_args(
        ["hub.worker_entry", "--processes", str(processes), "--threads", str(threads)]
    )
    raise typer.Exit(dramatiq_main(args))


@app.command()
def seed(
    scale: str = typer.Option(None, "--scale", help="tiny | city | province (HUB_SEED_SCALE)."),
    random_seed: int = typer.Option(None, "--seed", help="Random seed (HUB_SEED)."),
    region: str = typer.Option(None, "--region", help="Demo city / province code (HUB_DEMO_REGION)."),
) -> None:
    """Fill an empty, migrated database with coherent demo data (progress bar per table)."""
    # The generators load faker's name tables (half a second): only `seed` and `serve` need them.
    from hub.seed import SCALES, SeedError

    with cli_context(log=True) as ctx:
        scale = scale or ctx.settings.seed_scale
        if scale not in SCALES:
            *others, last = SCALES
            fail(f"unknown scale {scale!r}", suggestion=f"use {', '.join(others)} or {last}", code=USAGE)
        try:
            highlights = run_seed(
                ctx, scale=scale, seed=random_seed or ctx.settings.seed, region=region or ctx.settings.demo_region
            )
        except SeedError as exc:
            fail(str(exc))
    for name, value in highlights.items():
        console.print(f"  {name}: {value}")


@app.command("export-schema")
def export_schema(
    output: Path = typer.Option(Path("schema/schema.graphql"), "--output", "-o", help="Where to write the SDL."),
    check: bool = typer.Option(False, "--check", help="Exit 1 if the file differs from the schema instead of writing."),
) -> None:
    """Write the GraphQL schema as SDL (checked in at schema/schema.graphql)."""
    # Building the schema takes about a second: only this command and `serve` need it.
    from schema.build import export_sdl

    sdl = export_sdl()
    if check:
        if not output.exists() or output.read_text() != sdl:
            fail(f"{output} is out of date", suggestion="run `hub export-schema`")
        console.print(f"{output} is up to date")
        return
    output.write_text(sdl)
    console.print(f"wrote {output} ({len(sdl):,} characters)")


@operations_app.command("register")
def register_operations(
    file: Path = typer.Argument(..., help="A .graphql file of one or more named operations (fragments allowed)."),
    replace: bool = typer.Option(False, "--replace", help="Replace an operation registered under the same name."),
) -> None:
    """Register every named operation of FILE, validated against the schema (all or none, audited)."""
    # Validation needs the schema (about a second to build): only this command builds it.
    from hub.errors import InvalidInput
    from hub.operations import register_document
    from schema.build import build_schema

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}", code=USAGE)
    graphql_schema = build_schema()._schema
    with cli_context() as ctx, ctx.session() as session:
        try:
            done = register_document(
                session, principal=ctx.principal, text=text, schema=graphql_schema, replace=replace
            )
        except InvalidInput as exc:  # every problem of the file, each at its line and column
            problems = exc.extra.get("errors") or []
            if len(problems) <= 1:
                raise
            console.print(f"[red]{file}: {len(problems)} problems, nothing registered[/]")
            for p in problems:
                console.print(
                    f"  line {p['line']}, column {p['column']}: {p['message']}", markup=False, highlight=False
                )
            raise typer.Exit(USAGE) from exc
        for r in done:
            console.print(f"{r.outcome} {r.operation.name} ({r.operation.operation_type}) sha256 {r.operation.sha256}")


@operations_app.command("explain")
def explain_operation(name: str = typer.Argument(..., help="The operation's name.")) -> None:
    """How a registered operation runs: compiled (no resolver per field), or which fields send it to the
    interpreter, and why."""
    from hub.operations import get_operation
    from schema.build import build_schema
    from schema.compiled import compile_operation, explain

    with cli_context() as ctx, ctx.session() as session:
        row = get_operation(session, name=name)
        document, operation_type = row.document, row.operation_type
        depth = ctx.settings.max_query_depth
    if operation_type != "query":
        console.print(f"{name} is a {operation_type}: served by the interpreter (only queries compile)", markup=False)
        return
    plan = compile_operation(build_schema(max_depth=depth), document, name, max_depth=depth)
    console.print(explain(plan), markup=False, highlight=False, soft_wrap=True)


@api_key_app.command("create")
def api_key_create(
    name: str = typer.Argument(..., help="Who the key is for, e.g. 济宁市指挥中心大屏."),
    role: str = typer.Option("viewer", "--role", help=" | ".join(ROLES)),
    region: str = typer.Option(..., "--region", help="Jurisdiction: a GB/T 2260 code (000000 = the whole country)."),
    unmask: bool = typer.Option(False, "--unmask", help="May read ID numbers, phones and bank cards unmasked."),
    sector: str = typer.Option(None, "--sector", help=f"A sector key's sector: {' | '.join(SECTORS)}."),
) -> None:
    """Create an API key (printed once; only its hash is stored)."""
    with cli_context() as ctx, ctx.session() as session:
        try:
            row, key = create_api_key(
                session,
                principal=ctx.principal,
                name=name,
                role=role,
                region_code=region,
                can_unmask=unmask,
                sector=sector,
            )
        except ValueError as exc:
            fail(str(exc), code=USAGE)
        region_code = row.region_code
    console.print(f"API key for {name} ({role}, region {region_code}): [bold]{key}[/]")


@api_key_app.command("list")
def api_key_list() -> None:
    """List API keys, revoked ones too (never the keys themselves: a prefix to recognise them)."""
    table = Table("id", "name", "prefix", "role", "region", "unmask", "revoked")
    with cli_context() as ctx, ctx.session() as session:
        for k in list_api_keys(session, principal=ctx.principal):
            table.add_row(
                str(k.id),
                k.name,
                k.prefix + "…",
                k.role,
                k.region_code,
                "yes" if k.can_unmask else "",
                when(k.revoked_at),
            )
    console.print(table)


@api_key_app.command("revoke")
def api_key_revoke(key_id: int = typer.Argument(..., help="The id shown by `hub api-key list`.")) -> None:
    """Revoke an API key: refused from now on, its subscriptions closed (recorded in the audit log)."""
    with cli_context() as ctx, ctx.session() as session:
        row = revoke_api_key(session, principal=ctx.principal, key_id=key_id)
        name = row.name
    console.print(f"revoked key {key_id} ({name})")


if __name__ == "__main__":  # ``python -m hub.cli`` (used by tests that run the CLI as a real process)
    app()
