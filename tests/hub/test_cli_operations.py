"""``hub operations register | list | show | retire`` (hub.cli, hub.cli_operations, hub.operations)."""

from __future__ import annotations

import getpass
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from hub.cli import app
from hub.db import make_engine, session_scope
from hub.models import AuditLog, RegisteredOperation
from hub.settings import get_settings

runner = CliRunner()

SCREENS = """fragment Who on Me { name role }

query ScreenMe { me { ...Who } }

query ScreenRegions { regions { code name } }
"""


def said(result: Result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def hub_env(empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("HUB_DATABASE_URL", empty_db_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_SECRET_KEY", "cli-test-secret")
    get_settings.cache_clear()
    yield empty_db_url
    get_settings.cache_clear()


def rows(url: str) -> dict[str, RegisteredOperation]:
    engine = make_engine(url)
    with session_scope(engine) as s:
        found = {r.name: r for r in s.execute(select(RegisteredOperation)).scalars()}
        s.expunge_all()
    engine.dispose()
    return found


def audit_actions(url: str) -> list[tuple[str, str, str]]:
    engine = make_engine(url)
    with session_scope(engine) as s:
        found = [
            (a.action, a.principal, a.detail["name"])
            for a in s.execute(
                select(AuditLog).where(AuditLog.entity_type == "registered_operation").order_by(AuditLog.id)
            ).scalars()
        ]
    engine.dispose()
    return found


def test_a_file_of_several_operations_registers_each_with_its_fragments(hub_env: str, tmp_path: Path) -> None:
    # Given a file of two named operations, one using a fragment
    file = tmp_path / "screens.graphql"
    file.write_text(SCREENS, encoding="utf-8")
    # When it is registered
    result = runner.invoke(app, ["operations", "register", str(file)])
    # Then each operation is registered on its own, its document holding the fragments it uses only
    assert result.exit_code == 0, result.output
    found = rows(hub_env)
    assert sorted(found) == ["ScreenMe", "ScreenRegions"]
    me = found["ScreenMe"]
    assert me.document == "fragment Who on Me {\n  name\n  role\n}\n\nquery ScreenMe {\n  me {\n    ...Who\n  }\n}"
    assert me.sha256 == sha(me.document)
    assert "fragment" not in found["ScreenRegions"].document
    assert f"registered ScreenMe (query) sha256 {me.sha256}" in said(result)
    # and show prints the text to send, list names both
    shown = runner.invoke(app, ["operations", "show", "ScreenMe"])
    assert shown.exit_code == 0 and me.document in shown.output and me.sha256 in shown.output
    listed = said(runner.invoke(app, ["operations", "list"]))
    assert "ScreenMe" in listed and "ScreenRegions" in listed
    # When the same file is registered again, nothing changes (and nothing more is audited)
    again = runner.invoke(app, ["operations", "register", str(file)])
    assert again.exit_code == 0 and "unchanged ScreenMe" in said(again)
    who = f"cli:{getpass.getuser()}"
    assert audit_actions(hub_env) == [
        ("operation.register", who, "ScreenMe"),
        ("operation.register", who, "ScreenRegions"),
    ]


def test_a_single_operation_is_registered_byte_for_byte(hub_env: str, tmp_path: Path) -> None:
    # Given a file of one operation, as a client sends it (no trailing newline, its own spacing)
    text = "query  Mine{me{name}}"
    file = tmp_path / "mine.graphql"
    file.write_text(text, encoding="utf-8")
    # When it is registered, then its hash is the hash of that very text
    assert runner.invoke(app, ["operations", "register", str(file)]).exit_code == 0
    assert rows(hub_env)["Mine"].sha256 == sha(text)


def test_a_name_reused_with_another_text_needs_replace(hub_env: str, tmp_path: Path) -> None:
    # Given ScreenMe registered
    file = tmp_path / "me.graphql"
    file.write_text("query ScreenMe { me { name } }", encoding="utf-8")
    assert runner.invoke(app, ["operations", "register", str(file)]).exit_code == 0
    # When another text comes under its name
    file.write_text("query ScreenMe { me { name role } }", encoding="utf-8")
    refused = runner.invoke(app, ["operations", "register", str(file)])
    # Then it is refused, saying how to replace it, and nothing changed
    assert refused.exit_code == 2
    assert "operation ScreenMe is already registered with another document" in said(refused)
    assert "--replace" in said(refused)
    assert rows(hub_env)["ScreenMe"].document == "query ScreenMe { me { name } }"
    # and with --replace it is replaced (audited)
    replaced = runner.invoke(app, ["operations", "register", str(file), "--replace"])
    assert replaced.exit_code == 0 and "replaced ScreenMe" in said(replaced)
    assert rows(hub_env)["ScreenMe"].document == "query ScreenMe { me { name role } }"
    assert [a for a, _, _ in audit_actions(hub_env)] == ["operation.register", "operation.replace"]


def test_an_invalid_file_registers_nothing_and_names_each_line(hub_env: str, tmp_path: Path) -> None:
    # Given a file with a good operation and a bad one (two unknown fields)
    file = tmp_path / "bad.graphql"
    file.write_text("query Good { me { name } }\n\nquery Bad {\n  me { nosuch }\n  neither\n}\n", encoding="utf-8")
    # When it is registered
    result = runner.invoke(app, ["operations", "register", str(file)])
    # Then nothing is, and each problem is named at its line and column
    assert result.exit_code == 2
    assert "2 problems, nothing registered" in said(result)
    assert "line 4, column 8: Cannot query field 'nosuch'" in said(result)
    assert "line 5, column 3: Cannot query field 'neither'" in said(result)
    assert rows(hub_env) == {}
    # and a syntax error names its place too
    file.write_text("query Broken { me { name }", encoding="utf-8")
    broken = runner.invoke(app, ["operations", "register", str(file)])
    assert broken.exit_code == 2 and "line 1, column 27: Syntax Error" in said(broken)


def test_retire_then_list(hub_env: str, tmp_path: Path) -> None:
    file = tmp_path / "me.graphql"
    file.write_text("query ScreenMe { me { name } }", encoding="utf-8")
    runner.invoke(app, ["operations", "register", str(file)])
    # When it is retired
    result = runner.invoke(app, ["operations", "retire", "ScreenMe"])
    # Then the list leaves it out unless --all, and the row stays (audited)
    assert result.exit_code == 0 and "retired ScreenMe" in said(result)
    assert "no registered operations" in said(runner.invoke(app, ["operations", "list"]))
    assert "retired" in said(runner.invoke(app, ["operations", "list", "--all"]))
    assert rows(hub_env)["ScreenMe"].retired is True
    assert [a for a, _, _ in audit_actions(hub_env)] == ["operation.register", "operation.retire"]
    # and an unknown name is refused, saying where to look
    unknown = runner.invoke(app, ["operations", "retire", "NoSuch"])
    assert unknown.exit_code == 2 and "no registered operation named NoSuch" in said(unknown)


def test_explain_says_whether_an_operation_compiles_and_what_sends_it_to_the_interpreter(
    hub_env: str, tmp_path: Path
) -> None:
    # Given two registered queries: a page of clues, and the same page asking each clue's overdue flag
    file = tmp_path / "screens.graphql"
    file.write_text(
        "query CluePage { clues(first: 20) { nodes { clueNo title region { name } } } }\n\n"
        "query OverduePage { clues(first: 20) { nodes { clueNo overdue } } }\n",
        encoding="utf-8",
    )
    assert runner.invoke(app, ["operations", "register", str(file)]).exit_code == 0
    # When each is explained
    compiled = runner.invoke(app, ["operations", "explain", "CluePage"])
    interpreted = runner.invoke(app, ["operations", "explain", "OverduePage"])
    # Then the first runs from its plan, and the second names the field that sends it to the interpreter
    assert compiled.exit_code == 0 and "CluePage" in said(compiled) and "compiled" in said(compiled)
    assert interpreted.exit_code == 0 and "served by the interpreter" in said(interpreted)
    assert "overdue" in said(interpreted)
    # and an unknown name is refused as for the other commands
    assert runner.invoke(app, ["operations", "explain", "NoSuch"]).exit_code == 2
