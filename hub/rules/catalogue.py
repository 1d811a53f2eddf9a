"""The rules the engine evaluates, in code order. A new rule: its own module, one line here.

W01–W15 are docs/domain.md's list; W16 (wages paid to workers not on the real-name roster) is the
hub's own addition, made the way any further rule is: one module and its line below.
"""

from __future__ import annotations

from hub.rules.base import Rule
from hub.rules.w01_account_not_opened import AccountNotOpened
from hub.rules.w02_account_not_filed import AccountNotFiled
from hub.rules.w03_no_labour_cost import NoLabourCost
from hub.rules.w04_labour_cost_below_ratio import LabourCostBelowRatio
from hub.rules.w05_wages_not_paid import WagesNotPaid
from hub.rules.w06_attendance_without_pay import AttendanceWithoutPay
from hub.rules.w07_below_minimum_wage import BelowMinimumWage
from hub.rules.w08_large_payment import LargePayment
from hub.rules.w09_exit_not_settled import ExitNotSettled
from hub.rules.w10_balance_below_payroll import BalanceBelowPayroll
from hub.rules.w11_deposit_not_made import DepositNotMade
from hub.rules.w12_guarantee_expiring import GuaranteeExpiring
from hub.rules.w13_attendance_stopped import AttendanceStopped
from hub.rules.w14_output_up_wages_down import OutputUpWagesDown
from hub.rules.w15_repeated_clues import RepeatedClues
from hub.rules.w16_paid_not_on_roster import PaidNotOnRoster

__all__ = ["RULES", "rule"]

RULES: tuple[Rule, ...] = (
    AccountNotOpened(),
    AccountNotFiled(),
    NoLabourCost(),
    LabourCostBelowRatio(),
    WagesNotPaid(),
    AttendanceWithoutPay(),
    BelowMinimumWage(),
    LargePayment(),
    ExitNotSettled(),
    BalanceBelowPayroll(),
    DepositNotMade(),
    GuaranteeExpiring(),
    AttendanceStopped(),
    OutputUpWagesDown(),
    RepeatedClues(),
    PaidNotOnRoster(),
)

_BY_CODE = {r.code: r for r in RULES}
if len(_BY_CODE) != len(RULES):  # pragma: no cover - a programming error, caught at import
    raise RuntimeError("two warning rules share a code")


def rule(code: str) -> Rule:
    """The rule with ``code``; ``KeyError`` naming the known codes otherwise."""
    try:
        return _BY_CODE[code]
    except KeyError:
        raise KeyError(f"no warning rule {code!r}: the rules are {', '.join(_BY_CODE)}") from None
