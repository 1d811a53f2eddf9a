"""The benchmark machinery on a tiny seeded SQLite database: the hub's JSON and the baselines' JSON are
equal, the dataset is cached, and the result table has the expected columns. No timing assertions."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest

# `bench/` is not an installed package (pyproject's packages.find leaves it out): import it from the
# checkout. Without this, plain `pytest` resolves `bench` to the namespace package tests/bench/.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if "bench" in sys.modules and getattr(sys.modules["bench"], "__file__", None) is None:
    del sys.modules["bench"]

from bench import datasets, graph_vs_sql
from bench.__main__ import detail_table, summary_table

EXPECTED_COLUMNS = [
    "backend",
    "scale",
    "clues",
    "hub p50",
    "hub p95",
    "sql p50",
    "sql p95",
    "ratio p50",
    "ratio p95",
    "hub deep p50",
    "sql deep p50",
    "compiled p50",
    "compiled p95",
    "ratio compiled p50",
    "ratio compiled p95",
    "compiled deep p50",
    "compiled asgi p50",
    "ratio compiled asgi p50",
    "baseline",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> datasets.Dataset:
    return datasets.prepare("sqlite", "tiny", data_dir=tmp_path_factory.mktemp("bench-data"))


@pytest.fixture(scope="module")
def result(tiny: datasets.Dataset) -> graph_vs_sql.BenchResult:
    return graph_vs_sql.run(tiny, runs=3, warmup=1, use_uvloop=False)


def test_a_prepared_dataset_is_reused_when_its_marker_matches(tiny: datasets.Dataset) -> None:
    again = datasets.prepare("sqlite", "tiny", data_dir=Path(tiny.sqlite_path).parent)
    assert not tiny.reused
    assert again.reused
    assert again.api_key == tiny.api_key
    assert again.counts["clues"] == tiny.counts["clues"] > graph_vs_sql.PAGE_SIZE


async def test_the_hub_and_every_baseline_return_the_same_json(tiny: datasets.Dataset) -> None:
    pool = graph_vs_sql.clue_pool(tiny)
    cursors = graph_vs_sql.page_cursors(tiny, pool)
    baselines = graph_vs_sql.make_baselines(tiny)
    try:
        async with graph_vs_sql.HubClient(tiny) as hub:
            first = await hub.page(None)
            # the cursor built from a row is the one a real traversal gets
            assert first["data"]["clues"]["pageInfo"]["endCursor"] == cursors["_after_first"][1]
            assert len(first["data"]["clues"]["edges"]) == graph_vs_sql.PAGE_SIZE
            for name in graph_vs_sql.PAGES:
                doc = await hub.page(cursors[name][1])
                assert doc["data"]["clues"]["edges"], name
                for b in baselines:
                    assert orjson.loads(b.page(cursors[name][1])) == doc, (b.name, name)
    finally:
        for b in baselines:
            b.close()
    # the clues carry the nested data the benchmark is about
    nodes = [e["node"] for e in first["data"]["clues"]["edges"]]
    assert all(n["channelRecords"] for n in nodes)
    assert any(n["enterprise"] for n in nodes) and any(n["project"] and n["project"]["region"] for n in nodes)


def test_a_differing_baseline_is_refused() -> None:
    hub = {
        "data": {
            "clues": {"edges": [{"node": {"amount": "12.50"}}], "pageInfo": {"hasNextPage": False, "endCursor": None}}
        }
    }
    wrong = orjson.dumps(
        {
            "data": {
                "clues": {"edges": [{"node": {"amount": 12.5}}], "pageInfo": {"hasNextPage": False, "endCursor": None}}
            }
        }
    )
    with pytest.raises(graph_vs_sql.BenchmarkMismatch, match=r"edges\[0\]\.node\.amount"):
        graph_vs_sql.check_equal(hub, wrong, who="test", page="first")


def test_the_benchmark_runs_and_verifies_before_timing(result: graph_vs_sql.BenchResult) -> None:
    assert result.verified
    assert [p.name for p in result.pages] == list(graph_vs_sql.PAGES)
    for page in result.pages:
        assert len(page.hub.samples_ns) == 3
        assert set(page.baselines) == {"sql-json", "rows+orjson"}
        assert all(len(s.samples_ns) == 3 for s in page.baselines.values())
    assert result.baseline in result.pages[0].baselines
    assert result.hub_statements >= 1


def test_the_result_table_has_the_expected_columns(result: graph_vs_sql.BenchResult) -> None:
    table = summary_table([result])
    assert [c.header for c in table.columns] == EXPECTED_COLUMNS == graph_vs_sql.COLUMNS
    assert table.row_count == 1
    row = graph_vs_sql.summary_row(result)
    assert list(row) == EXPECTED_COLUMNS
    assert (row["backend"], row["scale"], row["clues"]) == ("sqlite", "tiny", result.pool)
    assert detail_table([result]).row_count == len(result.pages) * 2
    saved = orjson.loads(orjson.dumps(result.to_json()))
    assert saved["verified_equal_json"] is True
    assert list(saved["summary"]) == EXPECTED_COLUMNS
