"""``stats``: the dashboard's aggregates through the graph — the same numbers as the rows behind them,
within the caller's jurisdiction, one GROUP BY each, and clear errors for a bad request."""

from __future__ import annotations

from collections import Counter
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hub import models as m
from hub.db import make_engine, session_scope

CLUES_BY = """query($by: [ClueDimension!]!, $region: String, $filter: ClueFilter) {
  stats { clues(groupBy: $by, regionCode: $region, filter: $filter) {
    regionCode regionName channel month colour status count closed overdue amount recoveredAmount } } }"""
CHINA = ZoneInfo("Asia/Shanghai")


def live_clues(url: str, prefix: str) -> list[m.Clue]:
    """The demo's unmerged clues at or below ``prefix`` (by where they happened or who handles them)."""
    engine = make_engine(url)
    with session_scope(engine) as s:
        rows = list(s.scalars(select(m.Clue).where(m.Clue.merged_into_id.is_(None))))
        s.expunge_all()
    engine.dispose()
    return [c for c in rows if c.region_code.startswith(prefix) or c.handling_region_code.startswith(prefix)]


async def test_the_citys_figures_by_county_are_its_clues_counted(graph, demo) -> None:
    # Given the city inspector's key
    # When it asks for its clues by subordinate region
    groups = (await graph.data(CLUES_BY, {"by": ["REGION"]}, as_="city"))["stats"]["clues"]

    # Then each county's count is the number of its clues, and the counties have names
    expected = Counter(c.region_code[:6] for c in live_clues(demo.url, "3708"))
    assert {g["regionCode"]: g["count"] for g in groups} == dict(expected)
    assert all(g["regionName"] for g in groups)
    assert all(g["channel"] is None and g["month"] is None for g in groups)


async def test_months_and_channels_match_the_rows_in_china_time(graph, demo) -> None:
    # When the admin groups the city's clues by channel and month
    groups = (await graph.data(CLUES_BY, {"by": ["CHANNEL", "MONTH"], "region": "370800"}))["stats"]["clues"]

    # Then they are the rows counted by their channel and China month
    expected = Counter(
        (c.channel.upper() if c.channel else None, c.received_at.astimezone(CHINA).strftime("%Y-%m"))
        for c in live_clues(demo.url, "3708")
        if c.region_code.startswith("3708")
    )
    assert {(g["channel"], g["month"]): g["count"] for g in groups} == dict(expected)


async def test_a_county_never_counts_another_countys_clues(graph, demo) -> None:
    county = demo.highlights["county_code"]

    # When the county inspector asks for everything it may see, by region and status
    groups = (await graph.data(CLUES_BY, {"by": ["REGION", "STATUS"]}, as_="county"))["stats"]["clues"]

    # Then every group lies in its county and the total is its clues
    assert groups and all(g["regionCode"].startswith(county) for g in groups)
    assert sum(g["count"] for g in groups) == len(live_clues(demo.url, county))
    # And another province's key counts nothing
    assert (await graph.data(CLUES_BY, {"by": ["CHANNEL"]}, as_="other-province"))["stats"]["clues"] == []


async def test_a_filter_narrows_the_figures_as_it_narrows_the_list(graph) -> None:
    # Given the filter of a dashboard figure (open clues past their deadline)
    flt = {"overdue": True}

    # When the figure and the list behind it are asked with it
    groups = (await graph.data(CLUES_BY, {"by": [], "filter": flt}, as_="city"))["stats"]["clues"]
    listed = await graph.data(
        "query($f: ClueFilter) { clues(filter: $f, first: 1) { totalCount } }", {"f": flt}, as_="city"
    )

    # Then the figure is the list's length, and every one of them is overdue
    (group,) = groups
    assert group["count"] == listed["clues"]["totalCount"] == group["overdue"]


async def test_a_stats_query_is_one_group_by(graph) -> None:
    # When the city's figures by channel are asked (no region names needed)
    statements = await graph.count_statements(
        "{ stats { clues(groupBy: [CHANNEL, COLOUR]) { channel colour count } } }", as_="city"
    )

    # Then the database answers one statement (the key lookup aside)
    assert statements <= 2


async def test_bad_requests_name_what_is_wrong(graph) -> None:
    outside = await graph.error(CLUES_BY, {"by": ["REGION"], "region": "320000"}, as_="city")
    assert outside["extensions"]["code"] == "FORBIDDEN"
    assert outside["message"] == "region 320000 is outside your jurisdiction (370800)"

    bad = await graph.error(CLUES_BY, {"by": ["REGION"], "region": "37080"}, as_="city")
    assert bad["extensions"]["code"] == "INVALID_IDENTIFIER"
    assert bad["extensions"]["field"] == "regionCode"

    many = await graph.error(CLUES_BY, {"by": ["REGION", "CHANNEL", "MONTH", "STATUS"]}, as_="city")
    assert many["extensions"]["code"] == "BAD_USER_INPUT"
    assert many["message"] == "groupBy names 4 dimensions; at most 3"


async def test_warnings_by_rule_are_the_warnings_counted(graph, demo) -> None:
    # When the city asks for its warnings by rule and level
    groups = (
        await graph.data(
            "{ stats { warnings(groupBy: [RULE, LEVEL]) { ruleCode level count open escalated } } }", as_="city"
        )
    )["stats"]["warnings"]

    # Then each group is its warnings counted
    engine = make_engine(demo.url)
    with session_scope(engine) as s:
        rows = s.execute(
            select(m.Warning.rule_code, m.Warning.level, m.Warning.status).where(
                m.Warning.region_code.startswith("3708")
            )
        ).all()
    engine.dispose()
    assert rows, "the demo holds warnings"
    assert {(g["ruleCode"], g["level"]): g["count"] for g in groups} == dict(
        Counter((r.rule_code, r.level.upper()) for r in rows)
    )
    assert sum(g["escalated"] for g in groups) == sum(r.status == "escalated" for r in rows)
