"""``hub writebacks …``: see the write-backs of clue outcomes to their channels, and retry them now
(``hub.writeback_queue``, ``hub.writeback``)."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from hub.cli_common import cli_context, console, when
from hub.writeback import Delivered, deliver_due
from hub.writeback_queue import STATUSES, list_writebacks, retryable_record

app = typer.Typer(
    help="Write-backs of clue outcomes to 12345 and the national platform: list, retry.", no_args_is_help=True
)


@app.command("list")
def list_(
    status: str = typer.Option(None, "--status", help=f"Only this status: {', '.join(STATUSES)}."),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many, the longest waiting first."),
) -> None:
    """Channel records with a write-back: status, attempts, next try and the upstream's last error."""
    table = Table(
        "id",
        "clue",
        "channel",
        "source id",
        "status",
        "attempts",
        "next try",
        "done",
        title="write-backs" + (f" ({status})" if status else ""),
    )
    errors: list[str] = []
    with cli_context() as ctx, ctx.session() as session:
        rows = list_writebacks(session, principal=ctx.principal, status=status, limit=limit)
        for rec, clue_no in rows:
            table.add_row(
                str(rec.id),
                clue_no,
                rec.channel,
                rec.source_id,
                rec.writeback_status,
                str(rec.writeback_attempts),
                when(rec.writeback_next_at),
                when(rec.writeback_done_at),
            )
            if rec.writeback_error:
                errors.append(f"{rec.id}: {rec.writeback_error}")
    console.print(table if rows else "no write-backs" + (f" {status}" if status else ""))
    if errors:
        console.print("[bold]last errors[/]")
        for line in errors:
            console.print(line, markup=False, highlight=False)


def _show(d: Delivered) -> None:
    """One line per record, as it is delivered."""
    where = escape(f"{d.clue_no} → {d.channel} {d.source_id} (record {d.record_id})")
    if d.status == "acknowledged":
        console.print(f"[green]acknowledged[/] {where} via {escape(d.connector or '')}")
    elif d.status == "failing":
        console.print(
            f"[red]failing[/] {where}, attempt {d.attempts}: {escape(d.error or '')}; next try {when(d.next_at)}"
        )
    else:
        console.print(f"[yellow]{d.status}[/] {where}: queued again meanwhile, the newer outcome is due")


@app.command()
def retry(
    record_id: int = typer.Option(None, "--id", help="Only this channel record (see `hub writebacks list`)."),
) -> None:
    """Deliver pending and failing write-backs now, whatever their back-off, one line per record; exit 1 when one failed."""
    with cli_context() as ctx:
        if record_id is not None:
            with ctx.session() as session:
                retryable_record(session, principal=ctx.principal, record_id=record_id)
        with console.status("delivering write-backs …"):
            report = deliver_due(
                ctx.engine,
                cipher=ctx.cipher,
                record_ids=None if record_id is None else [record_id],
                ignore_schedule=True,
                limit=1_000_000,
                progress=_show,
            )
    if not report.items:
        console.print("nothing to deliver")
    console.print(f"{report.acknowledged} acknowledged, {report.failed} failing")
    raise typer.Exit(1 if report.failed else 0)
