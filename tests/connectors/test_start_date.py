"""`start_date`: a first sync reads only what was updated from that day on (the embedded demo relies on it)."""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

import pytest

from connectors import registry
from tests.connectors.conftest import serve_asgi

CST = dt.timezone(dt.timedelta(hours=8))
KINDS = ["permits", "bank_soap", "bank_rest", "hotline12345", "national_platform"]


def _day(value: Any) -> dt.date:
    text = str(value)
    if "T" in text:
        parsed = dt.datetime.fromisoformat(text)
        return (parsed.astimezone(CST) if parsed.tzinfo else parsed).date()
    return dt.date.fromisoformat(text[:10])


def _read_all(connector: Any, config: Any) -> dict[str, list[dict[str, Any]]]:
    return {s.name: [r for page in s.read({}) for r in page.records] for s in connector.streams(config)}


@pytest.mark.parametrize("kind", KINDS)
def test_a_first_sync_with_a_start_date_skips_older_records(kind: str, world: Any) -> None:
    connector = registry.get(kind)
    module_name, _, factory = connector.sandbox.partition(":")
    module = importlib.import_module(module_name)
    # A day after the world's today: live records of that day exist next to the history
    clock = dt.datetime.combine(world.today + dt.timedelta(days=1), dt.time(12), CST)
    app = getattr(module, factory)(world=world, clock=lambda: clock)
    with serve_asgi(app) as base:
        raw = {**module.DEMO_CREDENTIALS, "base_url": base + "/", "page_size": 50}
        everything = _read_all(connector, connector.parse_config(raw))
        start = world.today
        recent = _read_all(connector, connector.parse_config({**raw, "start_date": start.isoformat()}))
    for stream in connector.streams(connector.parse_config({**raw, "base_url": "http://x/"})):
        expected = [r for r in everything[stream.name] if _day(r[stream.cursor_field]) >= start]
        got = recent[stream.name]
        assert [stream.key_of(r) for r in got] == [stream.key_of(r) for r in expected], stream.name
    assert sum(map(len, recent.values())) < sum(map(len, everything.values())), "start_date should leave history out"
    assert sum(map(len, recent.values())) > 0, "the sandbox should have records from the start date on"
