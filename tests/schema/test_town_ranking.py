"""``townRanking`` over GraphQL on the seeded demo: the towns of 任城区 (370811), the first county, to
which the demo hands part of its clues; the caller's jurisdiction; errors with stable codes.

The graph's "today" is the demo's ``TODAY`` (``china_today`` of the resolver is patched): no test here
depends on the day it runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import TODAY
from tests.schema.conftest import GraphClient, StatementCounter

QUERY = (
    "query($c: String!, $f: Date!, $t: Date!, $o: TownRankingOrder) { townRanking(county: $c, from: $f, to: $t, orderBy: $o) "
    "{ rank code name received closed closedOnTime overdue returned calledBack satisfied closedOnTimeRate returnRate "
    "satisfactionRate score } }"
)
YEAR = {"c": "370811", "f": "2025-11-21", "t": str(TODAY)}


@pytest.fixture
async def graph(demo, settings_for, monkeypatch) -> AsyncIterator[GraphClient]:  # type: ignore[no-untyped-def]
    import schema.ranking
    from hub.app import create_app

    monkeypatch.setattr(schema.ranking, "china_today", lambda: TODAY)
    app = create_app(settings_for(demo.url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        yield GraphClient(client, demo.keys, StatementCounter())
    await app.state.engine.dispose()


def _sql(url: str, query: str) -> list[tuple]:  # type: ignore[type-arg]
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(query))]
    finally:
        engine.dispose()


async def test_the_city_ranks_the_towns_of_the_first_county_on_the_seeded_clues(graph, demo) -> None:  # type: ignore[no-untyped-def]
    # When the city asks for the year's ranking of 任城区's towns
    rows = (await graph.data(QUERY, YEAR, as_="city"))["townRanking"]
    # Then every town of 任城区 in the region list has a row
    towns = _sql(demo.url, "SELECT code FROM regions WHERE parent_code = '370811' AND level = 'town' ORDER BY code")
    assert sorted(r["code"] for r in rows) == [t[0] for t in towns]
    # And the towns received exactly the clues the demo dispatched to them (each clue once per town)
    handed = _sql(
        demo.url,
        "SELECT to_region_code, COUNT(DISTINCT clue_id) FROM case_actions WHERE action = 'dispatch' "
        "AND to_region_code LIKE '370811___' GROUP BY to_region_code",
    )
    assert {r["code"]: r["received"] for r in rows if r["received"]} == dict(handed)
    assert sum(r["received"] for r in rows) > 10
    # And the towns that returned clues or closed them are counted, with the ranks in order, best first
    assert sum(r["returned"] for r in rows) >= 1 and sum(r["calledBack"] for r in rows) >= 1
    scored = [r for r in rows if r["score"] is not None]
    assert [r["score"] for r in scored] == sorted((r["score"] for r in scored), reverse=True)
    assert scored[0]["rank"] == 1 and all(r["rank"] == len(scored) + 1 for r in rows if r["score"] is None)


async def test_ranking_by_return_rate_puts_the_returning_towns_last_among_those_with_clues(graph) -> None:  # type: ignore[no-untyped-def]
    rows = (await graph.data(QUERY, {**YEAR, "o": "RETURN_RATE"}, as_="city"))["townRanking"]
    rates = [r["returnRate"] for r in rows if r["returnRate"] is not None]
    assert rates == sorted(rates) and rates[-1] > 0


async def test_a_county_outside_the_jurisdiction_is_forbidden(graph, demo) -> None:  # type: ignore[no-untyped-def]
    # Given a key of the other province (江苏)
    err = await graph.error(QUERY, YEAR, as_="other-province")
    assert (err["extensions"]["code"], err["message"]) == (
        "FORBIDDEN",
        "county 370811 is outside your jurisdiction 320000",
    )


@pytest.mark.parametrize(
    ("county", "code", "message"),
    [
        ("37081", "INVALID_IDENTIFIER", "invalid county '37081': expected 6, 9 or 12 characters, got 5"),
        ("370800", "BAD_USER_INPUT", "county '370800' is a city: the ranking compares the towns of one county"),
        ("370899", "NOT_FOUND", "no county 370899 in the region list"),
    ],
)
async def test_a_bad_county_names_the_field(graph, county: str, code: str, message: str) -> None:  # type: ignore[no-untyped-def]
    err = await graph.error(QUERY, {**YEAR, "c": county}, as_="admin")
    assert (err["extensions"]["code"], err["message"]) == (code, message)
    assert err["extensions"]["field"] == "county"


async def test_a_period_backwards_is_bad_input(graph) -> None:  # type: ignore[no-untyped-def]
    err = await graph.error(QUERY, {**YEAR, "f": "2026-11-20", "t": "2026-11-01"}, as_="city")
    assert (err["extensions"]["code"], err["message"], err["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "to 2026-11-01 is before from 2026-11-20",
        "to",
    )
