"""The plugin interface: a connector declares config, check, streams, normalise, write-back.

The connector writes little; the hub owns the loop. For each stream the hub calls ``read(state)``
and, for every page it yields, archives the raw records, calls ``normalise`` on each, upserts the
result, records events and stores ``page.state`` — all in one transaction. Retries, back-off,
quarantine, leases and bookkeeping are the hub's (``hub.sync``), not the plugin's.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.json_schema import JsonDict

from connectors.base._entities import Entity

C = TypeVar("C", bound="ConnectorConfig")


def secret(description: str, **kwargs: Any) -> Any:
    """A config field holding a secret: stored encrypted, write-only in the API, never logged."""
    extra: JsonDict = {"secret": True, "writeOnly": True}
    return Field(description=description, json_schema_extra=extra, **kwargs)


class ConnectorConfig(BaseModel):
    """Base of every connector's config model. Its JSON Schema drives the admin UI's form."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="The upstream's base URL, e.g. https://bank.example.cn/wage-api/")
    timeout_seconds: float = Field(default=30.0, gt=0, le=300, description="Per-request timeout.")
    page_size: int = Field(default=200, ge=1, le=5000, description="Records asked for per page.")
    start_date: dt.date | None = Field(
        default=None,
        description="On a stream's first sync (no bookmark yet), read only records updated on or after this day. Empty: everything.",
    )

    @classmethod
    def secret_fields(cls) -> list[str]:
        """Names of the fields marked with ``secret()``."""
        return [
            name
            for name, f in cls.model_fields.items()
            if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("secret")
        ]

    def public_dict(self) -> dict[str, Any]:
        """The config without its secrets (what the API and the logs may show)."""
        return self.model_dump(mode="json", exclude=set(self.secret_fields()))

    def secret_dict(self) -> dict[str, str]:
        out = {}
        for name in self.secret_fields():
            value = getattr(self, name)
            if value is not None:
                out[name] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return out


@dataclass(frozen=True, slots=True)
class Page:
    """Records as the upstream sent them, and the stream's state once they are stored.

    ``total``, when the upstream says it, is how many records this read holds in all (the pages
    before this one included): the console then draws a running sync's progress against it.
    """

    records: Sequence[dict[str, Any]]
    state: dict[str, Any]
    total: int | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    message: str


class Rejection(Exception):
    """``normalise`` refuses a record: it goes to quarantine with this reason, the page goes on."""

    def __init__(self, reason: str, *, field: str | None = None, value: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.value = value


@dataclass(frozen=True, slots=True)
class Outcome:
    """A clue's result, to be written back to the channel it came from."""

    source_id: str
    clue_no: str
    status: str  # closed / called_back
    conclusion: str
    closed_at: dt.datetime
    recovered_amount: Decimal | None = None
    workers_paid: int | None = None
    satisfaction: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Stream(ABC, Generic[C]):
    """One kind of upstream record, read incrementally.

    Declare ``name``, ``primary_key`` (fields of the upstream record) and ``cursor_field``; implement
    ``read``. ``state`` is this stream's bookmark dict as the last committed page left it ({} at
    first); each page carries the state to store once it is committed.
    """

    name: ClassVar[str]
    primary_key: ClassVar[tuple[str, ...]]
    cursor_field: ClassVar[str | None] = None
    #: The record's fields holding personal identifiers (ID numbers, bank cards, a person's account
    #: number), as dotted paths (``"workers.idCardNumber"``; lists are crossed): the hub encrypts exactly
    #: these in its raw archive. ``()``: the stream carries none. ``None`` (undeclared): the hub walks
    #: every value of every record looking for them, which is slower. The conformance suite checks a
    #: declaration against the connector's sandbox.
    sensitive: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, connector: Connector[C], config: C) -> None:
        self.connector = connector
        self.config = config

    @abstractmethod
    def read(self, state: dict[str, Any]) -> Iterator[Page]:
        """Yield pages of upstream records after ``state``."""

    def key_of(self, record: dict[str, Any]) -> str:
        """The record's primary key as one string (for the raw archive)."""
        return "|".join(str(record.get(k, "")) for k in self.primary_key)

    def cursor_value(self, record: dict[str, Any]) -> Any:
        """The record's value of ``cursor_field``; a stream whose upstream sends no such field derives it."""
        return record.get(self.cursor_field) if self.cursor_field else None


class Connector(ABC, Generic[C]):
    """A plugin for one kind of upstream system, registered under the ``hub.connectors`` entry-point group."""

    #: Entry-point name, e.g. ``bank_soap``.
    kind: ClassVar[str]
    #: What an admin sees, e.g. ``银行专户 (SOAP)``.
    title: ClassVar[str]
    config_model: ClassVar[type[ConnectorConfig]]
    #: ``module:factory`` of the sandbox ASGI app that simulates this upstream, if any.
    sandbox: ClassVar[str | None] = None

    def parse_config(self, raw: dict[str, Any]) -> C:
        """Validate a config dict (secrets included) into the config model."""
        # config_model is this connector's C: a ClassVar cannot be typed with the class's type variable
        return cast(C, self.config_model.model_validate(raw))

    @abstractmethod
    def check(self, config: C) -> CheckResult:
        """Can the upstream be reached with these credentials? A clear message when not."""

    @abstractmethod
    def streams(self, config: C) -> list[Stream[C]]:
        """The streams this connector reads."""

    @abstractmethod
    def normalise(self, stream: str, record: dict[str, Any]) -> list[Entity]:
        """Upstream record → canonical records; raise ``Rejection`` with a reason when it cannot."""

    @property
    def supports_write_back(self) -> bool:
        return type(self).write_back is not Connector.write_back

    def write_back(self, config: C, outcome: Outcome) -> None:
        """Push a clue's outcome to the upstream (raise an ``UpstreamError`` when it fails)."""
        raise NotImplementedError(f"connector {self.kind} does not support write-back")

    def json_schema(self) -> dict[str, Any]:
        """The config model's JSON Schema (the admin UI renders its form from it)."""
        return self.config_model.model_json_schema()
