"""The graph through the whole ASGI stack: pagination, relations, loaders, filters."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.workdays import local_date

CLUE_PAGE = """
query Page($first: Int, $after: String) {
  clues(first: $first, after: $after) {
    edges { cursor node {
      id clueNo status amount
      channelRecords { channel sourceId matchRule rawRecord { sourceKey payloadHash } }
      enterprise { name uscc creditLevel }
      project { projectCode name region { name fullName } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_a_nested_page_costs_the_same_number_of_statements_whatever_its_size(graph) -> None:
    # Given pages of 3 and of 60 clues, each with channel records, raw payloads, enterprise, project, region
    small = await graph.count_statements(CLUE_PAGE, {"first": 3})
    large = await graph.count_statements(CLUE_PAGE, {"first": 60})
    # Then both cost the same, small, number of statements (auth + one per relation)
    assert small == large
    assert large <= 8, graph.counter.statements


async def test_nested_connections_are_batched_per_level(graph) -> None:
    query = """{ projects(first: 25) { edges { node {
        name wageAccounts { salaryAccount allocations(first: 3) { totalCount edges { node { amount } } } }
        payroll(first: 4) { totalCount edges { node { payMonth worker { name } } } }
    } } } }"""
    few = await graph.count_statements(query.replace("first: 25", "first: 2"))
    many = await graph.count_statements(query)
    assert few == many


async def test_walking_every_page_returns_each_clue_once_in_order(graph) -> None:
    seen: list[str] = []
    received: list[str] = []
    after = None
    while True:
        data = await graph.data(
            """query($after: String) { clues(first: 7, after: $after) {
                 totalCount edges { node { clueNo receivedAt } } pageInfo { hasNextPage endCursor } } }""",
            {"after": after},
        )
        page = data["clues"]
        seen += [e["node"]["clueNo"] for e in page["edges"]]
        received += [e["node"]["receivedAt"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == page["totalCount"]
    assert received == sorted(received, reverse=True)


@pytest.mark.parametrize("order", ["RECEIVED_AT_ASC", "ID_ASC"], ids=["by-received", "by-id"])
async def test_other_orders_paginate_without_gaps(graph, order) -> None:
    first = await graph.data(
        f"{{ clues(first: 5, order: {order}) {{ edges {{ node {{ clueNo }} }} pageInfo {{ endCursor }} }} }}"
    )
    rest = await graph.data(
        f"query($a: String) {{ clues(first: 5, order: {order}, after: $a) {{ edges {{ node {{ clueNo }} }} }} }}",
        {"a": first["clues"]["pageInfo"]["endCursor"]},
    )
    both = await graph.data(f"{{ clues(first: 10, order: {order}) {{ edges {{ node {{ clueNo }} }} }} }}")
    joined = [e["node"]["clueNo"] for e in first["clues"]["edges"] + rest["clues"]["edges"]]
    assert joined == [e["node"]["clueNo"] for e in both["clues"]["edges"]]


async def test_the_two_channel_clue_walks_to_its_projects_payroll(graph, demo) -> None:
    # Given the complaint that came through 12345 and the national platform (README walkthrough)
    clue_no = demo.highlights["two_channel_clue_no"]
    data = await graph.data(
        """query($no: String!) { clue(clueNo: $no) {
             channelRecords { channel matchRule matchScore rawRecord { payload } }
             project { name payroll(first: 3) { totalCount edges { node { payMonth actualAmount worker { name } } } } }
        } }""",
        {"no": clue_no},
    )
    clue = data["clue"]
    assert sorted(r["channel"] for r in clue["channelRecords"]) == ["HOTLINE12345", "NATIONAL_PLATFORM"]
    hotline = next(r for r in clue["channelRecords"] if r["channel"] == "HOTLINE12345")
    assert "orderNum" in hotline["rawRecord"]["payload"]
    assert clue["project"]["payroll"]["totalCount"] > 0
    assert clue["project"]["payroll"]["edges"][0]["node"]["worker"]["name"]


async def test_multi_channel_filter_finds_the_merged_complaint(graph, demo) -> None:
    data = await graph.data(
        "{ clues(filter: {multiChannel: true}, first: 100) { edges { node { clueNo channelRecords { id } } } } }"
    )
    numbers = [e["node"]["clueNo"] for e in data["clues"]["edges"]]
    assert demo.highlights["two_channel_clue_no"] in numbers
    assert all(len(e["node"]["channelRecords"]) >= 2 for e in data["clues"]["edges"])


async def test_relations_traverse_both_ways(graph) -> None:
    data = await graph.data("""{ enterprises(first: 50, filter: {kind: "general_contractor"}) { edges { node { uscc
        projects(first: 2) { edges { node { contractor { uscc } clues(first: 2) { edges { node { enterprise { uscc } } } } } } }
    } } } }""")
    pairs = 0
    for e in data["enterprises"]["edges"]:
        for p in e["node"]["projects"]["edges"]:
            assert p["node"]["contractor"]["uscc"] == e["node"]["uscc"]
            pairs += 1
    assert pairs > 0


async def test_node_fetches_every_kind_by_global_id(graph) -> None:
    data = await graph.data("""{
      clues(first: 1) { edges { node { id channelRecords { id } actions { id } project { id wageAccounts { id }
        guaranteeDeposits { id } workers(first: 1) { edges { node { id } } } payroll(first: 1) { edges { node { id } } } } } } }
      enterprises(first: 1) { edges { node { id } } }
      warnings(first: 1) { edges { node { id } } }
    }""")
    clue = data["clues"]["edges"][0]["node"]
    ids = [
        clue["id"],
        clue["channelRecords"][0]["id"],
        clue["project"]["id"],
        clue["project"]["wageAccounts"][0]["id"],
        clue["project"]["workers"]["edges"][0]["node"]["id"],
        clue["project"]["payroll"]["edges"][0]["node"]["id"],
        data["enterprises"]["edges"][0]["node"]["id"],
        data["warnings"]["edges"][0]["node"]["id"],
    ]
    for gid in ids:
        node = await graph.data("query($id: ID!) { node(id: $id) { id __typename } }", {"id": gid})
        assert node["node"]["id"] == gid


@pytest.mark.parametrize(
    ("filter_", "check"),
    [
        ("{status: [CLOSED, CALLED_BACK]}", lambda n: n["status"] in ("CLOSED", "CALLED_BACK")),
        ("{colour: [RED]}", lambda n: n["colour"] == "RED"),
        ("{channel: HOTLINE12345}", lambda n: "HOTLINE12345" in [r["channel"] for r in n["channelRecords"]]),
        ('{search: "工资"}', lambda n: "工资" in (n["title"] + n["respondentName"] + (n["complainantName"] or ""))),
        ("{supervised: true}", lambda n: n["supervision"] in ("SUPERVISED", "LISTED")),
        ('{handlingRegionCode: "370800"}', lambda n: n["handlingRegionCode"] == "370800"),
    ],
    ids=["status", "colour", "channel", "search", "supervised", "handling-region"],
)
async def test_clue_filters(graph, filter_, check) -> None:
    data = await graph.data(
        f"{{ clues(first: 200, filter: {filter_}) {{ edges {{ node {{ status colour title respondentName complainantName "
        "supervision handlingRegionCode "
        "channelRecords { channel } } } } }"
    )
    nodes = [e["node"] for e in data["clues"]["edges"]]
    assert nodes, f"no clue matched {filter_}: the demo data should contain some"
    assert all(check(n) for n in nodes)


async def test_region_filter_includes_everything_below(graph, demo) -> None:
    county = demo.highlights["county_code"]
    data = await graph.data(
        "query($r: String!) { inCounty: projects(filter: {regionCode: $r}, first: 500) { totalCount edges { node { regionCode } } }"
        ' inCity: projects(filter: {regionCode: "370800"}, first: 1) { totalCount } }',
        {"r": county},
    )
    assert all(e["node"]["regionCode"].startswith(county) for e in data["inCounty"]["edges"])
    assert 0 < data["inCounty"]["totalCount"] < data["inCity"]["totalCount"]


async def test_date_range_filter(graph) -> None:
    # The range is of China days (UTC+8), as the dashboard's `stats` counts them
    data = await graph.data(
        '{ clues(first: 500, filter: {receivedFrom: "2026-09-01", receivedTo: "2026-09-30"}) { edges { node { receivedAt } } } }'
    )
    received = [dt.datetime.fromisoformat(e["node"]["receivedAt"]) for e in data["clues"]["edges"]]
    assert received and all(local_date(r).strftime("%Y-%m") == "2026-09" for r in received)


async def test_overdue_filter_returns_open_clues_past_deadline(graph) -> None:
    data = await graph.data("{ clues(first: 200, filter: {overdue: true}) { edges { node { status deadline } } } }")
    for e in data["clues"]["edges"]:
        assert e["node"]["status"] not in ("CLOSED", "CALLED_BACK")
        assert e["node"]["deadline"] is not None
