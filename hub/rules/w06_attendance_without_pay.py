"""W06 workers with attendance but no pay record: the wage sheet (工资册) lists every worker who worked
in the month, with the days the attendance shows (保障农民工工资支付条例 第三十一条: the wage sheet is
drawn up from the real-name attendance; 第二十八条: nobody works on site without real-name registration).

Per project and month, once the month's wage sheet is due (the month before the one ``grace_days``
ago: wages for a month are paid in the next), back ``lookback_months``: the workers with attendance in
the month and no pay record of the project for that month. "No pay record" means no payroll row at
all, whatever its ``payStatus``: a row that is unpaid (0), failed (30) or being re-issued (40) puts the
worker on the sheet with what is owed, and W05 watches that it gets paid. What an inspector looks for
here is the worker left off the sheet (考勤与工资册不一致), whose wages no later payment would show.

Any such worker is yellow; more than ``red_share`` of the month's workers with attendance is red. The
pay record arriving clears it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import case, func, select

from hub import models as m
from hub.rules.base import RED, YELLOW, Context, Query, Rule, Subject, first_day, level_case, month_of, year_month


class AttendanceWithoutPay(Rule):
    code = "W06"
    name = "有考勤无工资发放记录"
    cite = "保障农民工工资支付条例第二十八条、第三十一条（依考勤编制工资支付表）"
    inputs = (m.Attendance, m.PayrollRecord, m.Project)
    subject = Subject.PROJECT
    period = "the month of the attendance (YYYY-MM), judged once its wage sheet is due"
    thresholds = {"grace_days": 15, "lookback_months": 6, "red_share": 0.10}
    cleared = "有考勤的工人均已列入当月工资发放记录"

    def _months(self, ctx: Context) -> tuple[str, str]:
        """The first and the last month judged on ``ctx.today``."""
        last = month_of(ctx.today - dt.timedelta(days=int(ctx["grace_days"])), -1)
        return ctx.month(-int(ctx["lookback_months"])), last

    def select(self, ctx: Context) -> Query:
        a, pr, p = m.Attendance, m.PayrollRecord, m.Project
        first, last = self._months(ctx)
        month = year_month(a.day)
        worked = (
            select(a.project_id.label("project_id"), a.worker_id.label("worker_id"), month.label("month"))
            .where(
                a.day >= first_day(first),
                a.day < first_day(month_of(first_day(last), 1)),
                a.day <= ctx.today,
                ctx.narrow_projects(a.project_id),
            )
            .distinct()
            .subquery("worked")
        )
        # Whether the worker is on the project's sheet for the month: one probe of the payroll index
        # (worker, month) per worker-month with attendance, not a scan of six months of payroll.
        on_sheet = (
            select(pr.id)
            .where(
                pr.project_id == worked.c.project_id,
                pr.worker_id == worked.c.worker_id,
                pr.pay_month == worked.c.month,
            )
            .exists()
        )
        per_month = (
            select(
                worked.c.project_id.label("project_id"),
                worked.c.month.label("month"),
                func.count().label("workers"),
                func.sum(case((~on_sheet, 1), else_=0)).label("without_pay"),
            )
            .group_by(worked.c.project_id, worked.c.month)
            .subquery("per_month")
        )
        without, workers = per_month.c.without_pay, per_month.c.workers
        return (
            select(
                p.id.label("subject_id"),
                per_month.c.month.label("period"),
                level_case((without > workers * ctx["red_share"], RED), else_=YELLOW).label("level"),
                p.id.label("project_id"),
                p.contractor_id.label("enterprise_id"),
                p.region_code.label("region_code"),
                p.name.label("project"),
                without.label("without_pay"),
                workers.label("workers"),
            )
            .join(p, p.id == per_month.c.project_id)
            .where(without > 0)
        )

    def judges(self, period: str, ctx: Context) -> bool:
        return period >= self._months(ctx)[0]

    def facts(self, row: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        facts = super().facts(row, ctx)
        facts["month"] = row["period"]
        facts["share"] = round(int(row["without_pay"]) / int(row["workers"]), 4)
        return facts

    def describe(self, facts: Mapping[str, Any]) -> str:
        return (
            f"{facts['project']}{facts['month']}有考勤的{facts['workers']}名工人中，"
            f"{facts['without_pay']}人（{facts['share']:.1%}）无当月工资发放记录"
        )
