"""Users in the graph (the console's 系统 page): the list, create, update, disable / enable, reset a
password — each audited under the acting principal, each kept within the administrator's jurisdiction,
each refusal naming its field. Sign-in goes through the real endpoint (``/admin/api/sign-in``)."""

from __future__ import annotations

from typing import Any

import pytest

from hub.access import SYSTEM
from hub.api_keys import create_api_key
from hub.db import make_engine, session_scope
from hub.users import create_user

pytestmark = pytest.mark.usefixtures("fast_hashes")

PASSWORD = "Qiansheng-2026"
FIELDS = "id databaseId username displayName role regionCode sector canUnmask disabled lockedUntil lastSignInAt"
CREATE = f"mutation($i: CreateUserInput!) {{ createUser(input: $i) {{ {FIELDS} }} }}"
UPDATE = f"mutation($id: ID!, $i: UpdateUserInput!) {{ updateUser(id: $id, input: $i) {{ {FIELDS} }} }}"
DISABLE = "mutation($id: ID!, $d: Boolean!) { setUserDisabled(id: $id, disabled: $d) { id disabled } }"
RESET = "mutation($id: ID!, $p: String!) { resetUserPassword(id: $id, password: $p) { id lockedUntil } }"
USERS = """query($role: String, $region: String, $text: String, $first: Int, $after: String) {
  users(role: $role, regionCode: $region, text: $text, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { username role regionCode disabled } } }"""
NODE = "query($id: ID!) { node(id: $id) { ... on User { username lockedUntil } } }"
AUDIT = """query($a: String, $e: Int) { auditLog(action: $a, entityType: "user", entityId: $e, first: 10) {
  nodes { principal action detail } } }"""


@pytest.fixture(scope="module")
def people(writable_demo, writable_keys) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A city admin's key (济宁市, no unmask), and users in the city (任城区) and in another city (淄博市)."""
    engine = make_engine(writable_demo.url)
    with session_scope(engine) as s:
        _, writable_keys["city-admin"] = create_api_key(
            s, principal=SYSTEM, name="city-admin", role="admin", region_code="370800"
        )
        ids = {}
        for username, region in [("jining-a", "370811"), ("jining-b", "370802"), ("zibo-a", "370300")]:
            user = create_user(
                s,
                principal=SYSTEM,
                username=username,
                display_name=f"用户{username[-1]}",
                role="inspector",
                region_code=region,
                password=PASSWORD,
            )
            ids[username] = user.id
    engine.dispose()
    return ids


def gid(pk: int) -> str:
    import base64

    return base64.b64encode(f"User:{pk}".encode()).decode()


class SignedIn:
    """The sign-in endpoint's answer and the session cookie it set (if any)."""

    def __init__(self, resp: Any) -> None:
        self.status_code = resp.status_code
        self.text = resp.text
        self.body = resp.json()
        self.cookie = resp.cookies.get("hub_session")

    def json(self) -> Any:
        return self.body


async def sign_in(graph, username: str, password: str) -> SignedIn:  # type: ignore[no-untyped-def]
    """Sign in through the real endpoint; the client's cookie jar is left empty (the key speaks next)."""
    resp = await graph.client.post("/admin/api/sign-in", json={"username": username, "password": password})
    graph.client.cookies.clear()
    return SignedIn(resp)


async def session_alive(graph, cookie: str) -> int:  # type: ignore[no-untyped-def]
    graph.client.cookies.set("hub_session", cookie)
    try:
        resp = await graph.client.get("/admin/api/session")
    finally:
        graph.client.cookies.clear()
    return resp.status_code


async def test_an_admin_creates_a_user_who_signs_in_and_the_audit_log_names_the_admin(writable_graph, people) -> None:
    # When the city admin creates an inspector of 任城区
    made = (
        await writable_graph.data(
            CREATE,
            {
                "i": {
                    "username": "Wang.Wu",
                    "displayName": "王五",
                    "role": "inspector",
                    "regionCode": "370811",
                    "password": PASSWORD,
                }
            },
            as_="city-admin",
        )
    )["createUser"]
    # Then the user is there as asked (the username in lower case), neither disabled nor locked
    assert {k: made[k] for k in ("username", "displayName", "role", "regionCode", "disabled", "lockedUntil")} == {
        "username": "wang.wu",
        "displayName": "王五",
        "role": "inspector",
        "regionCode": "370811",
        "disabled": False,
        "lockedUntil": None,
    }
    # and signs in with that password
    resp = await sign_in(writable_graph, "wang.wu", PASSWORD)
    assert resp.status_code == 200, resp.text
    assert resp.json()["user"]["regionCode"] == "370811"
    # and the audit log has the creation under the admin's name (and no password, no person's name)
    log = (await writable_graph.data(AUDIT, {"a": "user.create", "e": made["databaseId"]}))["auditLog"]["nodes"]
    assert [(n["principal"], n["detail"]) for n in log] == [
        ("apikey:city-admin", {"username": "wang.wu", "role": "inspector", "sector": None, "canUnmask": False})
    ]


async def test_the_user_type_has_no_password_hash(writable_graph) -> None:
    fields = (await writable_graph.data('{ __type(name: "User") { fields { name } } }'))["__type"]["fields"]
    names = {f["name"] for f in fields}
    assert not {n for n in names if "password" in n.lower() and n != "passwordChangedAt"}
    assert {"lockedUntil", "disabled", "lastSignInAt"} <= names


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"password": "short1A"}, "WEAK_PASSWORD", "password"),
        ({"password": "alllowercaseletters"}, "WEAK_PASSWORD", "password"),
        ({"password": "Xx-new.person-9"}, "WEAK_PASSWORD", "password"),
        ({"username": "x"}, "BAD_USER_INPUT", "username"),
        ({"username": "jining-a"}, "USERNAME_TAKEN", "username"),
        ({"username": "zibo-a"}, "USERNAME_TAKEN", "username"),  # taken in another city: still taken
        ({"displayName": "  "}, "BAD_USER_INPUT", "displayName"),
        ({"role": "boss"}, "BAD_USER_INPUT", "role"),
        ({"regionCode": "3708"}, "BAD_USER_INPUT", "regionCode"),
        ({"role": "town"}, "BAD_USER_INPUT", "regionCode"),  # a town handler's region is a town
        ({"role": "sector"}, "BAD_USER_INPUT", "sector"),
        ({"sector": "住建"}, "BAD_USER_INPUT", "sector"),
        ({"regionCode": "370300"}, "FORBIDDEN", "regionCode"),  # outside the city admin's jurisdiction
        ({"canUnmask": True}, "FORBIDDEN", "canUnmask"),  # the city admin may not unmask itself
    ],
    ids=[
        "too-short",
        "too-simple",
        "contains-username",
        "bad-username",
        "taken",
        "taken-elsewhere",
        "blank-name",
        "unknown-role",
        "bad-region",
        "town-needs-town",
        "sector-needs-sector",
        "sector-for-inspector",
        "outside-jurisdiction",
        "unmask-not-held",
    ],
)
async def test_a_bad_new_user_is_refused_naming_the_field(writable_graph, people, change, code, field) -> None:
    given = {
        "username": "new.person",
        "displayName": "新人",
        "role": "inspector",
        "regionCode": "370811",
        "password": PASSWORD,
        **change,
    }
    err = await writable_graph.error(CREATE, {"i": given}, as_="city-admin")
    assert (err["extensions"]["code"], err["extensions"].get("field")) == (code, field), err
    # and the password is never repeated in the refusal
    assert given["password"] not in err["message"]


async def test_a_city_admin_lists_only_its_jurisdictions_users_with_filters_and_pages(writable_graph, people) -> None:
    # When the city admin lists users
    page = (await writable_graph.data(USERS, {"first": 50}, as_="city-admin"))["users"]
    names = [n["username"] for n in page["nodes"]]
    # Then 淄博's user is not among them; 济宁's are, by username
    assert "zibo-a" not in names and {"jining-a", "jining-b"} <= set(names)
    assert names == sorted(names)
    # and the national admin sees 淄博's too
    everyone = (await writable_graph.data(USERS, {"first": 50}))["users"]["nodes"]
    assert "zibo-a" in {n["username"] for n in everyone}
    # and the filters narrow it: a county, a role, a piece of the name
    county = (await writable_graph.data(USERS, {"region": "370811", "first": 50}, as_="city-admin"))["users"]
    assert "jining-b" not in {n["username"] for n in county["nodes"]}
    assert all(n["regionCode"].startswith("370811") for n in county["nodes"])
    text = (await writable_graph.data(USERS, {"text": "NING-B"}, as_="city-admin"))["users"]["nodes"]
    assert [n["username"] for n in text] == ["jining-b"]
    shown = (await writable_graph.data(USERS, {"text": "用户b"}, as_="city-admin"))["users"]["nodes"]
    assert [n["username"] for n in shown] == ["jining-b"]
    admins = (await writable_graph.data(USERS, {"role": "leader"}, as_="city-admin"))["users"]["nodes"]
    assert all(n["role"] == "leader" for n in admins)
    # and pages follow one another without a gap
    first = (await writable_graph.data(USERS, {"first": 1}, as_="city-admin"))["users"]
    second = (
        await writable_graph.data(USERS, {"first": 1, "after": first["pageInfo"]["endCursor"]}, as_="city-admin")
    )["users"]
    assert [first["nodes"][0]["username"], second["nodes"][0]["username"]] == names[:2]
    # and an unknown role is refused by name
    err = await writable_graph.error(USERS, {"role": "boss"}, as_="city-admin")
    assert (err["extensions"]["code"], err["extensions"]["field"]) == ("BAD_USER_INPUT", "role")


async def test_another_citys_user_is_not_found_for_the_city_admin(writable_graph, people) -> None:
    zibo = gid(people["zibo-a"])
    for query, variables in [
        (UPDATE, {"id": zibo, "i": {"displayName": "改名"}}),
        (DISABLE, {"id": zibo, "d": True}),
        (RESET, {"id": zibo, "p": "Another-Pass-77"}),
    ]:
        err = await writable_graph.error(query, variables, as_="city-admin")
        assert err["extensions"]["code"] == "NOT_FOUND", err
    node = await writable_graph.raw(NODE, {"id": zibo}, as_="city-admin")
    assert node["data"]["node"] is None
    # while the national admin finds it
    assert (await writable_graph.data(NODE, {"id": zibo}))["node"]["username"] == "zibo-a"


@pytest.mark.parametrize("who", ["city", "leader", "viewer"])
async def test_only_administrators_manage_users(writable_graph, people, who) -> None:
    for query, variables in [
        (USERS, {}),
        (DISABLE, {"id": gid(people["jining-a"]), "d": True}),
    ]:
        err = await writable_graph.error(query, variables, as_=who)
        assert err["extensions"]["code"] == "FORBIDDEN"
        assert err["message"] == "only administrators may manage users"


async def test_an_admin_changes_a_users_role_and_region_and_the_audit_names_the_fields(writable_graph, people) -> None:
    target = gid(people["jining-b"])
    # When the admin makes the user a 住建 sector user of 任城区
    changed = (
        await writable_graph.data(
            UPDATE,
            {"id": target, "i": {"role": "sector", "sector": "住建", "regionCode": "370811", "displayName": "李四"}},
            as_="city-admin",
        )
    )["updateUser"]
    assert (changed["role"], changed["sector"], changed["regionCode"], changed["displayName"]) == (
        "sector",
        "住建",
        "370811",
        "李四",
    )
    # Then the audit log names what changed, but not the person's new name
    log = (await writable_graph.data(AUDIT, {"a": "user.update", "e": people["jining-b"]}))["auditLog"]["nodes"]
    assert log[0]["principal"] == "apikey:city-admin"
    assert log[0]["detail"] == {
        "username": "jining-b",
        "changed": ["displayName", "role", "regionCode", "sector"],
        "role": "sector",
        "regionCode": "370811",
        "sector": "住建",
    }
    # and making it an inspector again drops the sector
    back = (await writable_graph.data(UPDATE, {"id": target, "i": {"role": "inspector"}}, as_="city-admin"))[
        "updateUser"
    ]
    assert (back["role"], back["sector"]) == ("inspector", None)
    # and bad changes are refused by field
    for change, code, field in [
        ({"role": "town"}, "BAD_USER_INPUT", "regionCode"),
        ({"regionCode": "370300"}, "FORBIDDEN", "regionCode"),
        ({"sector": "水利"}, "BAD_USER_INPUT", "sector"),
        ({"displayName": ""}, "BAD_USER_INPUT", "displayName"),
    ]:
        err = await writable_graph.error(UPDATE, {"id": target, "i": change}, as_="city-admin")
        assert (err["extensions"]["code"], err["extensions"].get("field")) == (code, field), (change, err)
    # and a change to nothing is a CONFLICT that says so
    err = await writable_graph.error(UPDATE, {"id": target, "i": {"role": "inspector"}}, as_="city-admin")
    assert err["extensions"]["code"] == "CONFLICT"


async def test_disabling_a_user_ends_its_session_and_refuses_sign_in_until_enabled(writable_graph, people) -> None:
    target = gid(people["jining-a"])
    signed_in = await sign_in(writable_graph, "jining-a", PASSWORD)
    assert signed_in.status_code == 200
    assert await session_alive(writable_graph, signed_in.cookie) == 200
    # When the admin disables the user
    done = (await writable_graph.data(DISABLE, {"id": target, "d": True}, as_="city-admin"))["setUserDisabled"]
    assert done["disabled"] is True
    # Then its open session has ended and the right password is refused
    assert await session_alive(writable_graph, signed_in.cookie) == 401
    refused = await sign_in(writable_graph, "jining-a", PASSWORD)
    assert refused.json()["errors"][0]["extensions"]["code"] == "ACCOUNT_DISABLED"
    # and disabling it twice says it is disabled already
    err = await writable_graph.error(DISABLE, {"id": target, "d": True}, as_="city-admin")
    assert err["extensions"]["code"] == "CONFLICT"
    # When enabled again, it signs in
    await writable_graph.data(DISABLE, {"id": target, "d": False}, as_="city-admin")
    assert (await sign_in(writable_graph, "jining-a", PASSWORD)).status_code == 200
    log = (await writable_graph.data(AUDIT, {"e": people["jining-a"]}))["auditLog"]["nodes"]
    assert ("apikey:city-admin", "user.disable") in {(n["principal"], n["action"]) for n in log}
    assert ("apikey:city-admin", "user.enable") in {(n["principal"], n["action"]) for n in log}


async def test_resetting_a_password_lifts_a_lockout_and_ends_the_old_session(writable_graph, people) -> None:
    target = gid(people["jining-a"])
    old = await sign_in(writable_graph, "jining-a", PASSWORD)
    # Given the account locked by wrong passwords (the demo's limit: five)
    for _ in range(5):
        last = await sign_in(writable_graph, "jining-a", "Wrong-Password-1")
    assert last.json()["errors"][0]["extensions"]["code"] == "ACCOUNT_LOCKED"
    listed = (await writable_graph.data(USERS, {"text": "jining-a"}, as_="city-admin"))["users"]["nodes"]
    assert listed and listed[0]["username"] == "jining-a"
    locked = await writable_graph.data(NODE, {"id": target}, as_="city-admin")
    assert locked["node"]["lockedUntil"] is not None
    # When a weak password is given, it is refused by field, and nothing changes
    err = await writable_graph.error(RESET, {"id": target, "p": "weak"}, as_="city-admin")
    assert (err["extensions"]["code"], err["extensions"]["field"]) == ("WEAK_PASSWORD", "password")
    # When the admin resets the password
    done = (await writable_graph.data(RESET, {"id": target, "p": "Brand-New-Pass-8"}, as_="city-admin"))[
        "resetUserPassword"
    ]
    # Then the lock is gone, the old session has ended, the new password signs in, the old one does not
    assert done["lockedUntil"] is None
    assert await session_alive(writable_graph, old.cookie) == 401
    assert (await sign_in(writable_graph, "jining-a", "Brand-New-Pass-8")).status_code == 200
    assert (await sign_in(writable_graph, "jining-a", PASSWORD)).status_code == 401
    log = (await writable_graph.data(AUDIT, {"a": "user.reset_password", "e": people["jining-a"]}))["auditLog"]
    assert [n["principal"] for n in log["nodes"]] == ["apikey:city-admin"]
    # and the password is in no audit row
    everything = (await writable_graph.data(AUDIT, {"e": people["jining-a"]}))["auditLog"]["nodes"]
    assert "Brand-New-Pass-8" not in str(everything)


@pytest.fixture
async def strict_graph(writable_demo, settings_for, writable_keys):  # type: ignore[no-untyped-def]
    """A client of an app over the writable demo whose password minimum is 14 (HUB_PASSWORD_MIN_LENGTH)."""
    import httpx

    from hub.app import create_app
    from tests.schema.conftest import GraphClient, StatementCounter

    app = create_app(settings_for(writable_demo.url, password_min_length=14))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        yield GraphClient(client, writable_keys, StatementCounter())
    await app.state.engine.dispose()


async def test_me_tells_the_hubs_password_minimum_which_creating_a_user_holds_to(strict_graph, people) -> None:
    # Given a hub whose passwords need 14 characters
    # When a client asks who it is
    me = (await strict_graph.data("{ me { passwordMinLength } }", as_="city-admin"))["me"]
    # Then it is told the hub's minimum, not the floor of the setting
    assert me == {"passwordMinLength": 14}
    # And a 13-character password, good by every other rule, is refused beside the field, naming 14
    given = {"username": "strict.person", "displayName": "新人", "role": "inspector", "regionCode": "370811"}
    err = await strict_graph.error(CREATE, {"i": {**given, "password": "Qiansheng-202"}}, as_="city-admin")
    assert (err["extensions"]["code"], err["extensions"]["field"]) == ("WEAK_PASSWORD", "password")
    assert "at least 14" in err["message"]
    # while one of 14 is accepted
    made = await strict_graph.data(CREATE, {"i": {**given, "password": "Qiansheng-2026"}}, as_="city-admin")
    assert made["createUser"]["username"] == "strict.person"


async def test_me_tells_the_default_password_minimum(writable_graph) -> None:
    # Given a hub with the default settings, When a client asks who it is, Then the minimum is the default 10
    assert (await writable_graph.data("{ me { passwordMinLength } }"))["me"] == {"passwordMinLength": 10}
