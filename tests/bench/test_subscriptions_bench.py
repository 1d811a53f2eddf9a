"""The subscriptions benchmark's machinery, tiny (5 subscribers, 2 s): both sides run, every message
reaches every subscriber, and the summary is complete. No timing assertions."""

from __future__ import annotations

import math
import sys
from pathlib import Path

# `bench/` is not an installed package: import it from the checkout (see test_bench_harness.py).
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if "bench" in sys.modules and getattr(sys.modules["bench"], "__file__", None) is None:
    del sys.modules["bench"]

from bench import subscriptions
from tests.conftest import BACKEND


def test_a_tiny_run_delivers_everything_and_reports_both_sides(request) -> None:  # type: ignore[no-untyped-def]
    if BACKEND == "postgres":
        request.getfixturevalue("postgres_server")
    result = subscriptions.run(backend=BACKEND, subscribers=5, servers=2, rate=10, duration=2, client_procs=1)
    for side in ("raw", "hub"):
        r = result[side]
        assert r["messages"] == 20
        assert r["delivered"] == r["expected"] == 5 * 20
        assert len(r["servers_rss"]) == 2 and all(s["rss_mib"] > 0 for s in r["servers_rss"])
        assert not math.isnan(r["p50_ms"]) and r["p99_ms"] >= r["p50_ms"]
    assert {"ratio_p50", "ratio_p99", "goal_met", "loadavg"} <= result.keys()
