"""Regions, enterprises, projects and workers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, cast

import strawberry
from strawberry.types import Info

from hub import credit
from hub import models as m
from hub.identifiers import mask_phone
from hub.workdays import china_today
from schema.filters import check_month
from schema.pagination import Connection, SortSpec
from schema.prefetch import PagedRelation, load_pages, pages_of, to_many, to_one, to_pages
from schema.types._common import Node, Reveal, node_type, plain_type, reveal_or_mask
from schema.types.credit import DepositRate
from schema.types.realname import attendance_span, summary_loader, team_loader
from schema.types.refs import (
    AttendanceRef,
    AttendanceSummaryRef,
    BlacklistEntryRef,
    ClueRef,
    ContractRef,
    CreditRatingRef,
    DepositRef,
    EnterpriseRef,
    MovementRef,
    OutputValueRef,
    PayrollRef,
    PenaltyRef,
    ProgressPaymentRef,
    ProjectRef,
    RegionRef,
    TeamRef,
    WageAccountRef,
    WarningRef,
    WorkerRef,
)

PAYROLL_SORT = SortSpec((m.PayrollRecord.pay_month, m.PayrollRecord.id), descending=True)
ATTENDANCE_SORT = SortSpec((m.Attendance.day, m.Attendance.id), descending=True)
BY_ID = {model: SortSpec((model.id,)) for model in (m.Project, m.Worker, m.Clue, m.LaborCostAllocation)}
CLUE_SORT = SortSpec((m.Clue.received_at, m.Clue.id), descending=True)


def _of_month(pay_month: str | None = None) -> tuple[Any, ...]:
    """``Project.payroll``'s ``payMonth``: the records of that month (``YYYY-MM``, checked; empty or
    null: all)."""
    return (m.PayrollRecord.pay_month == check_month(pay_month, field="payMonth"),) if pay_month else ()


def _of_days(from_: dt.date, to: dt.date) -> tuple[Any, ...]:
    """``Worker.attendance``'s ``from`` / ``to``: the days between them, both included (checked first)."""
    attendance_span(from_, to)
    return (m.Attendance.day >= from_, m.Attendance.day <= to)


PROJECT_PAYROLL = PagedRelation(m.PayrollRecord, m.PayrollRecord.project_id, PAYROLL_SORT, where=_of_month)
WORKER_ATTENDANCE = PagedRelation(m.Attendance, m.Attendance.worker_id, ATTENDANCE_SORT, where=_of_days)


@plain_type(m.Region, name="Region", description="A GB/T 2260 region: province, city, county or town.")
class Region:
    code: str
    name: str
    full_name: str = strawberry.field(description="Name with its ancestors, e.g. 山东省济宁市任城区.")
    level: str = strawberry.field(description="province / city / county / town")
    kind: str | None

    parent = to_one(RegionRef, m.Region, key="parent_code", by="code", description="The region one level up.")
    children = to_many(
        RegionRef, m.Region.parent_code, key="code", order=m.Region.code, description="The regions one level down."
    )


@node_type(m.Enterprise, name="Enterprise", description="An enterprise, identified by its 统一社会信用代码.")
class Enterprise(Node):
    uscc: str = strawberry.field(description="统一社会信用代码 (GB 32100-2015).")
    name: str
    short_name: str | None
    legal_representative: str | None
    region_code: str = strawberry.field(description="Where it is registered (chars 3–8 of the USCC).")
    address: str | None
    kind: str = strawberry.field(
        description="general_contractor 总包 / subcontractor 分包 / labour_service 劳务 / builder 建设单位"
    )
    qualification: str | None
    credit_level: str | None = strawberry.field(description="劳动保障守法诚信等级 A / B / C (人社部规〔2016〕1号).")
    blacklisted: bool = strawberry.field(description="On the arrears blacklist (失信联合惩戒名单).")

    region = to_one(RegionRef, m.Region, key="region_code", by="code")

    projects = to_pages(
        ProjectRef,
        m.Project.contractor_id,
        sort=BY_ID[m.Project],
        description="Projects where it is the general contractor (总包).",
    )
    clues = to_pages(
        ClueRef, m.Clue.enterprise_id, sort=CLUE_SORT, description="Clues naming it as the respondent, newest first."
    )

    contracts = to_many(
        ContractRef,
        m.ProjectContract.enterprise_id,
        order=m.ProjectContract.id,
        limit=200,
        description="Contracts it holds in projects' contract chains (at most 200, oldest first).",
    )
    credit_ratings = to_many(
        CreditRatingRef,
        m.CreditRating.enterprise_id,
        order=m.CreditRating.year,
        description="Credit ratings by year, with their evidence.",
    )
    penalties = to_many(
        PenaltyRef,
        m.Penalty.enterprise_id,
        order=m.Penalty.decided_on,
        description="Administrative penalties (行政处罚) issued within your jurisdiction, oldest first.",
    )
    blacklist_entries = to_many(
        BlacklistEntryRef,
        m.BlacklistEntry.enterprise_id,
        order=m.BlacklistEntry.decided_on,
        description="Its listings on the 失信联合惩戒名单 decided within your jurisdiction, in force or ended.",
    )

    @strawberry.field(
        description="The 工资保证金 rate for a new contract signed today (人社部发〔2021〕65号), with the reason; "
        "`contractValue` (yuan) decides the small-contract exemption. A reduction or an exemption needs a "
        "record of rated clean years."
    )
    @staticmethod
    async def deposit_rate(
        parent: strawberry.Parent[m.Enterprise], info: Info, contract_value: Decimal | None = None
    ) -> DepositRate:
        today = china_today()
        rate = await info.context.session.run_sync(
            lambda s: credit.deposit_rate(s, enterprise_id=parent.id, today=today, contract_value=contract_value)
        )
        return DepositRate(
            rate=rate.rate, exempt=rate.exempt, basis=rate.basis, reason=rate.reason, clean_years=rate.clean_years
        )


@node_type(m.Project, name="Project", description="A construction project (工程项目) with its permit and contract.")
class Project(Node):
    project_code: str
    name: str
    address: str | None
    sector: str = strawberry.field(description="住建 / 交通 / 水利")
    status: str = strawberry.field(description="in_progress / stopped / completed")
    permit_no: str | None = strawberry.field(description="施工许可证编号 (18 digits).")
    permit_date: dt.date | None
    contract_value: Decimal | None
    contract_signed_on: dt.date | None
    labour_cost_cycle_days: int
    labour_cost_ratio: Decimal | None
    start_date: dt.date | None
    planned_end_date: dt.date | None
    region_code: str

    region = to_one(RegionRef, m.Region, key="region_code", by="code")
    contractor = to_one(EnterpriseRef, m.Enterprise, key="contractor_id", description="The general contractor (总包).")
    builder = to_one(EnterpriseRef, m.Enterprise, key="builder_id", description="The builder (建设单位).")
    wage_accounts = to_many(
        WageAccountRef, m.WageAccount.project_id, description="The project's wage special accounts (专户)."
    )
    guarantee_deposits = to_many(
        DepositRef, m.GuaranteeDeposit.project_id, description="Guarantee deposits and letters (工资保证金 / 保函)."
    )
    contracts = to_many(
        ContractRef,
        m.ProjectContract.project_id,
        order=m.ProjectContract.id,
        description="The contract chain (保障农民工工资支付条例 第三十条): the 总包's contract from the 建设单位, "
        "then each 分包's from the party above it.",
    )
    progress_payments = to_many(
        ProgressPaymentRef,
        m.ProgressPayment.project_id,
        order=m.ProgressPayment.paid_on,
        description="Progress payments (工程款拨付), oldest first (条例 第二十四条: labour cost goes with each).",
    )
    output_values = to_many(
        OutputValueRef,
        m.OutputValue.project_id,
        order=m.OutputValue.month,
        description="Monthly output value (工程量产值), oldest month first.",
    )

    workers = to_pages(
        WorkerRef, m.Worker.project_id, sort=BY_ID[m.Worker], description="Workers registered on the project (实名制)."
    )

    @strawberry.field(description="Pay records on the project, newest month first; `payMonth` as YYYY-MM.")
    @staticmethod
    @pages_of(PROJECT_PAYROLL)
    async def payroll(
        parent: strawberry.Parent[m.Project],
        info: Info,
        first: int | None = None,
        after: str | None = None,
        pay_month: str | None = None,
    ) -> Connection[PayrollRef]:
        return await load_pages(info, PROJECT_PAYROLL, parent, first=first, after=after, pay_month=pay_month)

    clues = to_pages(ClueRef, m.Clue.project_id, sort=CLUE_SORT, description="Clues about the project, newest first.")

    warnings = to_many(WarningRef, m.Warning.project_id, description="Warnings raised on the project.")
    teams = to_many(TeamRef, m.Team.project_id, description="The project's teams (班组) on the real-name platform.")

    @strawberry.field(
        description="Attendance in a month (YYYY-MM): workers who clocked in and worker-days (条例 第三十一条)."
    )
    @staticmethod
    async def attendance_summary(parent: strawberry.Parent[m.Project], info: Info, month: str) -> AttendanceSummaryRef:
        result: AttendanceSummaryRef = await summary_loader(info, month).load(parent.id)
        return result


@node_type(m.Worker, name="Worker", description="A worker's real-name registration (实名制) on a project.")
class Worker(Node):
    name: str
    id_card_type: str
    gender: str | None
    birth_date: dt.date | None
    team_sys_no: str | None
    work_type: str | None
    work_role: str | None
    is_team_leader: bool
    bank_code: str | None = strawberry.field(description="联行号 of the payroll card's bank.")
    entry_date: dt.date | None
    exit_date: dt.date | None
    on_roster: bool = strawberry.field(
        description="Whether the real-name roster lists the worker; false for one first seen in a bank's pay "
        "detail (条例 第二十八条)."
    )
    region_code: str

    @strawberry.field(description="居民身份证号, masked unless `reveal` (audited).")
    @staticmethod
    def id_number(parent: strawberry.Parent[m.Worker], info: Info, reveal: Reveal = False) -> str:
        return (
            reveal_or_mask(
                info,
                reveal=reveal,
                masked=parent.id_number_masked,
                encrypted=parent.id_number_enc,
                field="Worker.idNumber",
                entity_type="worker",
                entity_id=parent.id,
                region_code=parent.region_code,
            )
            or ""
        )

    @strawberry.field(description="Payroll bank card, masked unless `reveal` (audited).")
    @staticmethod
    def bank_card(parent: strawberry.Parent[m.Worker], info: Info, reveal: Reveal = False) -> str | None:
        if parent.bank_card_enc is None:
            return None
        return reveal_or_mask(
            info,
            reveal=reveal,
            masked=parent.bank_card_masked,
            encrypted=parent.bank_card_enc,
            field="Worker.bankCard",
            entity_type="worker",
            entity_id=parent.id,
            region_code=parent.region_code,
        )

    @strawberry.field(description="Phone in E.164 (+86…), masked unless `reveal` (audited).")
    @staticmethod
    def phone(parent: strawberry.Parent[m.Worker], info: Info, reveal: Reveal = False) -> str | None:
        if parent.phone is None:
            return None
        return reveal_or_mask(
            info,
            reveal=reveal,
            masked=None,
            plain=parent.phone,
            mask=mask_phone,
            field="Worker.phone",
            entity_type="worker",
            entity_id=parent.id,
            region_code=parent.region_code,
        )

    project = to_one(ProjectRef, m.Project, key="project_id")
    enterprise = to_one(
        EnterpriseRef, m.Enterprise, key="enterprise_id", description="The employing enterprise (corpCode)."
    )

    payroll = to_pages(
        PayrollRef,
        m.PayrollRecord.worker_id,
        sort=PAYROLL_SORT,
        description="The worker's pay records, newest month first.",
    )

    @strawberry.field(description="The worker's team (班组) on the project, by teamSysNo.")
    @staticmethod
    async def team(parent: strawberry.Parent[m.Worker], info: Info) -> TeamRef | None:
        if parent.team_sys_no is None:
            return None
        # The row is served as the Team type (schema.types._common.plain_type), as every relation is.
        team: Any = await team_loader(info).load((parent.project_id, parent.team_sys_no))
        return cast(TeamRef | None, team)

    movements = to_many(
        MovementRef,
        m.SiteMovement.worker_id,
        order=m.SiteMovement.moved_on,
        description="The worker's entries and exits (进场 / 退场), oldest first.",
    )

    @strawberry.field(
        description="The worker's attendance from `from` to `to` (both included, at most 62 days), newest day first."
    )
    @staticmethod
    @pages_of(WORKER_ATTENDANCE)
    async def attendance(
        parent: strawberry.Parent[m.Worker],
        info: Info,
        from_: Annotated[dt.date, strawberry.argument(name="from")],
        to: dt.date,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AttendanceRef]:
        return await load_pages(info, WORKER_ATTENDANCE, parent, first=first, after=after, from_=from_, to=to)
