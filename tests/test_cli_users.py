"""`hub user …`: create, list, disable, enable, reset-password — audited as the shell's user."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli import app
from hub.db import make_engine, session_scope
from hub.models import AuditLog, User
from hub.settings import get_settings
from hub.users import SignInPolicy, sign_in
from tests.test_cli import said
from tests.test_sign_in import T0

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("fast_hashes")


@pytest.fixture
def hub_env(empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("HUB_DATABASE_URL", empty_db_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_SECRET_KEY", "cli-test-secret")
    monkeypatch.setenv("LOGNAME", "ops")
    get_settings.cache_clear()
    yield empty_db_url
    get_settings.cache_clear()


def signs_in(url: str, username: str, password: str) -> str | None:
    """The refusal's code, or None when the password opens a session."""
    engine = make_engine(url)
    with session_scope(engine) as session:
        outcome = sign_in(session, username=username, password=password, policy=SignInPolicy(), now=T0)
        code = outcome.error.code if outcome.error else None
    engine.dispose()
    return code


def audit(url: str) -> list[tuple[str, str]]:
    engine = make_engine(url)
    with session_scope(engine) as session:
        rows = [
            (r.principal, r.action)
            for r in session.execute(select(AuditLog).order_by(AuditLog.id)).scalars()
            if not r.action.startswith("user.sign_in")
        ]
    engine.dispose()
    return rows


def test_create_generates_a_password_printed_once_that_signs_in(hub_env: str) -> None:
    # When an admin creates a town handler without giving a password
    result = runner.invoke(
        app, ["user", "create", "jiedao01", "--name", "街道处置员", "--role", "town", "--region", "370811002"]
    )
    # Then a password is generated, printed once, and it signs in
    assert result.exit_code == 0, result.output
    assert "created user jiedao01 (town, region 370811002)" in said(result)
    (password,) = re.findall(r"password \(shown once\): (\S+)", said(result))
    assert signs_in(hub_env, "jiedao01", password) is None
    # And only its hash is stored
    engine = make_engine(hub_env)
    with session_scope(engine) as session:
        stored = session.execute(select(User.password_hash)).scalar_one()
    engine.dispose()
    assert password not in stored


def test_create_reads_the_password_from_stdin_and_refuses_a_weak_one(hub_env: str) -> None:
    weak = runner.invoke(
        app,
        ["user", "create", "lisi", "--name", "李四", "--role", "viewer", "--region", "370800", "--password-stdin"],
        input="short\n",
    )
    assert weak.exit_code == 2
    assert said(weak) == "password is too short: 5 characters, at least 10"
    ok = runner.invoke(
        app,
        ["user", "create", "lisi", "--name", "李四", "--role", "viewer", "--region", "370800", "--password-stdin"],
        input="Chengxin-2026\n",
    )
    assert ok.exit_code == 0, ok.output
    assert "shown once" not in ok.output
    assert signs_in(hub_env, "lisi", "Chengxin-2026") is None


def test_disable_enable_reset_and_list_are_audited_as_the_shell_user(hub_env: str) -> None:
    assert (
        runner.invoke(
            app,
            [
                "user",
                "create",
                "zhujian",
                "--name",
                "住建局",
                "--role",
                "sector",
                "--sector",
                "住建",
                "--region",
                "370800",
                "--password-stdin",
            ],
            input="Gongzi-2026!\n",
        ).exit_code
        == 0
    )
    # Disabled: the right password is refused as disabled
    assert runner.invoke(app, ["user", "disable", "zhujian"]).exit_code == 0
    assert signs_in(hub_env, "zhujian", "Gongzi-2026!") == "ACCOUNT_DISABLED"
    listed = runner.invoke(app, ["user", "list"], env={"COLUMNS": "200"})
    (line,) = [line for line in listed.output.splitlines() if "zhujian" in line]
    assert "sector" in line and "住建" in line and "disabled" in line
    # Enabled, and given a new password: the old one no longer opens a session
    assert runner.invoke(app, ["user", "enable", "zhujian"]).exit_code == 0
    reset = runner.invoke(app, ["user", "reset-password", "zhujian", "--password-stdin"], input="Anquan-Mima-88\n")
    assert reset.exit_code == 0, reset.output
    assert signs_in(hub_env, "zhujian", "Gongzi-2026!") == "BAD_CREDENTIALS"
    assert signs_in(hub_env, "zhujian", "Anquan-Mima-88") is None
    assert audit(hub_env) == [
        ("cli:ops", a) for a in ("user.create", "user.disable", "user.enable", "user.reset_password")
    ]


def test_an_unknown_user_is_refused_with_the_reason(hub_env: str) -> None:
    unknown = runner.invoke(app, ["user", "disable", "nobody"])
    assert unknown.exit_code == 2
    assert said(unknown) == "no user named 'nobody': list them with `hub user list`"
