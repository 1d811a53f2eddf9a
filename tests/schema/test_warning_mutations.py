"""Handling warnings over GraphQL: acknowledge, 核查 note, resolve by hand, false positive — with the
warning's history, the events and the refusals (role, jurisdiction, closed warning, empty reason)."""

from __future__ import annotations

import pytest

from tests.schema.conftest import GraphClient

FIELDS = "status acknowledgedAt acknowledgedBy resolvedBy resolution history { action actor note toLevel }"
ACTIVE = '{ warnings(first: 50, filter: {status: ACTIVE}) { nodes { id ruleCode level regionCode facts } } }'


#: An inspector of 汶上县, a county of the demo city where the tiny demo has no project.
EXTRA_KEYS = (("wenshang", "370830"),)


@pytest.fixture
def graph(writable_graph: GraphClient) -> GraphClient:
    return writable_graph


async def _active(graph: GraphClient, rule: str) -> dict:
    nodes = (await graph.data(ACTIVE))["warnings"]["nodes"]
    return next(w for w in nodes if w["ruleCode"] == rule)


async def test_a_warning_is_acknowledged_noted_and_resolved(graph) -> None:  # type: ignore[no-untyped-def]
    # Given an active warning the engine computed (W02: an account not filed), with what it measured
    warning = await _active(graph, "W02")
    assert warning["facts"]["days"] >= 30
    # When a city inspector acknowledges it, records a 核查 note and resolves it with a reason
    ack = await graph.data(
        f"mutation($id: ID!) {{ acknowledgeWarning(id: $id, note: \"已签收\") {{ {FIELDS} }} }}", {"id": warning["id"]}, as_="city"
    )
    assert ack["acknowledgeWarning"]["acknowledgedBy"] == "apikey:city"
    await graph.data(
        "mutation($id: ID!) { noteWarning(id: $id, note: \"核查：银行已受理备案\") { status } }", {"id": warning["id"]}, as_="city"
    )
    out = await graph.data(
        f"mutation($id: ID!) {{ resolveWarning(id: $id, reason: \"已于次日备案\") {{ {FIELDS} }} }}", {"id": warning["id"]}, as_="city"
    )
    # Then it is resolved by the inspector, and its history tells the whole story
    done = out["resolveWarning"]
    assert (done["status"], done["resolvedBy"], done["resolution"]) == ("RESOLVED", "apikey:city", "已于次日备案")
    assert [(h["action"], h["actor"], h["note"]) for h in done["history"]] == [
        ("raised", "system", None),
        ("acknowledged", "apikey:city", "已签收"),
        ("noted", "apikey:city", "核查：银行已受理备案"),
        ("resolved", "apikey:city", "已于次日备案"),
    ]
    # and the events reached the outbox
    types = '["warning.acknowledged", "warning.noted", "warning.resolved"]'
    events = await graph.data(f"{{ events(first: 100, types: {types}) {{ nodes {{ type entityId }} }} }}")
    pk = int(warning["id"] and (await graph.data(
        "query($id: ID!) { node(id: $id) { ... on Warning { databaseId } } }", {"id": warning["id"]}))["node"]["databaseId"])
    mine = [e["type"] for e in events["events"]["nodes"] if int(e["entityId"]) == pk]
    assert mine == ["warning.acknowledged", "warning.noted", "warning.resolved"]


async def test_a_false_positive_is_closed_and_cannot_be_resolved_again(graph) -> None:  # type: ignore[no-untyped-def]
    # Given a warning marked a false positive
    warning = await _active(graph, "W04")
    out = await graph.data(
        f"mutation($id: ID!) {{ markWarningFalsePositive(id: $id, reason: \"进度款含材料款，比例口径不同\") {{ {FIELDS} }} }}",
        {"id": warning["id"]},
        as_="city",
    )
    assert out["markWarningFalsePositive"]["status"] == "FALSE_POSITIVE"
    # When someone tries to resolve it
    error = await graph.error(
        "mutation($id: ID!) { resolveWarning(id: $id, reason: \"已补足\") { status } }", {"id": warning["id"]}, as_="city"
    )
    # Then it is refused, saying why
    assert error["extensions"]["code"] == "ILLEGAL_TRANSITION"
    assert error["message"].endswith("it is false_positive")


@pytest.mark.parametrize(
    ("as_", "mutation", "code", "message"),
    [
        ("viewer", 'acknowledgeWarning(id: $id) { status }', "FORBIDDEN", "a viewer key may not acknowledge warnings"),
        ("city", 'resolveWarning(id: $id, reason: " ") { status }', "BAD_USER_INPUT", "reason must not be empty"),
        ("other-province", 'noteWarning(id: $id, note: "x") { status }', "FORBIDDEN",
         "a regional key may not record notes on warnings"),
    ],
    ids=["viewer-may-not", "empty-reason", "regional-may-not"],
)
async def test_refusals(graph, as_: str, mutation: str, code: str, message: str) -> None:  # type: ignore[no-untyped-def]
    warning = await _active(graph, "W12")
    error = await graph.error(f"mutation($id: ID!) {{ {mutation} }}", {"id": warning["id"]}, as_=as_)
    assert (error["extensions"]["code"], error["message"]) == (code, message)


async def test_a_warning_outside_the_jurisdiction_is_not_found(graph) -> None:  # type: ignore[no-untyped-def]
    # Given a warning in another county than 汶上县's
    warning = await _active(graph, "W11")
    assert not warning["regionCode"].startswith("370830")
    # When 汶上县's inspector acknowledges it, Then it is not there for them
    error = await graph.error("mutation($id: ID!) { acknowledgeWarning(id: $id) { status } }", {"id": warning["id"]},
                              as_="wenshang")
    assert (error["extensions"]["code"], error["message"]) == ("NOT_FOUND", f"no warning {warning['id']} in your jurisdiction")


async def test_the_version_counts_the_changes_to_a_warning(graph) -> None:  # type: ignore[no-untyped-def]
    # Given an active warning as the engine raised it (version 1: nobody changed it since)
    warning = await _active(graph, "W12")
    before = await graph.data("query($id: ID!) { node(id: $id) { ... on Warning { version } } }", {"id": warning["id"]})
    assert before["node"]["version"] == 1
    # When it is acknowledged, noted, then resolved
    ack = await graph.data("mutation($id: ID!) { acknowledgeWarning(id: $id) { version } }", {"id": warning["id"]}, as_="city")
    note = await graph.data(
        "mutation($id: ID!) { noteWarning(id: $id, note: \"核查\") { version } }", {"id": warning["id"]}, as_="city"
    )
    done = await graph.data(
        "mutation($id: ID!) { resolveWarning(id: $id, reason: \"保函已续期\") { version } }", {"id": warning["id"]}, as_="city"
    )
    # Then each change of the warning moved the version (a note is history, not a change of the warning)
    assert [ack["acknowledgeWarning"]["version"], note["noteWarning"]["version"], done["resolveWarning"]["version"]] == [2, 2, 3]
