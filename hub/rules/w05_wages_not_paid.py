"""W05 wages not paid through the 专户: a month's wages are paid in full, monthly, by the general
contractor on the subcontractors' behalf (代发), from the wage special account to the worker's own card
(保障农民工工资支付条例 第十二条、第三十一条).

Per project and pay month, judged once the following month has ended, back ``lookback_months``: any
pay record of the month not paid (``payStatus`` other than 20 已发放, or paid after today) or paid
other than through the account is red. Paying them (through the account) clears it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import case, func, or_, select

from hub import models as m
from hub.rules.base import RED, Context, Query, Rule, Subject, literal_level

#: ``payStatus`` 20: 已发放 (paid).
PAID = 20


def unpaid_condition(today: Any) -> Any:
    """A pay record not (yet, on ``today``) paid through the account."""
    pr = m.PayrollRecord
    return or_(
        pr.pay_status != PAID,
        pr.account_id.is_(None),
        pr.balance_date.is_(None),
        pr.balance_date > today,
    )


class WagesNotPaid(Rule):
    code = "W05"
    name = "工资未按月通过专户发放"
    cite = "保障农民工工资支付条例第十二条、第三十一条（按月足额、专户代发）"
    inputs = (m.PayrollRecord, m.Project)
    subject = Subject.PROJECT
    period = "the pay month (YYYY-MM), judged after the end of the following month"
    thresholds = {"lookback_months": 6}
    cleared = "该月工资已全部通过专户发放"

    def _months(self, ctx: Context) -> tuple[str, str]:
        return ctx.month(-1 - int(ctx["lookback_months"])), ctx.month(-2)

    def select(self, ctx: Context) -> Query:
        pr, p = m.PayrollRecord, m.Project
        first, last = self._months(ctx)
        unpaid = unpaid_condition(ctx.today)
        sheet = (
            select(
                pr.project_id.label("project_id"),
                pr.pay_month.label("month"),
                func.sum(case((unpaid, 1), else_=0)).label("unpaid_workers"),
                func.sum(case((unpaid, pr.actual_amount), else_=0)).label("unpaid_amount"),
                func.count().label("workers"),
            )
            .where(pr.pay_month >= first, pr.pay_month <= last, ctx.narrow_projects(pr.project_id))
            .group_by(pr.project_id, pr.pay_month)
            .subquery("sheet")
        )
        return (
            select(
                p.id.label("subject_id"),
                sheet.c.month.label("period"),
                literal_level(RED).label("level"),
                p.id.label("project_id"),
                p.contractor_id.label("enterprise_id"),
                p.region_code.label("region_code"),
                p.name.label("project"),
                sheet.c.unpaid_workers.label("unpaid_workers"),
                sheet.c.unpaid_amount.label("unpaid_amount"),
                sheet.c.workers.label("workers"),
            )
            .join(p, p.id == sheet.c.project_id)
            .where(sheet.c.unpaid_workers > 0)
        )

    def judges(self, period: str, ctx: Context) -> bool:
        return period >= self._months(ctx)[0]

    def facts(self, row: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        return {**super().facts(row, ctx), "month": row["period"]}

    def describe(self, facts: Mapping[str, Any]) -> str:
        return (
            f"{facts['project']}{facts['month']}工资至次月底仍有{facts['unpaid_workers']}人"
            f"（共{facts['workers']}人）未通过专户发放，金额{facts['unpaid_amount']:.2f}元"
        )
