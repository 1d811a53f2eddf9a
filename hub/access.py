"""Principals, jurisdictions and the one place where reads are limited to a jurisdiction.

A principal (an API key's or a user's) has a role and a jurisdiction, a GB/T 2260 region code. Every
ORM SELECT issued by a session that carries a principal is limited, for every region-scoped entity
(``hub.models.RegionScoped``), to rows whose ``region_code`` lies at or below that region. The
filter is installed once, as a session event, so no resolver can forget it.

A clue has two regions: where the arrears happened (``region_code``) and who works it now
(``handling_region_code``, after 分办 to another county or down to a town). Both see and work it: a
clue is visible when either lies in the jurisdiction, and so are its channel records and case
actions (through the clue) and its events (which carry the handling region too).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, event, or_, select, true, update
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from hub.crypto import api_key_hash
from hub.errors import Forbidden, NotAuthenticated
from hub.identifiers import region_prefix
from hub.models import (
    ApiKey,
    AuditLog,
    CaseAction,
    ChannelRecord,
    Clue,
    ConnectorInstance,
    Event,
    Project,
    Quarantine,
    RawRecord,
    RegionScoped,
    SyncRun,
    User,
    Warning,
    WarningAction,
    WebhookEndpoint,
    utcnow,
)

# The role vocabulary lives in hub.vocab, below hub.settings (which validates role names); it is
# re-exported here, where the policy table says what each role may do.
from hub.vocab import ROLES as ROLES
from hub.vocab import Role as Role

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

#: The whole country: a principal with this jurisdiction sees everything.
NATIONAL = "000000"
KEY_PREFIX = "hub_"


#: The 行业主管部门 a sector principal may stand for (``Project.sector``), 保障农民工工资支付条例 第七条.
SECTORS = ("住建", "交通", "水利")


class Action(StrEnum):
    """Something a principal may be allowed to do. Reading within the jurisdiction needs no action;
    reading the hub's own machinery (``READ_REQUIRES``) does."""

    WORK_CLUES = "clue.work"  # accept, dispatch, return, escalate, extend, supervise, close, call back (hub.workflow)
    MERGE_CLUES = "clue.merge"  # 合并 and 拆分 (hub.clue_merge)
    ENTER_CLUES = "clue.enter"  # manual entry of a clue (hub.clue_entry)
    ESCALATE_WARNINGS = "warning.escalate"  # 预警转线索 (hub.cluepool)
    HANDLE_WARNINGS = "warning.handle"  # acknowledge, 核查 note, resolve by hand, false positive (hub.rules.handling)
    FOLLOW_EVENTS = "event.follow"  # the live outbox: the events subscription
    READ_ADMIN = "admin.read"  # connectors, runs, raw records, quarantine, API keys, audit log, webhooks
    MANAGE_CONNECTORS = "connector.manage"  # configure, enable, test, sync, reset, replay quarantine
    RETRY_WRITEBACKS = "writeback.retry"  # deliver a pending or failing write-back now (hub.writeback)
    MANAGE_KEYS = "api_key.manage"  # create and revoke API keys (the CLI)
    MANAGE_USERS = "user.manage"  # create, disable, enable users and reset their passwords (hub.users, the CLI)
    MANAGE_WEBHOOKS = "webhook.manage"  # register, change, delete, reset and retry webhook endpoints
    MANAGE_CALENDAR = "calendar.manage"  # load a year's official holiday schedule (hub.holidays)
    MANAGE_REGIONS = "region.manage"  # load towns into the region list (hub.regions, `hub regions load`)
    RECORD_PENALTIES = "penalty.record"  # enter and import administrative penalties (hub.penalties)
    MANAGE_BLACKLIST = "blacklist.manage"  # list on and remove from the 失信联合惩戒名单 (hub.blacklist)
    RATE_CREDIT = "credit.rate"  # recompute credit ratings on demand (hub.credit; the scheduler does it hourly)
    MANAGE_OPERATIONS = "operation.manage"  # register and retire named GraphQL operations (hub.operations)


_EVERYONE = frozenset(Role)
_WORKERS = frozenset({Role.ADMIN, Role.INSPECTOR})
_ADMINS = frozenset({Role.ADMIN})
#: Who works a clue: the inspectors, and the town handlers within their town (the jurisdiction limits them).
_CLUE_HANDLERS = _WORKERS | {Role.TOWN}
#: Who decides on a warning: the inspectors, and a sector's department for its sector's projects
#: (保障农民工工资支付条例 第七条: 行业主管部门 supervise their sector's projects).
_WARNING_HANDLERS = _WORKERS | {Role.SECTOR}

#: The one policy table (role × action). Queries, mutations, subscriptions and the CLI all ask it
#: through ``allowed`` / ``require``; nothing else compares role names.
POLICY: Mapping[Action, frozenset[Role]] = {
    Action.WORK_CLUES: _CLUE_HANDLERS,
    Action.MERGE_CLUES: _WORKERS,
    Action.ENTER_CLUES: _WORKERS,
    Action.ESCALATE_WARNINGS: _WORKERS,
    Action.HANDLE_WARNINGS: _WARNING_HANDLERS,
    # A 行业主管部门 follows its sector's events only: the fan-out asks hub.access.sector_criterion,
    # as its queries do (hub.fanout).
    Action.FOLLOW_EVENTS: _EVERYONE,
    Action.READ_ADMIN: _ADMINS,
    Action.MANAGE_CONNECTORS: _ADMINS,
    Action.RETRY_WRITEBACKS: _ADMINS,
    Action.MANAGE_KEYS: _ADMINS,
    Action.MANAGE_USERS: _ADMINS,
    Action.MANAGE_WEBHOOKS: _ADMINS,
    Action.MANAGE_CALENDAR: _ADMINS,
    Action.MANAGE_REGIONS: _ADMINS,
    Action.RECORD_PENALTIES: _WORKERS,
    Action.MANAGE_BLACKLIST: _ADMINS,
    Action.RATE_CREDIT: _ADMINS,
    Action.MANAGE_OPERATIONS: _ADMINS,
}

#: Rows of these models are the hub's own machinery, not the jurisdiction's data: reading them, by
#: ID or as a list, needs the action (within the jurisdiction, as every read).
READ_REQUIRES: Mapping[type, Action] = {
    ConnectorInstance: Action.READ_ADMIN,
    SyncRun: Action.READ_ADMIN,
    Quarantine: Action.READ_ADMIN,
    RawRecord: Action.READ_ADMIN,
    ApiKey: Action.READ_ADMIN,
    AuditLog: Action.READ_ADMIN,
    WebhookEndpoint: Action.READ_ADMIN,
    User: Action.MANAGE_USERS,
}


def allowed(role: str, action: Action) -> bool:
    """Whether ``role`` may do ``action`` by the policy table."""
    return role in POLICY[action]


def refusal(role: str, action: Action, *, what: str | None = None, holder: str = "key") -> Forbidden:
    """The ``Forbidden`` for a ``role`` the table does not let do ``action``, saying what was refused.

    ``holder`` is what the principal is, ``key`` (an API key) or ``user`` (a person signed in)."""
    to = what or action.value
    roles = POLICY[action]
    if roles == _ADMINS:
        suggestion = "use an API key with the admin role" if holder == "key" else "ask an administrator to do it"
        return Forbidden(f"only administrators may {to}", suggestion=suggestion)
    names = " or ".join(r.value for r in sorted(roles, key=_ROLE_ORDER.index, reverse=True))
    return Forbidden(f"{_a(role)} {role} {holder} may not {to}", suggestion=f"use {_a(names)} {names} {holder}")


def _a(word: str) -> str:
    """The article before ``word`` ("an admin", "a viewer")."""
    return "an" if word[:1] in "aeiou" else "a"


_ROLE_ORDER = list(Role)


def require(principal: Principal, action: Action, *, what: str | None = None) -> Principal:
    """Return ``principal`` when the policy table lets its role do ``action``; ``Forbidden`` otherwise."""
    if not allowed(principal.role, action):
        raise refusal(principal.role, action, what=what, holder="key" if principal.user_id is None else "user")
    return principal


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a name for the audit log, a role, a jurisdiction, and whether it may unmask."""

    name: str
    role: str
    region_code: str
    can_unmask: bool = False
    api_key_id: int | None = None
    #: A 行业主管部门's sector (``SECTORS``): reads are limited to that sector's projects too.
    sector: str | None = None
    #: The person signed in (``hub.users``), and the sign-in session the request came with.
    user_id: int | None = None
    session_id: str | None = None
    #: When the key was last recorded as used (``KeyUsage``), as read while authenticating.
    key_last_used_at: dt.datetime | None = field(default=None, compare=False)

    def covers(self, region_code: str | None) -> bool:
        """True when ``region_code`` lies at or below this principal's jurisdiction."""
        bounds = jurisdiction_bounds(self.region_code)
        if bounds is None:
            return True
        if region_code is None:
            return False
        lo, hi = bounds
        return lo <= region_code < hi


#: The principal of the hub's own jobs (seeding, syncs): national, admin, may unmask.
SYSTEM = Principal(name="system", role=Role.ADMIN, region_code=NATIONAL, can_unmask=True)


def jurisdiction_bounds(region_code: str) -> tuple[str, str] | None:
    """The half-open string range ``[lo, hi)`` of region codes at or below ``region_code``.

    ``370800`` (济宁市) → ``("3708", "3709")``: a range rather than ``LIKE '3708%'`` so that a plain
    B-tree index serves it on SQLite and PostgreSQL alike. ``None`` for the whole country.
    """
    if region_code == NATIONAL:
        return None
    prefix = region_prefix(region_code)
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


#: Execution option for an existence check that must look past the jurisdiction (and must not
#: reveal what it found beyond "taken"), e.g. a source record id registered in another county.
ALL_REGIONS = "hub_all_regions"


def _mapped_class(cls: Any) -> type:
    """The model a criterion is asked for: ``with_loader_criteria(include_aliases=True)`` also asks it for
    each alias of a model (``aliased(Project)`` in a join), which is not the class itself."""
    mapper = getattr(cls, "__mapper__", None)  # (sqlalchemy's wrappers pass it through; the mixin has none)
    return mapper.class_ if mapper is not None else cls


def jurisdiction_criterion(cls: Any, lo: str, hi: str) -> ColumnElement[bool]:
    """The rows of ``cls`` (a region-scoped model, or an alias of one) a principal with jurisdiction
    ``[lo, hi)`` may read.

    Region-scoped rows by their ``region_code``; a clue also by its handling region; a clue's
    channel records and case actions also when the clue is handled there; a clue's events by the
    handling region they carry.
    """
    own = (cls.region_code >= lo) & (cls.region_code < hi)
    kind = _mapped_class(cls)
    if kind in (Clue, Event):
        return own | ((cls.handling_region_code >= lo) & (cls.handling_region_code < hi))
    if kind in (ChannelRecord, CaseAction):
        clues = Clue.__table__.c  # the table, not the entity: no criteria inside the criterion
        handled_here = select(clues.id).where(clues.handling_region_code >= lo, clues.handling_region_code < hi)
        return own | cls.clue_id.in_(handled_here)
    return own


def sector_criterion(cls: Any, sector: str) -> ColumnElement[bool]:
    """The rows of ``cls`` (a region-scoped model, or an alias of one) a 行业主管部门 of ``sector`` may
    read (next to its jurisdiction).

    A project by its own ``sector``; whatever belongs to a project (clues, warnings, workers, payroll,
    accounts …) by its project's; a clue's channel records and case actions by the clue's project,
    a warning's actions by the warning's; the outbox's events about its clues, warnings and projects.
    A clue that names no project belongs to no sector. Penalties and blacklist entries are public
    decisions about enterprises, not a sector's data: not limited. Every test is a set (``IN (SELECT
    …)``), on the tables rather than the entities, so that no criterion recurses into another.
    """
    projects = Project.__table__.c
    in_sector = select(projects.id).where(projects.sector == sector)
    kind = _mapped_class(cls)
    if kind is Project:
        return cls.sector == sector
    clues = Clue.__table__.c
    sector_clues = select(clues.id).where(clues.project_id.in_(in_sector))
    if kind in (ChannelRecord, CaseAction):
        return cls.clue_id.in_(sector_clues)
    warnings = Warning.__table__.c
    sector_warnings = select(warnings.id).where(warnings.project_id.in_(in_sector))
    if kind is WarningAction:
        return cls.warning_id.in_(sector_warnings)
    if kind is Event:
        about, entity = cls.entity_type, cls.entity_id
        return (
            ((about == "clue") & entity.in_(sector_clues))
            | ((about == "warning") & entity.in_(sector_warnings))
            | ((about == "project") & entity.in_(in_sector))
        )
    project_id = getattr(cls, "project_id", None)
    if project_id is not None:
        return project_id.in_(in_sector)
    return true()


def limiting_options(principal: Principal) -> tuple[Any, ...]:
    """The statement options that limit a select to what ``principal`` may read: its jurisdiction's
    criteria on every region-scoped entity (aliases included, a joined one's in its ON clause), on the
    hub's records of keys and audit rows, and a sector's criteria. The session event below adds them to
    every ORM select of a bound session; ``schema.compiled`` adds them to the statements it runs on a
    plain connection. Empty for a national principal without a sector."""
    options: tuple[Any, ...] = ()
    bounds = jurisdiction_bounds(principal.region_code)
    if bounds is not None:
        lo, hi = bounds
        options = (
            with_loader_criteria(
                RegionScoped,
                lambda cls: jurisdiction_criterion(cls, lo, hi),
                include_aliases=True,
            ),
            # The hub's own records of keys and actions carry the region they concern: an administrator of
            # a city sees its city's keys and audit rows, not the province's nor a sibling city's.
            with_loader_criteria(ApiKey, lambda cls: jurisdiction_criterion(cls, lo, hi), include_aliases=True),
            with_loader_criteria(AuditLog, lambda cls: jurisdiction_criterion(cls, lo, hi), include_aliases=True),
        )
    sector = principal.sector
    if sector is not None:
        options += (
            with_loader_criteria(RegionScoped, lambda cls: sector_criterion(cls, sector), include_aliases=True),
        )
    return options


def _limit_to_jurisdiction(state: ORMExecuteState) -> None:
    principal: Principal | None = state.session.info.get("principal")
    if principal is None or not state.is_select or state.execution_options.get(ALL_REGIONS):
        return
    options = limiting_options(principal)
    if options:
        state.statement = state.statement.options(*options)


event.listen(Session, "do_orm_execute", _limit_to_jurisdiction)


def bind_principal(session: Session, principal: Principal) -> None:
    """Limit every later read of ``session`` to ``principal``'s jurisdiction."""
    session.info["principal"] = principal


def authenticate(session: Session, key: str | None) -> Principal:
    """The principal an API key stands for; ``NotAuthenticated`` when it is missing or unknown."""
    if not key:
        raise NotAuthenticated(
            "no API key: send it in the X-API-Key header",
            suggestion="create one with `hub api-key create NAME --region CODE`; the demo prints one on start",
        )
    principal = key_principal(session, key)
    if principal is None:
        raise NotAuthenticated(
            f"unknown or revoked API key {key[:8]}…",
            suggestion="check the key, or create a new one with `hub api-key create`",
        )
    return principal


#: What a key's principal is made of, read by the key's hash (the parameter ``key_hash``).
KEY_READ = select(
    ApiKey.id,
    ApiKey.name,
    ApiKey.role,
    ApiKey.region_code,
    ApiKey.can_unmask,
    ApiKey.sector,
    ApiKey.last_used_at,
    ApiKey.revoked_at,
).where(ApiKey.key_hash == bindparam("key_hash"))


def key_principal(connection: Session | Connection, key: str) -> Principal | None:
    """The principal API key ``key`` stands for, or ``None`` when it is unknown or revoked."""
    row = connection.execute(KEY_READ, {"key_hash": api_key_hash(key)}).one_or_none()
    return key_row_principal(row)


def key_row_principal(row: Sequence[Any] | None) -> Principal | None:
    """The principal of a row of ``KEY_READ`` (its values as SQLAlchemy gives them), ``None`` for no
    row or a revoked key."""
    if row is None:
        return None
    key_id, name, role, region_code, can_unmask, sector, last_used_at, revoked_at = row
    if revoked_at is not None:
        return None
    return Principal(
        name=f"apikey:{name}",
        role=role,
        region_code=region_code,
        can_unmask=can_unmask,
        sector=sector,
        api_key_id=key_id,
        key_last_used_at=last_used_at,
    )


class KeyUsage:
    """Records ``ApiKey.last_used_at``, at most once per key per ``window``.

    Authentication only reads: a read request must not become a write (on SQLite every write takes
    the database's one write lock). When a key's stored time is older than ``window``, and this
    process has not written it within ``window`` either, one short UPDATE runs in its own
    transaction, on a thread, with the hub's synchronous engine; the request does not wait for it.
    The UPDATE is conditional, so that several processes write it once per window between them.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        window: dt.timedelta = dt.timedelta(minutes=5),
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.window = window
        self.clock = clock
        self._written: dict[int, dt.datetime] = {}
        self._lock = threading.Lock()
        self._pending: set[asyncio.Task[Any]] = set()

    def due(self, principal: Principal) -> dt.datetime | None:
        """The time to record for ``principal``'s key, or ``None`` when it was recorded recently enough."""
        key_id = principal.api_key_id
        if key_id is None:
            return None
        now = self.clock()
        stored = principal.key_last_used_at
        if stored is not None and now - stored < self.window:
            return None
        with self._lock:
            last = self._written.get(key_id)
            if last is not None and now - last < self.window:
                return None
            self._written[key_id] = now
        return now

    def record(self, key_id: int, at: dt.datetime) -> bool:
        """Write ``at`` unless another process wrote a time within the window; ``True`` when written."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= at - self.window))
                .values(last_used_at=at)
            )
        return result.rowcount == 1

    def touch_soon(self, principal: Principal) -> None:
        """Record the key's use in the background when it is due (call from the event loop)."""
        at = self.due(principal)
        if at is None or principal.api_key_id is None:
            return
        task = asyncio.get_running_loop().create_task(self._record_in_thread(principal.api_key_id, at))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _record_in_thread(self, key_id: int, at: dt.datetime) -> None:
        try:
            await asyncio.to_thread(self.record, key_id, at)
        except Exception as exc:  # a missed lastUsedAt must not fail anything
            log.warning("could not record the use of API key %d: %s: %s", key_id, exc.__class__.__name__, exc)
            with self._lock:
                self._written.pop(key_id, None)  # try again with the next request

    async def settle(self) -> None:
        """Wait for the writes started so far (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)


def require_unmask(principal: Principal, *, field: str) -> None:
    """Raise ``Forbidden`` unless ``principal`` may read ``field`` unmasked."""
    if not principal.can_unmask:
        raise Forbidden(
            f"you may not read {field} unmasked",
            suggestion="ask an administrator for a key with the unmask permission, or omit reveal: true",
        )


def audit(
    session: Session,
    *,
    principal: Principal,
    action: str,
    entity_type: str,
    entity_id: int | None,
    region_code: str | None = None,
    detail: dict | None = None,
    at: dt.datetime | None = None,
) -> AuditLog:
    """Append a row to the audit log (in the caller's transaction)."""
    row = AuditLog(
        at=at or utcnow(),
        principal=principal.name,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        region_code=region_code,
        detail=detail or {},
    )
    session.add(row)
    return row
