"""Lazy references between the type modules (they refer to each other both ways)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

if TYPE_CHECKING:
    from schema.types.cases import CaseAction, ChannelRecord, Clue, CreditRating, Warning
    from schema.types.credit import BlacklistEntry, Penalty
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
    from schema.types.platform import RawRecord, SyncRun
    from schema.types.realname import Attendance, AttendanceSummary, SiteMovement, Team
    from schema.types.registry import Enterprise, Project, Region, Worker

RegionRef = Annotated["Region", strawberry.lazy("schema.types.registry")]
EnterpriseRef = Annotated["Enterprise", strawberry.lazy("schema.types.registry")]
ProjectRef = Annotated["Project", strawberry.lazy("schema.types.registry")]
WorkerRef = Annotated["Worker", strawberry.lazy("schema.types.registry")]
WageAccountRef = Annotated["WageAccount", strawberry.lazy("schema.types.money")]
AllocationRef = Annotated["LaborCostAllocation", strawberry.lazy("schema.types.money")]
PayrollRef = Annotated["PayrollRecord", strawberry.lazy("schema.types.money")]
DepositRef = Annotated["GuaranteeDeposit", strawberry.lazy("schema.types.money")]
ExpenseRef = Annotated["AccountExpense", strawberry.lazy("schema.types.money")]
ContractRef = Annotated["ProjectContract", strawberry.lazy("schema.types.money")]
ProgressPaymentRef = Annotated["ProgressPayment", strawberry.lazy("schema.types.money")]
OutputValueRef = Annotated["OutputValue", strawberry.lazy("schema.types.money")]
ClueRef = Annotated["Clue", strawberry.lazy("schema.types.cases")]
ChannelRecordRef = Annotated["ChannelRecord", strawberry.lazy("schema.types.cases")]
CaseActionRef = Annotated["CaseAction", strawberry.lazy("schema.types.cases")]
WarningRef = Annotated["Warning", strawberry.lazy("schema.types.cases")]
CreditRatingRef = Annotated["CreditRating", strawberry.lazy("schema.types.cases")]
RawRecordRef = Annotated["RawRecord", strawberry.lazy("schema.types.platform")]
SyncRunRef = Annotated["SyncRun", strawberry.lazy("schema.types.platform")]
PenaltyRef = Annotated["Penalty", strawberry.lazy("schema.types.credit")]
BlacklistEntryRef = Annotated["BlacklistEntry", strawberry.lazy("schema.types.credit")]
TeamRef = Annotated["Team", strawberry.lazy("schema.types.realname")]
MovementRef = Annotated["SiteMovement", strawberry.lazy("schema.types.realname")]
AttendanceRef = Annotated["Attendance", strawberry.lazy("schema.types.realname")]
AttendanceSummaryRef = Annotated["AttendanceSummary", strawberry.lazy("schema.types.realname")]
