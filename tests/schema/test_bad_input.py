"""Bad input gets a clear, coded answer — never a 500, an INTERNAL, a traceback in the log, or a
personal value echoed into a message or a log line."""

from __future__ import annotations

import base64
import logging
import re

import pytest

from schema.types._common import NODE_MODELS, to_global_id

HUGE = 10**20  # a 20-digit key: no BIGINT holds it
MAX_PK = 2**63 - 1


def cursor(raw_json: str) -> str:
    return base64.urlsafe_b64encode(raw_json.encode()).decode().rstrip("=")


# --- request bodies ----------------------------------------------------------------------------------

NOT_AN_OBJECT = 'the request body must be a JSON object {"query": "...", "variables": {...}}, got '
NOT_JSON = 'the request body is not valid JSON (UTF-8): send {"query": "...", "variables": {...}}'


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b'"x"', "application/json", NOT_AN_OBJECT + "a string"),
        (b"42", "application/json", NOT_AN_OBJECT + "a number"),
        (b"null", "application/json", NOT_AN_OBJECT + "null"),
        (b"true", "application/json", NOT_AN_OBJECT + "a boolean"),
        (b'{"query": "\xff\xfe"}', "application/json", NOT_JSON),
        (b'{"query": ', "application/json", NOT_JSON),
        (b'{"query": ' + b"[" * 100_000, "application/json", NOT_JSON),  # a leading "[" is a batch (refused as one)
        (
            b'{"query": "{ me { name } }", "operationName": 5}',
            "application/json",
            "operationName must be a string or null, if provided",
        ),
        (b'{"query": 5}', "application/json", "The GraphQL operation's `query` must be a string or null, if provided."),
        (
            b'{"query": "{ me { name } }", "variables": [1]}',
            "application/json",
            "The GraphQL operation's `variables` must be an object or null, if provided.",
        ),
        (b'{"query": "{ me { name } }"}', "text/plain", "Unsupported content type"),
    ],
    ids=[
        "string",
        "number",
        "null",
        "boolean",
        "invalid-utf8",
        "invalid-json",
        "too-deep",
        "operation-name",
        "query-not-a-string",
        "variables-not-an-object",
        "content-type",
    ],
)
async def test_an_unreadable_body_is_a_json_400_without_traceback(graph, caplog, body, content_type, message) -> None:
    caplog.set_level(logging.DEBUG)
    resp = await graph.client.post(
        "/graphql", content=body, headers={"X-API-Key": graph.keys["admin"], "content-type": content_type}
    )
    assert resp.status_code == 400
    assert resp.json() == {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}
    assert not [r for r in caplog.records if r.exc_info or r.exc_text or r.levelno >= logging.ERROR]


async def test_a_batch_with_a_number_is_refused_as_a_batch(graph, caplog) -> None:
    # Batches are refused whole (hub.ratelimit.RequestGuard), before their items are read
    caplog.set_level(logging.DEBUG)
    resp = await graph.client.post(
        "/graphql",
        content=b'[{"query": "{ me { name } }"}, 7]',
        headers={"X-API-Key": graph.keys["admin"], "content-type": "application/json"},
    )
    assert resp.status_code == 400
    assert resp.json()["errors"] == [
        {
            "message": "batched requests (a JSON array of operations) are not accepted: send one operation per request",
            "extensions": {"code": "BATCH_NOT_SUPPORTED"},
        }
    ]
    assert not [r for r in caplog.records if r.exc_info or r.exc_text or r.levelno >= logging.ERROR]


async def test_an_empty_batch_is_never_a_500(graph) -> None:
    # Batches are refused whole: `[]` is a client error with the batch code.
    resp = await graph.client.post(
        "/graphql", content=b"[]", headers={"X-API-Key": graph.keys["admin"], "content-type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["extensions"]["code"] == "BATCH_NOT_SUPPORTED"


# --- cursors -------------------------------------------------------------------------------------------

BAD_CURSORS = {
    "20-digit-number": cursor("[99999999999999999999]"),
    "beyond-int64": cursor("[18446744073709551615]"),
    "object": cursor('[{"id": 1}]'),
    "nested-list": cursor("[[1]]"),
    "string-for-a-key": cursor('["x"]'),
    "boolean": cursor("[true]"),
    "not-a-list": cursor('{"id": 1}'),
    "bad-date": cursor('["not-a-date", 1]'),
    "date-overflow": cursor('["0001-01-01T00:00:00+05:00", 1]'),
    "number-for-a-date": cursor("[1, 1]"),
    "object-pair": cursor('[{"a": 1}, {"b": 2}]'),
    "not-base64": "not-a-cursor!",
}
STRING_KEYS = {"bad-date", "date-overflow"}
CURSOR_MESSAGES = (
    "the cursor given as `after` does not fit this connection",
    "the cursor given as `after` belongs to another sort order",
)
#: Where the connections with `after` live: the root list that reaches each parent type.
PARENT_ROOTS = {
    "Enterprise": "enterprises",
    "Project": "projects",
    "Team": "teams",
    "WageAccount": "wageAccounts",
    "Worker": "workers",
}


def _connections() -> list[tuple[str, str]]:
    """(parent type, field) of every connection that takes `after`, from the schema itself."""
    from graphql import GraphQLObjectType

    from schema.build import build_schema

    out = []
    for name, t in sorted(build_schema()._schema.type_map.items()):
        if isinstance(t, GraphQLObjectType) and not name.startswith("__") and name not in ("Mutation", "Subscription"):
            out += [(name, f) for f, field in t.fields.items() if "after" in field.args]
    return out


CONNECTIONS = _connections()


def _cursor_query(parent: str, field: str) -> str:
    if field == "webhookDeliveries":  # a connection below one endpoint: the test makes one (see below)
        return (
            "query($c: String, $e: ID!) { webhookDeliveries(endpointId: $e, first: 2, after: $c) { edges { cursor } } }"
        )
    if parent == "Query":
        return f"query($c: String) {{ {field}(first: 2, after: $c) {{ edges {{ cursor }} }} }}"
    # a worker's attendance is asked for a span of days (at most 62)
    span = 'from: "2026-10-01", to: "2026-10-31", ' if (parent, field) == ("Worker", "attendance") else ""
    return f"query($c: String) {{ {PARENT_ROOTS[parent]}(first: 2) {{ edges {{ node {{ {field}({span}first: 2, after: $c) {{ edges {{ cursor }} }} }} }} }} }}"


def test_every_connection_is_covered() -> None:
    assert {p for p, _ in CONNECTIONS} == {"Query", *PARENT_ROOTS}
    assert len(CONNECTIONS) >= 27


@pytest.mark.parametrize(("parent", "field"), CONNECTIONS, ids=[f"{p}.{f}" for p, f in CONNECTIONS])
async def test_a_bad_cursor_is_invalid_cursor_naming_after(graph, parent, field) -> None:
    query = _cursor_query(parent, field)
    extra = {}
    if field == "webhookDeliveries":
        from tests.schema.test_webhooks import CREATE, JINING

        extra["e"] = (await graph.data(CREATE, {"input": JINING}))["createWebhookEndpoint"]["endpoint"]["id"]
    for name, value in BAD_CURSORS.items():
        body = await graph.raw(query, {"c": value, **extra})
        errors = body.get("errors")
        # A string is a fine key for a string column (payroll sorts by payMonth "YYYY-MM"): no error needed
        assert errors or name in STRING_KEYS, f"{parent}.{field} accepted the {name} cursor"
        for err in errors or []:
            assert err["extensions"]["code"] == "INVALID_CURSOR", (name, err)
            assert err["extensions"]["field"] == "after", (name, err)
            assert err["message"] in CURSOR_MESSAGES or re.fullmatch(
                r"cursor '.*' is not one this API issued", err["message"]
            ), err


async def test_a_huge_cursor_is_not_echoed_whole(graph) -> None:
    err = await graph.error("query($c: String) { clues(after: $c) { totalCount } }", {"c": "A" * 100_001})
    assert err["extensions"] == {
        "code": "INVALID_CURSOR",
        "field": "after",
        "suggestion": "use pageInfo.endCursor from a previous page",
    }
    assert err["message"] == f"cursor '{'A' * 40}…' is not one this API issued"


async def test_a_cursor_from_this_api_still_pages(graph) -> None:
    first = (await graph.data("{ clues(first: 2) { edges { node { id } } pageInfo { endCursor } } }"))["clues"]
    after = (
        await graph.data(
            "query($c: String) { clues(first: 2, after: $c) { edges { node { id } } } }",
            {"c": first["pageInfo"]["endCursor"]},
        )
    )["clues"]
    assert after["edges"] and {e["node"]["id"] for e in after["edges"]}.isdisjoint(
        {e["node"]["id"] for e in first["edges"]}
    )


# --- node ids ------------------------------------------------------------------------------------------

NODE_Q = "query($id: ID!) { node(id: $id) { id } }"


@pytest.mark.parametrize("type_name", sorted(NODE_MODELS))
async def test_a_20_digit_node_key_is_bad_user_input(graph, type_name) -> None:
    gid = to_global_id(type_name, HUGE)
    err = await graph.error(NODE_Q, {"id": gid})
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}
    assert err["message"] == (
        f"id {gid!r} is not a global ID of this API: the key of a {type_name} is a positive 64-bit number"
    )


@pytest.mark.parametrize("pk", ["²", "-1", "0", "1e3", " 7"])
async def test_a_malformed_node_key_is_bad_user_input(graph, pk) -> None:
    gid = base64.urlsafe_b64encode(f"Clue:{pk}".encode()).decode()
    err = await graph.error(NODE_Q, {"id": gid})
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}


async def test_a_well_formed_absent_node_is_null(graph) -> None:
    assert (await graph.data(NODE_Q, {"id": to_global_id("Clue", MAX_PK)}))["node"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("query($id: ID!) { workers(projectId: $id) { totalCount } }", "projectId"),
        ("query($id: ID!) { clues(filter: {enterpriseId: $id}) { totalCount } }", "enterpriseId"),
        ("query($id: ID!) { clues(filter: {projectId: $id}) { totalCount } }", "projectId"),
        ("mutation($id: ID!) { setConnectorEnabled(id: $id, enabled: true) { id } }", "id"),
        ("mutation($id: ID!) { escalateWarning(id: $id) { id } }", "id"),
        ("mutation($id: ID!) { replayQuarantine(connectorId: $id) { replayed } }", "connectorId"),
    ],
    ids=[
        "workers.projectId",
        "clues.enterpriseId",
        "clues.projectId",
        "setConnectorEnabled.id",
        "escalateWarning.id",
        "replayQuarantine.connectorId",
    ],
)
async def test_a_20_digit_id_argument_is_bad_user_input_naming_the_field(graph, query, field) -> None:
    type_name = {"projectId": "Project", "enterpriseId": "Enterprise", "connectorId": "ConnectorInstance"}.get(field)
    type_name = type_name or ("Warning" if "escalate" in query else "ConnectorInstance")
    err = await graph.error(query, {"id": to_global_id(type_name, HUGE)})
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": field}


@pytest.mark.parametrize("status", [2**15, -(2**15) - 1, 2**31 - 1])
async def test_a_pay_status_beyond_the_columns_range_is_bad_user_input(graph, status) -> None:
    # Given a pay status no record can hold (PostgreSQL's SMALLINT would refuse the comparison)
    err = await graph.error("query($s: Int!) { payrollRecords(filter: {payStatus: $s}) { totalCount } }", {"s": status})
    # Then the filter is refused, naming the field and the statuses there are, never INTERNAL
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "payStatus"}
    assert err["message"] == (
        f"payStatus {status} is not a pay status: use 0 (未发放), 20 (已发放), 30 (发放失败) or 40 (重新发放中)"
    )


async def test_a_pay_status_no_record_has_finds_nothing(graph) -> None:
    data = await graph.data("{ payrollRecords(filter: {payStatus: 99}) { totalCount } }")
    assert data == {"payrollRecords": {"totalCount": 0}}


# --- personal data never echoed, never logged ----------------------------------------------------------

PHONE, ID_NUMBER, CARD = "13912345678", "370811198805051234", "6228480012345678903"


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("query($id: ID!) { node(id: $id) { id } }", {"id": PHONE}, "BAD_USER_INPUT"),
        ("query($c: String) { clues(after: $c) { totalCount } }", {"c": ID_NUMBER}, "INVALID_CURSOR"),
        ('{ projects(filter: {regionCode: "%s"}) { totalCount } }' % CARD, None, "INVALID_IDENTIFIER"),
        ('{ clues(filter: {respondentUscc: "%s"}) { totalCount } }' % ID_NUMBER, None, "INVALID_IDENTIFIER"),
        ('{ clues(first: "%s") { totalCount } }' % PHONE, None, "GRAPHQL_VALIDATION_FAILED"),
    ],
    ids=["node-id", "cursor", "region-code", "uscc", "validation"],
)
async def test_an_error_never_echoes_personal_data(graph, query, variables, code) -> None:
    body = await graph.raw(query, variables)
    assert body["errors"][0]["extensions"]["code"] == code
    for secret in (PHONE, ID_NUMBER, CARD):
        assert secret not in str(body)


async def test_bad_input_leaves_no_personal_data_in_the_log(graph, demo, caplog, monkeypatch) -> None:
    """A bad-input suite run with every logger at DEBUG (SQL statements included): no phone, ID number
    or card of the inputs or of the demo data appears in any log line."""
    from hub.logs import install_masking

    # The demo's own personal data, read (revealed) before the log is watched
    revealed = await graph.data(
        """{ workers(first: 5) { edges { node { phone idNumber(reveal: true) bankCard(reveal: true) } } }
        clues(first: 5) { edges { node { clueNo complainantPhone(reveal: true) } } } }""",
        as_="admin",
    )
    demo_secrets = {
        v for e in revealed["workers"]["edges"] for v in (e["node"]["idNumber"], e["node"]["bankCard"]) if v
    }
    demo_secrets |= {e["node"]["complainantPhone"] for e in revealed["clues"]["edges"] if e["node"]["complainantPhone"]}
    assert len(demo_secrets) >= 8

    # An unexpected error whose message carries personal data (its traceback is logged)
    import schema.similar

    async def broken(info, clue, *, first):  # type: ignore[no-untyped-def]
        local_value = "local-" + "value-7f3a"  # a traceback shows source lines, never the values of locals
        raise RuntimeError(f"matcher failed for {PHONE}, {ID_NUMBER}, {CARD}" + local_value[:0])

    monkeypatch.setattr(schema.similar, "similar_clues", broken)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")  # SQLAlchemy keeps its own loggers at WARNING; rows too
    install_masking()  # the hub's logging setup, on the handlers that exist now (caplog's)
    secrets = {PHONE, ID_NUMBER, CARD, *demo_secrets}
    headers = {"X-API-Key": graph.keys["admin"], "content-type": "application/json"}
    for body in (
        b'"x"',
        b"42",
        b"null",
        b"[]",
        b'{"query": "\xff"}',
        b"{",
        f'"{PHONE}"'.encode(),
        f"[{CARD}]".encode(),
    ):
        await graph.client.post("/graphql", content=body, headers=headers)
    for value in (*secrets, "A" * 100_000):
        await graph.raw("query($c: String) { clues(after: $c) { totalCount } }", {"c": value})
        await graph.raw("query($id: ID!) { node(id: $id) { id } }", {"id": value})
        await graph.raw("query($s: String) { clues(filter: {search: $s}) { totalCount } }", {"s": value})
        await graph.raw("query($r: String) { workers(regionCode: $r) { totalCount } }", {"r": value})
        await graph.raw("query($n: String!) { clue(clueNo: $n) { id } }", {"n": value})
    await graph.raw('{ clues(first: "%s") { totalCount } }' % PHONE)
    err = await graph.error("{ clues(first: 1) { edges { node { similarClues { score } } } } }")
    assert err["extensions"]["code"] == "INTERNAL"

    lines = [caplog.text, *(r.getMessage() for r in caplog.records), *(r.exc_text or "" for r in caplog.records)]
    leaked = sorted(s for s in secrets if any(s in line for line in lines))
    assert leaked == []
    # … and not because nothing was logged: the SQL (parameters hidden) and the error's traceback were
    assert any("[SQL parameters hidden due to hide_parameters=True]" in line for line in lines)
    assert any("matcher failed for 139****5678, 370811********1234, 622848*********8903" in line for line in lines)
    assert any(
        r.name == "hub.graphql" and "Traceback (most recent call last)" in (r.exc_text or "") for r in caplog.records
    )
    assert not any("local-value-7f3a" in line for line in lines)


@pytest.mark.parametrize(
    "query",
    [
        '{ clue(clueNo: "XS-NONE") { id conclusion } syncRuns(first: 0, after: "x") { totalCount } }',
        '{ clue(clueNo: "XS-NONE") { id } warnings(filter: {regionCode: "$"}) { totalCount } }',
    ],
    ids=["cursor", "region-code"],
)
async def test_a_failing_non_null_root_field_beside_a_running_query_is_not_internal(graph, query) -> None:
    # graphql-core cancels the sibling resolvers of a failed non-null field; a query cancelled in the
    # middle (clue) broke its connection, then the pool: INTERNAL here, and on the following requests.
    for _ in range(10):
        body = await graph.raw(query)
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] in (["INVALID_CURSOR"], ["INVALID_IDENTIFIER"])
        assert (await graph.data("{ me { role } clues(first: 3) { totalCount } }"))["me"] == {"role": "admin"}


@pytest.mark.parametrize("month", ["2026-13", "10/2026", "2026-1", "二〇二六年十月", "2026-10" * 10])
async def test_a_pay_month_that_is_no_month_is_bad_user_input(graph, month) -> None:
    # Given text that no pay record can carry as its month, in a filter and in a project's payroll
    for query in (
        "query($m: String) { payrollRecords(filter: {payMonth: $m}) { totalCount } }",
        "query($m: String) { projects(first: 2) { nodes { payroll(payMonth: $m, first: 1) { totalCount } } } }",
    ):
        err = await graph.error(query, {"m": month})
        # Then the client is told which field, never an empty list nor INTERNAL
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "payMonth"}
        assert err["message"].startswith("payMonth ") and err["message"].endswith("is not a month (YYYY-MM)")


async def test_a_pay_month_without_records_finds_nothing(graph) -> None:
    data = await graph.data('{ payrollRecords(filter: {payMonth: "1990-01"}) { totalCount } }')
    assert data["payrollRecords"]["totalCount"] == 0
