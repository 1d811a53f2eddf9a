"""``hub calendar load | show`` (hub.cli_calendar)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from hub.cli import app
from hub.settings import get_settings

runner = CliRunner()


def said(result: Result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture
def hub_env(empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, package_until_2026) -> Iterator[str]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HUB_DATABASE_URL", empty_db_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_SECRET_KEY", "cli-test-secret")
    get_settings.cache_clear()
    yield empty_db_url
    get_settings.cache_clear()


def test_load_then_show_a_year(hub_env: str, tmp_path: Path) -> None:
    # Given a 2027 schedule file
    file = tmp_path / "2027.json"
    file.write_text(
        json.dumps(
            {
                "year": 2027,
                "source": "测试用 2027 年节假日安排",
                "holidays": [{"from": "2027-01-01", "to": "2027-01-03", "name": "元旦"}],
                "workdays": [],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    # When it is loaded
    result = runner.invoke(app, ["calendar", "load", str(file)])
    # Then the command says what it loaded, and which statutory days the file leaves out
    assert result.exit_code == 0, result.output
    assert "loaded 2027: 3 holidays, 0 adjusted workdays; 0 provisional deadlines recounted" in said(result)
    assert "statutory holidays not listed as holidays: 2027-02-05, 2027-02-06" in said(result)
    # And `show` lists the year as loaded, with its days off
    shown = runner.invoke(app, ["calendar", "show", "2027"])
    assert shown.exit_code == 0, shown.output
    assert "2027: loaded from the official notice" in said(shown)
    assert "2027-01-01" in shown.output and "2027-02-05" not in shown.output
    # And loading it again replaces it
    assert "replaced 2027" in said(runner.invoke(app, ["calendar", "load", str(file)]))


def test_show_a_year_beyond_every_schedule_says_it_is_provisional(hub_env: str) -> None:
    result = runner.invoke(app, ["calendar", "show", "2028"])
    assert result.exit_code == 0, result.output
    assert "2028: PROVISIONAL: weekends and the statutory days only" in said(result)
    assert "2028-01-25" in result.output  # 除夕 2028


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            '{"year": 2027, "source": "x", "holidays": ["2027-1-1"]}',
            "holidays[0]: '2027-1-1' is not a date (YYYY-MM-DD): see `hub calendar load --help`",
            id="bad-date",
        ),
        pytest.param(None, "cannot read", id="missing-file"),
    ],
)
def test_load_refuses_a_bad_file_with_exit_2(hub_env: str, tmp_path: Path, content: str | None, message: str) -> None:
    file = tmp_path / "bad.json"
    if content is not None:
        file.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["calendar", "load", str(file)])
    assert result.exit_code == 2, result.output
    assert said(result).startswith(message)
