"""``hub clues …``: operations on the clue pool as a whole (``hub.rematch``)."""

from __future__ import annotations

import datetime as dt

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from hub.cli_common import cli_context, console

app = typer.Typer(help="The clue pool as a whole: re-match it (a dry run).", no_args_is_help=True)


@app.command()
def rematch(
    window_days: int = typer.Option(
        None, "--window-days", min=1, help="Matching window in days (default: HUB_MATCH_WINDOW_DAYS)."
    ),
    threshold: float = typer.Option(
        None,
        "--threshold",
        min=0.5,
        max=1.0,
        help="Lowest score that joins a record to a clue (default: HUB_MATCH_THRESHOLD).",
    ),
    workers: int = typer.Option(None, "--workers", min=1, help="Parallel scans (default: the CPUs, at most 4)."),
    show: int = typer.Option(20, "--show", min=0, help="Proposed changes to list."),
) -> None:
    """Re-run the matcher over the whole pool and report what it would change (a dry run: nothing is written)."""
    # The matcher loads pypinyin's dictionaries (over half a second): only this command needs them.
    from hub.rematch import rematch_pool

    with cli_context() as ctx:
        window = dt.timedelta(days=window_days or ctx.settings.match_window_days)
        threshold = threshold if threshold is not None else ctx.settings.match_threshold
        with Progress(
            TextColumn("[bold]re-matching"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("records", total=None)
            report = rematch_pool(
                ctx.engine,
                window=window,
                threshold=threshold,
                workers=workers,
                max_changes=show,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    summary = Table(
        title=f"re-match of the clue pool (window {window.days} days, threshold {threshold}) — dry run",
        show_header=False,
    )
    summary.add_column("")
    summary.add_column("", justify="right")
    for label, value in [
        ("channel records", report.records),
        ("clues today", report.clues),
        ("clues after re-match", report.clusters),
        ("records on another clue", report.changed),
        ("… onto another existing clue", report.to_existing),
        ("… onto a new clue", report.to_new),
        ("clues affected", report.clues_affected),
        ("linked records kept with their clue", report.linked),
    ]:
        summary.add_row(label, f"{value:,}")
    summary.add_row("wall time", f"{report.seconds:,.1f} s ({report.workers} scan{'s' if report.workers > 1 else ''})")
    console.print(summary)
    if report.changes:
        changes = Table(
            "channel record",
            "clue today",
            "proposed clue",
            "rule",
            "score",
            title=f"first {len(report.changes)} of {report.changed:,} proposed changes",
        )
        for c in report.changes:
            changes.add_row(
                str(c.channel_record_id),
                str(c.current_clue_id),
                str(c.proposed_clue_id) if c.proposed_clue_id else f"new (with record {c.cluster_record_id})",
                c.rule,
                "" if c.score is None else f"{c.score:.4f}",
            )
        console.print(changes)
