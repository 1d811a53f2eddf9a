"""The `hub` command."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from typer.core import TyperGroup
from typer.testing import CliRunner, Result

from hub.cli import app
from hub.db import make_engine, session_scope
from hub.models import AuditLog
from hub.settings import get_settings

runner = CliRunner()


def said(result: Result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture
def hub_env(empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("HUB_DATABASE_URL", empty_db_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_SECRET_KEY", "cli-test-secret")
    get_settings.cache_clear()
    yield empty_db_url
    get_settings.cache_clear()


def test_export_schema_check_passes_on_the_checked_in_sdl() -> None:
    result = runner.invoke(app, ["export-schema", "--check"])
    assert result.exit_code == 0, result.output
    assert "schema/schema.graphql is up to date" in said(result)


def test_export_schema_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "schema.graphql"
    stale.write_text("type Query { old: Int }\n")
    result = runner.invoke(app, ["export-schema", "--check", "--output", str(stale)])
    assert result.exit_code == 1
    assert "is out of date: run `hub export-schema`" in said(result)


def test_seed_tiny_fills_the_database_and_reports_counts(hub_env: str) -> None:
    result = runner.invoke(app, ["seed", "--scale", "tiny", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "payroll_records" in said(result)
    again = runner.invoke(app, ["seed", "--scale", "tiny"])
    assert again.exit_code != 0  # a second seed into a non-empty database is refused


def test_seed_rejects_an_unknown_scale(hub_env: str) -> None:
    result = runner.invoke(app, ["seed", "--scale", "country"])
    assert result.exit_code == 2
    assert "unknown scale 'country': use tiny, city or province" in said(result)


def test_api_key_create_list_revoke(hub_env: str) -> None:
    created = runner.invoke(app, ["api-key", "create", "济宁市指挥中心", "--role", "viewer", "--region", "370800"])
    assert created.exit_code == 0, created.output
    key = created.output.strip().split()[-1]
    assert key.startswith("hub_")
    listed = runner.invoke(app, ["api-key", "list"])
    assert key not in said(listed) and key[:10] in said(listed)
    assert runner.invoke(app, ["api-key", "revoke", "1"]).exit_code == 0


def test_api_key_create_rejects_a_bad_region(hub_env: str) -> None:
    result = runner.invoke(app, ["api-key", "create", "x", "--region", "37080"])
    assert result.exit_code == 2
    assert "invalid region '37080'" in said(result)


def test_worker_refuses_the_in_process_broker(hub_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_BROKER_URL", "memory://")
    get_settings.cache_clear()
    result = runner.invoke(app, ["worker"])
    assert result.exit_code == 2
    assert "hub worker needs HUB_BROKER_URL=redis://… or amqp://…" in said(result)


def audit_entries(url: str, action: str) -> list[tuple[str, int | None]]:
    engine = make_engine(url)
    with session_scope(engine) as session:
        rows = session.execute(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).scalars()
        found = [(r.principal, r.entity_id) for r in rows]
    engine.dispose()
    return found


def test_api_key_revoke_is_audited_as_the_shell_user_and_listed(hub_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a key, created from the shell of user ops
    monkeypatch.setenv("LOGNAME", "ops")
    created = runner.invoke(app, ["api-key", "create", "旧系统", "--region", "370800"])
    assert created.exit_code == 0, created.output
    # When it is revoked
    revoked = runner.invoke(app, ["api-key", "revoke", "1"])
    # Then it says so, and the audit log names who created and who revoked it
    assert revoked.exit_code == 0, revoked.output
    assert "revoked key 1 (旧系统)" in said(revoked)
    assert audit_entries(hub_env, "api_key.create") == [("cli:ops", 1)]
    assert audit_entries(hub_env, "api_key.revoke") == [("cli:ops", 1)]
    # And the list still shows the key, with the time it was revoked
    listed = runner.invoke(app, ["api-key", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    (line,) = [line for line in listed.output.splitlines() if "旧系统" in line]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line), line


def test_api_key_revoke_refuses_a_second_revocation_and_an_unknown_id(hub_env: str) -> None:
    assert runner.invoke(app, ["api-key", "create", "旧系统", "--region", "370800"]).exit_code == 0
    assert runner.invoke(app, ["api-key", "revoke", "1"]).exit_code == 0
    again = runner.invoke(app, ["api-key", "revoke", "1"])
    assert again.exit_code == 2
    assert "API key 1 (旧系统) was revoked already, at " in said(again)
    assert ": nothing to do: a revoked key stays revoked" in said(again)
    unknown = runner.invoke(app, ["api-key", "revoke", "9"])
    assert unknown.exit_code == 2
    assert "no API key with id 9: list them with `hub api-key list`" in said(unknown)
    assert len(audit_entries(hub_env, "api_key.revoke")) == 1


def test_a_service_refusal_prints_its_message_and_suggestion(hub_env: str) -> None:
    result = runner.invoke(app, ["connectors", "check", "nope"])
    assert result.exit_code == 2
    assert "no connector instance 'nope': list them with `hub connectors list`" in said(result)
    assert "Traceback" not in result.output


def test_connectors_add_refuses_config_that_is_not_json(hub_env: str) -> None:
    result = runner.invoke(app, ["connectors", "add", "x", "--kind", "permits", "--config", "{base_url: 1}"])
    assert result.exit_code == 2
    assert "--config is not JSON" in said(result)


@pytest.mark.parametrize(
    "group",
    [[], ["api-key"], ["connectors"], ["webhooks"], ["writebacks"], ["clues"]],
    ids=["hub", "api-key", "connectors", "webhooks", "writebacks", "clues"],
)
def test_every_command_explains_itself_in_help(group: list[str]) -> None:
    # Given a group's help
    result = runner.invoke(app, [*group, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    command = typer.main.get_command(app)
    for name in group:
        assert isinstance(command, TyperGroup)
        command = command.commands[name]
    # Then each of its commands has a one-line summary, shown there
    assert isinstance(command, TyperGroup)
    for name, sub in command.commands.items():
        summary = sub.get_short_help_str(limit=200)
        assert summary, f"hub {' '.join([*group, name])} has no help"
        assert name in result.output and summary.split()[0] in result.output
