"""The matcher benchmark's machinery on a tiny pool (2,000 clues): the pool is what the hub stores, every
answer of both sides is checked, and the re-match runs in its own process. No timing assertions."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

# `bench/` is not an installed package: import it from the checkout (see test_backfill_harness.py).
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if "bench" in sys.modules and getattr(sys.modules["bench"], "__file__", None) is None:
    del sys.modules["bench"]

from bench import match_pool, match_speed
from hub.db import sync_url
from hub.matching import Features, blocking_keys
from tests.conftest import BACKEND, POSTGRES_URL

POOL = 2000


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Any:
    """A freshly built pool on the selected backend (PostgreSQL: a database of its own, dropped after)."""
    if BACKEND == "postgres":
        request.getfixturevalue("postgres_server")
        url, marker = match_pool.prepare(
            "postgres",
            POOL,
            rebuild=True,
            server=POSTGRES_URL,
            name=f"bench_match_test_{uuid.uuid4().hex[:8]}",
            log=lambda _: None,
        )
    else:
        url, marker = match_pool.prepare(
            "sqlite", POOL, rebuild=True, data_dir=tmp_path_factory.mktemp("pool"), log=lambda _: None
        )
    yield url, marker
    match_pool.drop(url, server=POSTGRES_URL)


@pytest.fixture(scope="module")
def results(pool: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    url, _ = pool
    return match_speed.run(url, BACKEND, pool=POOL, queries=60, warmup=5, workers=1, log=lambda _: None)


def test_the_pool_holds_what_the_intake_would_store(pool: tuple[str, dict[str, Any]]) -> None:
    url, marker = pool
    engine = create_engine(sync_url(url))
    with engine.connect() as conn:
        clues = conn.execute(text("SELECT count(*) FROM clues")).scalar_one()
        records = conn.execute(text("SELECT id, clue_id, match_features FROM channel_records ORDER BY id")).all()
        keys = conn.execute(text("SELECT channel_record_id, key FROM clue_match_keys")).all()
        orphans = conn.execute(
            text("SELECT count(*) FROM channel_records r LEFT JOIN clues c ON c.id = r.clue_id WHERE c.id IS NULL")
        ).scalar_one()
    engine.dispose()
    assert clues == POOL == marker["counts"]["clues"]
    assert len(records) == marker["counts"]["channel_records"] > POOL
    assert orphans == 0
    # every record's keys are blocking_keys() of its stored features, exactly
    by_record: dict[int, set[str]] = {}
    for rid, key in keys:
        by_record.setdefault(rid, set()).add(key)
    for rid, _clue, feats in records:
        f = Features.from_json(feats if isinstance(feats, dict) else match_pool.orjson.loads(feats))
        assert by_record.get(rid, set()) == set(blocking_keys(f)), rid


def test_every_answer_is_consistent(results: dict[str, Any]) -> None:
    checks = results["checks"]
    assert checks["problems"] == 0
    assert checks["repeats"] == checks["new"] == 30
    # each repeat's clue is found by the exact-key baseline and among the hub's candidates …
    assert checks["repeat_found_by_baseline"] == checks["repeat_among_hub_candidates"] == 30
    # … and the hub joins the repeat to it, or to a clue whose record scores at least as high
    assert checks["repeat_joined_own_clue"] + checks["repeat_joined_other_clue_scoring_higher"] == 30
    assert checks["repeat_joined_own_clue"] > 0
    assert checks["new_found_by_baseline"] == 0


def test_every_query_is_timed_on_every_side(results: dict[str, Any]) -> None:
    assert set(results["timings_ms"]) == {"hub", "baseline", "hub_sql"}
    for side in results["timings_ms"].values():
        assert side["n"] == 60
        assert 0 < side["p50"] <= side["p95"] <= side["p99"] <= side["max"]
    assert set(results["ratio"]["hub"]) == {"p50", "p99"}


def test_the_rematch_runs_in_its_own_process_over_the_whole_pool(
    results: dict[str, Any], pool: tuple[str, dict[str, Any]]
) -> None:
    _, marker = pool
    r = results["rematch"]
    assert r["report"]["records"] == marker["counts"]["channel_records"]
    assert r["report"]["clues"] == POOL
    assert 0 < r["report"]["clusters"] <= r["report"]["records"]
    assert r["report"]["changed"] == r["report"]["to_existing"] + r["report"]["to_new"]
    assert 0 < r["peak_rss_self_mb"] <= r["children_max_rss_mb"]


def test_the_tables_have_a_row_per_side(results: dict[str, Any]) -> None:
    tables = match_speed.report_tables(
        results["_sides"],
        results["checks"],
        results["rematch"],
        pool=POOL,
        counts={"channel_records": 1, "clue_match_keys": 1},
        backend=BACKEND,
    )
    assert [t.row_count for t in tables] == [3, len(results["checks"]), 10]


def test_the_baseline_has_its_index(pool: tuple[str, dict[str, Any]], results: dict[str, Any]) -> None:
    url, _ = pool
    engine = create_engine(sync_url(url))
    indexes = {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes("clues")}
    engine.dispose()
    assert indexes[match_speed.BASELINE_INDEX] == ["complainant_phone", "received_at"]
