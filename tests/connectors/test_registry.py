"""Connector discovery through the ``hub.connectors`` entry-point group, as a third party ships one;
and the third party's connector runs the conformance suite (``connectors.testing``) like a built-in."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors import registry
from connectors.base import Connector
from connectors.testing import ConnectorContract, Hub
from hub.crypto import Cipher
from hub.migrate import upgrade
from tests.conftest import _fresh_url
from tests.connectors.conftest import SECRET

PLUGIN = """
from connectors.base import CheckResult, Connector, ConnectorConfig, EnterpriseIn, Page, Rejection, Stream


class AcmeConfig(ConnectorConfig):
    pass


class Corps(Stream):
    name = "corps"
    primary_key = ("uscc",)
    cursor_field = "n"

    def read(self, state):
        if state.get("n", 0) < 1:  # one record, at position 1: after it, nothing is new
            yield Page(records=[{"uscc": "91350100M000100Y43", "name": "福州某某建设有限公司", "n": 1}], state={"n": 1})


class AcmeConnector(Connector):
    kind = "acme"
    title = "Acme 劳务平台"
    config_model = AcmeConfig

    def check(self, config):
        return CheckResult(ok=True, message="reachable")

    def streams(self, config):
        return [Corps(self, config)]

    def normalise(self, stream, record):
        if stream != "corps":
            raise Rejection(f"acme has no stream {stream!r}", field="stream", value=stream)
        return [EnterpriseIn(uscc=record["uscc"], name=record["name"], kind="labour_service")]
"""


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Build and pip-install a tiny third-party connector package into a private site directory."""
    src = tmp_path / "acme-connector"
    (src / "acme_connector").mkdir(parents=True)
    (src / "acme_connector" / "__init__.py").write_text(PLUGIN)
    (src / "pyproject.toml").write_text(
        textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "acme-connector"
        version = "0.1.0"
        [project.entry-points."hub.connectors"]
        acme = "acme_connector:AcmeConnector"
        [tool.setuptools]
        packages = ["acme_connector"]
    """)
    )
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    monkeypatch.syspath_prepend(str(site))
    registry.available.cache_clear()
    yield site
    registry.available.cache_clear()


def test_an_installed_third_party_connector_is_found(installed_plugin, empty_db_url, sync_engine) -> None:
    # Given a package that declares an entry point in the hub.connectors group
    assert "acme" in registry.available()
    connector = registry.get("acme")
    assert connector.title == "Acme 劳务平台"
    # When the hub syncs an instance of it, the hub owns the loop and stores what it normalised
    from sqlalchemy import select

    from hub.db import make_engine
    from hub.models import Enterprise
    from tests.connectors.conftest import create_instance

    instance = create_instance(empty_db_url, kind="acme", config={"base_url": "http://acme.invalid/"})
    result = sync_engine(empty_db_url).run(instance)
    assert result.status == "succeeded", result.error
    assert result.stats["corps"].created == 1
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        assert conn.execute(select(Enterprise.name, Enterprise.region_code)).all() == [
            ("福州某某建设有限公司", "350100")
        ]
    engine.dispose()


def test_an_unknown_kind_names_the_installed_ones() -> None:
    with pytest.raises(registry.UnknownConnector, match=r"^no connector plugin 'nope' is installed \(installed: "):
        registry.get("nope")


class TestAcmeConformance(ConnectorContract):
    """The third party's connector keeps the contract every connector keeps."""

    kind = "acme"

    @pytest.fixture
    def connector(self, installed_plugin: Path) -> Connector[Any]:
        return registry.get(self.kind)

    @pytest.fixture
    def config(self) -> dict[str, Any]:
        return {"base_url": "http://acme.invalid/"}

    @pytest.fixture
    def hub(self, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Hub]:
        """Fresh, migrated, empty databases: the acme world is not the demo's."""
        n = itertools.count(1)

        def new_database() -> str:
            directory = tmp_path / f"hub-{next(n)}"
            directory.mkdir()
            url = _fresh_url(directory, request)
            upgrade(url)
            return url

        harness = Hub(new_database=new_database, cipher=Cipher(SECRET))
        yield harness
        harness.close()
