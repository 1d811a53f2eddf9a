"""``hub user …``: the people who sign in — create, list, disable, enable, reset-password (``hub.users``).

A password comes from a prompt (typed twice, not echoed), from standard input (``--password-stdin``,
for scripts), or, with neither, is generated and printed once. Every change is audited as the CLI's
principal (``cli:<os user>``).
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape
from rich.table import Table

from hub.access import ROLES, SECTORS
from hub.cli_common import USAGE, cli_context, console, fail, when
from hub.users import create_user, generate_password, list_users, reset_password, set_disabled

app = typer.Typer(help="Users who sign in: create, list, disable, enable, reset-password.", no_args_is_help=True)

_PROMPT = typer.Option(False, "--prompt", help="Type the password at a prompt (twice, not echoed).")
_STDIN = typer.Option(False, "--password-stdin", help="Read the password from standard input (its first line).")


def _password(*, prompt: bool, stdin: bool) -> tuple[str, bool]:
    """The new password and whether it was generated (and must be printed, once)."""
    if prompt and stdin:
        fail("give --prompt or --password-stdin, not both", code=USAGE)
    if stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            fail(
                "no password on standard input",
                suggestion="pipe it in, or leave the option out to generate one",
                code=USAGE,
            )
        return line, False
    if prompt:
        return typer.prompt("password", hide_input=True, confirmation_prompt=True), False
    return generate_password(), True


@app.command("create")
def create(
    username: str = typer.Argument(..., help="The sign-in name: letters, digits, '.', '_' or '-'."),
    display_name: str = typer.Option(..., "--name", help="The person's name as shown, e.g. 张三."),
    role: str = typer.Option(..., "--role", help=" | ".join(ROLES)),
    region: str = typer.Option(
        ..., "--region", help="Jurisdiction: a GB/T 2260 code, a town's 9 digits for a town handler."
    ),
    sector: str = typer.Option(None, "--sector", help=f"A sector user's sector: {' | '.join(SECTORS)}."),
    unmask: bool = typer.Option(False, "--unmask", help="May read ID numbers, phones and bank cards unmasked."),
    prompt: bool = _PROMPT,
    password_stdin: bool = _STDIN,
) -> None:
    """Create a user (the password from a prompt or stdin; else generated and printed once)."""
    password, generated = _password(prompt=prompt, stdin=password_stdin)
    with cli_context() as ctx, ctx.session() as session:
        user = create_user(
            session,
            principal=ctx.principal,
            username=username,
            display_name=display_name,
            role=role,
            region_code=region,
            sector=sector,
            can_unmask=unmask,
            password=password,
            min_length=ctx.settings.password_min_length,
        )
        name, region_code = user.username, user.region_code
    console.print(f"created user {escape(name)} ({role}, region {region_code})")
    if generated:
        console.print(f"password (shown once): [bold]{escape(password)}[/]")


@app.command("list")
def list_() -> None:
    """Users, disabled ones too (never a password: only when each last signed in)."""
    table = Table("username", "name", "role", "region", "sector", "unmask", "state", "last sign-in")
    with cli_context() as ctx, ctx.session() as session:
        for u in list_users(session, principal=ctx.principal):
            state = "disabled" if u.disabled else ("locked" if u.locked_until is not None else "")
            table.add_row(
                u.username,
                u.display_name,
                u.role,
                u.region_code,
                u.sector or "",
                "yes" if u.can_unmask else "",
                state,
                when(u.last_sign_in_at),
            )
    console.print(table)


@app.command("disable")
def disable(username: str = typer.Argument(..., help="The user to disable.")) -> None:
    """Disable a user: sign-in refused, open sessions ended (recorded in the audit log)."""
    with cli_context() as ctx, ctx.session() as session:
        set_disabled(session, principal=ctx.principal, username=username, disabled=True)
    console.print(f"disabled user {escape(username)}")


@app.command("enable")
def enable(username: str = typer.Argument(..., help="The user to enable again.")) -> None:
    """Enable a disabled user again (recorded in the audit log)."""
    with cli_context() as ctx, ctx.session() as session:
        set_disabled(session, principal=ctx.principal, username=username, disabled=False)
    console.print(f"enabled user {escape(username)}")


@app.command("reset-password")
def reset(
    username: str = typer.Argument(..., help="The user whose password to replace."),
    prompt: bool = _PROMPT,
    password_stdin: bool = _STDIN,
) -> None:
    """Give a user a new password (prompt, stdin, or generated and printed once); their sessions end."""
    password, generated = _password(prompt=prompt, stdin=password_stdin)
    with cli_context() as ctx, ctx.session() as session:
        reset_password(
            session,
            principal=ctx.principal,
            username=username,
            password=password,
            min_length=ctx.settings.password_min_length,
        )
    console.print(f"reset the password of {escape(username)}; their sessions have ended")
    if generated:
        console.print(f"password (shown once): [bold]{escape(password)}[/]")
