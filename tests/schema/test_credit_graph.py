"""Credit over GraphQL: penalties and listings in the jurisdiction, the deposit rate, the credit mutations.

The graph's "today" is injected (``china_today`` of the resolvers is the demo's ``TODAY``): no test here
depends on the day it runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import TODAY
from tests.schema.conftest import GraphClient, StatementCounter


@pytest.fixture
async def graph(writable_demo, settings_for, monkeypatch) -> AsyncIterator[GraphClient]:  # type: ignore[no-untyped-def]
    import schema.credit
    import schema.types.registry
    from hub.app import create_app

    for module in (schema.credit, schema.types.registry):
        monkeypatch.setattr(module, "china_today", lambda: TODAY)
    app = create_app(settings_for(writable_demo.url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        yield GraphClient(client, writable_demo.keys, StatementCounter())
    await app.state.engine.dispose()


@pytest.fixture
def rerated(monkeypatch) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    """What the mutations asked the credit actor to recompute."""
    from hub.actors import refresh_credit_levels

    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(refresh_credit_levels, "send", lambda *args: sent.append(args))
    return sent


ENTERPRISE = "query($id: ID!) { node(id: $id) { ... on Enterprise { %s } } }"


async def _enterprise_id(graph: GraphClient, database_id: int) -> str:
    data = await graph.data("{ enterprises(first: 100) { nodes { id databaseId } } }")
    return next(n["id"] for n in data["enterprises"]["nodes"] if n["databaseId"] == database_id)


async def test_the_demos_ratings_were_computed_from_its_evidence(graph, writable_demo) -> None:  # type: ignore[no-untyped-def]
    # Given the seeded enterprise with three penalties this year
    h = writable_demo.highlights["repeat_enterprise"]
    gid = await _enterprise_id(graph, h["enterprise_id"])
    data = await graph.data(ENTERPRISE % "creditLevel creditRatings { year level evidence } penalties { documentNo decidedOn kind }",
                            {"id": gid})
    ent = data["node"]
    # Then its latest rating is C and cites the three penalties of the year, which the graph lists too
    latest = ent["creditRatings"][-1]
    assert (ent["creditLevel"], latest["year"], latest["level"]) == ("C", TODAY.year, "C")
    this_year = [p["documentNo"] for p in ent["penalties"] if p["decidedOn"].startswith(str(TODAY.year))]
    assert [e["document_no"] for e in latest["evidence"] if e["type"] == "penalty"] == this_year and len(this_year) == 3


async def test_an_inspector_records_a_penalty_and_the_credit_is_recomputed(graph, writable_demo, rerated) -> None:  # type: ignore[no-untyped-def]
    h = writable_demo.highlights["multi_channel_clue"]
    query = "query($n: String!) { clue(clueNo: $n) { enterprise { uscc databaseId } } }"
    ent = (await graph.data(query, {"n": h["clue_no"]}))["clue"]["enterprise"]
    county = writable_demo.highlights["county_code"]
    # When the county's inspector records a penalty whose text names a worker's phone
    data = await graph.data(
        "mutation($i: PenaltyInput!) { recordPenalty(input: $i) { documentNo kind amount source violation regionCode "
        "enterprise { uscc } } }",
        {"i": {"uscc": ent["uscc"], "documentNo": "济任人社监罚字〔2026〕第901号", "decidedOn": "2026-10-09", "kind": "FINE",
               "amount": "30000", "violation": "拖欠农民工工资，工人电话13912345678", "regionCode": county}},
        as_="county",
    )
    # Then it is recorded, its free text masked, and the enterprise's 2026 credit sent for recomputation
    assert data["recordPenalty"] == {
        "documentNo": "济任人社监罚字〔2026〕第901号", "kind": "FINE", "amount": "30000.00", "source": "ENTERED",
        "violation": "拖欠农民工工资，工人电话139****5678", "regionCode": county, "enterprise": {"uscc": ent["uscc"]},
    }
    assert rerated == [([ent["databaseId"]], [2026])]
    # And the same document number again is refused with its code
    err = await graph.error(
        "mutation($i: PenaltyInput!) { recordPenalty(input: $i) { id } }",
        {"i": {"uscc": ent["uscc"], "documentNo": "济任人社监罚字〔2026〕第901号", "decidedOn": "2026-10-09", "kind": "ORDER",
               "violation": "v", "regionCode": county}},
        as_="county",
    )
    assert (err["extensions"]["code"], err["message"]) == ("DUPLICATE_DOCUMENT", "penalty 济任人社监罚字〔2026〕第901号 is already recorded")


async def test_the_current_listings_are_those_in_the_jurisdiction(graph, writable_demo) -> None:  # type: ignore[no-untyped-def]
    query = "{ blacklist { nodes { documentNo status endsOn enterprise { databaseId blacklisted } } } }"
    listed = (await graph.data(query))["blacklist"]["nodes"]
    ids = {n["enterprise"]["databaseId"] for n in listed}
    assert writable_demo.highlights["blacklisted_enterprise"]["enterprise_id"] in ids
    assert {n["status"] for n in listed} == {"LISTED"} and all(n["endsOn"] > TODAY.isoformat() for n in listed)
    assert all(n["enterprise"]["blacklisted"] for n in listed)
    # Another province's system sees none of them
    assert (await graph.data(query, as_="other-province"))["blacklist"]["nodes"] == []


async def test_the_deposit_rate_of_a_listed_enterprise_is_the_highest(graph, writable_demo) -> None:  # type: ignore[no-untyped-def]
    h = writable_demo.highlights["blacklisted_enterprise"]
    gid = await _enterprise_id(graph, h["enterprise_id"])
    data = await graph.data(ENTERPRISE % "depositRate(contractValue: \"2000000\") { rate exempt basis reason cleanYears } "
                            "blacklistEntries { endsOn }", {"id": gid})
    ends = data["node"]["blacklistEntries"][0]["endsOn"]
    rate = {k: v for k, v in data["node"]["depositRate"].items() if k != "cleanYears"}
    assert rate == {"rate": "0.0300", "exempt": False, "basis": "blacklisted", "reason": f"on the arrears blacklist until {ends}"}


async def test_early_removal_before_six_months_is_refused_with_the_first_day(graph, writable_demo, rerated) -> None:  # type: ignore[no-untyped-def]
    listed = (await graph.data("{ blacklist { nodes { id documentNo enterprise { databaseId } } } }"))["blacklist"]["nodes"]
    entry = next(n for n in listed if n["enterprise"]["databaseId"] == writable_demo.highlights["blacklisted_enterprise"]["enterprise_id"])
    corrected = TODAY - dt.timedelta(days=30)
    mutation = ("mutation($id: ID!, $c: Date!) { removeFromBlacklist(id: $id, correctedOn: $c, promiseNo: \"信用承诺〔2026〕1号\", "
                "reason: \"已支付\") { status } }")
    # An inspector may not; an administrator is told when it may
    err = await graph.error(mutation, {"id": entry["id"], "c": corrected.isoformat()}, as_="city")
    assert (err["extensions"]["code"], err["message"]) == ("FORBIDDEN", "only administrators may remove enterprises from the blacklist")
    err = await graph.error(mutation, {"id": entry["id"], "c": corrected.isoformat()})
    from hub.blacklist import add_months

    first = add_months(corrected, 6)
    assert (err["extensions"]["code"], err["message"], err["extensions"]["suggestion"]) == (
        "TOO_EARLY",
        f"listing {entry['documentNo']} may be removed early from {first}, 6 months after the correction on {corrected}",
        f"apply again on or after {first}",
    )
    assert rerated == []
