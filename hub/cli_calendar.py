"""``hub calendar …``: load a year's official holiday schedule, and show how a year is counted
(``hub.holidays``; deadlines counted across a year without one are provisional, hub.deadlines)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from hub.cli_common import USAGE, cli_context, console, fail, when
from hub.deadlines import recompute_provisional
from hub.holidays import load_schedule, parse_schedule, show_year, sync_calendar

app = typer.Typer(
    help="The official holiday calendar (法定节假日 and 调休): load a year's schedule, show a year.",
    no_args_is_help=True,
)

_BASIS = {
    "loaded": "loaded from the official notice",
    "package": "the chinesecalendar package's data",
    "statutory": "PROVISIONAL: weekends and the statutory days only (no official schedule loaded)",
}


@app.command()
def load(
    file: Path = typer.Argument(
        ...,
        help='A JSON file: {"year": 2027, "source": "<the notice>", "holidays": ["2027-01-01", '
        '{"from": "2027-02-05", "to": "2027-02-12", "name": "春节"}, …], "workdays": [{"date": "2027-02-14"}]} '
        "(hub/holidays.py describes it).",
    ),
) -> None:
    """Load (or replace) a year's official schedule, then recount the clues whose deadlines were provisional."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}", code=USAGE)
    with cli_context() as ctx:
        schedule = parse_schedule(text)
        with ctx.session() as session:
            result = load_schedule(session, schedule=schedule, principal=ctx.principal)
        with ctx.session() as session:
            sync_calendar(session, force=True)
            changed = recompute_provisional(session)
    verb = "replaced" if result.replaced else "loaded"
    console.print(
        f"{verb} {result.year}: {result.holidays} holidays, {result.workdays} adjusted workdays; "
        f"{changed} provisional deadlines recounted"
    )
    if result.missing_statutory:
        days = ", ".join(str(d) for d in result.missing_statutory)
        console.print(f"[yellow]note:[/] statutory holidays not listed as holidays: {days} (check the notice)")


@app.command()
def show(year: int = typer.Argument(..., help="The year, e.g. 2027.")) -> None:
    """How a year's working days are counted: its source, and the days that differ from Monday–Friday."""
    with cli_context() as ctx, ctx.session() as session:
        sync_calendar(session)
        cal = show_year(session, year=year)
    table = Table("date", "weekday", "kind", "name", title=f"{year}: {_BASIS[cal.basis]}")
    for day, work, name in cal.days:
        table.add_row(str(day), f"{day:%a}", "调休 workday" if work else "holiday", name or "")
    console.print(table)
    if cal.basis == "loaded":
        console.print(f"source: {cal.source}, loaded {when(cal.loaded_at)}", markup=False)
