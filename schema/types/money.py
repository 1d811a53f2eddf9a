"""The wage special account (专户) with its money in (labour-cost allocations) and out (expense bills),
payroll and guarantee deposits; a project's contract chain, progress payments and output value."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry
from strawberry.types import Info

from hub import models as m
from hub.vocab import ContractRole, ExpenseAction
from schema.pagination import SortSpec
from schema.prefetch import to_one, to_pages
from schema.types._common import Node, Reveal, node_type, reveal_or_mask
from schema.types.refs import AllocationRef, EnterpriseRef, ExpenseRef, PayrollRef, ProjectRef, WorkerRef

ALLOCATION_SORT = SortSpec((m.LaborCostAllocation.bill_date, m.LaborCostAllocation.id), descending=True)
PAYROLL_SORT = SortSpec((m.PayrollRecord.pay_month, m.PayrollRecord.id), descending=True)
EXPENSE_SORT = SortSpec((m.AccountExpense.bill_date, m.AccountExpense.id), descending=True)

PAY_STATUS_NAMES = {0: "未发放", 20: "已发放", 30: "发放失败", 40: "重新发放中"}

strawberry.enum(ExpenseAction, description="What an expense bill of a 专户 did: WAGES (代发工资) or a TRANSFER (转账).")
strawberry.enum(
    ContractRole,
    description="A place in a project's contract chain: GENERAL (施工总承包), SPECIALIST (专业分包), LABOUR (劳务分包).",
)


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

    allocations = to_pages(
        AllocationRef,
        m.LaborCostAllocation.account_id,
        sort=ALLOCATION_SORT,
        description="Labour cost received into the account, newest first.",
    )
    payroll = to_pages(
        PayrollRef,
        m.PayrollRecord.account_id,
        sort=PAYROLL_SORT,
        description="Wages paid from the account, newest month first.",
    )
    expenses = to_pages(
        ExpenseRef,
        m.AccountExpense.account_id,
        sort=EXPENSE_SORT,
        description="Money that left the account (expense bills: wages paid out, transfers), newest first.",
    )


@node_type(
    m.AccountExpense,
    name="AccountExpense",
    description="Money leaving a 专户 (billType 2): a 代发 batch of wages or a transfer. The 专户 may pay only "
    "the project's workers (人社部发〔2021〕53号), so a transfer is worth a look.",
)
class AccountExpense(Node):
    batch_number: str
    bill_date: dt.date
    amount: Decimal
    action: ExpenseAction
    account_balance: Decimal | None = strawberry.field(description="Balance after the bill.")
    counterparty_name: str | None
    purpose: str | None = strawberry.field(description="The bank's remark (摘要).")
    region_code: str

    @strawberry.field(description="The account paid into, masked unless `reveal` (audited): it may be a worker's card.")
    @staticmethod
    def counterparty_account(
        parent: strawberry.Parent[m.AccountExpense], info: Info, reveal: Reveal = False
    ) -> str | None:
        if parent.counterparty_account_enc is None:
            return None
        return reveal_or_mask(
            info,
            reveal=reveal,
            masked=parent.counterparty_account_masked,
            encrypted=parent.counterparty_account_enc,
            field="AccountExpense.counterpartyAccount",
            entity_type="account_expense",
            entity_id=parent.id,
            region_code=parent.region_code,
        )

    account = to_one(WageAccount, m.WageAccount, key="account_id")
    project = to_one(ProjectRef, m.Project, key="project_id")


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


@node_type(
    m.ProjectContract,
    name="ProjectContract",
    description="A link of a project's contract chain: `enterprise` holds a `role` contract from `parent` "
    "(the 建设单位 for the 总包). 保障农民工工资支付条例 第三十条: the 总包 answers for its 分包's wages.",
)
class ProjectContract(Node):
    role: ContractRole
    contract_no: str | None
    contract_value: Decimal | None
    signed_on: dt.date | None
    region_code: str

    project = to_one(ProjectRef, m.Project, key="project_id")
    enterprise = to_one(EnterpriseRef, m.Enterprise, key="enterprise_id", description="Who holds the contract.")
    parent = to_one(
        EnterpriseRef, m.Enterprise, key="parent_enterprise_id", description="Who it holds the contract from."
    )


@node_type(m.ProgressPayment, name="ProgressPayment", description="A progress payment (工程款拨付) to the 总包.")
class ProgressPayment(Node):
    payment_no: str
    paid_on: dt.date
    amount: Decimal
    region_code: str

    project = to_one(ProjectRef, m.Project, key="project_id")
    payer = to_one(EnterpriseRef, m.Enterprise, key="payer_id", description="Who paid (the 建设单位).")


@node_type(m.OutputValue, name="OutputValue", description="A project's output value (工程量产值) for one month.")
class OutputValue(Node):
    month: str = strawberry.field(description="YYYY-MM")
    amount: Decimal
    reported_on: dt.date | None
    region_code: str

    project = to_one(ProjectRef, m.Project, key="project_id")
