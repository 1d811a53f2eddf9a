"""The real-name platform in the graph: teams, entries and exits, attendance and its monthly summary."""

from __future__ import annotations

from sqlalchemy import text

from hub.db import make_engine
from schema.types._common import to_global_id

WORKER = """query($id: ID!) { node(id: $id) { ... on Worker { idNumber onRoster teamSysNo
  team { teamSysNo leaderName project { projectCode } }
  movements { kind movedOn settled settlementAmount }
  attendance(from: "2026-10-01", to: "2026-10-31", first: 50) { totalCount nodes { day timeIn device: deviceId
    worker { idNumber } } } } } }"""


def _sql(demo, query: str, **params):  # type: ignore[no-untyped-def]
    engine = make_engine(demo.url)
    with engine.connect() as conn:
        rows = conn.execute(text(query), params).all()
    engine.dispose()
    return rows


async def _worker_id(graph, worker_id: int) -> str:  # type: ignore[no-untyped-def]
    return to_global_id("Worker", worker_id)


async def test_a_workers_team_movements_and_attendance(graph, demo) -> None:
    # Given a seeded team member with October attendance
    [(wid, team_no, days)] = _sql(
        demo,
        "SELECT w.id, w.team_sys_no, count(a.id) FROM workers w JOIN attendance a ON a.worker_id = w.id"
        " WHERE w.team_sys_no IS NOT NULL AND w.is_team_leader AND a.day BETWEEN '2026-10-01' AND '2026-10-31'"
        " GROUP BY w.id, w.team_sys_no ORDER BY w.id LIMIT 1",
    )
    node_id = await _worker_id(graph, wid)
    # When read through the graph
    worker = (await graph.data(WORKER, {"id": node_id}, as_="city"))["node"]
    # Then the team, the entry and the month's attendance are the worker's, and the ID stays masked
    assert worker["onRoster"] is True
    assert worker["team"]["teamSysNo"] == team_no
    assert worker["movements"][0]["kind"] == "ENTRY" and worker["movements"][0]["settled"] is None
    assert worker["attendance"]["totalCount"] == days
    assert [n["day"] for n in worker["attendance"]["nodes"]] == sorted(
        (n["day"] for n in worker["attendance"]["nodes"]), reverse=True
    )
    assert "********" in worker["idNumber"]
    assert all(n["worker"]["idNumber"] == worker["idNumber"] for n in worker["attendance"]["nodes"])


async def test_an_exit_carries_its_settlement(graph, demo) -> None:
    [(wid, amount)] = _sql(
        demo, "SELECT worker_id, settlement_amount FROM site_movements WHERE kind = 'exit' ORDER BY id LIMIT 1"
    )
    worker = (await graph.data(WORKER, {"id": await _worker_id(graph, wid)}))["node"]
    exits = [v for v in worker["movements"] if v["kind"] == "EXIT"]
    assert len(exits) == 1 and exits[0]["settled"] is True
    assert float(exits[0]["settlementAmount"]) == float(amount)


async def test_a_projects_teams_and_attendance_summary_are_a_group_by(graph, demo) -> None:
    # Given the October attendance per project, counted here in SQL
    expected = {
        code: (workers, days)
        for code, workers, days in _sql(
            demo,
            "SELECT p.project_code, count(DISTINCT a.worker_id), count(*) FROM attendance a"
            " JOIN projects p ON p.id = a.project_id WHERE a.day BETWEEN '2026-10-01' AND '2026-10-31'"
            " GROUP BY p.project_code",
        )
    }
    teams = dict(
        _sql(
            demo,
            "SELECT p.project_code, count(*) FROM teams t JOIN projects p ON p.id = t.project_id GROUP BY p.project_code",
        )
    )
    # When every project's summary is asked for on one page
    data = await graph.data(
        "{ projects(first: 100) { nodes { projectCode teams { teamSysNo leaderName }"
        ' attendanceSummary(month: "2026-10") { month workers attendanceDays } } } }'
    )
    nodes = data["projects"]["nodes"]
    # Then each is that GROUP BY (zero where nobody clocked in), and the teams are the project's
    [(projects,)] = _sql(demo, "SELECT count(*) FROM projects")
    assert expected and len(nodes) == projects
    for n in nodes:
        summary = n["attendanceSummary"]
        assert (summary["month"], summary["workers"], summary["attendanceDays"]) == (
            "2026-10",
            *expected.get(n["projectCode"], (0, 0)),
        )
        assert len(n["teams"]) == teams.get(n["projectCode"], 0)
        assert all(t["leaderName"] for t in n["teams"])


async def test_a_county_principal_does_not_see_another_countys_attendance(graph, demo) -> None:
    county = demo.highlights["county_code"]
    [(elsewhere,)] = _sql(demo, "SELECT id FROM attendance WHERE region_code <> :c ORDER BY id LIMIT 1", c=county)
    [(here,)] = _sql(demo, "SELECT id FROM attendance WHERE region_code = :c ORDER BY id LIMIT 1", c=county)
    query = "query($id: ID!) { node(id: $id) { ... on Attendance { day project { regionCode } } } }"
    # Then the county's own attendance is visible to it, another county's is not (and is to the city)
    assert (await graph.data(query, {"id": to_global_id("Attendance", here)}, as_="county"))["node"]["project"][
        "regionCode"
    ] == county
    assert (await graph.data(query, {"id": to_global_id("Attendance", elsewhere)}, as_="county"))["node"] is None
    assert (await graph.data(query, {"id": to_global_id("Attendance", elsewhere)}, as_="city"))["node"] is not None
    # And a summary asked for by the county counts only what it may see
    data = await graph.data(
        '{ projects(first: 100) { nodes { regionCode attendanceSummary(month: "2026-10") { workers } } } }',
        as_="county",
    )
    assert data["projects"]["nodes"] and all(n["regionCode"] == county for n in data["projects"]["nodes"])


async def test_bad_month_and_span_are_the_users_mistake(graph, demo) -> None:
    err = await graph.error('{ projects(first: 1) { nodes { attendanceSummary(month: "2026-13") { workers } } } }')
    assert (err["extensions"]["code"], err["message"]) == ("BAD_USER_INPUT", "month '2026-13' is not a month (YYYY-MM)")
    [(wid,)] = _sql(demo, "SELECT id FROM workers ORDER BY id LIMIT 1")
    err = await graph.error(
        'query($id: ID!) { node(id: $id) { ... on Worker { attendance(from: "2026-09-01", to: "2026-11-19") { totalCount } } } }',
        {"id": await _worker_id(graph, wid)},
    )
    assert (err["extensions"]["code"], err["message"]) == (
        "BAD_USER_INPUT",
        "from 2026-09-01 to 2026-11-19 spans 80 days: ask for at most 62",
    )


async def test_a_teams_workers_are_its_members_on_its_project(graph, demo) -> None:
    # Given the two largest teams, counted here in SQL with their members' ids
    members: dict[tuple[int, str], list[int]] = {}
    for team_id, wid in _sql(
        demo,
        "SELECT t.id, w.id FROM teams t JOIN workers w ON w.project_id = t.project_id AND w.team_sys_no = t.team_sys_no"
        " ORDER BY t.id, w.id",
    ):
        members.setdefault(team_id, []).append(wid)
    largest = sorted(members, key=lambda t: (-len(members[t]), t))[:2]
    # When both are read on one request, two members a page
    query = """query($a: ID!, $b: ID!) { a: node(id: $a) { ...T } b: node(id: $b) { ...T } }
      fragment T on Team { teamSysNo workers(first: 2) { totalCount pageInfo { hasNextPage } nodes { id idNumber } } }"""
    data = await graph.data(query, {"a": to_global_id("Team", largest[0]), "b": to_global_id("Team", largest[1])})
    # Then each lists its own members only, the count is the team's, and IDs stay masked
    for alias, team_id in zip(("a", "b"), largest, strict=True):
        workers = data[alias]["workers"]
        assert workers["totalCount"] == len(members[team_id])
        assert [n["id"] for n in workers["nodes"]] == [to_global_id("Worker", w) for w in members[team_id][:2]]
        assert workers["pageInfo"]["hasNextPage"] == (len(members[team_id]) > 2)
        assert all("********" in n["idNumber"] for n in workers["nodes"])
