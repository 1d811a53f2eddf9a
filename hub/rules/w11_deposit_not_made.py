"""W11 wage guarantee deposit not made: the general contractor deposits the 工资保证金 (or replaces it
with a bank guarantee letter / insurance) within 20 working days of signing the construction contract
(人社部发〔2021〕65号, 工资保证金管理暂行办法).

A project not completed, whose contract is more than ``working_days`` working days old (the official
holiday calendar), with no deposit made by today and no exemption on record: red. The deposit clears it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, exists, or_, select

from hub import models as m
from hub.rules.base import RED, Context, Query, Rule, Subject, literal_level, year_month
from hub.workdays import add_working_days


def latest_late_contract(today: dt.date, working_days: int) -> dt.date:
    """The last contract day whose deadline (``working_days`` working days after it) is before ``today``."""
    day = today - dt.timedelta(days=working_days)
    while add_working_days(day, working_days) >= today:
        day -= dt.timedelta(days=1)
    return day


class DepositNotMade(Rule):
    code = "W11"
    name = "工资保证金未按期存储"
    cite = "人社部发〔2021〕65号（合同签订后20个工作日内存储工资保证金）"
    inputs = (m.Project, m.GuaranteeDeposit)
    subject = Subject.PROJECT
    period = "the month of the construction contract"
    thresholds = {"working_days": 20}
    cleared = "工资保证金已存储（或以保函替代、依规豁免）"
    escalates = False

    def select(self, ctx: Context) -> Query:
        p, d = m.Project, m.GuaranteeDeposit
        made = exists().where(
            d.project_id == p.id,
            or_(d.status == "exempt", and_(d.deposited_on.is_not(None), d.deposited_on <= ctx.today)),
        )
        return select(
            p.id.label("subject_id"),
            year_month(p.contract_signed_on).label("period"),
            literal_level(RED).label("level"),
            p.id.label("project_id"),
            p.contractor_id.label("enterprise_id"),
            p.region_code.label("region_code"),
            p.name.label("project"),
            p.contract_signed_on.label("signed_on"),
        ).where(
            p.status != "completed",
            p.contract_signed_on <= latest_late_contract(ctx.today, int(ctx["working_days"])),
            ~made,
        )

    def describe(self, facts: Mapping[str, Any]) -> str:
        return f"{facts['project']}于{facts['signed_on']}签订施工合同，20个工作日内未存储工资保证金"
