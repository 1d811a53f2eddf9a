"""Errors of upstream systems, translated at the boundary.

UpstreamError                  something went wrong talking to an upstream system
 ├── RetriableUpstreamError     worth trying again: timeouts, 5xx, 429, connection resets
 │    ├── Unreachable           no answer at all: the connection failed or timed out
 │    ├── TokenExpired          the access token expired: refresh it, then retry
 │    └── MalformedResponse     a body we cannot parse (garbled by a proxy, cut off): retried, then fatal
 └── FatalUpstreamError         retrying will not help: bad credentials, 4xx, a broken contract
      └── CredentialsRefused    the upstream refused who we are (HTTP 401/403, a login or signature refused)

Every error carries the connector, the stream and the upstream's own detail, so that a person
reading a failed sync run knows which system said what. Record-level problems are not errors:
they are ``Rejection``s, which quarantine one record and let the page go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx


class UpstreamError(Exception):
    """Root: a failure talking to an upstream system."""

    retriable = False

    def __init__(self, message: str, *, connector: str = "", stream: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.connector = connector
        self.stream = stream
        self.detail = detail

    def __str__(self) -> str:
        where = "/".join(p for p in (self.connector, self.stream) if p)
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} ({self.detail})" if self.detail else text


class RetriableUpstreamError(UpstreamError):
    """A failure that may pass: time-outs, 5xx, rate limits, dropped connections."""

    retriable = True


class Unreachable(RetriableUpstreamError):
    """No answer from the upstream: the connection failed or timed out (check the URL and the network)."""


class TokenExpired(RetriableUpstreamError):
    """The upstream rejected an expired access token; the client should re-authenticate."""


class FatalUpstreamError(UpstreamError):
    """A failure that retrying will not fix: bad credentials, a bad request, a broken contract."""


class CredentialsRefused(FatalUpstreamError):
    """The upstream refused the connector's credentials: retrying will not help until they are fixed."""


class MalformedResponse(RetriableUpstreamError):
    """The upstream's answer could not be parsed (not JSON / not XML / cut off).

    Usually transient (a proxy's error page, a truncated body), so it is retried; when it persists
    the run fails with the parse error. A well-formed page with a bad *record* is not this: that
    record is rejected by ``normalise`` and quarantined.
    """


@contextmanager
def map_exceptions(*, connector: str, stream: str = "") -> Iterator[None]:
    """Translate httpx, zeep and parser exceptions into ``UpstreamError`` subclasses.

    Time-outs and failed connections become ``Unreachable``; HTTP statuses map as ``from_status``
    says; bodies that do not parse become ``MalformedResponse``. An ``UpstreamError`` raised inside
    gets the connector and stream filled in.
    """
    try:
        yield
    except UpstreamError as exc:
        exc.connector = exc.connector or connector
        exc.stream = exc.stream or stream
        raise
    except httpx.TimeoutException as exc:
        raise Unreachable("timed out", connector=connector, stream=stream, detail=repr(exc)) from exc
    except httpx.HTTPStatusError as exc:
        raise from_status(
            exc.response.status_code, exc.response.text[:300], connector=connector, stream=stream
        ) from exc
    except httpx.TransportError as exc:
        raise Unreachable("connection failed", connector=connector, stream=stream, detail=repr(exc)) from exc
    except ValueError as exc:  # json.JSONDecodeError, orjson.JSONDecodeError, lxml XMLSyntaxError subclass ValueError
        raise MalformedResponse(
            "unparseable response", connector=connector, stream=stream, detail=str(exc)[:300]
        ) from exc
    except Exception as exc:
        mapped = _map_zeep(exc, connector=connector, stream=stream)
        if mapped is None:
            raise
        raise mapped from exc


def from_status(status: int, body: str, *, connector: str, stream: str = "") -> UpstreamError:
    """The error an HTTP status stands for."""
    if status in (408, 425, 429) or status >= 500:
        return RetriableUpstreamError(
            f"upstream answered HTTP {status}", connector=connector, stream=stream, detail=body
        )
    if status == 401 and "expired" in body.lower():
        return TokenExpired("access token expired", connector=connector, stream=stream, detail=body)
    if status in (401, 403):
        return CredentialsRefused(
            f"upstream refused the credentials (HTTP {status}): check the connector's credentials",
            connector=connector,
            stream=stream,
            detail=body,
        )
    return FatalUpstreamError(f"upstream answered HTTP {status}", connector=connector, stream=stream, detail=body)


def _detail_text(detail: object) -> str:
    """A SOAP fault's <detail> as text (an lxml element's str() is only its tag)."""
    if detail is None:
        return ""
    itertext = getattr(detail, "itertext", None)
    if callable(itertext):
        return " ".join(t.strip() for t in itertext() if t.strip())[:300]
    return str(detail)[:300]


def _map_zeep(exc: Exception, *, connector: str, stream: str) -> UpstreamError | None:
    # Imported here, not at the top: zeep takes ~0.3 s to import and only SOAP connectors raise its errors.
    try:
        from lxml.etree import XMLSyntaxError
        from zeep.exceptions import Fault, TransportError, XMLParseError
        from zeep.exceptions import XMLSyntaxError as ZeepXMLSyntaxError
    except ImportError:  # pragma: no cover - zeep is a dependency
        return None
    if isinstance(exc, Fault):
        code = str(exc.code or "")
        text = f"SOAP fault {code}: {exc.message}".strip()
        detail = _detail_text(exc.detail)
        if "TOKEN_EXPIRED" in f"{exc.message} {detail}":
            return TokenExpired(text, connector=connector, stream=stream, detail=detail)
        if "Server" in code or "Receiver" in code or "Busy" in str(exc.message):
            return RetriableUpstreamError(text, connector=connector, stream=stream, detail=detail)
        return FatalUpstreamError(text, connector=connector, stream=stream, detail=detail)
    if isinstance(exc, TransportError):
        body = (
            (exc.content or b"")[:300].decode(errors="replace")
            if isinstance(exc.content, bytes)
            else str(exc.content or "")[:300]
        )
        if exc.status_code in (None, 0, 200):  # a 200 whose body is not a SOAP envelope
            return MalformedResponse("unparseable SOAP response", connector=connector, stream=stream, detail=body)
        return from_status(exc.status_code, body, connector=connector, stream=stream)
    if isinstance(exc, (XMLParseError, XMLSyntaxError, ZeepXMLSyntaxError)):
        return MalformedResponse("unparseable SOAP response", connector=connector, stream=stream, detail=str(exc)[:300])
    return None
