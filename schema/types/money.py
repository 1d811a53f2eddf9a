"""The wage special account (专户), labour-cost allocations, payroll and guarantee deposits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry
from strawberry.types import Info

from hub import models as m
from schema.pagination import Connection, SortSpec, check_first
from schema.prefetch import to_one
from schema.types._common import Node, node_type
from schema.types.refs import AllocationRef, EnterpriseRef, PayrollRef, ProjectRef, WorkerRef

ALLOCATION_SORT = SortSpec((m.LaborCostAllocation.bill_date, m.LaborCostAllocation.id), descending=True)
PAYROLL_SORT = SortSpec((m.PayrollRecord.pay_month, m.PayrollRecord.id), descending=True)

PAY_STATUS_NAMES = {0: "未发放", 20: "已发放", 30: "发放失败", 40: "重新发放中"}


@node_type(m.WageAccount, name="WageAccount", description="A project's 农民工工资专用账户 (专户).")
class WageAccount(Node):
    bank_name: str
    bank_code: str | None = strawberry.field(description="联行号 (12 digits).")
    salary_account: str = strawberry.field(description="The account number (salaryAccount).")
    salary_account_name: str = strawberry.field(description="Contractor + project + 农民工工资专用账户.")
    open_account_date: dt.date | None
    filed_date: dt.date | None = strawberry.field(description="Date it was filed (备案) with the labour authority.")
    account_balance: Decimal
    status: str
    region_code: str

    project = to_one(ProjectRef, m.Project, key="project_id")
    enterprise = to_one(
        EnterpriseRef, m.Enterprise, key="enterprise_id", description="The general contractor holding the account."
    )

    @strawberry.field(description="Labour cost received into the account, newest first.")
    @staticmethod
    async def allocations(
        parent: strawberry.Parent[m.WageAccount], info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[AllocationRef]:
        n = check_first(first, limit=info.context.settings.max_page_size)
        return await info.context.loaders.child_pages(
            m.LaborCostAllocation, m.LaborCostAllocation.account_id, sort=ALLOCATION_SORT, first=n, after=after
        ).load(parent.id)

    @strawberry.field(description="Wages paid from the account, newest month first.")
    @staticmethod
    async def payroll(
        parent: strawberry.Parent[m.WageAccount], info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[PayrollRef]:
        n = check_first(first, limit=info.context.settings.max_page_size)
        return await info.context.loaders.child_pages(
            m.PayrollRecord, m.PayrollRecord.account_id, sort=PAYROLL_SORT, first=n, after=after
        ).load(parent.id)


@node_type(
    m.LaborCostAllocation,
    name="LaborCostAllocation",
    description="Labour cost (人工费用) received into a 专户 (billType 1).",
)
class LaborCostAllocation(Node):
    batch_number: str
    bill_date: dt.date
    period_month: str = strawberry.field(description="The month (YYYY-MM) the labour cost is for.")
    amount: Decimal
    account_balance: Decimal | None = strawberry.field(description="Balance after the bill.")
    payer_name: str | None
    payer_account: str | None
    progress_payment: Decimal | None
    region_code: str

    account = to_one(WageAccount, m.WageAccount, key="account_id")
    project = to_one(ProjectRef, m.Project, key="project_id")


@node_type(m.PayrollRecord, name="PayrollRecord", description="One worker's pay for one month (代发 from the 专户).")
class PayrollRecord(Node):
    pay_roll_code: str = strawberry.field(description="The wage sheet (工资册) number.")
    pay_month: str = strawberry.field(description="YYYY-MM")
    total_pay_amount: Decimal = strawberry.field(description="应发")
    actual_amount: Decimal = strawberry.field(description="实发")
    days: int | None
    work_hours: Decimal | None
    balance_date: dt.date | None
    pay_status: int = strawberry.field(description="0 未发放, 20 已发放, 30 发放失败, 40 重新发放中")
    is_back_pay: bool = strawberry.field(description="Back pay (补发) of an earlier month.")
    bank_card_masked: str | None = strawberry.field(description="The card paid into, masked.")
    batch_number: str | None
    region_code: str

    @strawberry.field(description="payStatus in words.")
    @staticmethod
    def pay_status_name(parent: strawberry.Parent[m.PayrollRecord]) -> str:
        return PAY_STATUS_NAMES.get(parent.pay_status, str(parent.pay_status))

    worker = to_one(WorkerRef, m.Worker, key="worker_id")
    project = to_one(ProjectRef, m.Project, key="project_id")
    account = to_one(WageAccount, m.WageAccount, key="account_id")


@node_type(
    m.GuaranteeDeposit,
    name="GuaranteeDeposit",
    description="工资保证金 or the 保函 / insurance that replaces it (人社部发〔2021〕65号).",
)
class GuaranteeDeposit(Node):
    kind: str = strawberry.field(description="cash / bank_guarantee / insurance")
    amount: Decimal
    rate: Decimal | None = strawberry.field(description="Share of the contract value (1%–3%, never below 0.5%).")
    deposited_on: dt.date | None
    guarantee_no: str | None
    issuer: str | None
    valid_from: dt.date | None
    valid_to: dt.date | None
    status: str
    region_code: str

    project = to_one(ProjectRef, m.Project, key="project_id")
    enterprise = to_one(EnterpriseRef, m.Enterprise, key="enterprise_id")
