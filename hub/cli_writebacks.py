"""``hub writebacks …``: see the write-backs of clue outcomes to their channels, and retry them now."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hub.settings import get_settings

app = typer.Typer(help="Write-backs of clue outcomes to 12345 and the national platform: list, retry.",
                  no_args_is_help=True)
console = Console()
STATUSES = ("pending", "delivering", "failing", "acknowledged")


def _engine():  # type: ignore[no-untyped-def]
    from hub.db import make_engine

    return make_engine(get_settings().resolved_database_url())


@app.command("list")
def list_(
    status: str = typer.Option(None, "--status", help=f"Only this status: {', '.join(STATUSES)}."),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many, the longest waiting first."),
) -> None:
    """Channel records with a write-back: status, attempts, next try and the upstream's last error."""
    from sqlalchemy import select

    from hub import models as m
    from hub.db import session_scope

    if status is not None and status not in STATUSES:
        console.print(f"[red]unknown status {status!r}: use one of {', '.join(STATUSES)}[/]")
        raise typer.Exit(2)
    r = m.ChannelRecord
    stmt = (select(r, m.Clue.clue_no).join(m.Clue, m.Clue.id == r.clue_id)
            .where(r.writeback_status == status if status else r.writeback_status.is_not(None))
            .order_by(r.writeback_next_at.asc().nulls_first(), r.id).limit(limit))
    table = Table("id", "clue", "channel", "source id", "status", "attempts", "next try", "done",
                  title="write-backs" + (f" ({status})" if status else ""))
    errors: list[str] = []
    engine = _engine()
    with session_scope(engine) as session:
        rows = session.execute(stmt).all()
        for rec, clue_no in rows:
            table.add_row(str(rec.id), clue_no, rec.channel, rec.source_id, rec.writeback_status, str(rec.writeback_attempts),
                          _when(rec.writeback_next_at), _when(rec.writeback_done_at))
            if rec.writeback_error:
                errors.append(f"{rec.id}: {rec.writeback_error}")
    engine.dispose()
    console.print(table if rows else "no write-backs" + (f" {status}" if status else ""))
    if errors:
        console.print("[bold]last errors[/]")
        for line in errors:
            console.print(line, markup=False, highlight=False)


@app.command()
def retry(record_id: int = typer.Option(None, "--id", help="Only this channel record (see `hub writebacks list`).")) -> None:
    """Deliver pending and failing write-backs now, whatever their back-off, one line per record."""
    from hub import models as m
    from hub.crypto import Cipher
    from hub.db import session_scope
    from hub.writeback import RETRYABLE_STATUSES, Delivered, deliver_due

    engine = _engine()
    try:
        if record_id is not None:
            with session_scope(engine) as session:
                rec = session.get(m.ChannelRecord, record_id)
                if rec is None:
                    console.print(f"[red]no channel record {record_id}[/]: see `hub writebacks list`")
                    raise typer.Exit(2)
                if rec.writeback_status not in RETRYABLE_STATUSES:
                    console.print(f"[yellow]channel record {record_id} has nothing to retry: its write-back is "
                                  f"{rec.writeback_status or 'not queued'}[/]")
                    raise typer.Exit(2)

        def show(d: Delivered) -> None:
            where = escape(f"{d.clue_no} → {d.channel} {d.source_id} (record {d.record_id})")
            if d.status == "acknowledged":
                console.print(f"[green]acknowledged[/] {where} via {escape(d.connector or '')}")
            elif d.status == "failing":
                console.print(f"[red]failing[/] {where}, attempt {d.attempts}: {escape(d.error or '')}; next try {_when(d.next_at)}")
            else:
                console.print(f"[yellow]{d.status}[/] {where}: queued again meanwhile, the newer outcome is due")

        with console.status("delivering write-backs …"):
            report = deliver_due(engine, cipher=Cipher(get_settings().resolved_secret_key()),
                                 record_ids=None if record_id is None else [record_id], ignore_schedule=True,
                                 limit=1_000_000, progress=show)
    finally:
        engine.dispose()
    if not report.items:
        console.print("nothing to deliver")
    console.print(f"{report.acknowledged} acknowledged, {report.failed} failing")
    raise typer.Exit(1 if report.failed else 0)


def _when(at) -> str:  # type: ignore[no-untyped-def]
    return "" if at is None else at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
