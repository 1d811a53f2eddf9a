"""The canonical model (SQLAlchemy 2 typed models). Import entities from here."""

from __future__ import annotations

from hub.models._base import Base, RegionScoped, utcnow
from hub.models.calendar import CalendarDay
from hub.models.clues import (
    CHANNELS,
    CLUE_STATUSES,
    SUPERVISION_LEVELS,
    WARNING_STATUSES,
    CaseAction,
    ChannelRecord,
    Clue,
    ClueMatchKey,
    CreditRating,
    Warning,
    WarningAction,
)
from hub.models.credit import BlacklistEntry, Penalty
from hub.models.geo import Region
from hub.models.operations import RegisteredOperation
from hub.models.platform import (
    ApiKey,
    AuditLog,
    ConnectorInstance,
    Event,
    Quarantine,
    RawRecord,
    SyncRun,
    User,
    UserSession,
)
from hub.models.projects import OutputValue, ProgressPayment, ProjectContract
from hub.models.realname import Attendance, SiteMovement, Team
from hub.models.registry import Enterprise, Project, Worker
from hub.models.wages import (
    AccountExpense,
    GuaranteeDeposit,
    LaborCostAllocation,
    PayrollRecord,
    WageAccount,
)
from hub.models.webhooks import WebhookDelivery, WebhookEndpoint

__all__ = [
    "AccountExpense",
    "Attendance",
    "OutputValue",
    "ProgressPayment",
    "ProjectContract",
    "SiteMovement",
    "Team",
    "CHANNELS",
    "CLUE_STATUSES",
    "SUPERVISION_LEVELS",
    "WARNING_STATUSES",
    "ApiKey",
    "AuditLog",
    "Base",
    "CalendarDay",
    "BlacklistEntry",
    "CaseAction",
    "ChannelRecord",
    "Clue",
    "ClueMatchKey",
    "ConnectorInstance",
    "CreditRating",
    "Enterprise",
    "Event",
    "GuaranteeDeposit",
    "LaborCostAllocation",
    "PayrollRecord",
    "Penalty",
    "Project",
    "Quarantine",
    "RawRecord",
    "RegisteredOperation",
    "Region",
    "RegionScoped",
    "SyncRun",
    "User",
    "UserSession",
    "WageAccount",
    "Warning",
    "WarningAction",
    "WebhookDelivery",
    "WebhookEndpoint",
    "Worker",
    "utcnow",
]
