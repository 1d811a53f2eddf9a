"""The README is the newcomer's contract: its commands and settings must match the code."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from hub.cli import app
from hub.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented_and_every_documented_setting_exists() -> None:
    fields = {f"HUB_{name.upper()}" for name in Settings.model_fields}
    documented = set(re.findall(r"`(HUB_[A-Z_]+)`", README.split("## Settings", 1)[1].split("##", 1)[0]))
    assert fields - documented == set(), "settings missing from the README"
    assert documented - fields == set(), "README documents settings the code does not have"


def test_the_two_commands_come_first_and_exist_in_the_makefile() -> None:
    first_screen = "\n".join(README.splitlines()[:12])
    assert "make run" in first_screen and "make test" in first_screen
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run: ", makefile, re.M) and re.search(r"^test: ", makefile, re.M)


def test_ci_runs_the_readme_test_command() -> None:
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.M)


def test_documented_commands_exist() -> None:
    commands = typer.main.get_command(app).commands
    for name in re.findall(r"^\| `hub ([a-z-]+)", README, re.M):
        assert name in commands, f"README documents `hub {name}`, which does not exist"
