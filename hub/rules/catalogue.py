"""The rules the engine evaluates, in code order. A new rule: its own module, one line here.

Rules 6 (workers with attendance but no pay), 9 (left the site without a settlement), 13 (no
attendance while the permit says in progress) and 14 (output value up while wages fall) need the
real-name attendance and output-value data that the ``realname`` connector brings; they are not here yet.
"""

from __future__ import annotations

from hub.rules.base import Rule
from hub.rules.w01_account_not_opened import AccountNotOpened
from hub.rules.w02_account_not_filed import AccountNotFiled
from hub.rules.w03_no_labour_cost import NoLabourCost
from hub.rules.w04_labour_cost_below_ratio import LabourCostBelowRatio
from hub.rules.w05_wages_not_paid import WagesNotPaid
from hub.rules.w07_below_minimum_wage import BelowMinimumWage
from hub.rules.w08_large_payment import LargePayment
from hub.rules.w10_balance_below_payroll import BalanceBelowPayroll
from hub.rules.w11_deposit_not_made import DepositNotMade
from hub.rules.w12_guarantee_expiring import GuaranteeExpiring
from hub.rules.w15_repeated_clues import RepeatedClues

__all__ = ["RULES", "rule"]

RULES: tuple[Rule, ...] = (
    AccountNotOpened(),
    AccountNotFiled(),
    NoLabourCost(),
    LabourCostBelowRatio(),
    WagesNotPaid(),
    BelowMinimumWage(),
    LargePayment(),
    BalanceBelowPayroll(),
    DepositNotMade(),
    GuaranteeExpiring(),
    RepeatedClues(),
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
