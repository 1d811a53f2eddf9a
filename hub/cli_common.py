"""What every ``hub`` command shares: one console, one way to fail, one context for the database.

A command that touches the database opens :func:`cli_context`, which loads the settings, opens the
engine and disposes of it however the command ends, and acts as :func:`cli_principal` — an admin
named after the operating-system user, so that the audit log says who changed what from a shell.
A service's ``HubError`` raised inside the context ends the command through :func:`fail` with the
error's message and suggestion, exit code 2, like every other refusal of bad input.
"""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from hub.access import NATIONAL, Principal, Role, bind_principal
from hub.crypto import Cipher
from hub.db import make_engine, session_scope
from hub.errors import HubError
from hub.logs import setup_logging
from hub.settings import Settings, get_settings

console = Console()

#: Exit code of a command refused for its input (an unknown name, a bad option, a service's refusal).
USAGE = 2


def fail(message: str, *, suggestion: str | None = None, code: int = 1) -> NoReturn:
    """Print ``message`` in red (and what to do about it), then end the command with exit ``code``."""
    console.print(f"[red]{escape(message)}[/]" + (f": {escape(suggestion)}" if suggestion else ""))
    raise typer.Exit(code)


def cli_principal() -> Principal:
    """Who acts from a shell: an admin over the whole country, named ``cli:<os user>`` in the audit log."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (a bare container)
        user = "unknown"
    return Principal(name=f"cli:{user}", role=Role.ADMIN, region_code=NATIONAL, can_unmask=True)


def load_settings(*, log: bool = False) -> Settings:
    """The hub's settings; with ``log``, the hub's logging (masking personal data) installed too."""
    settings = get_settings()
    if log:
        setup_logging(settings.log_level)
    return settings


def safe_url(url: str) -> str:
    """A database URL fit to print: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def when(at: dt.datetime | None) -> str:
    """A stored time in the shell's time zone, to the second; empty for none."""
    return "" if at is None else at.astimezone().strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class CliContext:
    """What a command works with: the settings, the engine and the principal it acts as."""

    settings: Settings
    engine: Engine
    principal: Principal

    @cached_property
    def cipher(self) -> Cipher:
        """The cipher of secrets and personal data (a data directory's key is made on first use)."""
        return Cipher(self.settings.resolved_secret_key())

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session bound to the principal, committed when the block succeeds, rolled back otherwise."""
        with session_scope(self.engine) as session:
            bind_principal(session, self.principal)
            yield session


@contextmanager
def cli_context(*, log: bool = False) -> Iterator[CliContext]:
    """Open the hub's database for one command; a ``HubError`` inside ends it through :func:`fail`."""
    settings = load_settings(log=log)
    engine = make_engine(settings.resolved_database_url())
    try:
        yield CliContext(settings=settings, engine=engine, principal=cli_principal())
    except HubError as exc:
        fail(exc.message, suggestion=exc.suggestion, code=USAGE)
    finally:
        engine.dispose()
