"""Clue mutations over GraphQL: lifecycle, jurisdiction, typed errors, merge/split, manual entry, the event pull."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.schema.conftest import GraphClient, StatementCounter

CLUE = "clueNo status handlingRegionCode colour deadline supervision urgedCount extendedDays"


@pytest.fixture
async def graph(writable_demo, settings_for) -> AsyncIterator[GraphClient]:  # type: ignore[no-untyped-def]
    from hub.app import create_app

    app = create_app(settings_for(writable_demo.url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        yield GraphClient(client, writable_demo.keys, StatementCounter())
    await app.state.engine.dispose()


_SERIAL = iter(range(1, 10_000))


async def _received_clue(graph: GraphClient, county: str) -> dict:
    """A new clue entered by hand in ``county``: received, handled by the county, matching nothing else."""
    n = next(_SERIAL)
    data = await graph.data(
        f"mutation($i: ManualClueInput!) {{ createClue(input: $i) {{ {CLUE} regionCode }} }}",
        {
            "i": {
                "channel": "WALK_IN",
                "sourceId": f"LF-TEST-{n:04d}",
                "regionCode": county,
                "title": "来访反映欠薪",
                "content": "来访人反映2026年9月至10月工资未付",
                "respondentName": f"测试{'甲乙丙丁戊己庚辛壬癸'[n % 10]}{n}号餐饮管理有限公司",
                "complainantPhone": f"1390000{n:04d}",
                "complainantName": f"来访人{n}",
            }
        },
        as_="admin",
    )
    clue = data["createClue"]
    assert (clue["status"], clue["handlingRegionCode"]) == ("RECEIVED", county)
    return clue


async def test_a_clue_is_worked_from_receipt_to_call_back(graph, writable_demo) -> None:  # type: ignore[no-untyped-def]
    county = writable_demo.highlights["county_code"]
    clue = await _received_clue(graph, county)
    no = clue["clueNo"]
    # The city dispatches it to the county, which accepts, extends, and closes it
    out = await graph.data(
        f'mutation($n: String!, $r: String!) {{ dispatchClue(clueNo: $n, toRegionCode: $r, note: "请核查") '
        f"{{ {CLUE} }} }}",
        {"n": no, "r": county},
        as_="city",
    )
    assert (out["dispatchClue"]["status"], out["dispatchClue"]["handlingRegionCode"]) == ("DISPATCHED", county)
    await graph.data("mutation($n: String!) { acceptClue(clueNo: $n) { status } }", {"n": no}, as_="county")
    out = await graph.data(
        f'mutation($n: String!) {{ extendClue(clueNo: $n, workingDays: 5, reason: "需调取考勤") {{ {CLUE} }} }}',
        {"n": no},
        as_="county",
    )
    assert out["extendClue"]["extendedDays"] == 5
    out = await graph.data(
        'mutation($n: String!) { closeClue(clueNo: $n, conclusion: "已足额支付", recoveredAmount: "18000.00", workersPaid: 2) '
        "{ status recoveredAmount workersPaid actions { action actor fromStatus toStatus } } }",
        {"n": no},
        as_="county",
    )
    closed = out["closeClue"]
    assert (closed["status"], closed["recoveredAmount"], closed["workersPaid"]) == ("CLOSED", "18000.00", 2)
    assert [a["action"] for a in closed["actions"]][-4:] == ["dispatch", "accept", "extend", "close"]
    assert closed["actions"][-1] == {
        "action": "close",
        "actor": "apikey:county",
        "fromStatus": "in_progress",
        "toStatus": "closed",
    }
    out = await graph.data(
        "mutation($n: String!) { recordCallback(clueNo: $n, satisfaction: BASICALLY_SATISFIED) "
        "{ status satisfaction } }",
        {"n": no},
        as_="city",
    )
    assert out["recordCallback"] == {"status": "CALLED_BACK", "satisfaction": "基本满意"}


@pytest.mark.parametrize(
    ("mutation", "as_", "code", "message"),
    [
        ('closeClue(clueNo: $n, conclusion: "x")', "county", "ILLEGAL_TRANSITION", "it is received (已受理)"),
        (
            'dispatchClue(clueNo: $n, toRegionCode: "320102")',
            "city",
            "FORBIDDEN",
            "cannot dispatch to 320102: outside your jurisdiction 370800",
        ),
        ("acceptClue(clueNo: $n)", "viewer", "FORBIDDEN", "a viewer key may not accept clues"),
        (
            'extendClue(clueNo: $n, workingDays: 0, reason: "x")',
            "city",
            "BAD_USER_INPUT",
            "workingDays must be at least 1",
        ),
        ('returnClue(clueNo: $n, reason: "  ")', "city", "ILLEGAL_TRANSITION", "cannot return"),
        ('dispatchClue(clueNo: $n, toRegionCode: "37081")', "city", "INVALID_IDENTIFIER", "toRegion"),
    ],
    ids=["illegal", "outside-jurisdiction", "viewer", "bad-days", "return-undispatched", "bad-region"],
)
async def test_refusals_have_typed_errors(graph, writable_demo, mutation, as_, code, message) -> None:  # type: ignore[no-untyped-def]
    clue = await _received_clue(graph, writable_demo.highlights["county_code"])
    err = await graph.error(f"mutation($n: String!) {{ {mutation} {{ status }} }}", {"n": clue["clueNo"]}, as_=as_)
    assert err["extensions"]["code"] == code
    assert message in err["message"]
    after = await graph.data("query($n: String!) { clue(clueNo: $n) { status } }", {"n": clue["clueNo"]})
    assert after["clue"]["status"] == "RECEIVED"  # nothing changed


async def test_a_clue_outside_the_jurisdiction_is_not_found(graph, writable_demo) -> None:  # type: ignore[no-untyped-def]
    clue = await _received_clue(graph, writable_demo.highlights["county_code"])
    err = await graph.error(
        "mutation($n: String!) { acceptClue(clueNo: $n) { status } }", {"n": clue["clueNo"]}, as_="other-province"
    )
    assert err["extensions"]["code"] in ("NOT_FOUND", "FORBIDDEN")


async def test_a_walk_in_with_the_same_phone_joins_the_two_channel_clue(graph, writable_demo) -> None:  # type: ignore[no-untyped-def]
    no = writable_demo.highlights["two_channel_clue_no"]
    before = await graph.data(
        "query($n: String!) { clue(clueNo: $n) { regionCode respondentName projectName receivedAt "
        "complainantPhone(reveal: true) channelRecords { channel } } }",
        {"n": no},
        as_="admin",
    )
    c = before["clue"]
    phone = c["complainantPhone"]
    out = await graph.data(
        "mutation($i: ManualClueInput!) { createClue(input: $i) { clueNo channelRecords { channel matchRule matchScore } } }",
        {
            "i": {
                "channel": "WALK_IN",
                "sourceId": "LF-2026-0001",
                "regionCode": c["regionCode"],
                "title": "来访反映欠薪",
                "content": "来访人反映工资未结清",
                "respondentName": c["respondentName"],
                "complainantPhone": f"{phone[:3]} {phone[3:7]} {phone[7:]}",
                "projectName": c["projectName"],
                "receivedAt": c["receivedAt"],
            }
        },
        as_="city",
    )
    created = out["createClue"]
    assert created["clueNo"] == no
    assert created["channelRecords"][-1]["channel"] == "WALK_IN"
    assert created["channelRecords"][-1]["matchRule"] == "phone"
    # A malformed identifier is rejected with the field and the value
    err = await graph.error(
        "mutation($i: ManualClueInput!) { createClue(input: $i) { clueNo } }",
        {
            "i": {
                "channel": "WALK_IN",
                "sourceId": "LF-2026-0002",
                "regionCode": c["regionCode"],
                "title": "t",
                "content": "c",
                "respondentName": "某公司",
                "respondentUscc": "91370800MA3C00000A",
            }
        },
        as_="city",
    )
    assert err["extensions"]["code"] == "INVALID_IDENTIFIER"
    assert "respondentUscc" in err["message"] and "91370800MA3C00000A" in err["message"]


async def test_merge_then_split_over_graphql(graph, writable_demo) -> None:  # type: ignore[no-untyped-def]
    county = writable_demo.highlights["county_code"]
    target = await _received_clue(graph, county)
    source = await _received_clue(graph, county)
    await graph.data(
        "mutation($n: String!) { acceptClue(clueNo: $n) { status } }", {"n": source["clueNo"]}, as_="county"
    )
    source = (
        await graph.data(
            "query($n: String!) { clue(clueNo: $n) { clueNo status channelRecords { id } } }", {"n": source["clueNo"]}
        )
    )["clue"]
    merged = await graph.data(
        'mutation($t: String!, $s: String!) { mergeClues(targetClueNo: $t, sourceClueNo: $s, reason: "同一批工人") '
        "{ clueNo channelRecords { id } } }",
        {"t": target["clueNo"], "s": source["clueNo"]},
        as_="city",
    )
    moved = [r["id"] for r in source["channelRecords"]]
    assert {r["id"] for r in merged["mergeClues"]["channelRecords"]} >= set(moved)
    gone = await graph.data(
        "query($n: String!) { clue(clueNo: $n) { status mergedInto { clueNo } } }", {"n": source["clueNo"]}
    )
    assert gone["clue"] == {"status": "MERGED", "mergedInto": {"clueNo": target["clueNo"]}}
    split = await graph.data(
        'mutation($n: String!, $ids: [ID!]!) { splitClue(clueNo: $n, channelRecordIds: $ids, reason: "经核实非同一事项") '
        "{ clueNo status } }",
        {"n": target["clueNo"], "ids": moved},
        as_="city",
    )
    assert split["splitClue"] == [{"clueNo": source["clueNo"], "status": source["status"]}]
    audit = await graph.data("{ auditLog(first: 50) { nodes { action principal } } }")
    actions = [(a["action"], a["principal"]) for a in audit["auditLog"]["nodes"]]
    assert ("clue.merge", "apikey:city") in actions and ("clue.split", "apikey:city") in actions


async def test_events_are_pulled_in_order_without_gaps_within_the_jurisdiction(graph, writable_demo) -> None:  # type: ignore[no-untyped-def]
    county = writable_demo.highlights["county_code"]
    clue = await _received_clue(graph, county)
    await graph.data("mutation($n: String!) { acceptClue(clueNo: $n) { status } }", {"n": clue["clueNo"]}, as_="county")
    seen: list[int] = []
    after = None
    while True:
        page = (
            await graph.data(
                "query($a: String) { events(first: 200, after: $a) { pageInfo { hasNextPage endCursor } "
                "nodes { databaseId type regionCode } } }",
                {"a": after},
                as_="admin",
            )
        )["events"]
        seen += [n["databaseId"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == list(range(seen[0], seen[0] + len(seen)))  # the admin sees every id, once, in order
    county_events = (
        await graph.data(
            '{ events(first: 500, types: ["clue.accept"]) { nodes { regionCode entityId } } }', as_="county"
        )
    )["events"]["nodes"]
    assert county_events and all(e["regionCode"].startswith(county) for e in county_events)


async def test_similar_clues_are_listed_with_rule_and_score(graph, writable_demo) -> None:  # type: ignore[no-untyped-def]
    no = writable_demo.highlights["two_channel_clue_no"]
    c = (
        await graph.data(
            "query($n: String!) { clue(clueNo: $n) { regionCode respondentName projectName } }", {"n": no}, as_="admin"
        )
    )["clue"]
    # A petition about the same company and project from someone else, entered by hand
    other = (
        await graph.data(
            "mutation($i: ManualClueInput!) { createClue(input: $i) { clueNo } }",
            {
                "i": {
                    "channel": "PETITION",
                    "sourceId": "XF-2026-0099",
                    "regionCode": c["regionCode"],
                    "title": "信访反映欠薪",
                    "content": "同一工地另一班组工资未付",
                    "respondentName": c["respondentName"],
                    "complainantPhone": "13700001234",
                    "complainantName": "王五",
                    "projectName": None,
                }
            },
            as_="city",
        )
    )["createClue"]["clueNo"]
    sims = (
        await graph.data(
            "query($n: String!) { clue(clueNo: $n) { similarClues(first: 5) { rule score clue { clueNo } } } }",
            {"n": other},
            as_="city",
        )
    )["clue"]["similarClues"]
    assert no in [s["clue"]["clueNo"] for s in sims]
    assert all(0 <= s["score"] <= 1 for s in sims)


async def test_a_warning_is_escalated_through_the_matcher(graph) -> None:  # type: ignore[no-untyped-def]
    warnings = (await graph.data('{ warnings(first: 50, filter: {status: ACTIVE, level: [RED]}) '
                                 "{ nodes { id databaseId ruleCode regionCode project { name } } } }"))["warnings"]["nodes"]
    warning = next(w for w in warnings if w["project"])
    query = (
        "mutation($id: ID!) { escalateWarning(id: $id) { clueNo regionCode projectName "
        "channelRecords { channel sourceId matchRule } } }"
    )
    clue = (await graph.data(query, {"id": warning["id"]}, as_="city"))["escalateWarning"]
    [record] = [
        r for r in clue["channelRecords"] if r["sourceId"] == f"YJ-{warning['ruleCode']}-{warning['databaseId']}"
    ]
    # A new clue, or joined to one about the same project already in the pool, saying why
    assert record["channel"] == "WARNING" and record["matchRule"] in ("new", "uscc+project", "name+project")
    assert clue["regionCode"] == warning["regionCode"]
    # Escalating again returns the same clue and adds nothing
    again = (await graph.data(query, {"id": warning["id"]}, as_="city"))["escalateWarning"]
    assert again == clue
    after = (await graph.data("query($id: ID!) { node(id: $id) { ... on Warning { status clue { clueNo } } } }",
                              {"id": warning["id"]}))["node"]
    assert after == {"status": "ESCALATED", "clue": {"clueNo": clue["clueNo"]}}
    # A viewer may not
    other = next(w for w in warnings if w["id"] != warning["id"])
    err = await graph.error(query, {"id": other["id"]}, as_="viewer")
    assert err["extensions"]["code"] == "FORBIDDEN"


async def _closed_clue(graph: GraphClient, county: str) -> str:
    """A walk-in clue dispatched to ``county``, accepted and closed there; its number."""
    no = (await _received_clue(graph, county))["clueNo"]
    await graph.data("mutation($n: String!, $r: String!) { dispatchClue(clueNo: $n, toRegionCode: $r) { status } }",
                     {"n": no, "r": county}, as_="city")
    await graph.data("mutation($n: String!) { acceptClue(clueNo: $n) { status } }", {"n": no}, as_="county")
    await graph.data('mutation($n: String!) { closeClue(clueNo: $n, conclusion: "已支付") { status } }', {"n": no}, as_="county")
    return no


async def test_a_closed_clue_is_reopened_when_the_complainant_says_it_is_not_solved(graph, writable_demo) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from sqlalchemy import select

    from hub.db import make_engine
    from hub.models import AuditLog
    from hub.workdays import CST, add_working_days

    # Given a walk-in clue the county closed
    no = await _closed_clue(graph, writable_demo.highlights["county_code"])
    # When the complainant phones to say the wages are still unpaid and a city inspector reopens it
    out = await graph.data(
        'mutation($n: String!) { reopenClue(clueNo: $n, reason: "来电称仍有2人工资未付") '
        "{ status deadline reopenedAt closedAt urgedCount actions { action actor fromStatus toStatus note } } }",
        {"n": no},
        as_="city",
    )
    clue = out["reopenClue"]
    # Then it is being worked again, with 调查's 60 working days counted from the reopening
    assert (clue["status"], clue["closedAt"], clue["urgedCount"]) == ("IN_PROGRESS", None, 0)
    reopened = dt.datetime.fromisoformat(clue["reopenedAt"]).astimezone(CST).date()
    assert clue["deadline"] == add_working_days(reopened, 60).isoformat()
    assert clue["actions"][-1] == {
        "action": "reopen",
        "actor": "apikey:city",
        "fromStatus": "closed",
        "toStatus": "in_progress",
        "note": "来电称仍有2人工资未付",
    }
    # and the inspector's decision is in the audit log with the reason and the new deadline
    engine = make_engine(writable_demo.url)
    with engine.connect() as conn:
        rows = conn.execute(select(AuditLog.principal, AuditLog.detail).where(AuditLog.action == "clue.reopen")).all()
    engine.dispose()
    assert [(r.principal, r.detail) for r in rows] == [
        ("apikey:city", {"clueNo": no, "reason": "来电称仍有2人工资未付", "deadline": clue["deadline"]})
    ]


@pytest.mark.parametrize(
    ("closed", "as_", "reason", "code", "message"),
    [
        (False, "city", "仍未支付", "ILLEGAL_TRANSITION", "it is received (已受理); reopen is allowed from called_back, closed"),
        (True, "viewer", "仍未支付", "FORBIDDEN", "a viewer key may not reopen clues"),
        (True, "city", "  ", "BAD_USER_INPUT", "reason is required"),
    ],
    ids=["open-clue", "viewer", "empty-reason"],
)
async def test_reopening_refusals_have_typed_errors(graph, writable_demo, closed, as_, reason, code, message) -> None:  # type: ignore[no-untyped-def]
    # Given a received clue, or a closed one
    county = writable_demo.highlights["county_code"]
    no = await _closed_clue(graph, county) if closed else (await _received_clue(graph, county))["clueNo"]
    # When it is reopened by the wrong person, without a reason, or while still open
    err = await graph.error(
        "mutation($n: String!, $r: String!) { reopenClue(clueNo: $n, reason: $r) { status } }",
        {"n": no, "r": reason},
        as_=as_,
    )
    # Then the refusal says why, and nothing changed
    assert err["extensions"]["code"] == code
    assert err["message"].endswith(message), err["message"]
    after = await graph.data("query($n: String!) { clue(clueNo: $n) { status reopenedAt } }", {"n": no})
    assert after["clue"] == {"status": "CLOSED" if closed else "RECEIVED", "reopenedAt": None}
