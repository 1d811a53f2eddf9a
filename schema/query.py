"""The query root: one connection per entity, `node(id:)` and `me`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, cast

import strawberry
from sqlalchemy import ColumnElement, Select, func, select
from strawberry.scalars import JSON
from strawberry.types import Info
from strawberry.types.nodes import SelectedField

from connectors import registry
from hub import models as m
from hub.access import ROLES, Action, allowed
from hub.errors import InvalidInput
from hub.workdays import CST, china_today
from hub.writeback_queue import STATUSES as WRITEBACK_STATUSES
from schema.calendar import CalendarQueries
from schema.credit import CreditQueries
from schema.filters import (
    ClueFilter,
    EnterpriseFilter,
    PayrollFilter,
    ProjectFilter,
    WarningFilter,
    db_id,
    region_condition,
)
from schema.operations import OperationQueries
from schema.pagination import Connection, SortSpec, check_first, paginate
from schema.permissions import principal_of, reads, require_to_read, requires
from schema.prefetch import node_selections, prefetch
from schema.ranking import RankingQueries
from schema.stats import StatsQueries
from schema.types._common import NODE_MODELS, Node, from_global_id
from schema.types.cases import CaseAction, ChannelRecord, Clue, CreditRating, Warning, WarningAction
from schema.types.money import (
    AccountExpense,
    GuaranteeDeposit,
    LaborCostAllocation,
    OutputValue,
    PayrollRecord,
    ProgressPayment,
    ProjectContract,
    WageAccount,
)
from schema.types.platform import (
    ApiKey,
    AuditEntry,
    ConnectorInstance,
    Event,
    QuarantinedRecord,
    RawRecord,
    SyncRun,
    User,
)
from schema.types.realname import Attendance, SiteMovement, Team
from schema.types.registry import Enterprise, Project, Region, Worker
from schema.webhooks import WebhookQueries


@strawberry.enum(description="Orders for clues (keyset-paginated).")
class ClueOrder(Enum):
    RECEIVED_AT_DESC = "received_at_desc"
    RECEIVED_AT_ASC = "received_at_asc"
    ID_ASC = "id_asc"
    DEADLINE_ASC = strawberry.enum_value(
        "deadline_asc",
        description="Soonest deadline first (pair it with an open status filter); clues without a deadline are left out.",
    )


CLUE_ORDERS = {
    ClueOrder.RECEIVED_AT_DESC: SortSpec((m.Clue.received_at, m.Clue.id), descending=True),
    ClueOrder.RECEIVED_AT_ASC: SortSpec((m.Clue.received_at, m.Clue.id)),
    ClueOrder.ID_ASC: SortSpec((m.Clue.id,)),
    ClueOrder.DEADLINE_ASC: SortSpec((m.Clue.deadline, m.Clue.id)),
}


def _by_id(model: Any) -> SortSpec:
    return SortSpec((model.id,))


def _rows_of(model: Any, region_code: str | None, project_id: strawberry.ID | None) -> list[ColumnElement[bool]]:
    """A project-bound list's filters: the region subtree and, optionally, one project."""
    cond = region_condition(model.region_code, region_code)
    if (pid := db_id(project_id, m.Project, field="projectId")) is not None:
        cond.append(model.project_id == pid)
    return cond


def _first(info: Info, first: int | None) -> int:
    return check_first(first, limit=info.context.settings.max_page_size)


@strawberry.type(description="Who the request stands for: an API key, or a user signed in.")
class Me:
    name: str
    role: str
    region_code: str
    can_unmask: bool
    password_min_length: int = strawberry.field(
        description=(
            "The hub's fewest characters in a user's password (HUB_PASSWORD_MIN_LENGTH): createUser and "
            "resetUserPassword refuse a shorter one, so that a form can say so before sending."
        )
    )
    sector: str | None = strawberry.field(
        default=None, description="A 行业主管部门's sector (住建 / 交通 / 水利): reads are limited to it too."
    )
    actions: list[str] = strawberry.field(
        default_factory=list,
        description=(
            "What the policy table lets this principal do (e.g. clue.work, warning.handle, admin.read), so that "
            "a client offers only those; the API checks again on every request. Reading within the "
            "jurisdiction needs none."
        ),
    )


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What a root list asks ``_page`` for, handed back instead of a page when the caller's ``info`` says
    ``wants_page_request`` (``schema.compiled`` runs the root's own argument handling, then the page itself)."""

    model: type
    conditions: Sequence[ColumnElement[bool]]
    sort: SortSpec
    first: int | None
    after: str | None


async def _page(
    info: Info,
    model: type,
    conditions: Sequence[ColumnElement[bool]],
    sort: SortSpec,
    first: int | None,
    after: str | None,
) -> Connection[Any]:
    if getattr(info, "wants_page_request", False):
        return cast(Connection[Any], PageRequest(model, conditions, sort, first, after))
    stmt: Select[Any] = select(model).where(*conditions)
    page = await paginate(info.context.session, stmt, sort=sort, first=_first(info, first), after=after)
    # Load the selected relations of the whole page now, level by level (schema/prefetch.py). The field
    # being resolved is a field, never a fragment.
    root = cast(SelectedField, info.selected_fields[0])
    await prefetch(info.context.loaders, model, [e.node for e in page.edges], node_selections(root))
    return page


@strawberry.type(description="An installed connector plugin.")
class ConnectorKind:
    kind: str
    title: str
    config_schema: JSON = strawberry.field(description="JSON Schema of its config; secret fields carry `secret: true`.")
    supports_write_back: bool


@strawberry.type
class Query(WebhookQueries, CalendarQueries, CreditQueries, StatsQueries, RankingQueries, OperationQueries):
    @strawberry.field(description="Installed connector plugins (entry-point group hub.connectors).")
    def connector_kinds(self, info: Info) -> list[ConnectorKind]:
        principal_of(info)
        out = []
        for kind, cls in sorted(registry.available().items()):
            c = cls()
            out.append(
                ConnectorKind(
                    kind=kind,
                    title=c.title,
                    config_schema=JSON(c.json_schema()),
                    supports_write_back=c.supports_write_back,
                )
            )
        return out

    @strawberry.field(description="The principal of this request.")
    def me(self, info: Info) -> Me:
        p = principal_of(info)
        return Me(
            name=p.name,
            role=p.role,
            region_code=p.region_code,
            can_unmask=p.can_unmask,
            password_min_length=info.context.settings.password_min_length,
            sector=p.sector,
            actions=[a.value for a in Action if allowed(p.role, a)],
        )

    @strawberry.field(description="Any object by its global ID (null when absent or outside your jurisdiction).")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        type_name, pk = from_global_id(str(id))
        model = NODE_MODELS[type_name]
        # Which types need which action is the policy table's (hub.access.READ_REQUIRES), as for their root lists.
        require_to_read(info, model)
        return await info.context.loaders.by_id(model).load(int(pk))

    @strawberry.field(description="A region by its GB/T 2260 code.")
    async def region(self, info: Info, code: str) -> Region | None:
        return await info.context.loaders.by_id(m.Region, "code").load(code)

    @strawberry.field(description="Regions: the provinces, or the children of `parentCode`.")
    async def regions(self, info: Info, parent_code: str | None = None) -> list[Region]:
        cond = m.Region.parent_code.is_(None) if parent_code is None else m.Region.parent_code == parent_code
        rows = await info.context.session.execute(select(m.Region).where(cond).order_by(m.Region.code))
        return list(rows.scalars())

    @strawberry.field(description="Enterprises (public registry data, not limited by jurisdiction).")
    async def enterprises(
        self, info: Info, filter: EnterpriseFilter | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Enterprise]:
        return await _page(
            info, m.Enterprise, filter.conditions() if filter else [], _by_id(m.Enterprise), first, after
        )

    @strawberry.field(description="Projects within your jurisdiction.")
    async def projects(
        self, info: Info, filter: ProjectFilter | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Project]:
        return await _page(info, m.Project, filter.conditions() if filter else [], _by_id(m.Project), first, after)

    @strawberry.field(description="Workers within your jurisdiction.")
    async def workers(
        self,
        info: Info,
        region_code: str | None = None,
        project_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Worker]:
        cond = region_condition(m.Worker.region_code, region_code)
        if (pid := db_id(project_id, m.Project, field="projectId")) is not None:
            cond.append(m.Worker.project_id == pid)
        return await _page(info, m.Worker, cond, _by_id(m.Worker), first, after)

    @strawberry.field(description="Wage special accounts (专户) within your jurisdiction.")
    async def wage_accounts(
        self, info: Info, region_code: str | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[WageAccount]:
        return await _page(
            info,
            m.WageAccount,
            region_condition(m.WageAccount.region_code, region_code),
            _by_id(m.WageAccount),
            first,
            after,
        )

    @strawberry.field(description="Labour cost received into 专户, newest first.")
    async def labor_cost_allocations(
        self,
        info: Info,
        region_code: str | None = None,
        period_month: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[LaborCostAllocation]:
        cond = region_condition(m.LaborCostAllocation.region_code, region_code)
        if period_month:
            cond.append(m.LaborCostAllocation.period_month == period_month)
        sort = SortSpec((m.LaborCostAllocation.bill_date, m.LaborCostAllocation.id), descending=True)
        return await _page(info, m.LaborCostAllocation, cond, sort, first, after)

    @strawberry.field(description="Pay records within your jurisdiction.")
    async def payroll_records(
        self, info: Info, filter: PayrollFilter | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[PayrollRecord]:
        return await _page(
            info, m.PayrollRecord, filter.conditions() if filter else [], _by_id(m.PayrollRecord), first, after
        )

    # -- the real-name platform's and the project system's rows, each a list of its own (jurisdiction
    #    and masking as everywhere; `projectId` narrows to one project) ------------------------------

    @strawberry.field(description="Expense bills of 专户 (billType 2: wages paid out, transfers), newest first.")
    async def account_expenses(
        self,
        info: Info,
        region_code: str | None = None,
        project_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AccountExpense]:
        sort = SortSpec((m.AccountExpense.bill_date, m.AccountExpense.id), descending=True)
        return await _page(
            info, m.AccountExpense, _rows_of(m.AccountExpense, region_code, project_id), sort, first, after
        )

    @strawberry.field(description="Links of projects' contract chains (总包 / 专业分包 / 劳务分包).")
    async def project_contracts(
        self,
        info: Info,
        region_code: str | None = None,
        project_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ProjectContract]:
        cond = _rows_of(m.ProjectContract, region_code, project_id)
        return await _page(info, m.ProjectContract, cond, _by_id(m.ProjectContract), first, after)

    @strawberry.field(description="Progress payments (工程款拨付), newest first.")
    async def progress_payments(
        self,
        info: Info,
        region_code: str | None = None,
        project_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ProgressPayment]:
        sort = SortSpec((m.ProgressPayment.paid_on, m.ProgressPayment.id), descending=True)
        cond = _rows_of(m.ProgressPayment, region_code, project_id)
        return await _page(info, m.ProgressPayment, cond, sort, first, after)

    @strawberry.field(description="Monthly output values (工程量产值), newest month first.")
    async def output_values(
        self,
        info: Info,
        region_code: str | None = None,
        project_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[OutputValue]:
        sort = SortSpec((m.OutputValue.month, m.OutputValue.id), descending=True)
        return await _page(info, m.OutputValue, _rows_of(m.OutputValue, region_code, project_id), sort, first, after)

    @strawberry.field(description="Teams (班组) on the real-name platform.")
    async def teams(
        self,
        info: Info,
        region_code: str | None = None,
        project_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Team]:
        return await _page(info, m.Team, _rows_of(m.Team, region_code, project_id), _by_id(m.Team), first, after)

    @strawberry.field(description="Workers' entries and exits (进场 / 退场), newest first.")
    async def site_movements(
        self,
        info: Info,
        region_code: str | None = None,
        project_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[SiteMovement]:
        sort = SortSpec((m.SiteMovement.moved_on, m.SiteMovement.id), descending=True)
        return await _page(info, m.SiteMovement, _rows_of(m.SiteMovement, region_code, project_id), sort, first, after)

    @strawberry.field(description="Daily attendance (考勤), newest day first.")
    async def attendance(
        self,
        info: Info,
        region_code: str | None = None,
        project_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Attendance]:
        sort = SortSpec((m.Attendance.day, m.Attendance.id), descending=True)
        return await _page(info, m.Attendance, _rows_of(m.Attendance, region_code, project_id), sort, first, after)

    @strawberry.field(description="Guarantee deposits and letters; `expiringBefore` finds 保函 about to lapse.")
    async def guarantee_deposits(
        self,
        info: Info,
        region_code: str | None = None,
        expiring_before: dt.date | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[GuaranteeDeposit]:
        cond = region_condition(m.GuaranteeDeposit.region_code, region_code)
        if expiring_before:
            cond.append(m.GuaranteeDeposit.valid_to < expiring_before)
        return await _page(info, m.GuaranteeDeposit, cond, _by_id(m.GuaranteeDeposit), first, after)

    @strawberry.field(description="The clue pool within your jurisdiction.")
    async def clues(
        self,
        info: Info,
        filter: ClueFilter | None = None,
        order: ClueOrder = ClueOrder.RECEIVED_AT_DESC,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Clue]:
        principal = principal_of(info)
        # "Overdue" on China's day, as the clue's own `overdue` field counts it (not the server's date)
        cond = filter.conditions(today=china_today(), may_unmask=principal.can_unmask) if filter else []
        if order is ClueOrder.DEADLINE_ASC:
            cond.append(m.Clue.deadline.is_not(None))  # a keyset over a nullable column must leave NULLs out
        return await _page(info, m.Clue, cond, CLUE_ORDERS[order], first, after)

    @strawberry.field(description="A clue by its number.")
    async def clue(self, info: Info, clue_no: str) -> Clue | None:
        return await info.context.loaders.by_id(m.Clue, "clue_no").load(clue_no)

    @strawberry.field(description="Channel records (one per source record of a clue).")
    async def channel_records(
        self,
        info: Info,
        channel: str | None = None,
        source_id: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ChannelRecord]:
        cond = []
        if channel:
            cond.append(m.ChannelRecord.channel == channel)
        if source_id:
            cond.append(m.ChannelRecord.source_id == source_id)
        return await _page(info, m.ChannelRecord, cond, _by_id(m.ChannelRecord), first, after)

    @strawberry.field(description="Case actions within your jurisdiction, oldest first.")
    async def case_actions(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[CaseAction]:
        return await _page(info, m.CaseAction, [], _by_id(m.CaseAction), first, after)

    @strawberry.field(description="Warnings within your jurisdiction.")
    async def warnings(
        self, info: Info, filter: WarningFilter | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Warning]:
        return await _page(info, m.Warning, filter.conditions() if filter else [], _by_id(m.Warning), first, after)

    @strawberry.field(
        description="Steps of the warnings within your jurisdiction (raised, level changed, resolved, escalated, "
        "acknowledged, noted, false positive), oldest first; of one warning with `warningId`."
    )
    async def warning_actions(
        self, info: Info, warning_id: strawberry.ID | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[WarningAction]:
        cond = []
        if (wid := db_id(warning_id, m.Warning, field="warningId")) is not None:
            cond.append(m.WarningAction.warning_id == wid)
        return await _page(info, m.WarningAction, cond, _by_id(m.WarningAction), first, after)

    @strawberry.field(description="Credit ratings (public).")
    async def credit_ratings(
        self,
        info: Info,
        level: str | None = None,
        year: int | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[CreditRating]:
        cond = []
        if level:
            cond.append(m.CreditRating.level == level)
        if year:
            cond.append(m.CreditRating.year == year)
        return await _page(info, m.CreditRating, cond, _by_id(m.CreditRating), first, after)

    @strawberry.field(
        description="The outbox within your jurisdiction, in commit order (ids follow commits, so a pull "
        "that resumes `after` the last cursor it saw misses nothing). `types` narrows it, "
        'e.g. ["clue.created", "clue.close"].'
    )
    async def events(
        self, info: Info, first: int | None = None, after: str | None = None, types: list[str] | None = None
    ) -> Connection[Event]:
        cond = [m.Event.type.in_(types)] if types else []
        return await _page(info, m.Event, cond, _by_id(m.Event), first, after)

    @strawberry.field(
        description="The write-back queue (admin): channel records whose clue outcome goes back to the channel — "
        "pending, delivering, failing or acknowledged (`status`), oldest first, with the upstream's last error.",
        extensions=[requires(Action.READ_ADMIN, to="read the write-back queue")],
    )
    async def writebacks(
        self, info: Info, status: str | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[ChannelRecord]:
        record = m.ChannelRecord
        if status is not None and status not in WRITEBACK_STATUSES:
            raise InvalidInput(
                f"unknown write-back status {status!r}",
                field="status",
                value=status,
                suggestion=f"use one of {', '.join(WRITEBACK_STATUSES)}",
            )
        cond = [record.writeback_status == status] if status else [record.writeback_status.is_not(None)]
        return await _page(info, record, cond, _by_id(record), first, after)

    @strawberry.field(description="Configured connectors (admin).", extensions=[reads(m.ConnectorInstance)])
    async def connector_instances(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ConnectorInstance]:
        return await _page(info, m.ConnectorInstance, [], _by_id(m.ConnectorInstance), first, after)

    @strawberry.field(description="Sync runs, newest first (admin).", extensions=[reads(m.SyncRun)])
    async def sync_runs(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[SyncRun]:
        return await _page(info, m.SyncRun, [], SortSpec((m.SyncRun.id,), descending=True), first, after)

    @strawberry.field(description="Archived upstream records (admin).", extensions=[reads(m.RawRecord)])
    async def raw_records(
        self,
        info: Info,
        source: str | None = None,
        stream: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[RawRecord]:
        cond = []
        if source:
            cond.append(m.RawRecord.source == source)
        if stream:
            cond.append(m.RawRecord.stream == stream)
        return await _page(info, m.RawRecord, cond, _by_id(m.RawRecord), first, after)

    @strawberry.field(description="Records that failed normalisation (admin).", extensions=[reads(m.Quarantine)])
    async def quarantine(
        self, info: Info, status: str | None = "open", first: int | None = None, after: str | None = None
    ) -> Connection[QuarantinedRecord]:
        cond = [m.Quarantine.status == status] if status else []
        return await _page(info, m.Quarantine, cond, _by_id(m.Quarantine), first, after)

    @strawberry.field(description="API keys (admin).", extensions=[reads(m.ApiKey)])
    async def api_keys(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[ApiKey]:
        return await _page(info, m.ApiKey, [], _by_id(m.ApiKey), first, after)

    @strawberry.field(
        description="Users who sign in (admin), within your jurisdiction, by username: of a `role`, at or below "
        "`regionCode`, whose username or display name contains `text`.",
        extensions=[reads(m.User, to="manage users")],
    )
    async def users(
        self,
        info: Info,
        role: str | None = None,
        region_code: str | None = None,
        text: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[User]:
        user = m.User
        cond = region_condition(user.region_code, region_code)
        if role:
            if role not in ROLES:
                raise InvalidInput(
                    f"unknown role {role!r}", field="role", value=role, suggestion=f"use one of {', '.join(ROLES)}"
                )
            cond.append(user.role == role)
        if text and text.strip():
            wanted = text.strip().lower()
            cond.append(
                user.username.contains(wanted, autoescape=True)
                | func.lower(user.display_name).contains(wanted, autoescape=True)
            )
        return await _page(info, user, cond, SortSpec((user.username, user.id)), first, after)

    @strawberry.field(
        description="The audit log, newest first (admin): by who (`principal`), what (`action`, e.g. "
        "`unmask`, `clue.close`), which record (`entityType` / `entityId`) and when (`from` / `to`, China days).",
        extensions=[reads(m.AuditLog)],
    )
    async def audit_log(
        self,
        info: Info,
        principal: str | None = None,
        action: str | None = None,
        entity_type: str | None = None,
        entity_id: int | None = None,
        from_: Annotated[dt.date | None, strawberry.argument(name="from")] = None,
        to: dt.date | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEntry]:
        log = m.AuditLog
        cond: list[ColumnElement[bool]] = []
        if principal:
            cond.append(log.principal == principal)
        if action:
            cond.append(log.action == action)
        if entity_type:
            cond.append(log.entity_type == entity_type)
        if entity_id is not None:
            cond.append(log.entity_id == entity_id)
        if from_ is not None:
            cond.append(log.at >= dt.datetime.combine(from_, dt.time(), CST))
        if to is not None:
            cond.append(log.at < dt.datetime.combine(to + dt.timedelta(days=1), dt.time(), CST))
        return await _page(info, log, cond, SortSpec((log.id,), descending=True), first, after)
