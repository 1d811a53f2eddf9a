"""W03 no labour cost: the builder allocates labour cost (人工费用) into the wage special account at
least monthly (保障农民工工资支付条例 第二十四条); when it does not, the bank notifies and the case enters
the arrears warning system (第二十七条).

For each month since the account was opened and the project started, while the project is in
progress: no allocation for that month (``period_month``) by the end of the following month is a
warning for the month — yellow, red when the month before went without too. Months are judged once
the following month has ended, back ``lookback_months``. A late allocation for the month clears it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, exists, or_, select

from hub import models as m
from hub.rules.base import RED, YELLOW, Context, Query, Rule, Subject, level_case, month_table, year_month


class NoLabourCost(Rule):
    code = "W03"
    name = "人工费用未按月拨付"
    cite = "保障农民工工资支付条例第二十四条、第二十七条"
    inputs = (m.WageAccount, m.Project, m.LaborCostAllocation)
    subject = Subject.WAGE_ACCOUNT
    period = "the month the labour cost was for (YYYY-MM), judged after the following month"
    thresholds = {"lookback_months": 6}
    cleared = "该月人工费用已拨付入专户（或项目已停工、竣工）"

    def _months(self, ctx: Context) -> list[str]:
        return [ctx.month(-k) for k in range(2, 2 + int(ctx["lookback_months"]))]

    def select(self, ctx: Context) -> Query:
        a, p, lc = m.WageAccount, m.Project, m.LaborCostAllocation
        months = month_table(self._months(ctx))

        def allocated(month: Any) -> Any:
            return exists().where(lc.account_id == a.id, lc.period_month == month, lc.bill_date <= ctx.today)

        opened = year_month(a.open_account_date)
        started = year_month(p.start_date)
        prev_missing = and_(months.c.prev >= opened, or_(p.start_date.is_(None), months.c.prev >= started))
        prev_missing = and_(prev_missing, ~allocated(months.c.prev))
        return (
            select(
                a.id.label("subject_id"),
                months.c.month.label("period"),
                level_case((prev_missing, RED), else_=YELLOW).label("level"),
                a.project_id.label("project_id"),
                p.contractor_id.label("enterprise_id"),
                a.region_code.label("region_code"),
                p.name.label("project"),
            )
            .join(p, p.id == a.project_id)
            .join(months, months.c.month >= opened)
            .where(
                ctx.narrow_projects(a.project_id),
                p.status == "in_progress",
                a.status == "open",
                a.open_account_date <= ctx.today,
                or_(p.start_date.is_(None), months.c.month >= started),
                ~allocated(months.c.month),
            )
        )

    def judges(self, period: str, ctx: Context) -> bool:
        return period >= self._months(ctx)[-1]

    def facts(self, row: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        facts = super().facts(row, ctx)
        facts["month"] = row["period"]
        facts["consecutive"] = row["level"] == RED
        return facts

    def describe(self, facts: Mapping[str, Any]) -> str:
        more = "，且上月亦未拨付" if facts.get("consecutive") else ""
        return f"{facts['project']}专户未收到{facts['month']}的人工费用拨付{more}"
