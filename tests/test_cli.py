"""The `hub` command."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.settings import get_settings

runner = CliRunner()


def said(result) -> str:  # type: ignore[no-untyped-def]
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture
def hub_env(empty_db_url, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
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


def test_seed_tiny_fills_the_database_and_reports_counts(hub_env) -> None:
    result = runner.invoke(app, ["seed", "--scale", "tiny", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "payroll_records" in said(result)
    again = runner.invoke(app, ["seed", "--scale", "tiny"])
    assert again.exit_code != 0  # a second seed into a non-empty database is refused


def test_seed_rejects_an_unknown_scale(hub_env) -> None:
    result = runner.invoke(app, ["seed", "--scale", "country"])
    assert result.exit_code == 2
    assert "unknown scale 'country': use tiny, city or province" in said(result)


def test_api_key_create_list_revoke(hub_env) -> None:
    created = runner.invoke(app, ["api-key", "create", "济宁市指挥中心", "--role", "viewer", "--region", "370800"])
    assert created.exit_code == 0, created.output
    key = created.output.strip().split()[-1]
    assert key.startswith("hub_")
    listed = runner.invoke(app, ["api-key", "list"])
    assert key not in said(listed) and key[:10] in said(listed)
    assert runner.invoke(app, ["api-key", "revoke", "1"]).exit_code == 0


def test_api_key_create_rejects_a_bad_region(hub_env) -> None:
    result = runner.invoke(app, ["api-key", "create", "x", "--region", "37080"])
    assert result.exit_code == 2
    assert "invalid region '37080'" in said(result)


def test_worker_refuses_the_in_process_broker(hub_env, monkeypatch) -> None:
    monkeypatch.setenv("HUB_BROKER_URL", "memory://")
    get_settings.cache_clear()
    result = runner.invoke(app, ["worker"])
    assert result.exit_code == 2
    assert "hub worker needs HUB_BROKER_URL=redis://… or amqp://…" in said(result)
