"""Regions, enterprises, projects and workers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry
from strawberry.types import Info

from hub import models as m
from hub.identifiers import mask_phone
from schema.pagination import Connection, SortSpec, check_first
from schema.prefetch import resolve
from schema.types._common import Node, Reveal, node_type, plain_type, reveal_or_mask
from schema.types.refs import (
    ClueRef,
    CreditRatingRef,
    DepositRef,
    EnterpriseRef,
    PayrollRef,
    ProjectRef,
    RegionRef,
    WageAccountRef,
    WarningRef,
    WorkerRef,
)

PAYROLL_SORT = SortSpec((m.PayrollRecord.pay_month, m.PayrollRecord.id), descending=True)
BY_ID = {model: SortSpec((model.id,)) for model in (m.Project, m.Worker, m.Clue, m.LaborCostAllocation)}
CLUE_SORT = SortSpec((m.Clue.received_at, m.Clue.id), descending=True)


def _page_args(info: Info, first: int | None) -> int:
    return check_first(first, limit=info.context.settings.max_page_size)


@plain_type(m.Region, name="Region", description="A GB/T 2260 region: province, city, county or town.")
class Region:
    code: str
    name: str
    full_name: str = strawberry.field(description="Name with its ancestors, e.g. 山东省济宁市任城区.")
    level: str = strawberry.field(description="province / city / county / town")
    kind: str | None

    @strawberry.field(description="The region one level up.")
    async def parent(self, info: Info) -> RegionRef | None:
        if self.parent_code is None:  # type: ignore[attr-defined]
            return None
        return await info.context.loaders.by_id(m.Region, "code").load(self.parent_code)  # type: ignore[attr-defined]

    @strawberry.field(description="The regions one level down.")
    async def children(self, info: Info) -> list[RegionRef]:
        return await info.context.loaders.children(m.Region, m.Region.parent_code, order=m.Region.code).load(self.code)


@node_type(m.Enterprise, name="Enterprise", description="An enterprise, identified by its 统一社会信用代码.")
class Enterprise(Node):
    uscc: str = strawberry.field(description="统一社会信用代码 (GB 32100-2015).")
    name: str
    short_name: str | None
    legal_representative: str | None
    region_code: str = strawberry.field(description="Where it is registered (chars 3–8 of the USCC).")
    address: str | None
    kind: str = strawberry.field(description="general_contractor 总包 / subcontractor 分包 / labour_service 劳务 / builder 建设单位")
    qualification: str | None
    credit_level: str | None = strawberry.field(description="劳动保障守法诚信等级 A / B / C (人社部规〔2016〕1号).")
    blacklisted: bool = strawberry.field(description="On the arrears blacklist (失信联合惩戒名单).")

    @strawberry.field
    def region(self, info: Info) -> RegionRef | None:
        return resolve(info.context.loaders, self, m.Enterprise, "region")

    @strawberry.field(description="Projects where it is the general contractor (总包).")
    async def projects(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[ProjectRef]:
        n = _page_args(info, first)
        return await info.context.loaders.child_pages(
            m.Project, m.Project.contractor_id, sort=BY_ID[m.Project], first=n, after=after
        ).load(self.id)  # type: ignore[attr-defined]

    @strawberry.field(description="Clues naming it as the respondent, newest first.")
    async def clues(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[ClueRef]:
        n = _page_args(info, first)
        return await info.context.loaders.child_pages(m.Clue, m.Clue.enterprise_id, sort=CLUE_SORT, first=n, after=after).load(
            self.id  # type: ignore[attr-defined]
        )

    @strawberry.field(description="Credit ratings by year, with their evidence.")
    async def credit_ratings(self, info: Info) -> list[CreditRatingRef]:
        return await info.context.loaders.children(m.CreditRating, m.CreditRating.enterprise_id, order=m.CreditRating.year).load(
            self.id  # type: ignore[attr-defined]
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

    @strawberry.field
    def region(self, info: Info) -> RegionRef | None:
        return resolve(info.context.loaders, self, m.Project, "region")

    @strawberry.field(description="The general contractor (总包).")
    def contractor(self, info: Info) -> EnterpriseRef | None:
        return resolve(info.context.loaders, self, m.Project, "contractor")

    @strawberry.field(description="The builder (建设单位).")
    def builder(self, info: Info) -> EnterpriseRef | None:
        return resolve(info.context.loaders, self, m.Project, "builder")

    @strawberry.field(description="The project's wage special accounts (专户).")
    def wage_accounts(self, info: Info) -> list[WageAccountRef]:
        return resolve(info.context.loaders, self, m.Project, "wageAccounts")

    @strawberry.field(description="Guarantee deposits and letters (工资保证金 / 保函).")
    def guarantee_deposits(self, info: Info) -> list[DepositRef]:
        return resolve(info.context.loaders, self, m.Project, "guaranteeDeposits")

    @strawberry.field(description="Workers registered on the project (实名制).")
    async def workers(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[WorkerRef]:
        n = _page_args(info, first)
        return await info.context.loaders.child_pages(m.Worker, m.Worker.project_id, sort=BY_ID[m.Worker], first=n, after=after).load(
            self.id  # type: ignore[attr-defined]
        )

    @strawberry.field(description="Pay records on the project, newest month first; `payMonth` as YYYY-MM.")
    async def payroll(
        self, info: Info, first: int | None = None, after: str | None = None, pay_month: str | None = None
    ) -> Connection[PayrollRef]:
        n = _page_args(info, first)
        where = (m.PayrollRecord.pay_month == pay_month,) if pay_month else ()
        return await info.context.loaders.child_pages(
            m.PayrollRecord, m.PayrollRecord.project_id, sort=PAYROLL_SORT, first=n, after=after, where=where, where_key=pay_month
        ).load(self.id)  # type: ignore[attr-defined]

    @strawberry.field(description="Clues about the project, newest first.")
    async def clues(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[ClueRef]:
        n = _page_args(info, first)
        return await info.context.loaders.child_pages(m.Clue, m.Clue.project_id, sort=CLUE_SORT, first=n, after=after).load(
            self.id  # type: ignore[attr-defined]
        )

    @strawberry.field(description="Warnings raised on the project.")
    async def warnings(self, info: Info) -> list[WarningRef]:
        return await info.context.loaders.children(m.Warning, m.Warning.project_id).load(self.id)  # type: ignore[attr-defined]


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
    region_code: str

    @strawberry.field(description="居民身份证号, masked unless `reveal` (audited).")
    def id_number(self, info: Info, reveal: Reveal = False) -> str:
        return reveal_or_mask(
            info, reveal=reveal, masked=self.id_number_masked, encrypted=self.id_number_enc,  # type: ignore[attr-defined]
            field="Worker.idNumber", entity_type="worker", entity_id=self.id, region_code=self.region_code,  # type: ignore[attr-defined]
        ) or ""

    @strawberry.field(description="Payroll bank card, masked unless `reveal` (audited).")
    def bank_card(self, info: Info, reveal: Reveal = False) -> str | None:
        if self.bank_card_enc is None:  # type: ignore[attr-defined]
            return None
        return reveal_or_mask(
            info, reveal=reveal, masked=self.bank_card_masked, encrypted=self.bank_card_enc,  # type: ignore[attr-defined]
            field="Worker.bankCard", entity_type="worker", entity_id=self.id, region_code=self.region_code,  # type: ignore[attr-defined]
        )

    @strawberry.field(description="Mobile phone, masked unless `reveal` (audited).")
    def phone(self, info: Info, reveal: Reveal = False) -> str | None:
        if self.phone is None:  # type: ignore[attr-defined]
            return None
        return reveal_or_mask(
            info, reveal=reveal, masked=None, plain=self.phone, mask=mask_phone,  # type: ignore[attr-defined]
            field="Worker.phone", entity_type="worker", entity_id=self.id, region_code=self.region_code,  # type: ignore[attr-defined]
        )

    @strawberry.field
    def project(self, info: Info) -> ProjectRef | None:
        return resolve(info.context.loaders, self, m.Worker, "project")

    @strawberry.field(description="The employing enterprise (corpCode).")
    def enterprise(self, info: Info) -> EnterpriseRef | None:
        return resolve(info.context.loaders, self, m.Worker, "enterprise")

    @strawberry.field(description="The worker's pay records, newest month first.")
    async def payroll(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[PayrollRef]:
        n = _page_args(info, first)
        return await info.context.loaders.child_pages(
            m.PayrollRecord, m.PayrollRecord.worker_id, sort=PAYROLL_SORT, first=n, after=after
        ).load(self.id)  # type: ignore[attr-defined]
