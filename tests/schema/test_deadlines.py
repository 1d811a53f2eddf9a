"""Deadlines and the holiday calendar in the graph: each stage's deadline on a clue, the calendar of a
year, and the admin's load of a year's official schedule."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from hub import holidays
from hub import models as m
from tests.schema.conftest import GraphClient, StatementCounter

CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def calendar_reset() -> Iterator[None]:
    """The loaded schedules are process-wide: none before the test, none after."""
    holidays.forget()
    yield
    holidays.forget()


@pytest.fixture
async def graph(writable_demo, settings_for, calendar_reset, monkeypatch) -> AsyncIterator[GraphClient]:  # type: ignore[no-untyped-def]
    from hub.app import create_app

    # The hub's clock: Tuesday 2026-11-03, 10:00 in China
    monkeypatch.setattr(m, "utcnow", lambda: dt.datetime(2026, 11, 3, 10, tzinfo=CST))
    app = create_app(settings_for(writable_demo.url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        yield GraphClient(client, writable_demo.keys, StatementCounter())
    await app.state.engine.dispose()


DEADLINES = "deadline deadlineProvisional deadlines { stage dueDate provisional outcome current doneOn cite }"


async def test_a_walk_in_complaint_shows_its_acceptance_and_investigation_deadlines(graph, writable_demo) -> None:  # type: ignore[no-untyped-def]
    # Given a complaint entered at the window on Monday 2026-11-02
    county = writable_demo.highlights["county_code"]
    data = await graph.data(
        f"mutation($i: ManualClueInput!) {{ createClue(input: $i) {{ clueNo {DEADLINES} }} }}",
        {
            "i": {
                "channel": "WALK_IN",
                "sourceId": "LF-DEADLINE-0001",
                "regionCode": county,
                "title": "来访反映欠薪",
                "content": "来访人反映工资未付",
                "respondentName": "测试期限餐饮管理有限公司",
                "receivedAt": "2026-11-02T10:00:00+08:00",
                "complainantPhone": "13900009901",
            }
        },
    )
    clue = data["createClue"]
    # Then its deadline is the 受理 within 5 working days; the 调查 has not started
    assert (clue["deadline"], clue["deadlineProvisional"]) == ("2026-11-09", False)
    assert [
        {k: s[k] for k in ("stage", "dueDate", "provisional", "outcome", "current")} for s in clue["deadlines"]
    ] == [
        {"stage": "ACCEPT", "dueDate": "2026-11-09", "provisional": False, "outcome": "PENDING", "current": True},
        {"stage": "INVESTIGATE", "dueDate": None, "provisional": False, "outcome": "PENDING", "current": False},
    ]
    assert clue["deadlines"][0]["cite"].startswith("劳动和社会保障部令第25号 第十八条")
    # When the county accepts it (on 11-03): the 60 working days run from then, into 2027 (provisional)
    out = await graph.data(
        f"mutation($n: String!) {{ acceptClue(clueNo: $n) {{ {DEADLINES} }} }}", {"n": clue["clueNo"]}, as_="county"
    )
    accepted = out["acceptClue"]
    assert accepted["deadlines"][0]["outcome"] == "MET" and accepted["deadlines"][0]["doneOn"] == "2026-11-03"
    assert accepted["deadline"] == accepted["deadlines"][1]["dueDate"]
    assert accepted["deadlines"][1]["current"] is True


SCHEDULE = {
    "year": 2031,
    "source": "测试用 2031 年节假日安排",
    "holidays": ["2031-01-01", {"from": "2031-01-22", "to": "2031-01-28", "name": "春节"}],
    "workdays": [{"date": "2031-01-19", "name": "春节调休"}],
}


async def test_an_admin_loads_a_year_and_the_calendar_shows_it(graph) -> None:  # type: ignore[no-untyped-def]
    query = "query($y: Int!) { holidayCalendar(year: $y) { year basis source days { date isWorkday name } } }"
    # Given 2031, which no package covers: counted on the statutory days
    before = (await graph.data(query, {"y": 2031}, as_="viewer"))["holidayCalendar"]
    assert (before["basis"], before["days"][0]) == (
        "statutory",
        {"date": "2031-01-01", "isWorkday": False, "name": None},
    )
    # When an admin loads its schedule
    out = await graph.data(
        "mutation($f: String!) { loadHolidayCalendar(file: $f) { year holidays workdays replaced missingStatutory } }",
        {"f": json.dumps(SCHEDULE, ensure_ascii=False)},
    )
    load = out["loadHolidayCalendar"]
    assert (load["year"], load["holidays"], load["workdays"], load["replaced"]) == (2031, 8, 1, False)
    assert "2031-10-01" in load["missingStatutory"]
    # Then anyone reads the loaded schedule
    after = (await graph.data(query, {"y": 2031}, as_="viewer"))["holidayCalendar"]
    assert (after["basis"], after["source"]) == ("loaded", "测试用 2031 年节假日安排")
    assert after["days"][:2] == [
        {"date": "2031-01-01", "isWorkday": False, "name": None},
        {"date": "2031-01-19", "isWorkday": True, "name": "春节调休"},
    ]


async def test_a_bad_schedule_is_refused_with_the_field(graph) -> None:  # type: ignore[no-untyped-def]
    err = await graph.error('mutation { loadHolidayCalendar(file: "{\\"year\\": 2031}") { year } }')
    assert err["message"] == "source must name the notice the schedule comes from (at most 200 characters)"
    assert (err["extensions"]["code"], err["extensions"]["field"]) == ("BAD_USER_INPUT", "source")
