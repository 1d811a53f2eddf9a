"""The whole-pool re-match (hub/rematch.py) against the incremental matcher (ClueIntake) on a real pool."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select, update

from connectors.base import ClueIn
from hub import models as m
from hub import rematch as rematch_module
from hub.cluepool import ClueIntake
from hub.crypto import Cipher
from hub.db import make_engine, session_scope
from hub.identifiers import make_phone, make_uscc
from hub.matching import DEFAULT_WINDOW, Features, score
from hub.rematch import Change, rematch_pool
from tests.conftest import SECRET

START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
COUNTIES = ("370811", "370812", "370826")


def clue_items(seed: int = 11) -> list[ClueIn]:
    """A pool's worth of clue-bearing records in receipt order: repeats by the same caller, workmates
    complaining about the same company and project, a 12345 order linked to an earlier one, callers
    coming back after the window, and unrelated complaints about companies with similar names."""
    rng = random.Random(seed)
    companies = [
        ("济宁市任城区鸿达建筑劳务有限公司", "鸿达劳务", "370811"),
        ("济宁市恒远建设工程有限公司", "恒远建设", "370811"),
        ("山东宏达劳务分包有限公司", "宏达劳务", "370812"),
        ("济宁市微山县金泰劳务有限公司", "金泰劳务", "370826"),
        ("济宁市鑫源钢结构工程有限公司", "鑫源钢结构", "370811"),
    ]
    usccs = {name: make_uscc(rng, region_code=county) for name, _, county in companies}
    projects = ["锦绣华府二期住宅项目", "太白湖路改造工程", "翡翠公馆一期", "第三中学教学楼", "滨河新城三期"]
    people = [
        (n, make_phone(rng))
        for n in (
            "张伟",
            "李娜",
            "王芳",
            "刘洋",
            "陈静",
            "杨磊",
            "赵敏",
            "孙强",
            "周杰",
            "吴霞",
            "郑浩",
            "冯丽",
            "韩梅",
            "曹宇",
        )
    ]
    items: list[ClueIn] = []
    t = START
    for i in range(70):
        t += dt.timedelta(hours=rng.uniform(2, 60))
        name, short, county = rng.choice(companies)
        person, phone = rng.choice(people)
        channel = rng.choice(["hotline12345", "national_platform", "walk_in"])
        project = rng.choice(projects) if rng.random() < 0.8 else None
        items.append(
            ClueIn(
                channel=channel,
                source_id=f"S{i:04d}",
                received_at=t,
                title=f"{person}反映{short}拖欠工资",
                content=f"{person}反映{short}拖欠工资",
                region_code=county,
                respondent_name=short if rng.random() < 0.4 else name,
                complainant_name=person,
                complainant_phone=phone,
                respondent_uscc=usccs[name] if channel == "national_platform" and rng.random() < 0.5 else None,
                project_name=project,
                related_source_id=items[-1].source_id
                if channel == "hotline12345" and items and items[-1].channel == "hotline12345" and rng.random() < 0.3
                else None,
            )
        )
    return items


@pytest.fixture
def pool(empty_db_url: str) -> Any:
    """The items taken in one by one through the real intake, in receipt order."""
    engine = make_engine(empty_db_url)
    items = clue_items()
    with session_scope(engine) as session:
        intake = ClueIntake(session, cipher=Cipher(SECRET), window=DEFAULT_WINDOW)
        for c in items:
            intake.intake(c)
    yield engine
    engine.dispose()


def records(engine: Any) -> list[tuple[int, int, dt.datetime, str, float | None]]:
    with engine.connect() as conn:
        cr = m.ChannelRecord
        return [
            tuple(r)
            for r in conn.execute(
                select(cr.id, cr.clue_id, cr.received_at, cr.match_rule, cr.match_score).order_by(cr.received_at, cr.id)
            )
        ]


@pytest.mark.parametrize("segments", [1, 3], ids=["one scan", "three parallel scans"])
def test_rematch_agrees_with_the_incremental_matcher(pool: Any, segments: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a pool built record by record by the intake (groups, repeats, a linked order, distant repeats)
    rows = records(pool)
    rules = {r[3] for r in rows}
    assert {"new", "phone"} <= rules and len(rules) >= 3, rules  # the pool exercises several rules
    clues = len({r[1] for r in rows})
    assert 5 < clues < len(rows)
    monkeypatch.setattr(rematch_module, "MIN_SEGMENT", 5)  # let a small pool be cut into segments

    # When the whole pool is re-matched
    report = rematch_pool(pool, window=DEFAULT_WINDOW, threshold=0.8, workers=segments)

    # Then it finds exactly today's clues
    assert report.workers == segments
    assert (report.records, report.clues, report.clusters) == (len(rows), clues, clues)
    assert (report.changed, report.to_existing, report.to_new, report.clues_affected) == (0, 0, 0, 0)
    assert report.changes == []
    assert report.linked == sum(1 for r in rows if r[3] == "linked")


def test_rematch_proposes_exactly_a_manual_move(pool: Any) -> None:
    # Given a record that the matcher joined to its clue (not the clue's first record), moved by hand
    # onto another clue that was opened before it
    rows = records(pool)
    first_of: dict[int, int] = {}
    for rid, clue_id, *_ in rows:
        first_of.setdefault(clue_id, rid)
    moved = next(
        r
        for r in reversed(rows)
        if r[3] in ("phone", "id_number", "name+project", "uscc+project") and first_of[r[1]] != r[0]
    )
    rid, clue_a = moved[0], moved[1]
    clue_b = next(c for c, first in first_of.items() if c != clue_a and first < rid)
    with session_scope(pool) as session:
        session.execute(update(m.ChannelRecord).where(m.ChannelRecord.id == rid).values(clue_id=clue_b))
        session.execute(update(m.ClueMatchKey).where(m.ClueMatchKey.channel_record_id == rid).values(clue_id=clue_b))

    # When the pool is re-matched
    report = rematch_pool(pool, workers=1)

    # Then the one difference is proposed: that record back onto its clue, by the rule that joined it
    assert report.changes == [Change(rid, clue_b, clue_a, first_of[clue_a], moved[3], moved[4])]
    assert (report.changed, report.to_existing, report.to_new, report.clues_affected) == (1, 1, 0, 2)
    assert report.clusters == report.clues  # the same number of clues, one record elsewhere


def test_a_clue_opened_by_a_record_the_matcher_would_join_is_a_merge(pool: Any) -> None:
    # Given a record the matcher joined to an earlier clue, split off by hand onto a clue of its own
    rows = records(pool)
    first_of: dict[int, int] = {}
    for rid, clue_id, *_ in rows:
        first_of.setdefault(clue_id, rid)
    moved = next(r for r in rows if r[3] == "phone" and first_of[r[1]] != r[0])
    rid, clue_a = moved[0], moved[1]
    with session_scope(pool) as session:
        original = session.get(m.Clue, clue_a)
        split = m.Clue(
            **{c.key: getattr(original, c.key) for c in m.Clue.__table__.columns if c.key not in ("id", "clue_no")},
            clue_no="XS-SPLIT-TEST",
        )
        session.add(split)
        session.flush()
        session.execute(update(m.ChannelRecord).where(m.ChannelRecord.id == rid).values(clue_id=split.id))
        new_clue = split.id

    # When the pool is re-matched
    report = rematch_pool(pool, workers=1)

    # Then the record goes back onto the clue it was matched to (and any later record it drew along)
    assert report.changes[0] == Change(rid, new_clue, clue_a, first_of[clue_a], moved[3], moved[4])
    assert all(c.current_clue_id == new_clue and c.proposed_clue_id == clue_a for c in report.changes)
    assert report.to_new == 0
    assert report.clusters == report.clues - 1


def test_rematch_rejects_a_window_of_nothing(pool: Any) -> None:
    with pytest.raises(ValueError, match=r"window must be positive, got 0:00:00"):
        rematch_pool(pool, window=dt.timedelta(0))


def test_scores_between_strangers_depend_on_respondent_and_project_only(pool: Any) -> None:
    """The re-match memoises scores by the features without the complainant's (hub/rematch.py
    ``_signature``): this holds as long as score() uses phone, ID hash and name only by equality."""
    with pool.connect() as conn:
        feats = [Features.from_json(f) for f in conn.execute(select(m.ChannelRecord.match_features)).scalars()]
    person = {"phone": None, "id_hash": None, "complainant": None}
    compared = 0
    for a in feats:
        for b in feats:
            if any(getattr(a, k) and getattr(a, k) == getattr(b, k) for k in person):
                continue
            compared += 1
            assert score(a, b) == score(replace(a, **person), replace(b, **person)), (a, b)
            assert rematch_module._signature(a) == rematch_module._signature(replace(a, **person))
    assert compared > 1000


def test_the_command_reports_the_proposed_change(
    pool: Any, empty_db_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from hub.cli import app
    from hub.settings import get_settings

    # Given a record moved by hand onto another clue
    rows = records(pool)
    moved = next(r for r in reversed(rows) if r[3] == "phone")
    other = next(r[1] for r in rows if r[1] != moved[1] and r[0] < moved[0])
    with session_scope(pool) as session:
        session.execute(update(m.ChannelRecord).where(m.ChannelRecord.id == moved[0]).values(clue_id=other))
    monkeypatch.setenv("HUB_DATABASE_URL", empty_db_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    try:
        # When the operator runs the dry run
        result = CliRunner().invoke(app, ["clues", "rematch", "--workers", "1"], env={"COLUMNS": "200"})
    finally:
        get_settings.cache_clear()

    # Then it shows the counts and that record, and changes nothing
    assert result.exit_code == 0, result.output
    assert f"│ {moved[0]} " in result.output and "records on another clue" in result.output
    assert "first 1 of 1 proposed changes" in result.output
    assert records(pool) == [(*r[:1], other, *r[2:]) if r[0] == moved[0] else r for r in rows]
