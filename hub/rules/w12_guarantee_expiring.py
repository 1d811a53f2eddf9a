"""W12 guarantee letter expiring: a bank guarantee letter (保函) or guarantee insurance that replaces the
wage guarantee deposit must stay valid until the project is completed (人社部发〔2021〕65号).

An active letter of a project not completed: blue when it expires within ``blue_within_days``, red
once it has expired. A renewal (a later ``validTo``) or the project's completion clears it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from hub import models as m
from hub.rules.base import BLUE, RED, Context, Query, Rule, Subject, level_case, year_month


class GuaranteeExpiring(Rule):
    code = "W12"
    name = "工资保证金保函即将到期或已过期"
    cite = "人社部发〔2021〕65号（保函有效期应覆盖工程建设期）"
    inputs = (m.GuaranteeDeposit, m.Project)
    subject = Subject.DEPOSIT
    period = "the month the letter expires"
    thresholds = {"blue_within_days": 30}
    cleared = "保函已续期（或项目已竣工、保证金已退还）"
    escalates = False

    def select(self, ctx: Context) -> Query:
        d, p = m.GuaranteeDeposit, m.Project
        return (
            select(
                d.id.label("subject_id"),
                year_month(d.valid_to).label("period"),
                level_case((d.valid_to < ctx.today, RED), else_=BLUE).label("level"),
                d.project_id.label("project_id"),
                d.enterprise_id.label("enterprise_id"),
                d.region_code.label("region_code"),
                p.name.label("project"),
                d.guarantee_no.label("guarantee_no"),
                d.valid_to.label("valid_to"),
            )
            .join(p, p.id == d.project_id)
            .where(
                d.kind.in_(("bank_guarantee", "insurance")),
                d.status == "active",
                d.valid_to <= ctx.today + dt.timedelta(days=int(ctx["blue_within_days"])),
                p.status != "completed",
            )
        )

    def describe(self, facts: Mapping[str, Any]) -> str:
        return f"{facts['project']}工资保证金保函（{facts['guarantee_no']}）有效期至{facts['valid_to']}，项目尚未竣工"
