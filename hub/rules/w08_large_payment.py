"""W08 one worker paid too much: more than ¥50,000 in a month or ¥300,000 in a year to one person
(by ID number, across projects) is a sign of wages cashed out through workers' cards — the 专户 pays
only the project's workers' own wages (保障农民工工资支付条例 第三十一条; the limits are our proposal).

Per person and pay month, back ``lookback_months``, and per person and year (this year and last): red.
The warning's subject is the person's first registration (``workers.id``). A corrected pay record clears it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, literal, select, true, union, union_all
from sqlalchemy.orm import aliased

from hub import models as m
from hub.rules.base import RED, Context, Query, Rule, Subject, literal_level


class LargePayment(Rule):
    code = "W08"
    name = "单人工资发放异常偏高"
    cite = "保障农民工工资支付条例第三十一条（专户工资直接支付至农民工本人账户）"
    by_person = True
    inputs = (m.PayrollRecord, m.Worker)
    subject = Subject.WORKER
    period = "the pay month (YYYY-MM) or the year (YYYY)"
    thresholds = {"month_limit": 50_000, "year_limit": 300_000, "lookback_months": 6}
    cleared = "发放记录更正后，单人金额已不超过限额"

    def _first(self, ctx: Context) -> str:
        return ctx.month(-int(ctx["lookback_months"]))

    def select(self, ctx: Context) -> Query:
        pr, w = m.PayrollRecord, m.Worker
        year = func.substr(pr.pay_month, 1, 4)
        # An incremental run: only the people paid on the scope's projects or by its enterprises (all of
        # their pay, wherever it was paid, since the limits are per person).
        people: Any = true()
        if ctx.scope_people is not None:
            people = w.id_number_hash.in_(sorted(ctx.scope_people))
        elif ctx.scope_projects is not None:
            pr2, w2 = aliased(m.PayrollRecord), aliased(m.Worker)

            def paid(where: Any) -> Query:
                return select(w2.id_number_hash).join(pr2, pr2.worker_id == w2.id).where(where)

            # Two index lookups (by project, by enterprise) rather than one OR, which reads all payroll.
            paid_here = paid(ctx.narrow_projects(pr2.project_id))
            if ctx.scope_enterprises:
                paid_here = union(paid_here, paid(ctx.narrow_enterprises(pr2.enterprise_id)))  # type: ignore[assignment]
            people = w.id_number_hash.in_(paid_here)

        def by(period: Any, limit: float, kind: str, *where: Any) -> Query:
            return (
                select(
                    func.min(w.id).label("subject_id"),
                    period.label("period"),
                    literal_level(RED).label("level"),
                    func.min(pr.project_id).label("project_id"),
                    func.min(pr.enterprise_id).label("enterprise_id"),
                    func.min(pr.region_code).label("region_code"),
                    func.min(w.name).label("worker"),
                    func.sum(pr.actual_amount).label("amount"),
                    literal(limit).label("limit"),
                    literal(kind).label("kind"),
                )
                .join(w, w.id == pr.worker_id)
                .where(people, *where)
                .group_by(w.id_number_hash, period)
                .having(func.sum(pr.actual_amount) > limit)
            )

        monthly = by(
            pr.pay_month, ctx["month_limit"], "month", pr.pay_month >= self._first(ctx), pr.pay_month <= ctx.month()
        )
        yearly = by(year, ctx["year_limit"], "year", pr.pay_month >= f"{ctx.today.year - 1}-01")
        both = union_all(monthly, yearly).subquery("paid")
        return select(*both.c)

    def judges(self, period: str, ctx: Context) -> bool:
        if len(period) == 4:
            return int(period) >= ctx.today.year - 1
        return period >= self._first(ctx)

    def facts(self, row: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        return {**super().facts(row, ctx), "period": row["period"]}

    def describe(self, facts: Mapping[str, Any]) -> str:
        span = "月" if facts["kind"] == "month" else "年"
        return (
            f"工人{facts['worker']}{facts['period']}获发工资{facts['amount']:.2f}元，"
            f"超过单人每{span}{facts['limit']:.0f}元的限额（疑似套取）"
        )
