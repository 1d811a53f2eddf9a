"""What the admin console asks of the API beyond the lists: the actions a clue allows its reader now
(``Clue.availableActions``) and the clue pool sorted by deadline (``ClueOrder.DEADLINE_ASC``)."""

from __future__ import annotations

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
