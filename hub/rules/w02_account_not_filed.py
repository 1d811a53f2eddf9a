"""W02 专户 not filed: an opened wage special account is filed (备案) with the labour department
within 30 days of opening (人社部发〔2021〕53号).

Yellow from day 20 after opening (our proposal, as for W01), red after day 30, until it is filed;
closed accounts are not judged. One warning per account, for the month it was opened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select

from hub import models as m
from hub.rules.base import RED, YELLOW, Context, Query, Rule, Subject, as_date, level_case, year_month


class AccountNotFiled(Rule):
    code = "W02"
    name = "专户未按期备案"
    cite = "人社部发〔2021〕53号（专户开立后30日内备案）"
    inputs = (m.Project, m.WageAccount)
    subject = Subject.WAGE_ACCOUNT
    period = "the month the account was opened"
    thresholds = {"yellow_from_days": 20, "red_after_days": 30}
    cleared = "专户已备案（或已销户）"
    escalates = False

    def select(self, ctx: Context) -> Query:
        a, p = m.WageAccount, m.Project
        return (
            select(
                a.id.label("subject_id"),
                year_month(a.open_account_date).label("period"),
                level_case(
                    (a.open_account_date < ctx.today - dt.timedelta(days=ctx["red_after_days"]), RED), else_=YELLOW
                ).label("level"),
                a.project_id.label("project_id"),
                a.enterprise_id.label("enterprise_id"),
                a.region_code.label("region_code"),
                p.name.label("project"),
                a.salary_account.label("account"),
                a.open_account_date.label("opened_on"),
            )
            .join(p, p.id == a.project_id)
            .where(
                a.status != "closed",
                a.open_account_date <= ctx.today - dt.timedelta(days=ctx["yellow_from_days"]),
                or_(a.filed_date.is_(None), a.filed_date > ctx.today),
            )
        )

    def facts(self, row: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        facts = super().facts(row, ctx)
        facts["days"] = (ctx.today - as_date(row["opened_on"])).days
        return facts

    def describe(self, facts: Mapping[str, Any]) -> str:
        return f"{facts['project']}专户（{facts['account']}）于{facts['opened_on']}开立，已{facts['days']}日尚未备案（应在30日内备案）"
