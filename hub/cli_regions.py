"""``hub regions load FILE``: towns (乡级, 9-digit 统计用区划代码) into the region list (``hub.regions``).

The seed loads the checked-in towns of the demo city; this loads any other city's or county's, e.g. a
file written by ``scripts/refresh_towns.py`` or exported from the statistics bureau's list.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.cli_common import USAGE, cli_context, console, fail
from hub.regions import TownFileError, count_town_rows, load_towns, read_town_file

app = typer.Typer(help="The region list: load towns (街道 / 镇 / 乡) below the counties.", no_args_is_help=True)

#: Files often come from spreadsheets: a UTF-8 byte-order mark is taken off.
ENCODING = "utf-8-sig"
FILE_HELP = (
    "CSV with a header row `code,name[,parent]`: a 9-digit town code, its name, and optionally its county "
    "(the code's first 6 digits). Lines starting with # are comments (say the source and version there)."
)


@app.command("load")
def load(file: Path = typer.Argument(..., help=FILE_HELP)) -> None:
    """Load towns: new ones added, renamed ones updated, bad rows listed (line, field, value, why) while the
    good ones are kept; loading a file twice changes nothing. Exit 1 when a row was rejected."""
    if not file.is_file():
        fail(f"no file {file}", suggestion="give the path of a CSV file", code=USAGE)
    try:
        with file.open(encoding=ENCODING, newline="") as fh:
            total = count_town_rows(fh)
    except UnicodeDecodeError:
        fail(f"{file} is not UTF-8 text", suggestion="save the spreadsheet as CSV UTF-8", code=USAGE)
    with cli_context() as ctx, file.open(encoding=ENCODING, newline="") as fh:
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        try:
            with Progress(*columns, console=console) as progress, ctx.session() as session:
                task = progress.add_task("towns", total=total)
                report = load_towns(
                    session,
                    principal=ctx.principal,
                    rows=read_town_file(fh),
                    source=file.name,
                    progress=lambda n: progress.update(task, completed=n),
                )
        except TownFileError as exc:
            fail(f"{file}: {exc}", suggestion="the first line that is not a # comment names the columns", code=USAGE)
    console.print(
        f"[green]{report.added} added[/], {report.updated} updated, {report.unchanged} unchanged, "
        f"[{'red' if report.rejected else 'green'}]{len(report.rejected)} rejected[/]"
    )
    if report.rejected:
        table = Table("line", "field", "value", "why", title="rejected rows")
        for r in report.rejected:
            table.add_row(str(r.line), r.field, escape(r.value), escape(r.reason))
        console.print(table)
        raise typer.Exit(1)
