"""The hub's closed vocabularies: one ``Enum`` per list of terms a column may hold.

Each term's value is what the database stores and the services compare against (a ``StrEnum``
member *is* that string, so ``clue.status == ClueStatus.CLOSED`` holds for the stored ``"closed"``);
its name is what the GraphQL API shows (``schema.types.cases`` wraps these with ``strawberry.enum``);
``label`` is the Chinese term an operator reads, where the domain has one (docs/domain.md).

This module imports nothing from the project, so that models, services, connectors and the schema
can all use it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class LabelledVocabulary(StrEnum):
    """A vocabulary whose terms also carry their Chinese name (``member.label``)."""

    label: str

    def __new__(cls, value: str, label: str) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def labels(cls) -> dict[str, str]:
        """Stored value → Chinese name, for messages and exports."""
        return {member.value: member.label for member in cls}


class Channel(LabelledVocabulary):
    """Where a clue came from: a clue-bearing channel (docs/domain.md, "Clues and their workflow")."""

    NATIONAL_PLATFORM = "national_platform", "全国根治欠薪线索反映平台"
    HOTLINE12345 = "hotline12345", "12345热线"
    HOTLINE12333 = "hotline12333", "12333热线"
    PETITION = "petition", "信访"
    WALK_IN = "walk_in", "来访"
    SUPERIOR = "superior", "上级转办"
    LEADER = "leader", "领导批示交办"
    PUBLIC_OPINION = "public_opinion", "网络舆情"
    ONLINE = "online", "网上投诉"
    GRID = "grid", "网格员"
    WARNING = "warning", "预警转线索"


class ClueStatus(LabelledVocabulary):
    """A clue's state: 受理 → 分办 → 办理中 → 办结 → 回访; side paths 退回 and 上报 (escalated to the
    level above); ``merged`` is a clue whose channel records an operator moved into another clue."""

    RECEIVED = "received", "已受理"
    DISPATCHED = "dispatched", "已分办"
    IN_PROGRESS = "in_progress", "办理中"
    CLOSED = "closed", "已办结"
    CALLED_BACK = "called_back", "已回访"
    RETURNED = "returned", "已退回"
    ESCALATED = "escalated", "已上报"
    MERGED = "merged", "已合并"


class SupervisionLevel(LabelledVocabulary):
    """督办 levels (docs/domain.md): ordinary supervision and 挂牌督办 for major cases."""

    SUPERVISED = "supervised", "督办"
    LISTED = "listed", "挂牌督办"


class Colour(StrEnum):
    """Supervision colour of a clue, and the level of a warning (docs/domain.md, our proposal):
    blue = due within a working day, yellow = overdue, red = serious."""

    BLUE = "blue"
    YELLOW = "yellow"
    RED = "red"


class WarningStatus(LabelledVocabulary):
    """A warning's state (docs/domain.md, "Warnings"): raised by the engine and resolved by it when its
    condition clears; escalated into the clue pool (预警转线索); or closed by hand (resolved with a reason,
    or a false positive, which the engine then leaves alone)."""

    ACTIVE = "active", "待处置"
    ESCALATED = "escalated", "已转线索"
    RESOLVED = "resolved", "已解除"
    FALSE_POSITIVE = "false_positive", "误报"


class Satisfaction(StrEnum):
    """The complainant's satisfaction at the call-back (回访), stored as the words the channels use."""

    SATISFIED = "满意"
    BASICALLY_SATISFIED = "基本满意"
    DISSATISFIED = "不满意"


class RequestType(LabelledVocabulary):
    """What a 12345 caller asked for (its ``reflectName``): the kind sets the handling deadline
    (docs/domain.md, "Deadlines")."""

    CONSULTATION = "consultation", "咨询"
    HELP = "help", "求助"
    COMPLAINT = "complaint", "投诉"


class DeadlineStage(LabelledVocabulary):
    """A stage of a clue that has its own deadline (hub.deadlines): 12345's 签收 and 办结 (答复), labour
    inspection's 受理 and 调查 (立案查处)."""

    SIGN = "sign", "签收"
    ANSWER = "answer", "办结"
    ACCEPT = "accept", "受理"
    INVESTIGATE = "investigate", "调查处理"


class StageOutcome(StrEnum):
    """Where a stage stands against its deadline: still running, done in time, or done late / overdue."""

    PENDING = "pending"
    MET = "met"
    MISSED = "missed"


class CreditLevel(LabelledVocabulary):
    """劳动保障守法诚信等级 (人社部规〔2016〕1号; docs/domain.md, "Credit")."""

    A = "A", "守法诚信"
    B = "B", "基本守法诚信"
    C = "C", "不守法诚信"


class PenaltyKind(LabelledVocabulary):
    """What an administrative penalty (行政处罚) or order decided. ``refused_rectification`` records that
    the enterprise refused a rectification order or a decided penalty (拒不履行): a C-level fact."""

    FINE = "fine", "罚款"
    WARNING = "warning", "警告"
    ORDER = "order", "责令改正"
    REFUSED_RECTIFICATION = "refused_rectification", "拒不履行整改指令或处罚决定"


class PenaltySource(LabelledVocabulary):
    """How a penalty reached the hub: entered by an inspector, or imported from a CSV file."""

    ENTERED = "entered", "录入"
    IMPORTED = "imported", "导入"


class BlacklistStatus(LabelledVocabulary):
    """A listing on the 失信联合惩戒名单: in force, removed early, or ended by expiry."""

    LISTED = "listed", "在列"
    REMOVED = "removed", "提前移出"
    EXPIRED = "expired", "期满移出"


#: Every vocabulary, for the check that the database, the services and the API agree on them.
class MovementKind(LabelledVocabulary):
    """A worker's movement on a site, as the real-name platform records it."""

    ENTRY = "entry", "进场"
    EXIT = "exit", "退场"


class ContractRole(LabelledVocabulary):
    """A party's place in a project's contract chain (保障农民工工资支付条例 第三十条)."""

    GENERAL = "general", "施工总承包"
    SPECIALIST = "specialist", "专业分包"
    LABOUR = "labour", "劳务分包"


class ExpenseAction(LabelledVocabulary):
    """What an expense bill of a 专户 did (the bank's ``actionType``: 1 wages, 2 transfer)."""

    WAGES = "wages", "代发工资"
    TRANSFER = "transfer", "转账"


class Role(StrEnum):
    """What a principal (an API key, a user) is; what each role may do is ``hub.access.POLICY``."""

    ADMIN = "admin"  # 管理员: configures connectors, keys, webhooks; acts everywhere it sees
    INSPECTOR = "inspector"  # 督查员: works the clue pool within its region
    VIEWER = "viewer"  # reads within its region
    REGIONAL = "regional"  # a province's or neighbouring city's system pulling its jurisdiction
    TOWN = "town"  # 镇街: a town's (街道's) handler: works the clues dispatched to its town, nothing else
    LEADER = "leader"  # 领导: reads its region (dashboards), changes nothing
    SECTOR = "sector"  # 行业主管部门 (住建 / 交通 / 水利): its sector within its region; handles its warnings


#: The roles' stored values, in ``Role``'s order (the settings validate ``HUB_*_ROLES`` against them).
ROLES = tuple(r.value for r in Role)

VOCABULARIES: tuple[type[StrEnum], ...] = (
    Channel,
    ClueStatus,
    SupervisionLevel,
    Colour,
    Satisfaction,
    RequestType,
    DeadlineStage,
    StageOutcome,
    CreditLevel,
    PenaltyKind,
    PenaltySource,
    BlacklistStatus,
    WarningStatus,
    MovementKind,
    ContractRole,
    ExpenseAction,
)
