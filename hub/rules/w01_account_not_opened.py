"""W01 专户 not opened: the general contractor opens the wage special account within 30 days of the
construction contract (保障农民工工资支付条例 第二十六条; 人社部发〔2021〕53号).

Yellow from day 20 after the contract (or, without one on record, the permit), red after day 30, until
an account is opened; completed projects are not judged. One warning per project, for the contract's month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, exists, func, select

from hub import models as m
from hub.rules.base import RED, YELLOW, Context, Query, Rule, Subject, as_date, level_case, year_month


class AccountNotOpened(Rule):
    code = "W01"
    name = "专户未按期开立"
    cite = "保障农民工工资支付条例第二十六条；人社部发〔2021〕53号（合同签订后30日内开立专户）"
    inputs = (m.Project, m.WageAccount)
    subject = Subject.PROJECT
    period = "the month of the construction contract (of the permit when no contract date is known)"
    thresholds = {"yellow_from_days": 20, "red_after_days": 30}
    cleared = "专户已开立（或项目已竣工）"
    escalates = False

    def select(self, ctx: Context) -> Query:
        p, a = m.Project, m.WageAccount
        signed = func.coalesce(p.contract_signed_on, p.permit_date)
        opened = exists().where(
            a.project_id == p.id, a.open_account_date.is_not(None), a.open_account_date <= ctx.today
        )
        return select(
            p.id.label("subject_id"),
            year_month(signed).label("period"),
            level_case((signed < ctx.today - dt.timedelta(days=ctx["red_after_days"]), RED), else_=YELLOW).label(
                "level"
            ),
            p.id.label("project_id"),
            p.contractor_id.label("enterprise_id"),
            p.region_code.label("region_code"),
            p.name.label("project"),
            signed.label("signed_on"),
        ).where(
            and_(
                p.status != "completed",
                signed.is_not(None),
                signed <= ctx.today - dt.timedelta(days=ctx["yellow_from_days"]),
                ~opened,
            )
        )

    def facts(self, row: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        facts = super().facts(row, ctx)
        facts["days"] = (ctx.today - as_date(row["signed_on"])).days
        return facts

    def describe(self, facts: Mapping[str, Any]) -> str:
        return f"{facts['project']}于{facts['signed_on']}签订施工合同，已{facts['days']}日尚未开设农民工工资专用账户（应在30日内开立）"
