"""The client half of the cursor API the permit system and the real-name platform share.

- ``TokenClient``: the HTTP side. ``POST api/v1/auth/token`` with the connector's credential headers
  buys an access token that data requests carry in ``X-Access-Token``; an expired one answers 401
  ``TOKEN_EXPIRED`` (or ``INVALID_TOKEN``), which becomes ``TokenExpired`` (the hub retries, the
  client fetches a new token). Every answer is a ``{"code": "0", "msg", "data"}`` envelope; another
  code is the upstream refusing (``FatalUpstreamError``).
- ``CursorStream``: a list read by update time, ``GET <path>?pageSize=…&cursor=…`` →
  ``{records, hasMore, nextCursor}``, ordered by ``updateTime`` then key. The bookmark is
  ``{"cursor": "<updateTime>|<key>"}`` of the last record received and never moves backwards
  (``connectors.base.read_pages``). A stream may change each record before the hub archives it
  (``prepare``: the real-name platform decrypts its ID numbers there).
- ``WORDING`` and ``required`` / ``optional`` / ``optional_date``: how their rejections read (both
  documentations write their formats as yyyy-MM-dd and yyyy-MM-dd HH:mm:ss).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, final

import httpx

from connectors.base import (
    Batch,
    ConnectorConfig,
    FatalUpstreamError,
    MalformedResponse,
    Page,
    Stream,
    TokenExpired,
    fields,
    map_exceptions,
    read_pages,
)

if TYPE_CHECKING:
    from connectors.base import Connector

C = TypeVar("C", bound=ConnectorConfig)

#: 401 codes after which a new token may help.
TOKEN_CODES = frozenset({"TOKEN_EXPIRED", "INVALID_TOKEN"})
#: Both platforms' documentations write their formats as yyyy-MM-dd (HH:mm:ss); their rejections say so.
WORDING = fields.Wording(
    not_date="{field} {value} is not a date (yyyy-MM-dd)",
    not_time="{field} {value} is not a time (yyyy-MM-dd HH:mm:ss)",
    not_number="{field} {value} is not a number",
    negative="{field} {value} must be a non-negative number",
    not_choice="unknown {field} {value}: expected one of {allowed}",
    choice_item="{code}",
)


class TokenClient(ABC, Generic[C]):
    """Token handling and the response envelope. One per ``streams()`` call: its streams share the token.

    A connector declares ``connector`` (its kind, which errors carry), how its messages name the
    upstream (``system``, ``envelope``) and its ``credentials``.
    """

    connector: ClassVar[str]
    #: "<system> answered <code>: <msg>" when the envelope carries another code than "0".
    system: ClassVar[str]
    #: "not a <envelope> envelope" when the answer is not an envelope at all.
    envelope: ClassVar[str]

    def __init__(self, config: C) -> None:
        self.config = config
        self._token: str | None = None

    @abstractmethod
    def credentials(self) -> dict[str, str]:
        """The headers that buy a token (the app id and its key or secret)."""

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.config.base_url, timeout=self.config.timeout_seconds)

    def authenticate(self, http: httpx.Client, *, stream: str = "") -> str:
        """A fresh access token (``CredentialsRefused`` when the credentials are refused)."""
        with map_exceptions(connector=self.connector, stream=stream):
            resp = http.post("api/v1/auth/token", headers=self.credentials())
            resp.raise_for_status()
            self._token = str(self._data(resp.json(), stream=stream)["accessToken"])
        return self._token

    def fetch(self, http: httpx.Client, path: str, params: dict[str, Any], *, stream: str) -> dict[str, Any]:
        """One page of a list: ``{records, hasMore, nextCursor}``."""
        token = self._token or self.authenticate(http, stream=stream)
        with map_exceptions(connector=self.connector, stream=stream):
            resp = http.get(path, params=params, headers={"X-Access-Token": token})
            if resp.status_code == 401 and _code(resp) in TOKEN_CODES:
                self._token = None  # the hub retries this page; the retry fetches a new token
                raise TokenExpired("access token expired", detail=resp.text[:300])
            resp.raise_for_status()
            data = self._data(resp.json(), stream=stream)
        if not isinstance(data, dict) or not isinstance(data.get("records"), list):
            raise MalformedResponse(
                "a list answer without data.records", connector=self.connector, stream=stream, detail=str(data)[:300]
            )
        return data

    def probe(self, path: str, *, stream: str) -> list[dict[str, Any]]:
        """What ``check`` asks: a fresh token, then one record of the list at ``path`` (its records)."""
        with self.client() as http:
            self.authenticate(http)
            records: list[dict[str, Any]] = self.fetch(http, path, {"pageSize": 1}, stream=stream)["records"]
        return records

    def _data(self, body: Any, *, stream: str) -> Any:
        """The ``data`` of a ``{"code": "0", "msg", "data"}`` envelope; another code is the upstream refusing."""
        if not isinstance(body, dict) or "code" not in body:
            raise MalformedResponse(
                f"not a {self.envelope} envelope", connector=self.connector, stream=stream, detail=str(body)[:300]
            )
        if str(body["code"]) != "0":
            raise FatalUpstreamError(
                f"{self.system} answered {body['code']}: {body.get('msg')}", connector=self.connector, stream=stream
            )
        return body.get("data")


def _code(resp: httpx.Response) -> str | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


class CursorStream(Stream[C]):
    """A list read by update time; state ``{"cursor": "<updateTime>|<key>"}``.

    Declare ``name``, ``primary_key``, ``sensitive`` and ``path``; override ``prepare`` to change each
    record before the hub archives it. The base owns ``read``.
    """

    path: ClassVar[str]
    cursor_field = "updateTime"

    def __init__(self, connector: Connector[C], config: C, api: TokenClient[C]) -> None:
        super().__init__(connector, config)
        self.api = api

    def cursor_of(self, record: dict[str, Any]) -> str:
        return f"{record.get('updateTime', '')}|{record.get(self.primary_key[0], '')}"

    def prepare(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record as the hub archives and normalises it (its position is taken after this): as sent."""
        return record

    @final
    def read(self, state: dict[str, Any]) -> Iterator[Page]:
        cursor: str | None = state.get("cursor")
        if cursor is None and self.config.start_date:
            # First sync with a start date: begin at that day's first update time (cursor = "time|key").
            cursor = f"{self.config.start_date:%Y-%m-%d} 00:00:00|"
        with self.api.client() as http:

            def fetch(cursor: str | None) -> Batch[str]:
                params: dict[str, Any] = {"pageSize": self.config.page_size}
                if cursor:
                    params["cursor"] = cursor
                data = self.api.fetch(http, self.path, params, stream=self.name)
                return Batch(
                    [self.prepare(r) for r in data["records"]],
                    str(data["nextCursor"]) if data.get("nextCursor") else None,
                    bool(data.get("hasMore")),
                )

            # connectors/README.md "cursors never go backwards": read_pages keeps the larger one.
            yield from read_pages(
                fetch,
                cursor,
                position=self.cursor_of,
                bookmark=lambda cursor: {"cursor": cursor},
                connector=self.connector.kind,
                stream=self.name,
            )


# -- normalisation helpers (pure) -------------------------------------------------------------


def required(record: dict[str, Any], field: str) -> str:
    """A text field the record must carry."""
    return fields.text(record, field, wording=WORDING)


def optional(record: dict[str, Any], field: str) -> str | None:
    """A text field the record may leave out or empty."""
    return fields.text(record, field, required=False, wording=WORDING)


def optional_date(record: dict[str, Any], field: str) -> dt.date | None:
    """A date (yyyy-MM-dd) the record may leave out or empty."""
    return fields.date(record, field, required=False, wording=WORDING)
