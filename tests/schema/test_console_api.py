"""What the admin console asks of the API beyond the lists: the actions a clue allows its reader now
(``Clue.availableActions``) and the clue pool sorted by deadline (``ClueOrder.DEADLINE_ASC``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from hub import models as m
from hub.db import make_engine, session_scope

FIRST_OF = """query($status: [ClueStatus!]) { clues(filter: {status: $status}, first: 1) {
  nodes { clueNo status availableActions } } }"""

BY_DEADLINE = """query($after: String) { clues(order: DEADLINE_ASC, first: 7, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } nodes { clueNo deadline } } }"""


async def test_a_received_clue_offers_an_inspector_the_opening_moves_and_a_viewer_nothing(graph) -> None:
    # Given a clue just received, read by the city's inspector
    clue = (await graph.data(FIRST_OF, {"status": ["RECEIVED"]}, as_="city"))["clues"]["nodes"][0]
    # Then it may be accepted, dispatched, escalated, extended, supervised, merged or split — not closed
    assert clue["availableActions"] == ["accept", "dispatch", "escalate", "extend", "supervise", "merge", "split"]
    # And the same clue read by a viewer offers nothing (the policy table: viewers read only)
    seen = await graph.data(
        "query($n: String!) { clue(clueNo: $n) { availableActions } }", {"n": clue["clueNo"]}, as_="viewer"
    )
    assert seen["clue"]["availableActions"] == []


async def test_a_closed_clue_offers_the_call_back_and_no_second_close(graph) -> None:
    # Given a closed clue, read by the city's inspector
    clue = (await graph.data(FIRST_OF, {"status": ["CLOSED"]}, as_="city"))["clues"]["nodes"][0]
    # Then the call-back is there, and closing again (or accepting) is not
    assert clue["availableActions"] == ["record_callback", "merge", "split"]


async def test_the_pool_by_deadline_pages_soonest_first_through_every_clue_that_has_one(graph, demo) -> None:
    # Given the city's clues with a deadline (as the database holds them)
    engine = make_engine(demo.url)
    with session_scope(engine) as s:
        rows = s.execute(
            select(m.Clue.clue_no, m.Clue.region_code, m.Clue.handling_region_code).where(m.Clue.deadline.is_not(None))
        ).all()
        without = s.scalars(select(m.Clue.clue_no).where(m.Clue.deadline.is_(None))).all()
    engine.dispose()
    expected = {no for no, region, handler in rows if region.startswith("3708") or handler.startswith("3708")}
    assert expected, "the demo has no clue with a deadline"

    # When the city's inspector pages through the pool ordered by deadline, seven at a time
    seen: list[dict] = []
    after = None
    while True:
        page = (await graph.data(BY_DEADLINE, {"after": after}, as_="city"))["clues"]
        seen += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    # Then every clue with a deadline comes once, soonest first, and none without one
    numbers = [c["clueNo"] for c in seen]
    assert len(numbers) == len(set(numbers)) == page["totalCount"]
    assert set(numbers) == expected
    deadlines = [c["deadline"] for c in seen]
    assert deadlines == sorted(deadlines) and None not in deadlines
    assert not set(numbers) & set(without)


MONTH = """query($from: Date!, $to: Date!, $open: [ClueStatus!]) {
  stats { clues(groupBy: [], from: $from, to: $to) { count } }
  clues(filter: {receivedFrom: $from, receivedTo: $to, status: $open}) { totalCount } }"""
NOT_MERGED = ["RECEIVED", "DISPATCHED", "IN_PROGRESS", "CLOSED", "CALLED_BACK", "RETURNED", "ESCALATED"]


async def test_a_months_figure_and_the_list_it_links_to_count_the_same_china_days(
    writable_graph, writable_demo
) -> None:
    # Given a clue received at 01:00 on 1 October, China time — still 30 September in UTC
    engine = make_engine(writable_demo.url)
    with session_scope(engine) as s:
        clue = s.scalars(
            select(m.Clue).where(m.Clue.merged_into_id.is_(None), m.Clue.region_code.startswith("3708")).limit(1)
        ).one()
        clue.received_at = dt.datetime(2026, 9, 30, 17, 0, tzinfo=dt.UTC)
        clue_no = clue.clue_no
    engine.dispose()
    for month_start, month_end in [("2026-09-01", "2026-09-30"), ("2026-10-01", "2026-10-31")]:
        # When the dashboard's figure and the clue list ask for the same month
        data = await writable_graph.data(MONTH, {"from": month_start, "to": month_end, "open": NOT_MERGED}, as_="city")
        # Then they count the same clues (the figure leaves merged clues out, as the list does here)
        assert data["stats"]["clues"] == [{"count": data["clues"]["totalCount"]}], (month_start, data)
    # and the clue is October's in the list
    october = await writable_graph.data(
        '{ clues(filter: {receivedFrom: "2026-10-01", receivedTo: "2026-10-01"}, first: 50) { nodes { clueNo } } }',
        as_="city",
    )
    assert clue_no in [n["clueNo"] for n in october["clues"]["nodes"]]


CLOSED_IN = """query($from: Date!, $to: Date!, $counted: [ClueStatus!]) {
  stats { clues(groupBy: [], from: $from, to: $to, dateBy: CLOSED) { count } }
  clues(filter: {closedFrom: $from, closedTo: $to, status: $counted}) { totalCount nodes { closedAt } } }"""


async def test_the_closed_figure_and_the_list_of_clues_closed_in_the_period_agree(graph) -> None:
    # When the dashboard counts the clues closed in a period, and the list asks for the same period
    data = await graph.data(CLOSED_IN, {"from": "2026-01-01", "to": "2026-12-31", "counted": NOT_MERGED}, as_="city")
    # Then both hold the same clues, each closed within it
    assert data["stats"]["clues"] == [{"count": data["clues"]["totalCount"]}]
    assert data["clues"]["totalCount"] > 0
    assert all(n["closedAt"] for n in data["clues"]["nodes"])
    # and a period before any closure holds none
    none = await graph.data(CLOSED_IN, {"from": "2020-01-01", "to": "2020-12-31", "counted": NOT_MERGED}, as_="city")
    assert none["stats"]["clues"] == [{"count": 0}]
    assert none["clues"]["totalCount"] == 0
