"""Upstream errors are translated at the boundary into retriable / fatal errors with connector and stream."""

from __future__ import annotations

import json

import httpx
import pytest
from zeep.exceptions import Fault, TransportError

from connectors.errors import FatalUpstreamError, MalformedResponse, RetriableUpstreamError, TokenExpired, map_exceptions


def _status(code: int, body: str = "") -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "https://bank.example/v1/accounts")
    return httpx.HTTPStatusError("x", request=request, response=httpx.Response(code, text=body, request=request))


@pytest.mark.parametrize(
    ("raised", "expected", "message"),
    [
        (httpx.ReadTimeout("slow"), RetriableUpstreamError, "bank_rest/accounts: timed out (ReadTimeout('slow'))"),
        (httpx.ConnectError("refused"), RetriableUpstreamError, "bank_rest/accounts: connection failed (ConnectError('refused'))"),
        (_status(503, "busy"), RetriableUpstreamError, "bank_rest/accounts: upstream answered HTTP 503 (busy)"),
        (_status(429), RetriableUpstreamError, "bank_rest/accounts: upstream answered HTTP 429"),
        (_status(401, '{"code": "TOKEN_EXPIRED"}'), TokenExpired, 'bank_rest/accounts: access token expired ({"code": "TOKEN_EXPIRED"})'),
        (_status(403), FatalUpstreamError, "bank_rest/accounts: upstream refused the credentials (HTTP 403): check the connector's credentials"),
        (_status(404), FatalUpstreamError, "bank_rest/accounts: upstream answered HTTP 404"),
        (json.JSONDecodeError("Expecting value", "{", 1), MalformedResponse, "bank_rest/accounts: unparseable response (Expecting value: line 1 column 2 (char 1))"),
        (Fault("认证失败", code="soap:Client"), FatalUpstreamError, "bank_rest/accounts: SOAP fault soap:Client: 认证失败"),
        (Fault("TOKEN_EXPIRED: 令牌已过期", code="soap:Client"), TokenExpired, "bank_rest/accounts: SOAP fault soap:Client: TOKEN_EXPIRED: 令牌已过期"),
        (Fault("系统繁忙", code="soap:Server"), RetriableUpstreamError, "bank_rest/accounts: SOAP fault soap:Server: 系统繁忙"),
        (TransportError(status_code=200, content=b"<html>"), MalformedResponse, "bank_rest/accounts: unparseable SOAP response (<html>)"),
        (TransportError(status_code=502, content=b"bad gateway"), RetriableUpstreamError, "bank_rest/accounts: upstream answered HTTP 502 (bad gateway)"),
    ],
    ids=["timeout", "connect", "503", "429", "token-expired", "403", "404", "bad-json", "soap-client-fault",
         "soap-token-expired", "soap-server-fault", "soap-200-not-xml", "soap-502"],
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
