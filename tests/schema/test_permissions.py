"""The policy table (hub.access.POLICY) is the one source of who may do what in the graph.

For every action the graph guards, a principal of each role gets exactly the table's answer from a
representative field or mutation: refused with FORBIDDEN and a message saying what, or let through
to the resolver (whose own answer, NOT_FOUND for a clue that does not exist, shows it ran). Changing
the table changes the answer, with no second check anywhere to change along with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from hub.access import POLICY, READ_REQUIRES, Action, Role, refusal
from schema.pagination import encode_cursor
from schema.types._common import NODE_NAMES, to_global_id
from tests.reliability.wsclient import init, receive_json, subscribe

#: A key of each role in the demo (tests/conftest.py seed_demo).
KEY_OF = {
    Role.ADMIN: "admin",
    Role.INSPECTOR: "city",
    Role.VIEWER: "viewer",
    Role.REGIONAL: "other-province",
    Role.TOWN: "town-handler",
    Role.LEADER: "leader",
    Role.SECTOR: "zhujian",
}
MISSING = 999_999


@dataclass(frozen=True)
class Probe:
    """An operation guarded by ``action``; ``to`` is how its refusal reads. None of them changes anything."""

    query: str
    to: str


PROBES: dict[Action, Probe] = {
    Action.WORK_CLUES: Probe('mutation { acceptClue(clueNo: "XS-NO-SUCH") { status } }', "accept clues"),
    Action.MERGE_CLUES: Probe(
        'mutation { mergeClues(targetClueNo: "XS-1", sourceClueNo: "XS-2", reason: "同一事项") { status } }',
        "merge clues",
    ),
    Action.ENTER_CLUES: Probe(
        'mutation { createClue(input: {channel: WALK_IN, sourceId: "LF-PERM", regionCode: "37081", '
        'title: "t", content: "c", respondentName: "r"}) { clueNo } }',
        "enter clues",
    ),
    Action.ESCALATE_WARNINGS: Probe(
        f'mutation {{ escalateWarning(id: "{to_global_id("Warning", MISSING)}") {{ clueNo }} }}', "escalate warnings"
    ),
    Action.HANDLE_WARNINGS: Probe(
        f'mutation {{ acknowledgeWarning(id: "{to_global_id("Warning", MISSING)}") {{ status }} }}',
        "acknowledge warnings",
    ),
    Action.READ_ADMIN: Probe("{ auditLog(first: 1) { totalCount } }", "read this"),
    Action.MANAGE_CONNECTORS: Probe(
        f'mutation {{ testConnector(id: "{to_global_id("ConnectorInstance", MISSING)}") {{ ok }} }}',
        "configure connectors",
    ),
    Action.MANAGE_KEYS: Probe(
        f'mutation {{ revokeApiKey(id: "{to_global_id("ApiKey", MISSING)}") {{ id }} }}', "revoke API keys"
    ),
    Action.RETRY_WRITEBACKS: Probe(
        f'mutation {{ retryWriteback(id: "{to_global_id("ChannelRecord", MISSING)}") {{ id }} }}', "retry write-backs"
    ),
    Action.MANAGE_WEBHOOKS: Probe(
        f'mutation {{ deleteWebhookEndpoint(id: "{to_global_id("WebhookEndpoint", MISSING)}") }}', "manage webhooks"
    ),
    Action.MANAGE_CALENDAR: Probe('mutation { loadHolidayCalendar(file: "{") { year } }', "load the holiday calendar"),
    Action.RECORD_PENALTIES: Probe(
        'mutation { recordPenalty(input: {uscc: "NOT-A-USCC", documentNo: "PERM-1", '
        'decidedOn: "2025-01-02", kind: ORDER, violation: "v", regionCode: "370811"}) { id } }',
        "record penalties",
    ),
    Action.MANAGE_BLACKLIST: Probe(
        f'mutation {{ removeFromBlacklist(id: "{to_global_id("BlacklistEntry", MISSING)}", '
        'correctedOn: "2025-01-02", promiseNo: "p", reason: "r") { id } }',
        "remove enterprises from the blacklist",
    ),
    Action.MANAGE_OPERATIONS: Probe(
        'mutation { retireOperation(name: "NoSuchOperation") { name } }', "manage registered operations"
    ),
}
#: Guarded elsewhere: the events subscription (below, over WebSocket) and the CLI (users, `hub credit rate`,
#: `hub regions load`).
ELSEWHERE = {Action.FOLLOW_EVENTS, Action.MANAGE_USERS, Action.RATE_CREDIT, Action.MANAGE_REGIONS}

CASES = [(action, role) for action in PROBES for role in Role]


def test_every_action_is_probed() -> None:
    assert set(PROBES) | ELSEWHERE == set(Action)
    assert set(POLICY) == set(Action)


@pytest.mark.parametrize(("action", "role"), CASES, ids=[f"{a.value}-{r.value}" for a, r in CASES])
async def test_each_role_gets_the_tables_answer(graph, action: Action, role: Role) -> None:  # type: ignore[no-untyped-def]
    # Given the table's answer for this role
    probe = PROBES[action]
    # When a key of the role asks
    body = await graph.raw(probe.query, as_=KEY_OF[role])
    codes = [e["extensions"]["code"] for e in body.get("errors", [])]
    # Then it is refused, saying what, exactly when the table says so
    if role in POLICY[action]:
        assert "FORBIDDEN" not in codes, body
    else:
        assert codes == ["FORBIDDEN"], body
        assert body["errors"][0]["message"] == refusal(role, action, what=probe.to).message


async def test_a_change_to_the_table_is_the_only_change_needed(graph, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Given a table that lets viewers read the hub's machinery and no longer lets inspectors work clues
    monkeypatch.setitem(POLICY, Action.READ_ADMIN, frozenset(Role))
    monkeypatch.setitem(POLICY, Action.WORK_CLUES, frozenset({Role.ADMIN}))
    # Then the viewer reads the audit log and a sync run by its ID …
    assert (await graph.data("{ auditLog(first: 1) { totalCount } }", as_="viewer"))["auditLog"]["totalCount"] >= 0
    run = to_global_id("SyncRun", MISSING)
    assert (await graph.data(f'{{ node(id: "{run}") {{ id }} }}', as_="viewer"))["node"] is None
    # … and the inspector is told only administrators may accept clues
    err = await graph.error(PROBES[Action.WORK_CLUES].query, as_="city")
    assert (err["extensions"]["code"], err["message"]) == ("FORBIDDEN", "only administrators may accept clues")


@pytest.mark.parametrize("model", sorted(READ_REQUIRES, key=lambda m: m.__name__), ids=lambda m: m.__name__)
async def test_node_asks_the_table_for_each_guarded_type(graph, model: type) -> None:  # type: ignore[no-untyped-def]
    gid = to_global_id(NODE_NAMES[model], MISSING)
    query = f'{{ node(id: "{gid}") {{ id }} }}'
    assert (await graph.data(query, as_="admin"))["node"] is None
    err = await graph.error(query, as_="viewer")
    assert (err["extensions"]["code"], err["message"]) == ("FORBIDDEN", "only administrators may read this")


@pytest.fixture
def ws_client(writable_demo, settings_for):  # type: ignore[no-untyped-def]
    from hub.app import create_app

    with TestClient(create_app(settings_for(writable_demo.url))) as client:
        yield client


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_the_subscription_asks_the_table(ws_client, writable_demo, monkeypatch, role: Role) -> None:  # type: ignore[no-untyped-def]
    key = writable_demo.keys[KEY_OF[role]]
    # Given the table as it is: a role it lets follow the outbox gets the replay from the start
    # (the demo has no events in the regional key's province, nor in the town key's 街道)
    if role in POLICY[Action.FOLLOW_EVENTS] and role not in (Role.REGIONAL, Role.TOWN):
        with ws_client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            init(ws, key)
            subscribe(ws, "1", {"a": encode_cursor([0])})
            assert receive_json(ws)["type"] == "next"
    # When the table does not let the role follow events
    monkeypatch.setitem(POLICY, Action.FOLLOW_EVENTS, POLICY[Action.FOLLOW_EVENTS] - {role})
    with ws_client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        init(ws, key)
        subscribe(ws, "1", {"a": None})
        msg = receive_json(ws)
    # Then the subscription is refused, saying what
    assert msg["type"] == "error", msg
    [err] = msg["payload"]
    article = "an" if role.value[0] in "aeiou" else "a"
    expected = f"{article} {role.value} key may not follow events"
    assert (err["extensions"]["code"], err["message"]) == ("FORBIDDEN", expected)


def test_every_role_may_follow_events() -> None:
    # The live fan-out limits a sector principal to its sector, as its queries are (tests/schema/test_subscription.py)
    assert POLICY[Action.FOLLOW_EVENTS] == set(Role)
