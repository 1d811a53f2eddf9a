"""The dashboard-stats benchmark's machinery on the tiny world: the hub's ``stats`` answer and the
hand-written SQL agree group by group before anything is timed, and a disagreeing baseline stops the
bench. No timing assertions."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if "bench" in sys.modules and getattr(sys.modules["bench"], "__file__", None) is None:
    del sys.modules["bench"]

from bench import datasets, stats_vs_sql  # noqa: E402 - after the path fix above


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> datasets.Dataset:
    return datasets.prepare("sqlite", "tiny", data_dir=tmp_path_factory.mktemp("bench-data"))


async def test_the_hub_and_the_hand_written_sql_agree_before_timing(tiny: datasets.Dataset) -> None:
    # When the bench runs twice on the tiny world
    said: list[str] = []
    result = await stats_vs_sql.run_async(tiny, runs=2, warmup=0, say=said.append)

    # Then it compared the answers first, and they held groups (warnings by rule and level at least)
    assert "both answers agree" in said[0]
    assert result["groups"] > 0
    assert result["hub_p50_ms"] > 0 and result["baseline_p50_ms"] > 0


async def test_a_disagreeing_baseline_stops_the_bench(tiny: datasets.Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a baseline that miscounts one warning group
    honest = stats_vs_sql.Baseline.answer

    def off_by_one(self: Any) -> bytes:
        doc = orjson.loads(honest(self))
        doc["data"]["stats"]["warnings"][0]["count"] += 1
        return orjson.dumps(doc)

    monkeypatch.setattr(stats_vs_sql.Baseline, "answer", off_by_one)

    # Then no figure comes out
    with pytest.raises(SystemExit, match="disagree"):
        await stats_vs_sql.run_async(tiny, runs=1, warmup=0, say=lambda _msg: None)
