"""W16 wages paid to workers not on the real-name roster (代发工资给未实名登记人员): nobody works on site
without a labour contract and real-name registration (保障农民工工资支付条例 第二十八条), and the 专户
pays only the project's workers (第三十一条). A worker the bank paid but the real-name platform does
not list (``Worker.on_roster`` false: first seen in a pay detail) is either real-name management not
practised or pay to someone who never worked there (wages cashed out).

Per project and pay month, back ``lookback_months``: the pay records paid (``payStatus`` 20, paid on or
before today) to workers not on the roster, once ``grace_days`` have passed since the earliest of those
payments (the roster may sync after the bank) — yellow; still not on the roster ``red_after_days``
after it — red (no longer a sync lag). The roster listing them clears it.

``on_roster`` is the roster's current state (no history): the rule judges today only (``dated`` false).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from hub import models as m
from hub.rules.base import RED, YELLOW, Context, Query, Rule, Subject, level_case
from hub.rules.w05_wages_not_paid import PAID


class PaidNotOnRoster(Rule):
    code = "W16"
    name = "代发工资给未实名登记人员"
    cite = "保障农民工工资支付条例第二十八条（实名制管理）、第三十一条（专户代发至本人账户）"
    inputs = (m.PayrollRecord, m.Worker, m.Project)
    subject = Subject.PROJECT
    period = "the pay month (YYYY-MM)"
    thresholds = {"grace_days": 7, "red_after_days": 30, "lookback_months": 6}
    cleared = "受领工资人员已列入实名制花名册"
    dated = False

    def _first(self, ctx: Context) -> str:
        return ctx.month(-int(ctx["lookback_months"]))

    def select(self, ctx: Context) -> Query:
        pr, w, p = m.PayrollRecord, m.Worker, m.Project
        unlisted = (
            select(
                pr.project_id.label("project_id"),
                pr.pay_month.label("month"),
                func.count(func.distinct(pr.worker_id)).label("workers"),
                func.sum(pr.actual_amount).label("amount"),
                func.min(pr.balance_date).label("first_paid"),
            )
            .join(w, w.id == pr.worker_id)
            .where(
                w.on_roster.is_(False),
                pr.pay_status == PAID,
                pr.balance_date <= ctx.today,
                pr.pay_month >= self._first(ctx),
                ctx.narrow_projects(pr.project_id),
            )
            .group_by(pr.project_id, pr.pay_month)
            .subquery("unlisted")
        )
        first_paid = unlisted.c.first_paid
        return (
            select(
                p.id.label("subject_id"),
                unlisted.c.month.label("period"),
                level_case(
                    (first_paid < ctx.today - dt.timedelta(days=int(ctx["red_after_days"])), RED), else_=YELLOW
                ).label("level"),
                p.id.label("project_id"),
                p.contractor_id.label("enterprise_id"),
                p.region_code.label("region_code"),
                p.name.label("project"),
                unlisted.c.workers.label("workers"),
                unlisted.c.amount.label("amount"),
                first_paid.label("first_paid"),
            )
            .join(p, p.id == unlisted.c.project_id)
            .where(first_paid < ctx.today - dt.timedelta(days=int(ctx["grace_days"])))
        )

    def judges(self, period: str, ctx: Context) -> bool:
        return period >= self._first(ctx)

    def facts(self, row: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        return {**super().facts(row, ctx), "month": row["period"]}

    def describe(self, facts: Mapping[str, Any]) -> str:
        return (
            f"{facts['project']}{facts['month']}经专户代发工资给{facts['workers']}名未实名登记人员，"
            f"金额{facts['amount']:.2f}元（首笔发放于{facts['first_paid']}）"
        )
