"""schema/schema.graphql is the exported SDL: a change to the graph must be exported and reviewed."""

from __future__ import annotations

from pathlib import Path

from schema.build import export_sdl

SDL = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"


def test_checked_in_sdl_matches_the_schema() -> None:
    assert SDL.exists(), "schema/schema.graphql is missing: run `hub export-schema`"
    assert SDL.read_text() == export_sdl(), (
        "schema/schema.graphql drifted from the code: run `hub export-schema` and commit it"
    )
