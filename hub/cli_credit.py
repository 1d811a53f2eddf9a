"""``hub penalties import FILE`` and ``hub credit rate``: credit evidence in from a file, ratings on
demand (``hub.penalties``, ``hub.credit_sweep``)."""

from __future__ import annotations

import csv
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.cli_common import USAGE, cli_context, console, fail
from hub.credit_sweep import sweep
from hub.penalties import CSV_COLUMNS, import_penalties
from hub.workdays import china_today

penalties_app = typer.Typer(
    help="Administrative penalties (行政处罚), the evidence of credit ratings: import them from CSV.",
    no_args_is_help=True,
)
credit_app = typer.Typer(help="Credit ratings (劳动保障守法诚信等级): recompute them now.", no_args_is_help=True)

FILE_HELP = f"CSV with a header row naming the columns {', '.join(CSV_COLUMNS)}."
#: Penalty files come from spreadsheets: a UTF-8 byte-order mark is taken off.
ENCODING = "utf-8-sig"


@penalties_app.command("import")
def import_(
    file: Path = typer.Argument(..., help=FILE_HELP),
) -> None:
    """Import penalties: good rows are kept, bad ones listed (row, field, value, why); a document number
    already recorded is skipped, so importing a file twice adds nothing. Exit 1 when a row was rejected."""
    if not file.is_file():
        fail(f"no file {file}", suggestion="give the path of a CSV file", code=USAGE)
    try:
        with file.open(encoding=ENCODING, newline="") as fh:
            total = max(sum(1 for _ in csv.reader(fh)) - 1, 0)
    except UnicodeDecodeError:
        fail(f"{file} is not UTF-8 text", suggestion="save the spreadsheet as CSV UTF-8", code=USAGE)
    today = china_today()
    with cli_context() as ctx, file.open(encoding=ENCODING, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or []) and c != "amount"]
        if missing:
            fail(
                f"{file} has no column {', '.join(missing)}",
                suggestion=f"the header row names the columns {', '.join(CSV_COLUMNS)}",
                code=USAGE,
            )
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress, ctx.session() as session:
            task = progress.add_task("penalties", total=total)
            report = import_penalties(
                session,
                principal=ctx.principal,
                rows=reader,
                today=today,
                progress=lambda n: progress.update(task, completed=n),
            )
        # Committed: rate the enterprises concerned for the years their penalties fall in.
        if report.enterprise_ids:
            with ctx.session() as session:
                sweep(
                    session,
                    today=today,
                    years={y for y in report.years if y <= today.year} | {today.year},
                    enterprise_ids=report.enterprise_ids,
                )
    console.print(
        f"[green]{report.added} added[/], {report.unchanged} already recorded, "
        f"[{'red' if report.rejected else 'green'}]{len(report.rejected)} rejected[/]"
        + (f"; credit of {len(report.enterprise_ids)} enterprises recomputed" if report.enterprise_ids else "")
    )
    if report.rejected:
        table = Table("row", "field", "value", "why", title="rejected rows")
        for r in report.rejected:
            table.add_row(str(r.row), r.field, escape(r.value), escape(r.reason))
        console.print(table)
        raise typer.Exit(1)


@credit_app.command("rate")
def rate(
    year: list[int] = typer.Option(
        None, "--year", help="Rate this year (repeatable); default last year and this year."
    ),
) -> None:
    """End the blacklist listings that are over and rate every enterprise from the evidence, now (the
    scheduler does it hourly); prints the levels that changed."""
    today = china_today()
    with cli_context() as ctx, ctx.session() as session:
        report = sweep(session, today=today, years=year or None, principal=ctx.principal)
    table = Table("year", "enterprises", "new", "level changed", title="credit ratings")
    for r in report.ratings:
        table.add_row(str(r.year), f"{r.rated:,}", f"{r.created:,}", f"{r.level_changed:,}")
    console.print(table)
    if report.expired:
        console.print(f"{len(report.expired)} blacklist listings ended: their three years are over")
