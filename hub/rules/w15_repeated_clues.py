"""W15 repeated clues: three or more wage-arrears clues against one enterprise within 90 days (our
proposal; the pattern 分类监管 watches, 人社部规〔2016〕1号).

Per enterprise, counting the complaints received in the 90 days up to today (merged ones once; not
the clues the pool opened for escalated warnings): yellow
from ``yellow_from``, red from ``red_from``. The warning is the month's review (period: this month), so
a new month brings a new warning while the clues keep coming, and the old one resolves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Integer, cast, exists, func, literal, null, select

from hub import models as m
from hub.rules.base import RED, YELLOW, Context, Query, Rule, Subject, level_case
from hub.vocab import Channel
from hub.workdays import CST


class RepeatedClues(Rule):
    code = "W15"
    name = "同一企业90日内多次被反映欠薪"
    cite = "同一企业90日内线索≥3件（分类监管，人社部规〔2016〕1号）"
    inputs = (m.Clue, m.ChannelRecord, m.Enterprise)
    subject = Subject.ENTERPRISE
    period = "the month of the review (YYYY-MM)"
    thresholds = {"days": 90, "yellow_from": 3, "red_from": 10}
    cleared = "近90日线索已少于3件"
    escalates = False

    def select(self, ctx: Context) -> Query:
        c, e, cr = m.Clue, m.Enterprise, m.ChannelRecord
        # a clue the pool opened for an escalated warning is the hub's own finding, not a complaint
        from_warning = exists().where(cr.clue_id == c.id, cr.channel == Channel.WARNING.value, cr.match_rule == "new")
        since = dt.datetime.combine(ctx.today - dt.timedelta(days=int(ctx["days"]) - 1), dt.time(), CST)
        until = dt.datetime.combine(ctx.today + dt.timedelta(days=1), dt.time(), CST)
        clues = (
            select(c.enterprise_id.label("enterprise_id"), func.count().label("clues"))
            .where(
                c.enterprise_id.is_not(None),
                ctx.narrow_enterprises(c.enterprise_id),
                c.merged_into_id.is_(None),
                ~from_warning,
                c.received_at >= since.astimezone(dt.UTC),
                c.received_at < until.astimezone(dt.UTC),
            )
            .group_by(c.enterprise_id)
            .having(func.count() >= ctx["yellow_from"])
            .subquery("recent")
        )
        return select(
            e.id.label("subject_id"),
            literal(ctx.month()).label("period"),
            level_case((clues.c.clues >= ctx["red_from"], RED), else_=YELLOW).label("level"),
            cast(null(), Integer).label("project_id"),
            e.id.label("enterprise_id"),
            e.region_code.label("region_code"),
            e.name.label("enterprise"),
            clues.c.clues.label("clues"),
        ).join(clues, clues.c.enterprise_id == e.id)

    def describe(self, facts: Mapping[str, Any]) -> str:
        return f"{facts['enterprise']}近90日被反映欠薪线索{facts['clues']}件"
