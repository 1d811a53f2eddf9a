"""API keys and the audit log in the graph (the console's 系统 page): create — the key shown once —,
revoke, and the log filtered by who, what, which record and when."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.access import SYSTEM
from hub.api_keys import create_api_key
from hub.db import make_engine, session_scope
from hub.workdays import china_today

CREATE = """mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) {
  key apiKey { id databaseId name prefix role regionCode canUnmask revokedAt } } }"""
REVOKE = """mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }"""
AUDIT = """query($p: String, $a: String, $t: String, $e: Int, $from: Date, $to: Date) {
  auditLog(principal: $p, action: $a, entityType: $t, entityId: $e, from: $from, to: $to, first: 20) {
    totalCount nodes { principal action entityType entityId detail } } }"""


@pytest.fixture(scope="module")
def city_admin(writable_demo) -> str:  # type: ignore[no-untyped-def]
    """A key of an administrator of the city only (the demo's admin is national)."""
    engine = make_engine(writable_demo.url)
    with session_scope(engine) as s:
        _, key = create_api_key(s, principal=SYSTEM, name="city-admin", role="admin", region_code="370800")
    engine.dispose()
    return key


async def _me(graph, key: str) -> dict:  # type: ignore[no-untyped-def]
    resp = await graph.client.post(
        "/graphql", json={"query": "{ me { name role regionCode } }"}, headers={"X-API-Key": key}
    )
    return resp.json()


async def test_an_admin_creates_a_key_that_works_at_once_and_is_audited(writable_graph) -> None:
    # When the admin creates an inspector's key for the city
    made = (
        await writable_graph.data(CREATE, {"i": {"name": "济宁市大屏", "role": "inspector", "regionCode": "370800"}})
    )["createApiKey"]
    # Then the answer holds the key (once) and the row, which holds only its prefix
    key, row = made["key"], made["apiKey"]
    assert key.startswith("hub_") and row["prefix"] == key[:10]
    assert (row["name"], row["role"], row["regionCode"], row["canUnmask"], row["revokedAt"]) == (
        "济宁市大屏",
        "inspector",
        "370800",
        False,
        None,
    )
    # and the key signs requests in as what was asked
    me = await _me(writable_graph, key)
    assert me["data"]["me"] == {"name": "apikey:济宁市大屏", "role": "inspector", "regionCode": "370800"}
    # and the audit log names it, found by what, which record and today
    today = china_today().isoformat()
    log = await writable_graph.data(
        AUDIT, {"a": "api_key.create", "t": "api_key", "e": row["databaseId"], "from": today, "to": today}
    )
    assert [(n["action"], n["detail"]) for n in log["auditLog"]["nodes"]] == [
        ("api_key.create", {"name": "济宁市大屏", "role": "inspector"})
    ]


async def test_revoking_a_key_locks_it_out_and_a_second_revocation_is_refused(writable_graph) -> None:
    made = (await writable_graph.data(CREATE, {"i": {"name": "临时", "role": "viewer", "regionCode": "370811"}}))[
        "createApiKey"
    ]
    # When the admin revokes it
    revoked = (await writable_graph.data(REVOKE, {"id": made["apiKey"]["id"]}))["revokeApiKey"]
    assert revoked["revokedAt"]
    # Then the key no longer signs anything in
    me = await _me(writable_graph, made["key"])
    assert me["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # and revoking it again says it was revoked already (the first revocation stands)
    err = await writable_graph.error(REVOKE, {"id": made["apiKey"]["id"]})
    assert err["extensions"]["code"] == "CONFLICT"
    assert err["message"].startswith(f"API key {made['apiKey']['databaseId']} (临时) was revoked already, at ")


async def test_a_city_admin_makes_no_key_beyond_its_city_nor_one_that_unmasks(writable_graph, city_admin) -> None:
    async def refusal(i: dict) -> dict:
        resp = await writable_graph.client.post(
            "/graphql", json={"query": CREATE, "variables": {"i": i}}, headers={"X-API-Key": city_admin}
        )
        return resp.json()["errors"][0]

    # A key for the whole country, or for another city, is outside the city admin's jurisdiction
    for region in ("000000", "370100"):
        err = await refusal({"name": "越权", "role": "viewer", "regionCode": region})
        assert (err["extensions"]["code"], err["message"]) == (
            "FORBIDDEN",
            f"cannot create a key for region {region}: outside your jurisdiction 370800",
        )
    # and a key that unmasks, when the admin's own does not
    err = await refusal({"name": "越权", "role": "viewer", "regionCode": "370811", "canUnmask": True})
    assert (err["extensions"]["code"], err["message"]) == (
        "FORBIDDEN",
        "cannot create a key that unmasks personal data: you may not unmask it yourself",
    )


async def test_a_bad_role_or_region_is_refused_naming_the_field(writable_graph) -> None:
    err = await writable_graph.error(CREATE, {"i": {"name": "x", "role": "chief", "regionCode": "370800"}})
    assert (err["extensions"]["code"], err["extensions"]["field"]) == ("BAD_USER_INPUT", "role")
    assert err["message"] == "unknown role 'chief': use one of admin, inspector, viewer, regional, town, leader, sector"
    err = await writable_graph.error(CREATE, {"i": {"name": "x", "role": "viewer", "regionCode": "3708"}})
    assert (err["extensions"]["code"], err["extensions"]["field"], err["extensions"]["value"]) == (
        "BAD_USER_INPUT",
        "regionCode",
        "3708",
    )


async def test_the_audit_log_filters_by_who_and_when(writable_graph) -> None:
    # Given an action of the demo admin today
    await writable_graph.data(CREATE, {"i": {"name": "审计", "role": "viewer", "regionCode": "370800"}})
    today = china_today()
    mine = (await writable_graph.data(AUDIT, {"p": "apikey:admin", "from": today.isoformat()}))["auditLog"]
    # Then the log by that principal from today has it, and only that principal's entries
    assert mine["totalCount"] >= 1 and {n["principal"] for n in mine["nodes"]} == {"apikey:admin"}
    # and nothing of it shows for a window that ended yesterday
    before = await writable_graph.data(AUDIT, {"p": "apikey:admin", "to": (today - dt.timedelta(days=1)).isoformat()})
    assert before["auditLog"]["totalCount"] == 0


async def test_a_sector_key_names_its_sector_reads_only_it_and_is_audited_with_it(writable_graph) -> None:
    # When the admin creates a key for the city's 水利 department
    made = (
        await writable_graph.data(
            CREATE.replace("canUnmask", "canUnmask sector"),
            {"i": {"name": "市水利局", "role": "sector", "regionCode": "370800", "sector": "水利"}},
        )
    )["createApiKey"]
    assert (made["apiKey"]["role"], made["apiKey"]["sector"]) == ("sector", "水利")
    # Then the key stands for that sector: it lists only 水利 projects
    resp = await writable_graph.client.post(
        "/graphql",
        json={"query": "{ me { sector } projects(first: 100) { nodes { sector } } }"},
        headers={"X-API-Key": made["key"]},
    )
    body = resp.json()["data"]
    assert body["me"]["sector"] == "水利" and {n["sector"] for n in body["projects"]["nodes"]} == {"水利"}
    # and the audit log says which sector the key was made for
    log = await writable_graph.data(AUDIT, {"a": "api_key.create", "e": made["apiKey"]["databaseId"]})
    assert [n["detail"] for n in log["auditLog"]["nodes"]] == [{"name": "市水利局", "role": "sector", "sector": "水利"}]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"role": "sector"}, "a sector key needs a sector, one of 住建, 交通, 水利; got None"),
        ({"role": "sector", "sector": "农业"}, "a sector key needs a sector, one of 住建, 交通, 水利; got '农业'"),
        ({"role": "viewer", "sector": "住建"}, "only sector keys have a sector; a viewer key got '住建'"),
    ],
    ids=["missing", "unknown", "not-a-sector-key"],
)
async def test_a_missing_unknown_or_unexpected_sector_is_refused_naming_the_field(
    writable_graph, given: dict, message: str
) -> None:
    err = await writable_graph.error(CREATE, {"i": {"name": "x", "regionCode": "370800", **given}})
    assert (err["extensions"]["code"], err["extensions"]["field"], err["message"]) == (
        "BAD_USER_INPUT",
        "sector",
        message,
    )
