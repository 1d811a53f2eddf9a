"""Who may work a clue: the region where the arrears happened and the region handling it (分办), both.

Also, over GraphQL: a lost race answers CONFLICT naming the clue and its state; a split that would
restore another county's clue is FORBIDDEN, naming the record and the jurisdiction.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.schema.conftest import GraphClient

#: Inspectors of two counties of 济宁 and of two towns of 任城区 (town codes have 9 digits).
EXTRA_KEYS = [("rencheng", "370811"), ("jiaxiang", "370829"), ("town", "370811002"), ("other-town", "370811005")]
_SERIAL = iter(range(1, 10_000))


@pytest.fixture
def graph(writable_graph: GraphClient) -> GraphClient:
    """The writable demo's client, with the inspector keys of ``EXTRA_KEYS`` too."""
    return writable_graph


async def new_clue(graph: GraphClient, region: str) -> dict[str, Any]:
    """A clue entered by the admin in ``region`` that matches nothing else."""
    n = next(_SERIAL)
    return (
        await graph.data(
            "mutation($i: ManualClueInput!) { createClue(input: $i) { clueNo databaseId status handlingRegionCode version "
            "channelRecords { id databaseId sourceId } } }",
            {
                "i": {
                    "channel": "WALK_IN",
                    "sourceId": f"LF-HANDLING-{n:04d}",
                    "regionCode": region,
                    "title": "来访反映欠薪",
                    "content": "来访人反映工资未付",
                    "respondentName": f"分办测试{n}号商贸有限公司",
                    "complainantPhone": f"1380000{n:04d}",
                    "complainantName": f"来访人{n}",
                }
            },
        )
    )["createClue"]


async def act(graph: GraphClient, mutation: str, no: str, *, as_: str) -> dict[str, Any]:
    return await graph.data(
        f"mutation($n: String!) {{ {mutation} {{ status handlingRegionCode version }} }}", {"n": no}, as_=as_
    )


CLUE_VIEW = "query($n: String!) { clue(clueNo: $n) { clueNo channelRecords { sourceId } actions { action } } }"


async def events_of(graph: GraphClient, clue_id: int, *, as_: str) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        page = (
            await graph.data(
                'query($a: String) { events(first: 500, after: $a, types: ["clue.dispatch", "clue.accept", "clue.close"]) '
                "{ pageInfo { hasNextPage endCursor } nodes { type entityId } } }",
                {"a": after},
                as_=as_,
            )
        )["events"]
        seen += [n["type"] for n in page["nodes"] if n["entityId"] == clue_id]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]


async def test_the_region_a_clue_is_dispatched_to_sees_accepts_and_closes_it(graph) -> None:  # type: ignore[no-untyped-def]
    # Given a clue of 兖州区 (370812) that the city hands to 任城区 (370811)
    clue = await new_clue(graph, "370812")
    no = clue["clueNo"]
    await act(graph, 'escalateClue(clueNo: $n, reason: "涉及任城区施工企业")', no, as_="admin")
    out = await act(graph, 'dispatchClue(clueNo: $n, toRegionCode: "370811")', no, as_="city")
    assert out["dispatchClue"]["handlingRegionCode"] == "370811"
    # Then 任城区 sees it, with its channel records and history, and works it
    seen = (await graph.data(CLUE_VIEW, {"n": no}, as_="rencheng"))["clue"]
    assert seen["channelRecords"] == [{"sourceId": clue["channelRecords"][0]["sourceId"]}]
    assert [a["action"] for a in seen["actions"]] == ["receive", "escalate", "dispatch"]
    listed = (
        await graph.data(
            '{ clues(first: 500, filter: {handlingRegionCode: "370811"}) { nodes { clueNo } } }', as_="rencheng"
        )
    )["clues"]["nodes"]
    assert no in [c["clueNo"] for c in listed]
    assert (await act(graph, "acceptClue(clueNo: $n)", no, as_="rencheng"))["acceptClue"]["status"] == "IN_PROGRESS"
    closed = await act(graph, 'closeClue(clueNo: $n, conclusion: "已足额支付")', no, as_="rencheng")
    assert closed["closeClue"] == {"status": "CLOSED", "handlingRegionCode": "370811", "version": clue["version"] + 4}
    # … and its events reach a 任城区 key; 嘉祥县 (370829) sees neither the clue nor its events
    assert await events_of(graph, clue["databaseId"], as_="rencheng") == ["clue.dispatch", "clue.accept", "clue.close"]
    assert (await graph.data(CLUE_VIEW, {"n": no}, as_="jiaxiang"))["clue"] is None
    assert await events_of(graph, clue["databaseId"], as_="jiaxiang") == []
    err = await graph.error(
        'mutation($n: String!) { extendClue(clueNo: $n, workingDays: 1, reason: "x") { status } }',
        {"n": no},
        as_="jiaxiang",
    )
    assert (err["extensions"]["code"], err["message"]) == ("NOT_FOUND", f"no clue {no} in your jurisdiction")


async def test_a_clue_dispatched_down_to_a_town_is_the_towns(graph) -> None:  # type: ignore[no-untyped-def]
    clue = await new_clue(graph, "370811")
    no = clue["clueNo"]
    out = await act(graph, 'dispatchClue(clueNo: $n, toRegionCode: "370811002")', no, as_="rencheng")
    assert out["dispatchClue"]["handlingRegionCode"] == "370811002"
    assert (await graph.data(CLUE_VIEW, {"n": no}, as_="other-town"))["clue"] is None
    assert (await graph.data(CLUE_VIEW, {"n": no}, as_="town"))["clue"]["clueNo"] == no
    assert (await act(graph, "acceptClue(clueNo: $n)", no, as_="town"))["acceptClue"]["status"] == "IN_PROGRESS"
    assert await events_of(graph, clue["databaseId"], as_="town") == ["clue.dispatch", "clue.accept"]
    assert await events_of(graph, clue["databaseId"], as_="other-town") == []


async def test_splitting_off_a_record_merged_in_from_another_county_is_forbidden(graph) -> None:  # type: ignore[no-untyped-def]
    # Given the city merged a 嘉祥县 clue into a 任城区 one
    target, source = await new_clue(graph, "370811"), await new_clue(graph, "370829")
    await graph.data(
        'mutation($t: String!, $s: String!) { mergeClues(targetClueNo: $t, sourceClueNo: $s, reason: "同一批工人") '
        "{ clueNo } }",
        {"t": target["clueNo"], "s": source["clueNo"]},
        as_="city",
    )
    [record] = source["channelRecords"]
    split = (
        'mutation($n: String!, $ids: [ID!]!) { splitClue(clueNo: $n, channelRecordIds: $ids, reason: "非同一事项") '
        "{ clueNo status } }"
    )
    # Then 任城区 may not split it off (that would restore 嘉祥县's clue) …
    err = await graph.error(split, {"n": target["clueNo"], "ids": [record["id"]]}, as_="rencheng")
    assert (err["extensions"]["code"], err["message"]) == (
        "FORBIDDEN",
        f"channel record {record['databaseId']} (来访 {record['sourceId']}) was merged in from a clue outside "
        "your jurisdiction 370811: splitting it off would restore that clue",
    )
    # … and the city, which covers both, may
    out = await graph.data(split, {"n": target["clueNo"], "ids": [record["id"]]}, as_="city")
    assert out["splitClue"] == [{"clueNo": source["clueNo"], "status": "RECEIVED"}]


async def test_a_lost_race_answers_conflict_with_the_clue_and_its_state(graph, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # PostgreSQL chose this transaction as a serialisation victim: a user error, never INTERNAL
    from sqlalchemy.exc import OperationalError

    from hub import workflow

    class SerializationFailure(Exception):
        sqlstate = "40001"

    def lose(session, **_: Any) -> None:  # type: ignore[no-untyped-def]
        raise OperationalError("UPDATE clues SET …", {}, SerializationFailure("could not serialize access"))

    clue = await new_clue(graph, "370811")
    monkeypatch.setattr(workflow, "accept", lose)
    err = await graph.error(
        "mutation($n: String!) { acceptClue(clueNo: $n) { status } }", {"n": clue["clueNo"]}, as_="rencheng"
    )
    assert err["extensions"]["code"] == "CONFLICT"
    assert (err["extensions"]["clueNo"], err["extensions"]["state"]) == (clue["clueNo"], "received")
    assert err["message"] == (
        f"clue {clue['clueNo']} was being changed by another action: it is now received (已受理); "
        "reload it and try again"
    )


async def test_two_closes_sent_at_once_have_one_winner(graph) -> None:  # type: ignore[no-untyped-def]
    close = "mutation($n: String!, $c: String!) { closeClue(clueNo: $n, conclusion: $c) { status } }"
    for _ in range(5):
        clue = await new_clue(graph, "370811")
        await act(graph, "acceptClue(clueNo: $n)", clue["clueNo"], as_="rencheng")
        bodies = await asyncio.gather(
            *(graph.raw(close, {"n": clue["clueNo"], "c": c}, as_="rencheng") for c in ("甲", "乙"))
        )
        codes = sorted(b["errors"][0]["extensions"]["code"] if b.get("errors") else "WON" for b in bodies)
        assert codes in (["CONFLICT", "WON"], ["ILLEGAL_TRANSITION", "WON"]), bodies
        actions = (await graph.data(CLUE_VIEW, {"n": clue["clueNo"]}))["clue"]["actions"]
        assert [a["action"] for a in actions].count("close") == 1
