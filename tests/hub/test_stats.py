"""Dashboard aggregates (hub.stats): grouping by subordinate region, China months, the figures, the
date basis and merged clues — one GROUP BY each, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from hub import models as m
from hub.access import Principal, bind_principal
from hub.db import make_engine, session_scope
from hub.stats import ClueDimension, DateBasis, WarningDimension, clue_stats, warning_stats

CITY, COUNTY, OTHER_COUNTY, TOWN = "370800", "370811", "370812", "370811001"
TODAY = dt.date(2026, 3, 10)
UTC = dt.UTC
_seq = itertools.count(1)


@pytest.fixture
def session(empty_db_url: str) -> Iterator[Session]:
    engine = make_engine(empty_db_url)
    with session_scope(engine) as s:
        yield s
    engine.dispose()


def clue(s: Session, *, region: str, at: dt.datetime, **kw: Any) -> m.Clue:
    n = next(_seq)
    values: dict[str, Any] = {
        "clue_no": f"XS{n:08d}",
        "title": "欠薪",
        "content": "拖欠工资",
        "status": "received",
        "handling_region_code": region,
        "sector": "工程建设",
        "respondent_name": "某劳务公司",
        "received_at": at,
        "region_code": region,
        "channel": "hotline12345",
        **kw,
    }
    row = m.Clue(**values)
    s.add(row)
    s.flush()
    return row


def by(rows: list[Any], *names: str) -> dict[tuple[Any, ...], Any]:
    return {tuple(r.keys[n] for n in names): r for r in rows}


def test_a_citys_clues_group_by_county_and_a_countys_by_town_keeping_the_county_itself(session: Session) -> None:
    # Given clues in two counties of the city, one of them recorded at a town
    at = dt.datetime(2026, 3, 2, 2, tzinfo=UTC)
    clue(session, region=COUNTY, at=at)
    clue(session, region=TOWN, at=at)
    clue(session, region=OTHER_COUNTY, at=at)

    # When the city's figures are grouped by region, then the county's
    city = by(clue_stats(session, group_by=[ClueDimension.REGION], under=CITY, today=TODAY), "region")
    county = by(clue_stats(session, group_by=[ClueDimension.REGION], under=COUNTY, today=TODAY), "region")

    # Then the city sees its counties (the town's clue counted in its county), the county its town and itself
    assert {k: r.count for k, r in city.items()} == {(COUNTY,): 2, (OTHER_COUNTY,): 1}
    assert {k: r.count for k, r in county.items()} == {(COUNTY,): 1, (TOWN,): 1, (OTHER_COUNTY,): 1}


def test_months_are_china_months(session: Session) -> None:
    # Given one clue received at 23:59 on 31 January China time and one at 00:00 on 1 February
    clue(session, region=COUNTY, at=dt.datetime(2026, 1, 31, 15, 59, tzinfo=UTC))
    clue(session, region=COUNTY, at=dt.datetime(2026, 1, 31, 16, 0, tzinfo=UTC))

    # When grouped by month
    rows = by(clue_stats(session, group_by=[ClueDimension.MONTH], under=CITY, today=TODAY), "month")

    # Then each falls in its China month
    assert {k: r.count for k, r in rows.items()} == {("2026-01",): 1, ("2026-02",): 1}


def test_figures_sum_closed_overdue_amounts_and_leave_merged_clues_out(session: Session) -> None:
    # Given an overdue open clue, a closed one with money recovered, and a clue merged into the first
    at = dt.datetime(2026, 3, 2, 2, tzinfo=UTC)
    open_ = clue(
        session, region=COUNTY, at=at, deadline=TODAY - dt.timedelta(days=1), amount=Decimal("8000"), headcount=3
    )
    clue(
        session,
        region=COUNTY,
        at=at,
        status="closed",
        closed_at=at + dt.timedelta(days=3),
        amount=Decimal("12000.50"),
        recovered_amount=Decimal("12000.50"),
        workers_paid=4,
        headcount=4,
        deadline=TODAY - dt.timedelta(days=5),
    )
    clue(session, region=COUNTY, at=at, status="merged", merged_into_id=open_.id, amount=Decimal("8000"))

    # When the figures are asked for without grouping
    (row,) = clue_stats(session, group_by=[], under=CITY, today=TODAY)

    # Then they count the two live clues, one closed, one overdue (a closed clue is never overdue)
    assert (row.count, row.closed, row.overdue) == (2, 1, 1)
    assert (row.amount, row.recovered_amount, row.workers_paid, row.headcount) == (
        Decimal("20000.50"),
        Decimal("12000.50"),
        4,
        7,
    )


def test_the_period_bounds_china_days_of_the_chosen_date(session: Session) -> None:
    # Given a clue received in February and closed on 1 March (China time), and one received in March
    clue(
        session,
        region=COUNTY,
        at=dt.datetime(2026, 2, 20, 2, tzinfo=UTC),
        status="closed",
        closed_at=dt.datetime(2026, 2, 28, 16, 30, tzinfo=UTC),  # 00:30 on 1 March in China
    )
    clue(session, region=COUNTY, at=dt.datetime(2026, 3, 3, 2, tzinfo=UTC))
    march = {"start": dt.date(2026, 3, 1), "end": dt.date(2026, 3, 31)}

    # When March's figures are asked by receipt and by closure
    (received,) = clue_stats(session, group_by=[], under=CITY, today=TODAY, **march)
    (closed,) = clue_stats(session, group_by=[], under=CITY, today=TODAY, basis=DateBasis.CLOSED, **march)

    # Then March received one clue and closed the other
    assert (received.count, received.closed) == (1, 0)
    assert (closed.count, closed.closed) == (1, 1)


def test_a_countys_principal_counts_only_its_county(session: Session) -> None:
    # Given clues in two counties
    at = dt.datetime(2026, 3, 2, 2, tzinfo=UTC)
    for region in (COUNTY, COUNTY, OTHER_COUNTY):
        clue(session, region=region, at=at, channel="national_platform")

    # When a county inspector's session asks for the figures by channel
    bind_principal(session, Principal(name="apikey:county", role="inspector", region_code=COUNTY))
    rows = clue_stats(session, group_by=[ClueDimension.CHANNEL], under=COUNTY, today=TODAY)

    # Then only its own county's clues are counted
    assert [(r.keys["channel"], r.count) for r in rows] == [("national_platform", 2)]


def test_warnings_group_by_rule_and_level(session: Session) -> None:
    # Given three warnings of two rules, one escalated
    now = dt.datetime(2026, 3, 2, 2, tzinfo=UTC)
    for i, (rule, level, status) in enumerate(
        [("W03", "red", "active"), ("W03", "red", "escalated"), ("W12", "blue", "resolved")]
    ):
        session.add(
            m.Warning(
                rule_code=rule,
                level=level,
                subject_type="project",
                subject_id=i + 1,
                period="2026-02",
                status=status,
                message="…",
                rule_cite="条例",
                detected_at=now,
                region_code=COUNTY,
            )
        )
    session.flush()

    # When grouped by rule and level
    rows = by(
        warning_stats(session, group_by=[WarningDimension.RULE, WarningDimension.LEVEL], under=CITY), "rule", "level"
    )

    # Then each group counts its warnings, the open and the escalated ones
    assert {k: (r.count, r.open, r.escalated) for k, r in rows.items()} == {
        ("W03", "red"): (2, 1, 1),
        ("W12", "blue"): (1, 0, 0),
    }
