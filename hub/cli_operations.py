"""``hub operations …``: the registry of named GraphQL operations (``hub.operations``): list, show, retire.

``register`` is declared in ``hub.cli``, the composer that may build the GraphQL schema it validates against."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from hub.cli_common import cli_context, console, when
from hub.operations import get_operation, list_operations, retire_operation

app = typer.Typer(
    help="Registered GraphQL operations (persisted operations): register, list, show, retire.", no_args_is_help=True
)


@app.command("list")
def list_(
    all_: bool = typer.Option(False, "--all", help="Retired operations too."),
) -> None:
    """The registered operations by name: type, hash, who registered them and when."""
    table = Table("name", "type", "sha256", "registered by", "registered at", "state", title="registered operations")
    with cli_context() as ctx, ctx.session() as session:
        rows = list_operations(session, include_retired=all_)
        for r in rows:
            table.add_row(
                escape(r.name),
                r.operation_type,
                r.sha256,
                escape(r.registered_by),
                when(r.registered_at),
                f"retired {when(r.retired_at)}" if r.retired else "active",
            )
    console.print(table if rows else "no registered operations")


@app.command()
def show(name: str = typer.Argument(..., help="The operation's name.")) -> None:
    """An operation's hash and its document, exactly the text a client sends (or hashes)."""
    with cli_context() as ctx, ctx.session() as session:
        row = get_operation(session, name=name)
        state = f"retired {when(row.retired_at)}" if row.retired else "active"
        console.print(f"{escape(row.name)} ({row.operation_type}, {state})", highlight=False)
        console.print(f"sha256 {row.sha256}", highlight=False)
        console.print(f"registered by {escape(row.registered_by)} at {when(row.registered_at)}", highlight=False)
        console.print()
        console.print(row.document, markup=False, highlight=False, soft_wrap=True)


@app.command()
def retire(name: str = typer.Argument(..., help="The operation's name.")) -> None:
    """Retire an operation (audited): its hash is no longer found, and allow-listed roles may no longer run it."""
    with cli_context() as ctx, ctx.session() as session:
        row = retire_operation(session, principal=ctx.principal, name=name)
        console.print(f"retired {escape(row.name)}")
