"""W07 pay below the minimum wage: the average net pay (实发) on a project's wage sheet for a month is
below the local monthly minimum wage (最低工资规定, 劳动和社会保障部令第21号; 保障农民工工资支付条例
第十二条, pay in full).

Per project and pay month, back ``lookback_months`` (last month included): red. ``minimum_wage`` is the
local 月最低工资标准 (default ¥1,890; set it for the province). A corrected sheet clears it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from hub import models as m
from hub.rules.base import RED, Context, Query, Rule, Subject, literal_level


class BelowMinimumWage(Rule):
    code = "W07"
    name = "工资册人均实发低于最低工资"
    cite = "最低工资规定（劳动和社会保障部令第21号）；保障农民工工资支付条例第十二条"
    inputs = (m.PayrollRecord, m.Project)
    subject = Subject.PROJECT
    period = "the pay month of the wage sheet (YYYY-MM)"
    thresholds = {"minimum_wage": 1890, "lookback_months": 6}
    cleared = "工资册人均实发已不低于最低工资标准"

    def _first(self, ctx: Context) -> str:
        return ctx.month(-int(ctx["lookback_months"]))

    def select(self, ctx: Context) -> Query:
        pr, p = m.PayrollRecord, m.Project
        sheet = (
            select(
                pr.project_id.label("project_id"),
                pr.pay_month.label("month"),
                func.avg(pr.actual_amount).label("average"),
                func.count().label("workers"),
            )
            .where(pr.pay_month >= self._first(ctx), pr.pay_month <= ctx.month(-1), ctx.narrow_projects(pr.project_id))
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
                sheet.c.average.label("average"),
                sheet.c.workers.label("workers"),
            )
            .join(p, p.id == sheet.c.project_id)
            .where(sheet.c.average < ctx["minimum_wage"])
        )

    def judges(self, period: str, ctx: Context) -> bool:
        return period >= self._first(ctx)

    def facts(self, row: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        return {**super().facts(row, ctx), "month": row["period"], "minimum_wage": ctx["minimum_wage"]}

    def describe(self, facts: Mapping[str, Any]) -> str:
        return (
            f"{facts['project']}{facts['month']}工资册{facts['workers']}人人均实发{facts['average']:.2f}元，"
            f"低于最低工资标准{facts['minimum_wage']:.0f}元"
        )
