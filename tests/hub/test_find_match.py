"""The intake's lookup (hub.matching.find_match) answers exactly as find_candidates + match, on a real pool."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import matching
from hub import models as m
from hub.cluepool import ClueIntake
from hub.crypto import Cipher
from hub.db import make_engine, session_scope
from hub.matching import DEFAULT_WINDOW, PERSON_RULES, Features, find_candidates, find_match, match
from tests.conftest import BACKEND, SECRET
from tests.hub.test_rematch import clue_items

#: The matcher's statements, built once with MAX_CANDIDATES in them.
STATEMENTS = (matching._candidate_statement, matching._pg_candidate_sql, matching._pg_match_sql)


@pytest.fixture
def pool(empty_db_url: str) -> Iterator[Any]:
    """Two seeds of the re-match test's items (five companies, fourteen callers, 140 records) taken in by
    the intake: busy name blocks, callers who come back, the same caller about another company."""
    engine = make_engine(empty_db_url)
    second = [replace(c, source_id=f"B{c.source_id}", related_source_id=None) for c in clue_items(12)]
    with session_scope(engine) as session:
        intake = ClueIntake(session, cipher=Cipher(SECRET), window=DEFAULT_WINDOW)
        for c in sorted(clue_items(11) + second, key=lambda c: c.received_at):
            intake.intake(c)
    yield engine
    engine.dispose()


def probes(engine: Any) -> list[tuple[Features, dt.datetime]]:
    """Incoming records: every pool record again an hour later (its caller comes back), the same caller
    about another company (the caller's records are read first and do not match), and a new caller."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.ChannelRecord.match_features, m.ChannelRecord.received_at).order_by(m.ChannelRecord.id)
        ).all()
    records = [(Features.from_json(f), at + dt.timedelta(hours=1)) for f, at in rows]
    companies = list({(f.name, f.core): f for f, _ in records}.values())
    out = []
    for i, (f, at) in enumerate(records):
        other = next(c for c in companies[i % len(companies) :] + companies if c.core != f.core)
        out.append((f, at))
        out.append((replace(f, name=other.name, core=other.core, uscc=None), at))
        out.append((replace(f, phone="+8613900000000", id_hash=None), at))
    return out


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts how often find_match read the rest of a block after the caller's own records."""
    calls = {"rest_of_block": 0}
    read = matching._pg_record_rows

    def counting(session: Session, ids: list[int]) -> Any:
        calls["rest_of_block"] += 1
        return read(session, ids)

    monkeypatch.setattr(matching, "_pg_record_rows", counting)
    return calls


def answers(engine: Any, threshold: float) -> tuple[int, int, int]:
    """Asserts find_match == match(find_candidates) for every probe; counts (probes, joined, joined by person)."""
    joined = by_person = 0
    with Session(engine) as session:
        all_probes = probes(engine)
        for f, at in all_probes:
            expected = match(find_candidates(session, f, received_at=at), threshold=threshold)
            assert find_match(session, f, received_at=at, threshold=threshold) == expected, (f, at)
            joined += expected is not None
            by_person += expected is not None and expected.match.rule in PERSON_RULES
    return len(all_probes), joined, by_person


@pytest.mark.parametrize(
    ("threshold", "only_person"), [(0.8, False), (0.95, True)], ids=["default threshold", "only person rules reach it"]
)
def test_find_match_answers_as_find_candidates_then_match(
    pool: Any, spy: dict[str, int], threshold: float, only_person: bool
) -> None:
    # Given a pool built by the intake and incoming records of every kind
    # When each is matched both ways
    n, joined, by_person = answers(pool, threshold)

    # Then the answers are the same (asserted per probe), and the probes exercise every path
    assert n == 420
    assert 0 < by_person <= joined < n
    assert (by_person == joined) is only_person
    if BACKEND == "postgres":
        # the caller's records read first, the rest of the block only when none of them matches
        assert 0 < spy["rest_of_block"] < n / 3


def test_a_block_at_the_candidate_limit_is_read_whole(
    pool: Any, spy: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a limit of candidates that the busy blocks exceed (a caller's key row may be the one cut)
    monkeypatch.setattr(matching, "MAX_CANDIDATES", 6)
    for cached in STATEMENTS:
        cached.cache_clear()
    try:
        # When each probe is matched both ways, Then the answers are the same
        n, joined, _ = answers(pool, 0.8)
        assert 0 < joined < n
        # and no block was read in two steps: at the limit every record is read at once
        assert spy["rest_of_block"] == 0
    finally:
        for cached in STATEMENTS:
            cached.cache_clear()
