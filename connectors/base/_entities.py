"""Canonical records: what ``normalise`` turns an upstream record into.

References between records use natural keys (USCC, project code, account number, ID number), never
the hub's row ids: a connector knows nothing of the hub's database. The hub validates identifiers,
resolves the references and upserts, in the page's transaction. Personal data (ID numbers, cards,
phones) arrives here in plain text; the hub encrypts and masks it before it is stored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class EnterpriseIn:
    uscc: str
    name: str
    kind: str  # general_contractor / subcontractor / labour_service / builder
    legal_representative: str | None = None
    address: str | None = None
    short_name: str | None = None


@dataclass(frozen=True, slots=True)
class ProjectIn:
    project_code: str
    name: str
    region_code: str
    sector: str  # 住建 / 交通 / 水利
    status: str  # in_progress / stopped / completed
    contractor_uscc: str
    builder_uscc: str | None = None
    address: str | None = None
    permit_no: str | None = None
    permit_date: dt.date | None = None
    contract_value: Decimal | None = None
    contract_signed_on: dt.date | None = None
    labour_cost_cycle_days: int = 30
    labour_cost_ratio: Decimal | None = None
    start_date: dt.date | None = None
    planned_end_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class WageAccountIn:
    salary_account: str
    project_code: str
    contractor_uscc: str
    bank_name: str
    salary_account_name: str
    bank_code: str | None = None
    open_account_date: dt.date | None = None
    filed_date: dt.date | None = None
    account_balance: Decimal | None = None
    status: str = "open"


@dataclass(frozen=True, slots=True)
class AllocationIn:
    """A labour-cost income bill (billType 1) of a 专户."""

    salary_account: str
    batch_number: str
    bill_date: dt.date
    period_month: str
    amount: Decimal
    account_balance: Decimal | None = None
    payer_name: str | None = None
    payer_account: str | None = None
    progress_payment: Decimal | None = None


@dataclass(frozen=True, slots=True)
class WorkerIn:
    project_code: str
    corp_uscc: str
    id_number: str
    name: str
    team_sys_no: str | None = None
    work_type: str | None = None
    work_role: str | None = None
    is_team_leader: bool = False
    bank_card: str | None = None
    bank_code: str | None = None
    phone: str | None = None
    entry_date: dt.date | None = None
    exit_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class PayrollIn:
    """One worker's pay for a month, from the bank's pay detail."""

    pay_roll_code: str
    project_code: str
    id_number: str
    pay_month: str
    total_pay_amount: Decimal
    actual_amount: Decimal
    pay_status: int  # 0 未发放, 20 已发放, 30 发放失败, 40 重新发放中
    salary_account: str | None = None
    worker_name: str | None = None
    corp_uscc: str | None = None  # the employer (corpCode): a subcontractor or labour company, not always the 总包
    days: int | None = None
    work_hours: Decimal | None = None
    balance_date: dt.date | None = None
    is_back_pay: bool = False
    bank_card: str | None = None
    batch_number: str | None = None


@dataclass(frozen=True, slots=True)
class DepositIn:
    guarantee_no: str
    project_code: str
    contractor_uscc: str
    kind: str  # cash / bank_guarantee / insurance
    amount: Decimal
    rate: Decimal | None = None
    deposited_on: dt.date | None = None
    issuer: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    status: str = "active"


@dataclass(frozen=True, slots=True)
class CallbackIn:
    """A call-back (回访) the channel itself made to the complainant, and what they said."""

    at: dt.datetime
    satisfaction: str  # hub.vocab.Satisfaction: 满意 / 基本满意 / 不满意
    solved: bool | None = None  # the complainant's own answer to "was it solved?", when asked


@dataclass(frozen=True, slots=True)
class ClueIn:
    """A clue-bearing record (a 12345 work order, a national-platform clue …) for the clue pool."""

    channel: str
    source_id: str
    received_at: dt.datetime
    title: str
    content: str
    region_code: str
    respondent_name: str
    complainant_name: str | None = None
    complainant_phone: str | None = None
    complainant_id_number: str | None = None
    respondent_uscc: str | None = None
    respondent_address: str | None = None
    project_code: str | None = None
    project_name: str | None = None  # channels name the project rather than give its code
    amount: Decimal | None = None
    headcount: int | None = None
    arrears_from: dt.date | None = None
    arrears_to: dt.date | None = None
    sector: str = "工程建设"
    public_opinion: bool = False
    related_source_id: str | None = None  # the upstream's own link to an earlier record (12345 oldOrderNum)
    # What a channel that handles the matter itself (12345) says about it:
    request_type: str | None = None  # hub.vocab.RequestType (12345 reflectName: 咨询 / 求助 / 投诉 …)
    source_type: str | None = None  # how the caller reached the channel (12345 sourceType: 电话 / 网站 / 微信 …)
    deadline_date: dt.date | None = None  # the channel's own deadline for the record (12345 deadlineDate / handleDays)
    supervised: bool = False  # the channel put the matter under 督办 (12345 isSupervise)
    repeat_caller: bool = False  # the channel knows the caller called about it before (12345 isOldCaller)
    callback: CallbackIn | None = None  # the channel's own 回访 (12345 visitTime / visitIsSolved / satisfaction)


@dataclass(frozen=True, slots=True)
class ExpenseIn:
    """An expense bill (billType 2) of a 专户: wages paid out (actionType 1) or a transfer (2)."""

    salary_account: str
    batch_number: str
    bill_date: dt.date
    amount: Decimal
    action: str  # hub.vocab.ExpenseAction: wages (actionType 1 代发工资) / transfer (actionType 2 转账)
    account_balance: Decimal | None = None
    counterparty_name: str | None = None
    counterparty_account: str | None = None  # a card or account number: personal data when a worker's
    purpose: str | None = None


@dataclass(frozen=True, slots=True)
class TeamIn:
    """A 班组 on the real-name platform (``teamSysNo``), employed by ``corp_uscc`` (``corpCode``)."""

    project_code: str
    corp_uscc: str
    team_sys_no: str
    name: str
    leader_name: str | None = None
    entry_date: dt.date | None = None
    exit_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class MovementIn:
    """A worker's 进场 / 退场 on the real-name platform; an exit carries its settlement (退场结算)."""

    project_code: str
    id_number: str
    kind: str  # hub.vocab.MovementKind: entry / exit
    moved_on: dt.date
    corp_uscc: str | None = None
    settled: bool | None = None
    settlement_amount: Decimal | None = None
    settlement_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class AttendanceIn:
    """One worker's attendance on one day (考勤)."""

    project_code: str
    id_number: str
    day: dt.date
    time_in: dt.datetime | None = None
    time_out: dt.datetime | None = None
    device_id: str | None = None


@dataclass(frozen=True, slots=True)
class ContractIn:
    """A link of a project's contract chain: ``enterprise_uscc`` holds a ``role`` contract from ``parent_uscc``."""

    project_code: str
    enterprise_uscc: str
    role: str  # hub.vocab.ContractRole: general / specialist / labour
    parent_uscc: str | None = None
    contract_no: str | None = None
    contract_value: Decimal | None = None
    signed_on: dt.date | None = None


@dataclass(frozen=True, slots=True)
class ProgressPaymentIn:
    """A progress payment (工程款拨付) from the builder to the 总包."""

    project_code: str
    payment_no: str
    paid_on: dt.date
    amount: Decimal
    payer_uscc: str | None = None


@dataclass(frozen=True, slots=True)
class OutputValueIn:
    """A project's output value (工程量产值) for a month."""

    project_code: str
    month: str  # YYYY-MM
    amount: Decimal
    reported_on: dt.date | None = None


Entity = (
    EnterpriseIn
    | ProjectIn
    | WageAccountIn
    | AllocationIn
    | WorkerIn
    | PayrollIn
    | DepositIn
    | ClueIn
    | ExpenseIn
    | TeamIn
    | MovementIn
    | AttendanceIn
    | ContractIn
    | ProgressPaymentIn
    | OutputValueIn
)
