"""W09 a worker left the site without a settlement: when a worker leaves (退场), the wages owed are
settled at once (工资支付暂行规定 第九条: paid in full when the employment ends) and the real-name
platform records the settlement with the exit (保障农民工工资支付条例 第二十八条、第三十一条).

Per exit (``SiteMovement`` of kind ``exit``) on or before today, back ``lookback_days``: no settlement
recorded (``settled`` not true, or settled after today) more than ``grace_days`` calendar days after
the exit day — the grace is for the platform's records to arrive, not for the employer to pay, so it
is counted in calendar days — is yellow; more than ``red_after_days`` is red. The subject is the
worker's registration on the project, the period the exit day, so a worker who comes back and leaves
again is a new warning. The settlement arriving clears it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select

from hub import models as m
from hub.rules.base import RED, YELLOW, Context, Query, Rule, Subject, as_date, level_case
from hub.vocab import MovementKind


class ExitNotSettled(Rule):
    code = "W09"
    name = "工人退场未结算工资"
    cite = "保障农民工工资支付条例第二十八条、第三十一条；工资支付暂行规定第九条（退场时结清工资）"
    inputs = (m.SiteMovement, m.Worker, m.Project)
    subject = Subject.WORKER
    period = "the exit day (YYYY-MM-DD)"
    thresholds = {"grace_days": 3, "red_after_days": 30, "lookback_days": 180}
    cleared = "退场工资结算记录已补录"

    def select(self, ctx: Context) -> Query:
        mv, w, p = m.SiteMovement, m.Worker, m.Project
        settled = mv.settled.is_(True) & or_(mv.settlement_date.is_(None), mv.settlement_date <= ctx.today)
        return (
            select(
                mv.worker_id.label("subject_id"),
                mv.moved_on.label("period"),
                level_case(
                    (mv.moved_on < ctx.today - dt.timedelta(days=int(ctx["red_after_days"])), RED), else_=YELLOW
                ).label("level"),
                mv.project_id.label("project_id"),
                mv.enterprise_id.label("enterprise_id"),
                mv.region_code.label("region_code"),
                p.name.label("project"),
                w.name.label("worker"),
                mv.moved_on.label("exit_day"),
            )
            .join(w, w.id == mv.worker_id)
            .join(p, p.id == mv.project_id)
            .where(
                mv.kind == MovementKind.EXIT.value,
                mv.moved_on < ctx.today - dt.timedelta(days=int(ctx["grace_days"])),
                mv.moved_on >= ctx.today - dt.timedelta(days=int(ctx["lookback_days"])),
                ~settled,
                ctx.narrow_projects(mv.project_id, mv.enterprise_id),
            )
        )

    def judges(self, period: str, ctx: Context) -> bool:
        return dt.date.fromisoformat(period) >= ctx.today - dt.timedelta(days=int(ctx["lookback_days"]))

    def facts(self, row: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        facts = super().facts(row, ctx)
        facts["days"] = (ctx.today - as_date(row["exit_day"])).days
        return facts

    def describe(self, facts: Mapping[str, Any]) -> str:
        return f"工人{facts['worker']}于{facts['exit_day']}退出{facts['project']}，已{facts['days']}日无工资结算记录"
