"""The town ranking (hub.ranking, 县对镇街考核) on a small hand-built fixture, SQLite and PostgreSQL.

The clues and case actions are written as rows with chosen times, so that every number below can be
counted by hand from the table in ``world``.
"""

from __future__ import annotations

import datetime as dt
from itertools import count

import pytest

from hub import models as m
from hub.access import Principal, bind_principal
from hub.db import make_engine, session_scope
from hub.errors import Forbidden, InvalidIdentifier, InvalidInput, NotFound
from hub.ranking import RankingOrder, TownScore, town_ranking
from hub.seed import load_regions
from hub.workdays import CST

COUNTY = Principal(name="任城区劳动监察大队", role="inspector", region_code="370811")
CITY = Principal(name="济宁市劳动保障监察支队", role="viewer", region_code="370800")
A, B, C = "370811002", "370811005", "370811006"  # 许庄街道, 李营街道, 南张街道 of 任城区
OTHER_COUNTYS_TOWN = "370812001"  # 鼓楼街道 of 兖州区
OCTOBER = (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
TODAY = dt.date(2026, 11, 20)
_ids = count(1)


def cst(day: str, hh: int = 10, mm: int = 0) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hh, minute=mm, tzinfo=CST)


def clue(
    s,  # type: ignore[no-untyped-def]
    *,
    county: str = "370811",
    status: str,
    handler: str,
    deadline: str,
    closed: dt.datetime | None = None,
    satisfaction: str | None = None,
    steps: list[tuple[str, str, str, dt.datetime]],
) -> None:
    """A clue and its case actions ``(action, from region, to region, at)``."""
    n = next(_ids)
    row = m.Clue(
        clue_no=f"XS-RANK-{n:03d}",
        title="t",
        content="c",
        status=status,
        handling_region_code=handler,
        sector="工程建设",
        respondent_name=f"排名测试{n}号劳务有限公司",
        received_at=cst("2026-09-01"),
        deadline=dt.date.fromisoformat(deadline),
        closed_at=closed,
        satisfaction=satisfaction,
        region_code=county,
    )
    s.add(row)
    s.flush()
    for action, frm, to, at in steps:
        s.add(
            m.CaseAction(
                clue_id=row.id,
                action=action,
                actor="x",
                from_status=None,
                to_status=status,
                from_region_code=frm,
                to_region_code=to,
                at=at,
                region_code=county,
            )
        )


def down(town: str, at: dt.datetime) -> tuple[str, str, str, dt.datetime]:
    return ("dispatch", town[:6], town, at)


@pytest.fixture
def engine(empty_db_url):  # type: ignore[no-untyped-def]
    engine = make_engine(empty_db_url)
    load_regions(engine)
    with session_scope(engine) as s:
        # Town A (许庄): five clues handed down in October, one in September
        clue(
            s,
            status="called_back",
            handler=A,
            deadline="2026-10-20",
            closed=cst("2026-10-10"),
            satisfaction="满意",
            steps=[down(A, cst("2026-10-01", 0, 10))],
        )  # 00:10 on 1 October in China (30 September in UTC)
        clue(
            s,
            status="called_back",
            handler=A,
            deadline="2026-10-25",
            closed=cst("2026-10-26", 0, 30),
            satisfaction="不满意",
            steps=[down(A, cst("2026-10-06"))],
        )  # closed late: 26 October in China, 25th in UTC
        clue(s, status="in_progress", handler=A, deadline="2026-11-10", steps=[down(A, cst("2026-10-07"))])  # overdue
        clue(
            s,
            status="returned",
            handler="370811",
            deadline="2026-11-30",
            steps=[down(A, cst("2026-10-08")), ("return", A, "370811", cst("2026-10-09"))],
        )
        clue(
            s,
            status="closed",
            handler=A,
            deadline="2026-10-30",
            closed=cst("2026-10-12"),
            steps=[down(A, cst("2026-10-09")), down(A, cst("2026-10-10"))],
        )  # dispatched twice: counted once
        clue(
            s,
            status="closed",
            handler=A,
            deadline="2026-10-30",
            closed=cst("2026-10-12"),
            steps=[down(A, cst("2026-09-30", 23, 50))],
        )  # before the period
        # Town B (李营): two clues
        clue(
            s,
            status="called_back",
            handler=B,
            deadline="2026-10-30",
            closed=cst("2026-10-20"),
            satisfaction="基本满意",
            steps=[down(B, cst("2026-10-15"))],
        )
        clue(s, status="dispatched", handler=B, deadline="2026-12-01", steps=[down(B, cst("2026-10-16"))])
        # Town C (南张): nothing; a town of 兖州区: one clue, not of 任城区's ranking
        clue(
            s,
            county="370812",
            status="in_progress",
            handler=OTHER_COUNTYS_TOWN,
            deadline="2026-10-20",
            steps=[down(OTHER_COUNTYS_TOWN, cst("2026-10-05"))],
        )
    yield engine
    engine.dispose()


def rank(engine, principal: Principal = COUNTY, **kw) -> list[TownScore]:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        bind_principal(s, principal)
        return town_ranking(
            s,
            principal=principal,
            county=kw.pop("county", "370811"),
            date_from=kw.pop("date_from", OCTOBER[0]),
            date_to=kw.pop("date_to", OCTOBER[1]),
            today=TODAY,
            **kw,
        )


def test_the_towns_counts_rates_and_composite_by_hand(engine) -> None:  # type: ignore[no-untyped-def]
    # When 任城区 ranks its towns for October
    rows = rank(engine)
    by_code = {r.code: r for r in rows}
    # Then 许庄 (A) received 5 (the September one and the double dispatch aside), closed 3, 2 of them on time
    # (the one closed at 00:30 on the 26th in China is late), has 1 overdue, returned 1, and of 2 called back 1 satisfied
    a = by_code[A]
    assert (a.received, a.closed, a.closed_on_time, a.overdue, a.returned, a.called_back, a.satisfied) == (
        5,
        3,
        2,
        1,
        1,
        2,
        1,
    )
    assert (a.closed_on_time_rate, a.return_rate, a.satisfaction_rate) == (0.6667, 0.2, 0.5)
    # composite: 50 × 2/5 + 30 × 0.5 + 20 × (1 − 0.2) = 20 + 15 + 16
    assert a.score == 51.0
    b = by_code[B]
    assert (b.received, b.closed, b.closed_on_time, b.overdue, b.returned, b.called_back, b.satisfied) == (
        2,
        1,
        1,
        0,
        0,
        1,
        1,
    )
    # composite: 50 × 1/2 + 30 × 1 + 20 × 1
    assert (b.closed_on_time_rate, b.return_rate, b.satisfaction_rate, b.score) == (1.0, 0.0, 1.0, 75.0)
    # And every town of the county has a row: 南张 (C) with nothing and no score; no town of 兖州区
    c = by_code[C]
    assert (c.received, c.score, c.closed_on_time_rate, c.return_rate, c.satisfaction_rate) == (
        0,
        None,
        None,
        None,
        None,
    )
    assert all(r.code.startswith("370811") for r in rows) and OTHER_COUNTYS_TOWN not in by_code
    # And B ranks first, A second, the towns without clues share the last rank
    assert [(r.code, r.rank) for r in rows[:2]] == [(B, 1), (A, 2)]
    assert {r.rank for r in rows[2:]} == {3}


def test_a_town_without_call_backs_is_scored_on_the_other_two_terms(engine) -> None:  # type: ignore[no-untyped-def]
    # Given 1–8 October: A received 4 (the fifth was dispatched on the 9th), B none
    rows = {r.code: r for r in rank(engine, date_to=dt.date(2026, 10, 8))}
    a = rows[A]
    assert (a.received, a.closed, a.closed_on_time, a.returned, a.called_back) == (4, 2, 1, 1, 2)
    # 50 × 1/4 + 30 × 0.5 + 20 × 0.75 = 12.5 + 15 + 15
    assert a.score == 42.5
    # When only the clue closed without a call-back is in the period
    only = {r.code: r for r in rank(engine, date_from=dt.date(2026, 10, 9), date_to=dt.date(2026, 10, 10))}[A]
    # Then the composite is (50 × 1/1 + 20 × 1) scaled from 70 to 100
    assert (only.received, only.called_back, only.satisfaction_rate, only.score) == (1, 0, None, 100.0)


def test_ranking_by_one_metric(engine) -> None:  # type: ignore[no-untyped-def]
    by_return = rank(engine, order_by=RankingOrder.RETURN_RATE)
    assert [(r.code, r.rank, r.return_rate) for r in by_return[:2]] == [(B, 1, 0.0), (A, 2, 0.2)]
    by_overdue = rank(engine, order_by=RankingOrder.OVERDUE)
    # A has the only overdue clue: every other town ties first, A is last
    assert by_overdue[-1].code == A and by_overdue[-1].rank == len(by_overdue)
    assert {r.rank for r in by_overdue[:-1]} == {1}
    by_received = rank(engine, order_by=RankingOrder.RECEIVED)
    assert [(r.code, r.rank) for r in by_received[:2]] == [(A, 1), (B, 2)]


def test_the_city_may_rank_a_countys_towns_a_town_or_another_county_may_not(engine) -> None:  # type: ignore[no-untyped-def]
    assert {r.code: r.received for r in rank(engine, CITY)}[A] == 5
    for principal in (
        Principal(name="t", role="inspector", region_code=A),
        Principal(name="y", role="inspector", region_code="370812"),
    ):
        with pytest.raises(Forbidden) as exc:
            rank(engine, principal)
        assert exc.value.message == f"county 370811 is outside your jurisdiction {principal.region_code}"


def test_bad_arguments_name_the_field(engine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as exc:
        rank(engine, CITY, county="370800")
    assert (exc.value.message, exc.value.extra["field"]) == (
        "county '370800' is a city: the ranking compares the towns of one county",
        "county",
    )
    with pytest.raises(InvalidInput) as exc:
        rank(engine, county=A)
    assert exc.value.message == "county '370811002' is a town: the ranking compares the towns of one county"
    with pytest.raises(InvalidIdentifier) as bad:
        rank(engine, county="37081")
    assert bad.value.message == "invalid county '37081': expected 6, 9 or 12 characters, got 5"
    with pytest.raises(NotFound) as missing:
        rank(engine, Principal(name="n", role="admin", region_code="000000"), county="370899")
    assert missing.value.message == "no county 370899 in the region list"
    with pytest.raises(InvalidInput) as backwards:
        rank(engine, date_from=dt.date(2026, 10, 31), date_to=dt.date(2026, 10, 1))
    assert (backwards.value.message, backwards.value.extra["field"]) == (
        "to 2026-10-01 is before from 2026-10-31",
        "to",
    )
