"""``hub connectors …`` and ``hub sandbox``: configure, check, sync and replay connectors."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.settings import get_settings

app = typer.Typer(help="Connector instances: list, add, check, sync, replay.", no_args_is_help=True)
console = Console()


def _engine():  # type: ignore[no-untyped-def]
    from hub.db import make_engine

    return make_engine(get_settings().resolved_database_url())


def _cipher():  # type: ignore[no-untyped-def]
    from hub.crypto import Cipher

    return Cipher(get_settings().resolved_secret_key())


@app.command("list")
def list_() -> None:
    """Configured instances with their health, last run and per-stream state."""
    from sqlalchemy import select

    from connectors import registry
    from hub.db import session_scope
    from hub.models import ConnectorInstance

    table = Table("name", "kind", "enabled", "health", "failures", "last run", "next run", "streams")
    engine = _engine()
    with session_scope(engine) as session:
        for row in session.execute(select(ConnectorInstance).order_by(ConnectorInstance.name)).scalars():
            table.add_row(row.name, row.kind, "yes" if row.enabled else "no", row.health + (f" ({row.paused_reason})" if row.paused_reason else ""),
                          str(row.consecutive_failures), str(row.last_run_at or ""), str(row.next_run_at or ""),
                          ", ".join(sorted(row.state or {})))
    engine.dispose()
    console.print(table)
    console.print("installed kinds: " + ", ".join(sorted(registry.available())))


@app.command()
def add(
    name: str = typer.Argument(..., help="A name for the instance, e.g. 济宁邮储专户."),
    kind: str = typer.Option(..., "--kind", help="Connector kind (see `hub connectors list`)."),
    config: str = typer.Option(..., "--config", help="Config as JSON, e.g. '{\"base_url\": \"https://…\"}'."),
    secret: list[str] = typer.Option([], "--secret", help="A secret as KEY=VALUE (repeatable); stored encrypted."),
    schedule: int = typer.Option(300, "--schedule", help="Seconds between syncs."),
) -> None:
    """Configure a new connector instance."""
    from hub.access import SYSTEM
    from hub.connector_admin import create_instance
    from hub.db import session_scope
    from hub.errors import HubError

    secrets = dict(s.split("=", 1) for s in secret)
    engine = _engine()
    try:
        with session_scope(engine) as session:
            row = create_instance(session, principal=SYSTEM, cipher=_cipher(), name=name, kind=kind,
                                  config=json.loads(config), secrets=secrets, schedule_seconds=schedule)
            console.print(f"created connector {row.name} ({row.kind}), id {row.id}")
    except (HubError, json.JSONDecodeError) as exc:
        console.print(f"[red]{getattr(exc, 'message', exc)}[/]")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()


@app.command()
def check(name: str = typer.Argument(..., help="Instance name.")) -> None:
    """Test the connection and credentials of an instance."""
    from hub.connector_admin import check_instance, get_instance
    from hub.db import session_scope
    from hub.errors import NotFound

    engine = _engine()
    try:
        with session_scope(engine) as session:
            instance = get_instance(session, name=name)
        result = check_instance(instance, cipher=_cipher())
    except NotFound as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    console.print(("[green]ok[/] " if result.ok else "[red]failed[/] ") + result.message)
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def sync(
    name: str = typer.Argument(..., help="Instance name."),
    full: bool = typer.Option(False, "--full", help="Read every stream from the beginning."),
    stream: list[str] = typer.Option([], "--stream", help="Only these streams (repeatable)."),
) -> None:
    """Run a sync now, in this process, with a live progress bar and a summary."""
    from hub.connector_admin import get_instance
    from hub.db import session_scope
    from hub.errors import NotFound
    from hub.sync import LeaseHeld, SyncEngine, StreamStats

    engine = _engine()
    try:
        with session_scope(engine) as session:
            instance_id = get_instance(session, name=name).id
    except NotFound as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from exc
    tasks: dict[str, int] = {}
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description:<14}"), BarColumn(),
                  TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=console) as progress:

        def report(stream_name: str, stats: StreamStats) -> None:
            if stream_name not in tasks:
                tasks[stream_name] = progress.add_task(stream_name, total=None, detail="")
            progress.update(tasks[stream_name], detail=(
                f"{stats.read:,} read · {stats.created:,} new · {stats.updated:,} changed · "
                f"{stats.unchanged:,} same · {stats.quarantined:,} quarantined · {stats.pages} pages"))

        try:
            sync = SyncEngine(engine, cipher=_cipher(), lease_seconds=get_settings().sync_lease_seconds)
            result = sync.run(instance_id, full_refresh=full, streams=stream or None, progress=report)
        except LeaseHeld as exc:
            console.print(f"[yellow]{exc}[/]")
            raise typer.Exit(1) from exc
        for task in tasks.values():
            progress.update(task, total=1, completed=1)
    engine.dispose()
    table = Table("stream", "read", "created", "updated", "unchanged", "quarantined", "retries", title=f"sync of {name}: {result.status}")
    for stream_name, s in result.stats.items():
        table.add_row(stream_name, *(f"{v:,}" for v in (s.read, s.created, s.updated, s.unchanged, s.quarantined, s.retries)))
    console.print(table)
    if result.error:
        console.print(f"[red]{result.error}[/]")
    raise typer.Exit(0 if result.status == "succeeded" else 1)


@app.command()
def replay(name: str = typer.Argument(None, help="Only this instance's quarantine.")) -> None:
    """Replay quarantined records from the archive (no upstream call), after a mapping fix."""
    from hub.connector_admin import get_instance
    from hub.db import session_scope
    from hub.sync import SyncEngine

    engine = _engine()
    instance_id = None
    if name:
        with session_scope(engine) as session:
            instance_id = get_instance(session, name=name).id
    counts = SyncEngine(engine, cipher=_cipher()).replay(instance_id=instance_id)
    engine.dispose()
    console.print(f"replayed {counts['replayed']}, still failing {counts['still_failing']}")
