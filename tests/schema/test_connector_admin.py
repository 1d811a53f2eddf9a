"""Connector administration over GraphQL: secrets are write-only, inputs validated, admin only."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from hub.db import make_engine
from hub.models import AuditLog, ConnectorInstance

CREATE = """mutation($input: CreateConnectorInput!) { createConnector(input: $input) {
  id name kind config hasSecrets enabled health scheduleSeconds } }"""


@pytest.fixture
async def admin_graph(empty_db_url, settings_for):  # type: ignore[no-untyped-def]
    """A fresh writable database with an admin and a viewer key, and the app on it."""
    from hub.access import NATIONAL
    from hub.api_keys import create_api_key
    from hub.app import create_app
    from hub.db import session_scope
    from tests.schema.conftest import GraphClient, StatementCounter

    engine = make_engine(empty_db_url)
    with session_scope(engine) as session:
        keys = {
            "admin": create_api_key(session, name="admin", role="admin", region_code=NATIONAL)[1],
            "viewer": create_api_key(session, name="viewer", role="viewer", region_code="370800")[1],
        }
    engine.dispose()
    app = create_app(settings_for(empty_db_url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        yield GraphClient(client, keys, StatementCounter()), empty_db_url
    await app.state.engine.dispose()
    app.state.sync_engine.dispose()


async def test_create_connector_keeps_secrets_write_only(admin_graph) -> None:
    graph, url = admin_graph
    data = await graph.data(
        CREATE,
        {
            "input": {
                "name": "济宁邮储专户",
                "kind": "bank_rest",
                "config": {"base_url": "https://bank.example/api/", "client_id": "wage-hub"},
                "secrets": {"client_secret": "s3cr3t-value"},
                "scheduleSeconds": 600,
            }
        },
    )
    created = data["createConnector"]
    assert created["hasSecrets"] is True and created["scheduleSeconds"] == 600
    assert "client_secret" not in created["config"] and "s3cr3t-value" not in str(created)
    # Not in the database in clear, nor in the audit log
    engine = make_engine(url)
    with engine.connect() as conn:
        row = conn.execute(select(ConnectorInstance.config, ConnectorInstance.secrets_enc)).one()
        audit = conn.execute(select(AuditLog.detail).where(AuditLog.action == "connector.create")).scalar_one()
    engine.dispose()
    assert "s3cr3t-value" not in str(row.config) and "s3cr3t-value" not in row.secrets_enc
    assert audit["secrets"] == ["client_secret"] and "s3cr3t-value" not in str(audit)
    listed = await graph.data("{ connectorInstances { nodes { name config hasSecrets } } }")
    assert "s3cr3t-value" not in str(listed)


@pytest.mark.parametrize(
    ("input_", "code", "message"),
    [
        ({"name": "x", "kind": "nope", "config": {}}, "BAD_USER_INPUT", "no connector plugin 'nope' is installed"),
        (
            {"name": "x", "kind": "bank_rest", "config": {"base_url": "https://b/"}},
            "BAD_USER_INPUT",
            "invalid bank_rest config: client_id: Field required",
        ),
        (
            {
                "name": "x",
                "kind": "bank_rest",
                "config": {"base_url": "https://b/", "client_id": "c", "colour": "red"},
                "secrets": {"client_secret": "s"},
            },
            "BAD_USER_INPUT",
            "invalid bank_rest config: colour: Extra inputs are not permitted",
        ),
    ],
    ids=["unknown-kind", "missing-field", "unknown-field"],
)
async def test_create_connector_rejects_bad_config_naming_the_field(admin_graph, input_, code, message) -> None:
    graph, _ = admin_graph
    err = await graph.error(CREATE, {"input": input_})
    assert err["extensions"]["code"] == code
    assert err["message"].startswith(message)


async def test_only_admins_configure_connectors(admin_graph) -> None:
    graph, _ = admin_graph
    err = await graph.error(CREATE, {"input": {"name": "x", "kind": "permits", "config": {}}}, as_="viewer")
    assert (err["extensions"]["code"], err["message"]) == ("FORBIDDEN", "only administrators may configure connectors")


async def test_update_keeps_secrets_not_given_and_disable_enable(admin_graph) -> None:
    graph, url = admin_graph
    created = (
        await graph.data(
            CREATE,
            {
                "input": {
                    "name": "permits",
                    "kind": "permits",
                    "config": {"base_url": "https://permits.example/", "app_id": "a"},
                    "secrets": {"api_key": "k1"},
                }
            },
        )
    )["createConnector"]
    updated = await graph.data(
        "mutation($id: ID!) { updateConnector(id: $id, input: {config: {page_size: 50}}) { config hasSecrets } }",
        {"id": created["id"]},
    )
    assert updated["updateConnector"]["config"]["page_size"] == 50 and updated["updateConnector"]["hasSecrets"]
    off = await graph.data(
        "mutation($id: ID!) { setConnectorEnabled(id: $id, enabled: false) { enabled } }", {"id": created["id"]}
    )
    assert off["setConnectorEnabled"]["enabled"] is False
    # The secret survived the update: the stored config still validates with it
    from hub.connector_admin import get_instance
    from hub.crypto import Cipher
    from hub.db import session_scope
    from hub.connector_config import load_config
    from connectors import registry
    from tests.conftest import SECRET

    engine = make_engine(url)
    with session_scope(engine) as session:
        inst = get_instance(session, name="permits")
        config = load_config(registry.get("permits"), inst, Cipher(SECRET))
    engine.dispose()
    assert config.api_key.get_secret_value() == "k1" and config.page_size == 50


async def test_test_connector_reports_an_unreachable_upstream(admin_graph) -> None:
    graph, _ = admin_graph
    created = (
        await graph.data(
            CREATE,
            {
                "input": {
                    "name": "permits",
                    "kind": "permits",
                    "config": {"base_url": "http://127.0.0.1:1/", "app_id": "a", "timeout_seconds": 2},
                    "secrets": {"api_key": "k"},
                }
            },
        )
    )["createConnector"]
    result = (await graph.data("mutation($id: ID!) { testConnector(id: $id) { ok message } }", {"id": created["id"]}))[
        "testConnector"
    ]
    assert result["ok"] is False and "127.0.0.1:1" in result["message"]


async def test_reset_stream_names_the_streams_when_wrong(admin_graph) -> None:
    graph, _ = admin_graph
    created = (
        await graph.data(
            CREATE,
            {
                "input": {
                    "name": "permits",
                    "kind": "permits",
                    "config": {"base_url": "https://permits.example/", "app_id": "a"},
                    "secrets": {"api_key": "k"},
                }
            },
        )
    )["createConnector"]
    err = await graph.error(
        'mutation($id: ID!) { resetConnectorStream(id: $id, stream: "nope") { name } }', {"id": created["id"]}
    )
    assert err["message"] == "connector 'permits' has no stream 'nope' (streams: enterprises, projects, contracts, progress_payments, output_values)"
    ok = await graph.data(
        'mutation($id: ID!) { resetConnectorStream(id: $id, stream: "projects") { state } }', {"id": created["id"]}
    )
    assert "projects" not in ok["resetConnectorStream"]["state"]


async def test_connector_kinds_lists_the_installed_plugins_with_their_schemas(admin_graph) -> None:
    graph, _ = admin_graph
    kinds = {
        k["kind"]: k
        for k in (await graph.data("{ connectorKinds { kind title configSchema supportsWriteBack } }"))[
            "connectorKinds"
        ]
    }
    assert {"bank_soap", "bank_rest", "hotline12345", "national_platform", "permits"} <= set(kinds)
    assert kinds["hotline12345"]["supportsWriteBack"] and not kinds["permits"]["supportsWriteBack"]
    secret_props = [n for n, p in kinds["bank_rest"]["configSchema"]["properties"].items() if p.get("secret")]
    assert secret_props == ["client_secret"]
