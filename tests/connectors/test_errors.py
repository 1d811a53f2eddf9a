"""Upstream errors are translated at the boundary into retriable / fatal errors with connector and stream."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from zeep.exceptions import Fault, TransportError

from connectors.base import CheckResult, check_connection
from connectors.errors import (
    CredentialsRefused,
    FatalUpstreamError,
    MalformedResponse,
    RetriableUpstreamError,
    TokenExpired,
    Unreachable,
    map_exceptions,
)


def _status(code: int, body: str = "") -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "https://bank.example/v1/accounts")
    return httpx.HTTPStatusError("x", request=request, response=httpx.Response(code, text=body, request=request))


@pytest.mark.parametrize(
    ("raised", "expected", "message"),
    [
        (httpx.ReadTimeout("slow"), Unreachable, "bank_rest/accounts: timed out (ReadTimeout('slow'))"),
        (httpx.ConnectError("refused"), Unreachable, "bank_rest/accounts: connection failed (ConnectError('refused'))"),
        (_status(503, "busy"), RetriableUpstreamError, "bank_rest/accounts: upstream answered HTTP 503 (busy)"),
        (_status(429), RetriableUpstreamError, "bank_rest/accounts: upstream answered HTTP 429"),
        (
            _status(401, '{"code": "TOKEN_EXPIRED"}'),
            TokenExpired,
            'bank_rest/accounts: access token expired ({"code": "TOKEN_EXPIRED"})',
        ),
        (
            _status(403),
            CredentialsRefused,
            "bank_rest/accounts: upstream refused the credentials (HTTP 403): check the connector's credentials",
        ),
        (_status(404), FatalUpstreamError, "bank_rest/accounts: upstream answered HTTP 404"),
        (
            json.JSONDecodeError("Expecting value", "{", 1),
            MalformedResponse,
            "bank_rest/accounts: unparseable response (Expecting value: line 1 column 2 (char 1))",
        ),
        (
            Fault("认证失败", code="soap:Client"),
            FatalUpstreamError,
            "bank_rest/accounts: SOAP fault soap:Client: 认证失败",
        ),
        (
            Fault("TOKEN_EXPIRED: 令牌已过期", code="soap:Client"),
            TokenExpired,
            "bank_rest/accounts: SOAP fault soap:Client: TOKEN_EXPIRED: 令牌已过期",
        ),
        (
            Fault("系统繁忙", code="soap:Server"),
            RetriableUpstreamError,
            "bank_rest/accounts: SOAP fault soap:Server: 系统繁忙",
        ),
        (
            TransportError(status_code=200, content=b"<html>"),
            MalformedResponse,
            "bank_rest/accounts: unparseable SOAP response (<html>)",
        ),
        (
            TransportError(status_code=502, content=b"bad gateway"),
            RetriableUpstreamError,
            "bank_rest/accounts: upstream answered HTTP 502 (bad gateway)",
        ),
    ],
    ids=[
        "timeout",
        "connect",
        "503",
        "429",
        "token-expired",
        "403",
        "404",
        "bad-json",
        "soap-client-fault",
        "soap-token-expired",
        "soap-server-fault",
        "soap-200-not-xml",
        "soap-502",
    ],
)
def test_map_exceptions(raised: Exception, expected: type, message: str) -> None:
    with pytest.raises(expected) as info, map_exceptions(connector="bank_rest", stream="accounts"):
        raise raised
    assert type(info.value) is expected
    assert str(info.value) == message
    assert isinstance(info.value.__cause__, type(raised))


def test_unrelated_exceptions_pass_through() -> None:
    with pytest.raises(KeyError), map_exceptions(connector="bank_rest"):
        raise KeyError("not an upstream problem")


def test_unreachable_and_refused_credentials_stay_retriable_and_fatal() -> None:
    # The typed errors refine the tree: the hub's retry decision (``retriable``) does not change
    assert issubclass(Unreachable, RetriableUpstreamError) and Unreachable.retriable
    assert issubclass(CredentialsRefused, FatalUpstreamError) and not CredentialsRefused.retriable


def _raises(error: Exception) -> Callable[[], str]:
    def probe() -> str:
        raise error

    return probe


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        (lambda: "connected as hub", CheckResult(True, "connected as hub")),
        (
            _raises(Unreachable("connection failed")),
            CheckResult(False, "cannot reach the bank at http://bank/: connection failed"),
        ),
        (
            _raises(CredentialsRefused("the bank refused client_id 'x': check client_id")),
            CheckResult(False, "the bank refused client_id 'x': check client_id"),
        ),
        # classified by type: a message that merely *reads* like a refusal is still "answered an error"
        (
            _raises(FatalUpstreamError("upstream refused the credentials (HTTP 418)")),
            CheckResult(
                False, "the bank at http://bank/ answered an error: upstream refused the credentials (HTTP 418)"
            ),
        ),
        (
            _raises(RetriableUpstreamError("connection failed")),
            CheckResult(False, "the bank at http://bank/ answered an error: connection failed"),
        ),
    ],
    ids=["ok", "unreachable", "refused", "other-fatal", "other-retriable"],
)
def test_check_connection_classifies_by_type(probe: Callable[[], str], expected: CheckResult) -> None:
    assert check_connection(probe, system="the bank", where="http://bank/") == expected


def test_check_connection_lets_bugs_through() -> None:
    with pytest.raises(KeyError):
        check_connection(_raises(KeyError("bug")), system="the bank", where="http://bank/")
