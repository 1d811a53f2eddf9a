"""W13 no attendance while the permit says in progress: a project whose workers stop clocking in for
``yellow_from_days`` days while the permit / project system still has it in progress (施工中) has
stopped in fact, or keeps working off the real-name roster (保障农民工工资支付条例 第二十八条: nobody
works on site without real-name registration; a stoppage that is not declared is how wages go
unpaid). The levels are our proposal: yellow from *15* idle days, red from *30*.

Per project in progress that has reported attendance: the days since its last attendance on or before
today. The warning's period is that last day, so a project that resumes and stops again is a new
warning. A project that never reported attendance is another matter (its site is not on the real-name
platform at all) and not this rule's. Attendance resuming, or the project's status changing (stopped
or completed), clears it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from hub import models as m
from hub.rules.base import RED, YELLOW, Context, Query, Rule, Subject, as_date, level_case


class AttendanceStopped(Rule):
    code = "W13"
    name = "项目在建但考勤中断"
    cite = "保障农民工工资支付条例第二十八条（实名制考勤）；施工许可在建项目无考勤"
    inputs = (m.Attendance, m.Project)
    subject = Subject.PROJECT
    period = "the last day with attendance (YYYY-MM-DD)"
    thresholds = {"yellow_from_days": 15, "red_from_days": 30}
    cleared = "项目已恢复考勤（或项目状态已变更为停工、竣工）"

    def select(self, ctx: Context) -> Query:
        a, p = m.Attendance, m.Project
        last = (
            select(a.project_id.label("project_id"), func.max(a.day).label("last_day"))
            .where(a.day <= ctx.today, ctx.narrow_projects(a.project_id))
            .group_by(a.project_id)
            .subquery("last")
        )
        day = last.c.last_day
        return (
            select(
                p.id.label("subject_id"),
                day.label("period"),
                level_case((day <= ctx.today - dt.timedelta(days=int(ctx["red_from_days"])), RED), else_=YELLOW).label(
                    "level"
                ),
                p.id.label("project_id"),
                p.contractor_id.label("enterprise_id"),
                p.region_code.label("region_code"),
                p.name.label("project"),
                day.label("last_day"),
            )
            .join(last, last.c.project_id == p.id)
            .where(
                p.status == "in_progress",
                day <= ctx.today - dt.timedelta(days=int(ctx["yellow_from_days"])),
            )
        )

    def facts(self, row: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        facts = super().facts(row, ctx)
        facts["days"] = (ctx.today - as_date(row["last_day"])).days
        return facts

    def describe(self, facts: Mapping[str, Any]) -> str:
        return f"{facts['project']}施工许可显示在建，但自{facts['last_day']}起已{facts['days']}日无考勤记录"
