"""The connector plugin interface: the contract third-party connector packages build on.

A connector package exposes a ``Connector`` subclass under the entry-point group ``hub.connectors``::

    [project.entry-points."hub.connectors"]
    my_bank = "my_bank_connector:MyBankConnector"

and implements ``check``, ``streams`` (each a ``Stream`` with ``read(state)`` yielding ``Page``s) and
``normalise`` (upstream record → canonical records of this module, or ``Rejection``).
"""

from __future__ import annotations

from connectors.base._connector import CheckResult, Connector, ConnectorConfig, Outcome, Page, Rejection, Stream, secret
from connectors.base._entities import (
    AllocationIn,
    ClueIn,
    DepositIn,
    EnterpriseIn,
    Entity,
    PayrollIn,
    ProjectIn,
    WageAccountIn,
    WorkerIn,
)
from connectors.errors import (
    FatalUpstreamError,
    MalformedResponse,
    RetriableUpstreamError,
    TokenExpired,
    UpstreamError,
    map_exceptions,
)

__all__ = [
    "AllocationIn",
    "CheckResult",
    "ClueIn",
    "Connector",
    "ConnectorConfig",
    "DepositIn",
    "EnterpriseIn",
    "Entity",
    "FatalUpstreamError",
    "MalformedResponse",
    "Outcome",
    "Page",
    "PayrollIn",
    "ProjectIn",
    "Rejection",
    "RetriableUpstreamError",
    "Stream",
    "TokenExpired",
    "UpstreamError",
    "WageAccountIn",
    "WorkerIn",
    "map_exceptions",
    "secret",
]
