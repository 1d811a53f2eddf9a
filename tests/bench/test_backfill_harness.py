"""The backfill benchmark's machinery on the tiny world: the sandboxes in their own process, the pipeline
in a measuring process into SQLite, and the COPY baseline into PostgreSQL. Correctness only: the
pipeline stores exactly what the sandboxes serve, and COPY copies exactly the rows read back.
No timing assertions."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

# `bench/` is not an installed package (pyproject's packages.find leaves it out): import it from the
# checkout. Without this, plain `pytest` resolves `bench` to the namespace package tests/bench/.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if "bench" in sys.modules and getattr(sys.modules["bench"], "__file__", None) is None:
    del sys.modules["bench"]

from bench import backfill

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("HUB_TEST_POSTGRES_URL")


@pytest.fixture(scope="module")
def world() -> Any:
    """The world the sandbox process serves (same seed, scale, region and day), for independent expectations."""
    from connectors.sandbox.world import build_world

    return build_world(seed=backfill.SEED, scale="tiny", region=backfill.REGION, today=backfill.TODAY)


@pytest.fixture(scope="module")
def served() -> Any:
    with backfill.sandboxes(["tiny"]) as worlds:
        yield worlds["tiny"]


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with backfill.Databases(sqlite_dir=tmp_path_factory.mktemp("backfill")) as dbs:
        yield dbs


@pytest.fixture(scope="module")
def pipeline(databases: backfill.Databases, served: backfill.Served) -> tuple[str, backfill.PipelineRun]:
    url = databases.fresh("sqlite", "pipeline_tiny")
    return url, backfill.measure_pipeline(url, "sqlite", served)


def world_counts(world: Any) -> dict[str, int]:
    """Rows a first sync of the world's permits and bank must leave, from the world itself."""
    kinds = {"builder", "general_contractor"}  # the permit system lists 建设单位 and 施工总承包 only
    banked = {"bank_guarantee", "insurance"}  # the bank serves 保函 and insurance letters, not cash deposits
    by_id = {e["id"]: e for e in world.enterprises.values()}
    listed = {e["uscc"] for e in world.enterprises.values() if e["kind"] in kinds}
    # a 分包 contract carries its holder's registry details: the sync makes that enterprise too
    holders = {by_id[c["enterprise_id"]]["uscc"] for c in world.contracts if c["role"] != "general"}
    return {
        "enterprises": len(listed | holders),
        "projects": len(world.projects),
        "wage_accounts": len(world.accounts),
        "labor_cost_allocations": len(world.allocations),
        # workers are made from pay details: one per project and ID number paid
        "workers": len({(p["project_id"], p["id_number"]) for p in world.payroll}),
        "payroll_records": len(world.payroll),
        "guarantee_deposits": sum(1 for d in world.deposits if d.get("guarantee_no") and d["kind"] in banked),
    }


def test_the_pipeline_stores_exactly_what_the_sandboxes_serve(
    pipeline: tuple[str, backfill.PipelineRun], served: backfill.Served, world: Any
) -> None:
    _url, run = pipeline
    assert run.problems == []
    assert run.verified
    assert [(r["kind"], r["status"], r["error"]) for r in run.runs] == [
        ("permits", "succeeded", None),
        ("bank_rest", "succeeded", None),
    ]
    # every record served was read once, archived once, and none was quarantined
    read = {name: s["read"] for r in run.runs for name, s in r["streams"].items()}
    assert read == served.served
    assert run.records == sum(served.served.values()) == run.counts["raw_records"]
    assert run.counts["quarantine"] == 0
    # the canonical tables hold the world, as counted from the world itself
    assert {t: run.counts[t] for t in backfill.CANONICAL} == world_counts(world)
    assert {t: served.expected[t] for t in backfill.CANONICAL} == world_counts(world)
    # the world the bench uses is a real first sync: a few thousand records, every stream non-empty
    assert run.records > 3000
    assert all(served.served.values())


def test_the_measuring_process_reports_its_memory(pipeline: tuple[str, backfill.PipelineRun]) -> None:
    _url, run = pipeline
    assert run.rss_baseline_mb > 0
    assert run.rss_peak_mb >= run.rss_baseline_mb
    assert run.rss_peak_delta_mb == pytest.approx(run.rss_peak_mb - run.rss_baseline_mb, abs=0.11)


def test_the_report_has_a_row_per_pipeline(pipeline: tuple[str, backfill.PipelineRun]) -> None:
    _url, run = pipeline
    rows = backfill.summary_rows([run], {})
    assert [r["backend"] for r in rows] == ["sqlite"]
    assert set(rows[0]) == set(backfill.COLUMNS)
    assert rows[0]["records"] == run.records and rows[0]["verified"] is True
    assert rows[0]["ratio vs COPY canon+raw"] is None  # no COPY baseline on SQLite


def test_read_back_returns_every_row(pipeline: tuple[str, backfill.PipelineRun]) -> None:
    url, run = pipeline
    data = backfill.read_back(url)
    assert {t: len(data[t].rows) for t in (*backfill.CANONICAL, backfill.RAW)} == {
        t: run.counts[t] for t in (*backfill.CANONICAL, backfill.RAW)
    }
    assert len(data["connector_instances"].rows) == 2
    payload = data[backfill.RAW].columns.index("payload")
    assert all(isinstance(r[payload], str) for r in data[backfill.RAW].rows)  # JSON as text, for COPY


@pytest.fixture
def postgres(databases: backfill.Databases) -> backfill.Databases:
    """The harness's databases on the server of ``HUB_TEST_POSTGRES_URL`` (skipped without it, failed under CI)."""
    if not POSTGRES_URL:
        if IN_CI:
            pytest.fail("HUB_TEST_POSTGRES_URL is not set (CI=true: the COPY baseline must be tested)")
        pytest.skip("HUB_TEST_POSTGRES_URL is not set: the COPY baseline needs PostgreSQL")
    if why := backfill.check_postgres(POSTGRES_URL):
        if IN_CI:
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is unreachable: {why}")
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable: {why}")
    databases.server_url = POSTGRES_URL
    return databases


@pytest.mark.postgres
def test_the_copy_baseline_copies_exactly_the_rows_the_pipeline_left(
    pipeline: tuple[str, backfill.PipelineRun], postgres: backfill.Databases
) -> None:
    url, run = pipeline
    data = backfill.read_back(url)
    copies = backfill.measure_copy(postgres, data, "tiny")
    canonical = {t: run.counts[t] for t in backfill.CANONICAL}
    assert copies["canonical"].tables == list(backfill.CANONICAL)
    assert {t: copies["canonical"].counts[t] for t in backfill.CANONICAL} == canonical
    assert copies["canonical"].rows == sum(canonical.values())
    full = {**canonical, backfill.RAW: run.counts[backfill.RAW]}
    assert copies["canonical_raw"].tables == [*backfill.CANONICAL, backfill.RAW]
    assert {t: copies["canonical_raw"].counts[t] for t in full} == full
    assert copies["canonical_raw"].rows == sum(full.values())
    # the databases made for the copies are gone again
    assert not [u for u in postgres.made if "copy_" in u]
    # and the report pairs them with the pipeline
    row = backfill.summary_rows([run], {("sqlite", "tiny"): copies})[0]
    assert row["COPY canon+raw s"] == copies["canonical_raw"].seconds
    assert row["ratio vs COPY canon+raw"] is not None


def test_with_the_engine_on_a_backfill_leaves_the_warnings_a_sweep_would_raise(
    databases: backfill.Databases, served: backfill.Served
) -> None:
    # Given a backfill of the tiny world with the warnings engine evaluating what the runs touched
    url = databases.fresh("sqlite", "pipeline_tiny_warnings")
    run = backfill.measure_pipeline(url, "sqlite", served, warnings=True)
    # Then the pipeline stored what was served, the engine ran after the pages and raised warnings
    assert run.verified, run.problems
    # (a backfill is evaluated once, at the end of each connector's run: two runs, two evaluations)
    assert run.warnings is not None and run.warnings["evaluations"] == 2 and run.warnings["raised"] > 0
    # and a full sweep afterwards finds nothing to raise, change or resolve: the incremental runs saw it all
    from hub.db import make_engine, session_scope
    from hub.rules import evaluate

    engine = make_engine(url)
    with session_scope(engine) as s:
        report = evaluate(s, today=backfill.TODAY, now=backfill._frozen_clock(backfill.TODAY)())
    engine.dispose()
    assert report.as_dict() == {}
    # and the report compares it with the engine off
    off = backfill.measure_pipeline(databases.fresh("sqlite", "pipeline_tiny_off"), "sqlite", served)
    [row] = backfill.engine_on_off([off, run])
    assert (row["backend"], row["world"], row["warnings raised"]) == ("sqlite", "tiny", run.warnings["raised"])
    assert row["ratio on / off"] == run.records_per_s / off.records_per_s
