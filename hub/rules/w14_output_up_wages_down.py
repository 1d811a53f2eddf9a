"""W14 output value up while wages paid go down: a project whose monthly output value (工程量产值) grows
while the wages it pays fall is doing more work with less pay — the labour cost is not reaching the
workers (保障农民工工资支付条例 第二十四条: labour cost follows the progress of the works; 第三十一条:
wages paid monthly through the 专户). The ratios are our proposal.

Per project and month ``M``, judged once the following month has ended (as W05: wages for a month are
paid by the end of the next, so a month's wages paid are known only then), back ``lookback_months``,
against the month before: output value up by ``output_growth`` or more
(default +20 %) while the wages paid for the month (``payStatus`` 20 已发放, paid on or before today)
fell by ``wage_fall`` or more (default −20 %) is yellow; up by ``red_output_growth`` (+50 %) while
falling by ``red_wage_fall`` (−50 %) is red. Only months whose output and the month before's are both
reported, with wages paid the month before, are compared. The wages paid (or a corrected output
value) clear it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, func, or_, select

from hub import models as m
from hub.rules.base import (
    RED,
    YELLOW,
    Context,
    Query,
    Rule,
    Subject,
    first_day,
    level_case,
    month_of,
    month_table,
    months_before,
)
from hub.rules.w05_wages_not_paid import PAID


class OutputUpWagesDown(Rule):
    code = "W14"
    name = "产值增长而工资发放下降"
    cite = "保障农民工工资支付条例第二十四条、第三十一条（人工费用随工程进度拨付、按月发放）"
    inputs = (m.OutputValue, m.PayrollRecord, m.Project)
    subject = Subject.PROJECT
    period = "the month compared with the month before (YYYY-MM)"
    thresholds = {
        "lookback_months": 6,
        "output_growth": 0.20,
        "wage_fall": 0.20,
        "red_output_growth": 0.50,
        "red_wage_fall": 0.50,
    }
    cleared = "当月工资已足额发放（或产值已更正），不再背离"

    def _months(self, ctx: Context) -> list[str]:
        """The months judged on ``ctx.today``, oldest first."""
        last, first = ctx.month(-2), ctx.month(-1 - int(ctx["lookback_months"]))
        months = [first]
        while months[-1] < last:
            months.append(month_of(first_day(months[-1]), 1))
        return months

    def select(self, ctx: Context) -> Query:
        ov, pr, p = m.OutputValue, m.PayrollRecord, m.Project
        judged = self._months(ctx)
        months = month_table(judged)
        since = months_before(judged[0], 1)  # the month before the first judged one is compared with
        output = (
            select(ov.project_id.label("project_id"), ov.month.label("month"), ov.amount.label("amount"))
            .where(ov.month >= since, ctx.narrow_projects(ov.project_id))
            .where(or_(ov.reported_on.is_(None), ov.reported_on <= ctx.today))
            .cte("output")
        )
        paid = (
            select(
                pr.project_id.label("project_id"),
                pr.pay_month.label("month"),
                func.sum(pr.actual_amount).label("amount"),
            )
            .where(
                pr.pay_month >= since,
                pr.pay_status == PAID,
                pr.balance_date <= ctx.today,
                ctx.narrow_projects(pr.project_id),
            )
            .group_by(pr.project_id, pr.pay_month)
            .cte("paid")
        )
        # Common table expressions, each read twice (this month and the one before): PostgreSQL sums
        # the month's payroll once, not once per alias.
        now_out, before_out = output.alias("now_out"), output.alias("before_out")
        now_paid, before_paid = paid.alias("now_paid"), paid.alias("before_paid")
        wages = func.coalesce(now_paid.c.amount, 0)

        def diverges(growth: float, fall: float) -> Any:
            return and_(
                now_out.c.amount >= before_out.c.amount * (1 + growth),
                wages <= before_paid.c.amount * (1 - fall),
            )

        return (
            select(
                p.id.label("subject_id"),
                months.c.month.label("period"),
                level_case((diverges(ctx["red_output_growth"], ctx["red_wage_fall"]), RED), else_=YELLOW).label(
                    "level"
                ),
                p.id.label("project_id"),
                p.contractor_id.label("enterprise_id"),
                p.region_code.label("region_code"),
                p.name.label("project"),
                now_out.c.amount.label("output"),
                before_out.c.amount.label("output_before"),
                wages.label("wages"),
                before_paid.c.amount.label("wages_before"),
            )
            .select_from(now_out)
            .join(months, months.c.month == now_out.c.month)
            .join(
                before_out, and_(before_out.c.project_id == now_out.c.project_id, before_out.c.month == months.c.prev)
            )
            .join(
                before_paid,
                and_(before_paid.c.project_id == now_out.c.project_id, before_paid.c.month == months.c.prev),
            )
            .outerjoin(
                now_paid, and_(now_paid.c.project_id == now_out.c.project_id, now_paid.c.month == months.c.month)
            )
            .join(p, p.id == now_out.c.project_id)
            .where(before_out.c.amount > 0, before_paid.c.amount > 0, diverges(ctx["output_growth"], ctx["wage_fall"]))
        )

    def judges(self, period: str, ctx: Context) -> bool:
        return period >= self._months(ctx)[0]

    def facts(self, row: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        facts = super().facts(row, ctx)
        facts["month"] = row["period"]
        facts["output_growth"] = round(float(row["output"]) / float(row["output_before"]) - 1, 4)
        facts["wage_change"] = round(float(row["wages"]) / float(row["wages_before"]) - 1, 4)
        return facts

    def describe(self, facts: Mapping[str, Any]) -> str:
        return (
            f"{facts['project']}{facts['month']}产值{facts['output']:.2f}元，较上月增长{facts['output_growth']:.1%}；"
            f"当月已发工资{facts['wages']:.2f}元，较上月下降{-facts['wage_change']:.1%}"
        )
