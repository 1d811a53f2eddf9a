"""W04 labour cost below the agreed share: the labour cost allocated with a progress payment must be at
least the share of it the contract agrees (保障农民工工资支付条例 第二十四条; the bank notifies, 第二十七条).

Per account and month of the bills (``bill_date``), back ``lookback_months``: the sum of the month's
allocations (top-ups without a progress payment included) below ``ratio × the progress payments they
came with × (1 − tolerance)`` is yellow, below ``red_share`` of what was
agreed it is red. A top-up within the month clears it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from hub import models as m
from hub.rules.base import RED, YELLOW, Context, Query, Rule, Subject, first_day, level_case, year_month


class LabourCostBelowRatio(Rule):
    code = "W04"
    name = "人工费用拨付低于约定比例"
    cite = "保障农民工工资支付条例第二十四条、第二十七条（按约定比例拨付人工费用）"
    inputs = (m.LaborCostAllocation, m.WageAccount, m.Project)
    subject = Subject.WAGE_ACCOUNT
    period = "the month of the bills (YYYY-MM)"
    thresholds = {"lookback_months": 6, "tolerance": 0.005, "red_share": 0.5}
    cleared = "当月人工费用已补足至约定比例"

    def select(self, ctx: Context) -> Query:
        lc, a, p = m.LaborCostAllocation, m.WageAccount, m.Project
        month = year_month(lc.bill_date)
        bills = (
            select(
                lc.account_id.label("account_id"),
                month.label("month"),
                func.sum(lc.amount).label("allocated"),
                func.sum(lc.progress_payment).label("progress"),
            )
            .where(
                ctx.narrow_projects(lc.project_id),
                lc.bill_date <= ctx.today,
                lc.bill_date >= first_day(ctx.month(-int(ctx["lookback_months"]))),
            )
            .group_by(lc.account_id, month)
            .subquery("bills")
        )
        agreed = p.labour_cost_ratio * bills.c.progress
        return (
            select(
                a.id.label("subject_id"),
                bills.c.month.label("period"),
                level_case((bills.c.allocated < agreed * ctx["red_share"], RED), else_=YELLOW).label("level"),
                a.project_id.label("project_id"),
                p.contractor_id.label("enterprise_id"),
                a.region_code.label("region_code"),
                p.name.label("project"),
                bills.c.allocated.label("allocated"),
                bills.c.progress.label("progress"),
                p.labour_cost_ratio.label("ratio"),
            )
            .join(a, a.id == bills.c.account_id)
            .join(p, p.id == a.project_id)
            .where(
                p.labour_cost_ratio.is_not(None),
                bills.c.progress > 0,
                bills.c.allocated < agreed * (1 - ctx["tolerance"]),
            )
        )

    def judges(self, period: str, ctx: Context) -> bool:
        return period >= ctx.month(-int(ctx["lookback_months"]))

    def facts(self, row: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        facts = super().facts(row, ctx)
        progress = float(row["progress"] or 0)
        facts["month"] = row["period"]
        facts["share"] = round(float(row["allocated"]) / progress, 4) if progress else None
        return facts

    def describe(self, facts: Mapping[str, Any]) -> str:
        share = f"{facts['share']:.1%}" if facts.get("share") is not None else "—"
        return (
            f"{facts['project']}{facts['month']}拨付人工费用{facts['allocated']:.2f}元，"
            f"占工程进度款{facts['progress']:.2f}元的{share}，低于约定的{float(facts['ratio']):.1%}"
        )
