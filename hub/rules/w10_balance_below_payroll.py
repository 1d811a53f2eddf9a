"""W10 专户 balance below a month's payroll: while a project is in progress, the wage special account
must hold enough to pay the month's wages when they fall due (保障农民工工资支付条例 第二十六条; the
test is our proposal).

The yardstick is the wage sheet of the last month whose wages are due: the month before the one
``grace_days`` ago (labour cost for a month arrives early in the next, wages are paid mid-month).
When the balance cannot pay what is still unpaid of that sheet (at most the month's payroll): yellow,
red below ``red_share`` of it. A top-up or the wages paid clears it. An account drained right after
payday is not a warning: nothing of the month is owed any more.

The balance is the account's current one (no history): the rule judges today only (``dated`` false).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import case, func, literal, select

from hub import models as m
from hub.rules.base import RED, YELLOW, Context, Query, Rule, Subject, level_case, month_of
from hub.rules.w05_wages_not_paid import unpaid_condition


class BalanceBelowPayroll(Rule):
    code = "W10"
    name = "专户余额不足一个月工资"
    cite = "保障农民工工资支付条例第二十六条（专户专项用于支付农民工工资）"
    inputs = (m.WageAccount, m.PayrollRecord, m.Project)
    subject = Subject.WAGE_ACCOUNT
    period = "the pay month of the wage sheet it is measured against (YYYY-MM)"
    thresholds = {"grace_days": 10, "red_share": 0.5}
    cleared = "专户余额已足以支付当月工资，或该月工资已发放"
    dated = False

    def month(self, ctx: Context) -> str:
        """The pay month whose wages are due on ``ctx.today``."""
        return month_of(ctx.today - dt.timedelta(days=int(ctx["grace_days"])), -1)

    def select(self, ctx: Context) -> Query:
        pr, a, p = m.PayrollRecord, m.WageAccount, m.Project
        unpaid = unpaid_condition(ctx.today)
        sheet = (
            select(
                pr.project_id.label("project_id"),
                func.sum(pr.actual_amount).label("payroll"),
                func.sum(case((unpaid, pr.actual_amount), else_=0)).label("unpaid"),
            )
            .where(pr.pay_month == self.month(ctx), ctx.narrow_projects(pr.project_id))
            .group_by(pr.project_id)
            .subquery("sheet")
        )
        return (
            select(
                a.id.label("subject_id"),
                literal(self.month(ctx)).label("period"),
                level_case((a.account_balance < sheet.c.unpaid * ctx["red_share"], RED), else_=YELLOW).label("level"),
                a.project_id.label("project_id"),
                p.contractor_id.label("enterprise_id"),
                a.region_code.label("region_code"),
                p.name.label("project"),
                a.account_balance.label("balance"),
                sheet.c.payroll.label("payroll"),
                sheet.c.unpaid.label("unpaid"),
            )
            .join(p, p.id == a.project_id)
            .join(sheet, sheet.c.project_id == a.project_id)
            .where(
                p.status == "in_progress",
                a.status == "open",
                a.account_balance < sheet.c.unpaid,
            )
        )

    def facts(self, row: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        return {**super().facts(row, ctx), "month": row["period"]}

    def describe(self, facts: Mapping[str, Any]) -> str:
        return (
            f"{facts['project']}专户余额{facts['balance']:.2f}元，不足以发放{facts['month']}尚未发放的工资"
            f"{facts['unpaid']:.2f}元（当月工资共{facts['payroll']:.2f}元）"
        )
