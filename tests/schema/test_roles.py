"""Roles × jurisdiction: a town handler sees and works only its town's clues; a 行业主管部门 sees only its
sector's projects, clues and warnings within its region; a leader reads and changes nothing.

The sector is a second dimension next to the jurisdiction, installed in the same session event
(hub.access): the answers are compared with counts the test computes itself in SQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from hub.db import make_engine
from schema.types._common import to_global_id
from tests.schema.conftest import GraphClient
from tests.schema.test_clue_handling import act, new_clue

#: An inspector of 任城区 who hands clues down to its towns.
EXTRA_KEYS = [("rencheng", "370811")]


@pytest.fixture
def graph(writable_graph: GraphClient) -> GraphClient:
    return writable_graph


def sql(url: str, query: str, **params: Any) -> Any:
    engine = make_engine(url)
    with engine.connect() as conn:
        value = conn.execute(text(query), params).scalar_one()
    engine.dispose()
    return value


async def total(graph: GraphClient, field: str, *, as_: str) -> int:
    return int((await graph.data(f"{{ {field}(first: 1) {{ totalCount }} }}", as_=as_))[field]["totalCount"])


async def test_a_town_handler_sees_and_works_only_the_clues_dispatched_to_its_town(graph: GraphClient) -> None:
    # Given two clues of 任城区, one handed down to the town 370811002 and one to its neighbour 370811005
    ours, theirs = await new_clue(graph, "370811"), await new_clue(graph, "370811")
    await act(graph, 'dispatchClue(clueNo: $n, toRegionCode: "370811002")', ours["clueNo"], as_="rencheng")
    await act(graph, 'dispatchClue(clueNo: $n, toRegionCode: "370811005")', theirs["clueNo"], as_="rencheng")
    # When the town handler of 370811002 lists clues
    listed = await graph.data(
        "{ clues(first: 500) { totalCount nodes { clueNo handlingRegionCode } } }", as_="town-handler"
    )
    # Then it sees its town's clue among the ones its town handles (the demo hands some down), and only those
    numbers = [n["clueNo"] for n in listed["clues"]["nodes"]]
    assert ours["clueNo"] in numbers and theirs["clueNo"] not in numbers
    assert all(n["handlingRegionCode"] == "370811002" for n in listed["clues"]["nodes"])
    assert listed["clues"]["totalCount"] == len(numbers)
    assert (
        await graph.data(
            "query($n: String!) { clue(clueNo: $n) { clueNo } }", {"n": theirs["clueNo"]}, as_="town-handler"
        )
    )["clue"] is None
    # And it works it (签收), which the policy table lets a town handler do
    accepted = await act(graph, "acceptClue(clueNo: $n)", ours["clueNo"], as_="town-handler")
    assert accepted["acceptClue"]["handlingRegionCode"] == "370811002"
    # But not the neighbour's: not found in its jurisdiction
    err = await graph.error(
        "mutation($n: String!) { acceptClue(clueNo: $n) { status } }", {"n": theirs["clueNo"]}, as_="town-handler"
    )
    assert err["extensions"]["code"] == "NOT_FOUND"


async def test_a_sector_user_sees_only_its_sectors_projects_clues_and_warnings(
    graph: GraphClient, writable_demo
) -> None:  # type: ignore[no-untyped-def]
    url = writable_demo.url
    city = {"lo": "3708", "hi": "3709"}
    # Given the demo's counts within 济宁, computed here in SQL
    projects = sql(
        url, "SELECT count(*) FROM projects WHERE sector = '住建' AND region_code >= :lo AND region_code < :hi", **city
    )
    all_projects = sql(url, "SELECT count(*) FROM projects WHERE region_code >= :lo AND region_code < :hi", **city)
    clues = sql(
        url,
        "SELECT count(*) FROM clues c JOIN projects p ON p.id = c.project_id WHERE p.sector = '住建' "
        "AND ((c.region_code >= :lo AND c.region_code < :hi) OR "
        "(c.handling_region_code >= :lo AND c.handling_region_code < :hi))",
        **city,
    )
    warnings = sql(
        url,
        "SELECT count(*) FROM warnings w JOIN projects p ON p.id = w.project_id WHERE p.sector = '住建' "
        "AND w.region_code >= :lo AND w.region_code < :hi",
        **city,
    )
    assert 0 < projects < all_projects and clues > 0  # the demo has 住建 and other projects, and 住建 clues
    # When the 住建 department of the city asks
    # Then it sees exactly its sector's rows
    assert await total(graph, "projects", as_="zhujian") == projects
    assert await total(graph, "clues", as_="zhujian") == clues
    assert await total(graph, "warnings", as_="zhujian") == warnings
    sectors = await graph.data("{ projects(first: 500) { nodes { sector } } }", as_="zhujian")
    assert {n["sector"] for n in sectors["projects"]["nodes"]} == {"住建"}
    # While a viewer of the same city sees every sector
    assert await total(graph, "projects", as_="viewer") == all_projects
    # And `me` says which sector the request stands for
    me = await graph.data("{ me { role regionCode sector } }", as_="zhujian")
    assert me["me"] == {"role": "sector", "regionCode": "370800", "sector": "住建"}


async def test_a_sector_user_does_not_reach_another_sectors_clue_by_number(graph: GraphClient, writable_demo) -> None:  # type: ignore[no-untyped-def]
    # Given a clue of the city whose project is not 住建
    other = sql(
        writable_demo.url,
        "SELECT c.clue_no FROM clues c JOIN projects p ON p.id = c.project_id "
        "WHERE p.sector <> '住建' ORDER BY c.id LIMIT 1",
    )
    # Then the 住建 department does not find it, nor its channel records; an inspector of the city does
    query = "query($n: String!) { clue(clueNo: $n) { clueNo } }"
    assert (await graph.data(query, {"n": other}, as_="zhujian"))["clue"] is None
    assert (await graph.data(query, {"n": other}, as_="city"))["clue"] == {"clueNo": other}


async def test_a_leader_reads_the_city_but_may_not_work_a_clue(graph: GraphClient) -> None:
    clue = await new_clue(graph, "370811")
    assert await total(graph, "clues", as_="leader") == await total(graph, "clues", as_="viewer")
    err = await graph.error(
        "mutation($n: String!) { acceptClue(clueNo: $n) { status } }", {"n": clue["clueNo"]}, as_="leader"
    )
    assert (err["extensions"]["code"], err["message"]) == ("FORBIDDEN", "a leader key may not accept clues")


async def test_a_sector_user_decides_on_its_sectors_warnings_only(graph: GraphClient, writable_demo) -> None:  # type: ignore[no-untyped-def]
    # Given an open warning of a 住建 project and one of another sector's, both in the city
    pick = (
        "SELECT w.id FROM warnings w JOIN projects p ON p.id = w.project_id WHERE p.sector {} '住建' "
        "AND w.status = 'active' AND w.region_code >= '3708' AND w.region_code < '3709' ORDER BY w.id LIMIT 1"
    )
    ours, theirs = sql(writable_demo.url, pick.format("=")), sql(writable_demo.url, pick.format("<>"))
    ack = "mutation($id: ID!) { acknowledgeWarning(id: $id) { acknowledgedBy } }"
    # When the 住建 department acknowledges each
    done = await graph.data(ack, {"id": to_global_id("Warning", ours)}, as_="zhujian")
    err = await graph.error(ack, {"id": to_global_id("Warning", theirs)}, as_="zhujian")
    # Then its own is acknowledged, and the other sector's is not found within its reach
    assert done["acknowledgeWarning"]["acknowledgedBy"] == "apikey:zhujian"
    assert err["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("who", "actions"),
    [
        ("leader", ["event.follow"]),
        ("town-handler", ["clue.work", "event.follow"]),
        ("zhujian", ["warning.handle", "event.follow"]),
        (
            "city",
            [
                "clue.work",
                "clue.merge",
                "clue.enter",
                "warning.escalate",
                "warning.handle",
                "event.follow",
                "penalty.record",
            ],
        ),
    ],
    ids=["leader", "town", "sector", "inspector"],
)
async def test_me_says_what_the_policy_table_lets_the_principal_do(
    graph: GraphClient, who: str, actions: list[str]
) -> None:
    # The console offers only these (its menu, a warning's buttons); the API checks again on each request
    assert (await graph.data("{ me { actions } }", as_=who))["me"]["actions"] == actions
