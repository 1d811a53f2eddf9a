"""The connector plugin interface: the contract third-party connector packages build on.

A connector package exposes a ``Connector`` subclass under the entry-point group ``hub.connectors``::

    [project.entry-points."hub.connectors"]
    my_bank = "my_bank_connector:MyBankConnector"

and implements ``check``, ``streams`` (each a ``Stream`` with ``read(state)`` yielding ``Page``s) and
``normalise`` (upstream record → canonical records of this module, or ``Rejection``).

What a connector is given to build with:

- ``fields``: the field converters (text, integer, amount, date, month, local_time, flag, choice),
  each raising ``Rejection`` with the field and the value, so every connector reads values alike;
- ``map_exceptions`` and the ``UpstreamError`` tree (``connectors.errors``): wrap every upstream call;
- ``check_connection``: the body of ``check``, classifying a probe's failure by its type
  (``Unreachable``, ``CredentialsRefused``, another ``UpstreamError``);
- ``read_pages`` and ``Batch``: the paging loop of a list read by position (update time, key), whose
  bookmark never moves back whatever the upstream's cursor does.

``connectors.testing`` holds the conformance suite a connector's tests run (see connectors/README.md).
"""

from __future__ import annotations

from connectors.base import fields
from connectors.base._check import check_connection
from connectors.base._connector import CheckResult, Connector, ConnectorConfig, Outcome, Page, Rejection, Stream, secret
from connectors.base._entities import (
    AllocationIn,
    AttendanceIn,
    CallbackIn,
    ClueIn,
    ContractIn,
    DepositIn,
    EnterpriseIn,
    Entity,
    ExpenseIn,
    MovementIn,
    OutputValueIn,
    PayrollIn,
    ProgressPaymentIn,
    ProjectIn,
    TeamIn,
    WageAccountIn,
    WorkerIn,
)
from connectors.base._paging import Batch, read_pages
from connectors.errors import (
    CredentialsRefused,
    FatalUpstreamError,
    MalformedResponse,
    RetriableUpstreamError,
    TokenExpired,
    Unreachable,
    UpstreamError,
    map_exceptions,
)

__all__ = [
    "TeamIn",
    "ProgressPaymentIn",
    "OutputValueIn",
    "MovementIn",
    "ExpenseIn",
    "ContractIn",
    "AttendanceIn",
    "AllocationIn",
    "Batch",
    "CallbackIn",
    "CheckResult",
    "ClueIn",
    "Connector",
    "ConnectorConfig",
    "CredentialsRefused",
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
    "Unreachable",
    "UpstreamError",
    "WageAccountIn",
    "WorkerIn",
    "check_connection",
    "fields",
    "map_exceptions",
    "read_pages",
    "secret",
]
