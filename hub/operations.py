"""Persisted operations: the registry of named operations, Apollo's automatic persisted queries, and
allow-list mode.

**The registry.** Front-end teams register the operations their screens send (``hub operations
register FILE.graphql``, or the ``registerOperation`` mutation): each is validated against the schema,
named, and stored with the SHA-256 of its text. Registering the same text again changes nothing; a
name that already stands for another text is refused unless it is replaced explicitly; retiring keeps
the row (the audit log points at it) but the hash is no longer found. Every change is audited and is
an admin's action by the policy table (``Action.MANAGE_OPERATIONS``).

**Automatic persisted queries** (Apollo's protocol, version 1): a request may carry
``extensions.persistedQuery = {"version": 1, "sha256Hash": …}`` instead of, or beside, its query.
A hash alone is looked up in the registry, then in a bounded per-process cache (``PersistedQueryCache``);
unknown, it is answered ``PersistedQueryNotFound`` (HTTP 200), and the client sends it again with its
text, which is checked against the hash and remembered.

**Allow-list mode** (``HUB_OPERATIONS_ALLOWLIST_ROLES``): a principal of those roles may run only
registered operations, by hash or by a text whose hash is registered.

``resolve_operation`` is the one place the HTTP view asks what a request runs: the document text, and
the registered operation it is, if any. What is done with a registered operation (today: nothing
more than running its text) is decided there and nowhere else.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLError,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    parse,
    print_ast,
    separate_operations,
    validate,
)
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from hub.access import Action, Principal, audit, require
from hub.db import session_scope
from hub.errors import (
    DuplicateOperation,
    InvalidInput,
    NotFound,
    OperationNotRegistered,
    PersistedQueryHashMismatch,
    PersistedQueryNotFound,
    PersistedQueryVersionUnsupported,
)
from hub.models import RegisteredOperation, utcnow

if TYPE_CHECKING:
    from graphql import GraphQLSchema
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

#: The one version of Apollo's automatic persisted queries.
APQ_VERSION = 1
#: Longest registered name (the column's width).
MAX_NAME = 100
#: Most tokens read to find a refused operation's name (the schema refuses longer documents too).
MAX_TOKENS = 4000
_SHA256 = re.compile(r"[0-9a-f]{64}")


def document_hash(document: str) -> str:
    """The SHA-256 of a document's UTF-8 text, in lowercase hex (what Apollo clients send)."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


# --- registering ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedOperation:
    """One named operation of a document, with the text it is registered under."""

    name: str
    operation_type: str  # query / mutation / subscription
    document: str


def parse_operations(text: str, *, schema: GraphQLSchema) -> list[ParsedOperation]:
    """The named operations in ``text``, each validated against ``schema``.

    A document with one operation is registered as it is, byte for byte (clients hash the text they
    send). Of a document with several, each operation is registered as graphql-core prints it with the
    fragments it uses, in the file's order: ``hub operations show`` prints that text for the client.
    ``InvalidInput`` (field ``document``) names each problem's line and column.
    """
    try:
        document = parse(text)
    except GraphQLSyntaxError as exc:
        raise _document_error([exc]) from exc
    errors = validate(schema, document)
    if errors:
        raise _document_error(errors)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if not operations:
        raise InvalidInput("the document holds no operation (query, mutation or subscription)", field="document")
    anonymous = [op for op in operations if op.name is None]
    if anonymous:
        raise _document_error(
            [
                GraphQLError(
                    "an operation without a name: a registered operation is named (query ScreenName { … })",
                    nodes=anonymous[0],
                )
            ]
        )
    if len(operations) == 1:
        op = operations[0]
        return [ParsedOperation(name=_name(op), operation_type=op.operation.value, document=text)]
    separated = separate_operations(document)
    return [
        ParsedOperation(name=_name(op), operation_type=op.operation.value, document=print_ast(separated[_name(op)]))
        for op in operations
    ]


def _name(op: OperationDefinitionNode) -> str:
    assert op.name is not None  # anonymous operations are refused above
    return op.name.value


def _document_error(errors: list[GraphQLError]) -> InvalidInput:
    """One ``InvalidInput`` for a document's errors: each with its line and column."""
    located = []
    for error in errors:
        where = error.locations[0] if error.locations else None
        located.append(
            {"message": error.message, "line": where.line if where else None, "column": where.column if where else None}
        )
    first = located[0]
    at = f"line {first['line']}, column {first['column']}: " if first["line"] is not None else ""
    more = f" (and {len(located) - 1} more)" if len(located) > 1 else ""
    return InvalidInput(
        f"the document is not a valid operation of the hub's schema: {at}{first['message']}{more}",
        suggestion="check it in GraphiQL against the schema, then register it again",
        field="document",
        errors=located,
    )


@dataclass(frozen=True, slots=True)
class Registration:
    """What registering did: ``registered`` (new), ``unchanged`` (the same text again), ``replaced``
    (a new text for the name) or ``restored`` (a retired operation's own text, registered again)."""

    operation: RegisteredOperation
    outcome: str


def register_operation(
    session: Session,
    *,
    principal: Principal,
    name: str,
    document: str,
    schema: GraphQLSchema,
    replace: bool = False,
    clock: Callable[[], dt.datetime] = utcnow,
) -> Registration:
    """Register ``document`` — exactly one operation, named ``name`` — and audit it.

    Idempotent for the same text. ``DuplicateOperation`` when ``name`` stands for another text (unless
    ``replace``); ``InvalidInput`` for a document that is not one valid operation named ``name``. (A
    text names its operation, so one text cannot stand under two names.)
    """
    require(principal, Action.MANAGE_OPERATIONS, what="manage registered operations")
    parsed = parse_operations(document, schema=schema)
    if len(parsed) != 1:
        names = ", ".join(p.name for p in parsed)
        raise InvalidInput(
            f"the document holds {len(parsed)} operations ({names}): register one operation per entry",
            suggestion="register a file of several operations with `hub operations register FILE`",
            field="document",
        )
    if parsed[0].name != name:
        raise InvalidInput(
            f"the document's operation is named {parsed[0].name}, not {name}",
            suggestion="register it under its operation's name",
            field="name",
        )
    return _register(session, principal=principal, parsed=parsed[0], replace=replace, now=clock())


def register_document(
    session: Session,
    *,
    principal: Principal,
    text: str,
    schema: GraphQLSchema,
    replace: bool = False,
    clock: Callable[[], dt.datetime] = utcnow,
) -> list[Registration]:
    """Register every named operation of ``text`` (a ``.graphql`` file), all or none (one transaction)."""
    require(principal, Action.MANAGE_OPERATIONS, what="manage registered operations")
    now = clock()
    return [
        _register(session, principal=principal, parsed=p, replace=replace, now=now)
        for p in parse_operations(text, schema=schema)
    ]


def _register(
    session: Session, *, principal: Principal, parsed: ParsedOperation, replace: bool, now: dt.datetime
) -> Registration:
    if len(parsed.name) > MAX_NAME:
        raise InvalidInput(f"an operation name is at most {MAX_NAME} characters", field="name")
    sha = document_hash(parsed.document)
    row = session.execute(
        select(RegisteredOperation).where(RegisteredOperation.name == parsed.name)
    ).scalar_one_or_none()
    if row is not None and row.sha256 == sha:
        if not row.retired:
            return Registration(operation=row, outcome="unchanged")
        row.retired, row.retired_at = False, None
        _audit(session, principal=principal, action="operation.restore", row=row, at=now)
        return Registration(operation=row, outcome="restored")
    if row is not None:
        if not replace:
            raise DuplicateOperation(
                f"operation {parsed.name} is already registered with another document",
                suggestion="replace it explicitly (--replace, or replace: true), or register it under a new name",
                field="name",
            )
        previous = row.sha256
        row.sha256, row.document, row.operation_type = sha, parsed.document, parsed.operation_type
        row.registered_by, row.registered_at = principal.name, now
        row.retired, row.retired_at = False, None
        _flush(session, parsed.name)
        _audit(session, principal=principal, action="operation.replace", row=row, at=now, previous=previous)
        return Registration(operation=row, outcome="replaced")
    row = RegisteredOperation(
        name=parsed.name,
        sha256=sha,
        document=parsed.document,
        operation_type=parsed.operation_type,
        registered_by=principal.name,
        registered_at=now,
        retired=False,
    )
    session.add(row)
    _flush(session, parsed.name)
    _audit(session, principal=principal, action="operation.register", row=row, at=now)
    return Registration(operation=row, outcome="registered")


def _flush(session: Session, name: str) -> None:
    """Write the row now: two registrations racing for one name or text end in one clear refusal."""
    try:
        session.flush()
    except IntegrityError as exc:  # the transaction is spoilt: the caller rolls it back with this refusal
        raise DuplicateOperation(
            f"operation {name} was registered by someone else at the same moment", suggestion="list them and retry"
        ) from exc


def _audit(
    session: Session,
    *,
    principal: Principal,
    action: str,
    row: RegisteredOperation,
    at: dt.datetime,
    previous: str | None = None,
) -> None:
    detail: dict[str, Any] = {"name": row.name, "sha256": row.sha256, "operationType": row.operation_type}
    if previous is not None:
        detail["previousSha256"] = previous
    audit(
        session, principal=principal, action=action, entity_type="registered_operation", entity_id=row.id,
        detail=detail, at=at,
    )  # fmt: skip


def retire_operation(
    session: Session, *, principal: Principal, name: str, clock: Callable[[], dt.datetime] = utcnow
) -> RegisteredOperation:
    """Retire operation ``name`` (audited): its hash is no longer found; retiring twice changes nothing."""
    require(principal, Action.MANAGE_OPERATIONS, what="manage registered operations")
    row = get_operation(session, name=name)
    if not row.retired:
        now = clock()
        row.retired, row.retired_at = True, now
        session.flush()
        _audit(session, principal=principal, action="operation.retire", row=row, at=now)
    return row


def get_operation(session: Session, *, name: str) -> RegisteredOperation:
    """The registered operation ``name`` (retired or not); ``NotFound`` when there is none."""
    row = session.execute(select(RegisteredOperation).where(RegisteredOperation.name == name)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no registered operation named {name}", suggestion="list them: hub operations list")
    return row


def list_operations(session: Session, *, include_retired: bool = False) -> list[RegisteredOperation]:
    """The registered operations by name; retired ones only when asked."""
    stmt = select(RegisteredOperation).order_by(RegisteredOperation.name)
    if not include_retired:
        stmt = stmt.where(RegisteredOperation.retired.is_(False))
    return list(session.execute(stmt).scalars())


# --- serving --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KnownOperation:
    """A registered operation as a hub process serves it (a copy of the row, shared by requests)."""

    name: str
    sha256: str
    document: str
    operation_type: str
    retired: bool


class PersistedQueryCache:
    """The automatic persisted queries one process remembers: hash → text, least recently used
    forgotten first (an Apollo client whose hash was forgotten sends its text again)."""

    def __init__(self, *, size: int) -> None:
        if size < 1:
            raise ValueError(f"the cache holds at least one query, not {size}")
        self.size = size
        self._texts: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha256: str) -> str | None:
        with self._lock:
            text = self._texts.get(sha256)
            if text is not None:
                self._texts.move_to_end(sha256)
            return text

    def put(self, sha256: str, text: str) -> None:
        with self._lock:
            self._texts[sha256] = text
            self._texts.move_to_end(sha256)
            while len(self._texts) > self.size:
                self._texts.popitem(last=False)

    def __len__(self) -> int:
        return len(self._texts)


class OperationRegistry:
    """The registry as one process serves it: every row read at once, again when older than
    ``refresh_seconds`` (registrations made elsewhere count within that time) or when ``invalidate``d
    (this process's own changes count at once). Requests look operations up without SQL."""

    def __init__(self, engine: Engine, *, refresh_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._by_hash: dict[str, KnownOperation] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Read the registry again before the next lookup."""
        self._loaded_at = None

    async def by_hash(self, sha256: str) -> KnownOperation | None:
        """The operation registered with this hash (retired ones too: the caller tells them apart)."""
        if self._stale():
            async with self._lock:
                if self._stale():
                    try:
                        self._by_hash = await asyncio.to_thread(self._load)
                    except SQLAlchemyError:
                        # Serve what was read last (nothing, at first: allow-listed roles are refused)
                        # rather than fail every request; read again after refresh_seconds.
                        log.warning("could not read the registry of named operations", exc_info=True)
                    self._loaded_at = self.clock()
        return self._by_hash.get(sha256)

    def _stale(self) -> bool:
        return self._loaded_at is None or self.clock() - self._loaded_at >= self.refresh_seconds

    def _load(self) -> dict[str, KnownOperation]:
        with session_scope(self.engine) as session:
            return {
                row.sha256: KnownOperation(
                    name=row.name,
                    sha256=row.sha256,
                    document=row.document,
                    operation_type=row.operation_type,
                    retired=row.retired,
                )
                for row in session.execute(select(RegisteredOperation)).scalars()
            }


@dataclass(frozen=True, slots=True)
class ResolvedOperation:
    """What a request runs: its document text, and the registered operation that text is, if any.

    This is the seam for compiled plans: a registered operation with a plan would run the plan here
    instead of its text."""

    document: str | None
    registered: KnownOperation | None


async def resolve_operation(
    *,
    query: str | None,
    extensions: Mapping[str, Any] | None,
    registry: OperationRegistry,
    cache: PersistedQueryCache,
    remember: bool,
) -> ResolvedOperation:
    """The document a request runs, from its query or its persisted query's hash.

    ``remember``: a hash sent with its text is kept in ``cache`` (not for a request without a
    principal, which is refused anyway). ``PersistedQueryNotFound`` for an unknown hash alone,
    ``PersistedQueryHashMismatch`` for a text that is not the hash's, ``PersistedQueryVersionUnsupported``
    and ``InvalidInput`` for a malformed ``persistedQuery``.
    """
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        if query is None:
            return ResolvedOperation(document=None, registered=None)
        known = await registry.by_hash(document_hash(query))
        return ResolvedOperation(document=query, registered=_active(known))
    sha = _persisted_hash(persisted)
    if query is not None:
        if document_hash(query) != sha:
            raise PersistedQueryHashMismatch(
                "the query's SHA-256 is not extensions.persistedQuery.sha256Hash",
                suggestion="send the SHA-256 (lowercase hex) of the query's exact UTF-8 text",
                field="extensions.persistedQuery.sha256Hash",
            )
        known = await registry.by_hash(sha)
        if remember and _active(known) is None:
            cache.put(sha, query)
        return ResolvedOperation(document=query, registered=_active(known))
    known = _active(await registry.by_hash(sha))
    if known is not None:
        return ResolvedOperation(document=known.document, registered=known)
    text = cache.get(sha)
    if text is None:
        # Apollo clients look for this message (and code) and send the query again with its hash.
        raise PersistedQueryNotFound("PersistedQueryNotFound", suggestion="send the query again with its hash")
    return ResolvedOperation(document=text, registered=None)


def _active(known: KnownOperation | None) -> KnownOperation | None:
    return known if known is not None and not known.retired else None


def _persisted_hash(persisted: object) -> str:
    """The hash of a well-formed ``extensions.persistedQuery``."""
    if not isinstance(persisted, Mapping):
        raise InvalidInput(
            'extensions.persistedQuery must be an object {"version": 1, "sha256Hash": "…"}',
            field="extensions.persistedQuery",
        )
    version = persisted.get("version")
    if version != APQ_VERSION or isinstance(version, bool):
        raise PersistedQueryVersionUnsupported(
            f"persisted query version {version!r} is not supported: only version {APQ_VERSION}",
            suggestion='send "version": 1',
            field="extensions.persistedQuery.version",
        )
    sha = persisted.get("sha256Hash")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise InvalidInput(
            "extensions.persistedQuery.sha256Hash must be a SHA-256 in lowercase hex (64 characters)",
            field="extensions.persistedQuery.sha256Hash",
        )
    return sha


def check_allowed(
    resolved: ResolvedOperation,
    *,
    principal: Principal | None,
    allowlist_roles: frozenset[str],
    operation_name: str | None,
) -> None:
    """``OperationNotRegistered`` when ``principal``'s role runs in allow-list mode and the request is
    not a registered (and unretired) operation; nothing otherwise (no principal: refused elsewhere)."""
    if principal is None or principal.role not in allowlist_roles or resolved.registered is not None:
        return
    name = operation_name or _operation_name(resolved.document)
    shown = name[:MAX_NAME] if name else "(an anonymous operation)"
    raise OperationNotRegistered(
        f"operation {shown} is not registered: a {principal.role} principal may run registered operations only",
        suggestion="send a registered operation (by its hash, or its exact text); an administrator registers "
        "operations with `hub operations register`",
        operation=shown,
    )


def _operation_name(document: str | None) -> str | None:
    """The first operation's name in ``document``, if it parses and has one."""
    if not document:
        return None
    try:
        parsed = parse(document, no_location=True, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return None
    for definition in parsed.definitions:
        if isinstance(definition, OperationDefinitionNode) and definition.name is not None:
            return definition.name.value
    return None
