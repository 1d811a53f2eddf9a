"""``hub connectors …``: list, add, check, sync and replay connector instances (``hub.connector_admin``, ``hub.sync``)."""

from __future__ import annotations

import json

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors import registry
from hub.cli_common import USAGE, cli_context, console, fail, when
from hub.connector_admin import check_instance, create_instance, get_instance, list_instances
from hub.sync import LeaseHeld, StreamStats, SyncEngine

app = typer.Typer(help="Connector instances: list, add, check, sync, replay.", no_args_is_help=True)


def _secrets(pairs: list[str]) -> dict[str, str]:
    """``--secret KEY=VALUE`` options as a dict."""
    for pair in pairs:
        if "=" not in pair:
            fail(f"--secret {pair!r} is not KEY=VALUE", suggestion="e.g. --secret password=…", code=USAGE)
    return dict(pair.split("=", 1) for pair in pairs)


@app.command("list")
def list_() -> None:
    """Configured instances with their health, last run and per-stream state."""
    table = Table("name", "kind", "enabled", "health", "failures", "last run", "next run", "streams")
    with cli_context() as ctx, ctx.session() as session:
        for row in list_instances(session):
            table.add_row(
                row.name,
                row.kind,
                "yes" if row.enabled else "no",
                row.health + (f" ({row.paused_reason})" if row.paused_reason else ""),
                str(row.consecutive_failures),
                when(row.last_run_at),
                when(row.next_run_at),
                ", ".join(sorted(row.state or {})),
            )
    console.print(table)
    console.print("installed kinds: " + ", ".join(sorted(registry.available())))


@app.command()
def add(
    name: str = typer.Argument(..., help="A name for the instance, e.g. 济宁邮储专户."),
    kind: str = typer.Option(..., "--kind", help="Connector kind (see `hub connectors list`)."),
    config: str = typer.Option(..., "--config", help='Config as JSON, e.g. \'{"base_url": "https://…"}\'.'),
    secret: list[str] = typer.Option([], "--secret", help="A secret as KEY=VALUE (repeatable); stored encrypted."),
    schedule: int = typer.Option(300, "--schedule", help="Seconds between syncs."),
) -> None:
    """Configure a new connector instance (its config is checked against the kind's config model)."""
    try:
        parsed = json.loads(config)
    except json.JSONDecodeError as exc:
        fail(
            f"--config is not JSON: {exc}",
            suggestion='quote it for the shell, e.g. \'{"base_url": "https://…"}\'',
            code=USAGE,
        )
    secrets = _secrets(secret)
    with cli_context() as ctx, ctx.session() as session:
        row = create_instance(
            session,
            principal=ctx.principal,
            cipher=ctx.cipher,
            name=name,
            kind=kind,
            config=parsed,
            secrets=secrets,
            schedule_seconds=schedule,
        )
        console.print(f"created connector {row.name} ({row.kind}), id {row.id}")


@app.command()
def check(name: str = typer.Argument(..., help="Instance name.")) -> None:
    """Test the connection and credentials of an instance; exit 1 when they fail."""
    with cli_context() as ctx:
        with ctx.session() as session:
            instance = get_instance(session, name=name)
        result = check_instance(instance, cipher=ctx.cipher)
    console.print(("[green]ok[/] " if result.ok else "[red]failed[/] ") + result.message)
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def sync(
    name: str = typer.Argument(..., help="Instance name."),
    full: bool = typer.Option(False, "--full", help="Read every stream from the beginning."),
    stream: list[str] = typer.Option([], "--stream", help="Only these streams (repeatable)."),
) -> None:
    """Run a sync now, in this process, with a live progress bar and a summary; exit 1 unless it succeeded."""
    tasks: dict[str, TaskID] = {}
    with cli_context() as ctx:
        with ctx.session() as session:
            instance_id = get_instance(session, name=name).id
        with Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description:<14}"),
            BarColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:

            def report(stream_name: str, stats: StreamStats) -> None:
                if stream_name not in tasks:
                    tasks[stream_name] = progress.add_task(stream_name, total=None, detail="")
                progress.update(
                    tasks[stream_name],
                    detail=(
                        f"{stats.read:,} read · {stats.created:,} new · {stats.updated:,} changed · "
                        f"{stats.unchanged:,} same · {stats.quarantined:,} quarantined · {stats.pages} pages"
                    ),
                )

            try:
                syncer = SyncEngine(
                    ctx.engine,
                    cipher=ctx.cipher,
                    lease_seconds=ctx.settings.sync_lease_seconds,
                    copy_min_rows=ctx.settings.ingest_copy_min_rows,
                )
                result = syncer.run(instance_id, full_refresh=full, streams=stream or None, progress=report)
            except LeaseHeld as exc:
                fail(str(exc), suggestion="wait for that sync to finish")
            for task in tasks.values():
                progress.update(task, total=1, completed=1)
    table = Table(
        "stream",
        "read",
        "created",
        "updated",
        "unchanged",
        "quarantined",
        "retries",
        title=f"sync of {name}: {result.status}",
    )
    for stream_name, s in result.stats.items():
        table.add_row(
            stream_name, *(f"{v:,}" for v in (s.read, s.created, s.updated, s.unchanged, s.quarantined, s.retries))
        )
    console.print(table)
    if result.error:
        console.print(f"[red]{escape(result.error)}[/]")
    raise typer.Exit(0 if result.status == "succeeded" else 1)


@app.command()
def replay(name: str = typer.Argument(None, help="Only this instance's quarantine.")) -> None:
    """Replay quarantined records from the archive (no upstream call), after a mapping fix."""
    with cli_context() as ctx:
        instance_id = None
        if name:
            with ctx.session() as session:
                instance_id = get_instance(session, name=name).id
        counts = SyncEngine(ctx.engine, cipher=ctx.cipher).replay(instance_id=instance_id)
    console.print(f"replayed {counts['replayed']}, still failing {counts['still_failing']}")
