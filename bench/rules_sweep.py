"""The warnings engine's full sweep against the same rules written by hand as plain SQL:
``python -m bench.rules_sweep [--backend postgres|sqlite|all] [--scale province|city|tiny] [--repeat N]``.

On a seeded dataset (``bench.datasets``; the generator writes no warnings), as of the dataset's day:

1. **engine, first sweep** — ``hub.rules.engine.evaluate`` over every rule, the way the daily sweep
   (``hub.actors.evaluate_warnings``) runs it (with the cipher, so escalation is looked for), from an
   empty ``warnings`` table, committed: the rules' SELECTs, plus the upserts, the history rows
   (``warning_actions``) and the outbox events of every warning raised;
2. **engine, again** — the same sweep a second time, nothing changed in between (what the daily
   sweep costs on a quiet day: the SELECTs, reading the open warnings back, comparing);
3. **the rules' SELECTs alone** — what the engine reads per rule (``engine._fired``: the rule's
   statement, ordered), through the ORM session;
4. **hand SQL** — one SQL text per rule written by hand (:data:`HAND`), the same rows (subject, period,
   level and the facts), run back to back on a plain connection in the same process.

3 and 4 alternate ``--repeat`` times (the best run of each is compared). Before any figure is shown the
(rule, subject, period, level) sets are compared: hand SQL = the engine's SELECTs = the open warnings
the first sweep wrote; a difference stops the run (:class:`SweepMismatch`). A rule with no hand-written
twin is named in the output and left out of the comparison (the engine's figures still include it).

The goal (issue 10) compares **the engine's full sweep (1) with the hand SQL (4)**: ≤ 1.5×, and the
sweep under 2 minutes at province scale on PostgreSQL. 2 and 3 say where the difference lies. The
warnings, their history and their events are deleted again at the end (the dataset stays as built).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Date, bindparam, delete, select, text
from sqlalchemy.engine import Connection

from bench import datasets
from hub.models._base import UtcDateTime
from hub.rules.base import Context, month_of, months_before
from hub.rules.w11_deposit_not_made import latest_late_contract
from hub.workdays import CST

RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: When the bench's sweeps say they ran (the dataset's day, 10:00 in China).
NOW = dt.datetime.combine(datasets.TODAY, dt.time(10), CST).astimezone(dt.UTC)

#: (rule code, subject id, period, level): what the engine and the hand SQL must agree on.
Key = tuple[str, int, str, str]


class SweepMismatch(AssertionError):
    """The hand SQL and the engine disagree on a rule's warnings."""


# --------------------------------------------------------------------------------------------------
# The rules by hand
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """The little that differs between the backends in the hand SQL."""

    name: str

    def ym(self, expr: str) -> str:
        """``YYYY-MM`` of a date column (SQLite keeps dates as ISO text)."""
        return f"to_char({expr}, 'YYYY-MM')" if self.name == "postgresql" else f"substr({expr}, 1, 7)"


@dataclass(frozen=True)
class HandQuery:
    """One rule's SQL text and its parameters (dates and timestamps are bound with the columns' types)."""

    sql: str
    params: Mapping[str, Any]

    def statement(self) -> Any:
        binds = []
        for name, value in self.params.items():
            if isinstance(value, dt.datetime):
                binds.append(bindparam(name, value, type_=UtcDateTime()))
            elif isinstance(value, dt.date):
                binds.append(bindparam(name, value, type_=Date()))
            else:
                binds.append(bindparam(name, value))
        return text(self.sql).bindparams(*binds)


HandRule = Callable[[Context, Dialect], HandQuery]

UNPAID = "(pr.pay_status <> 20 OR pr.account_id IS NULL OR pr.balance_date IS NULL OR pr.balance_date > :today)"


def _w01(ctx: Context, d: Dialect) -> HandQuery:
    signed = "coalesce(p.contract_signed_on, p.permit_date)"
    return HandQuery(
        f"""SELECT p.id AS subject_id, {d.ym(signed)} AS period,
                   CASE WHEN {signed} < :red_before THEN 'red' ELSE 'yellow' END AS level,
                   p.id AS project_id, p.contractor_id AS enterprise_id, p.region_code, p.name AS project,
                   {signed} AS signed_on
            FROM projects p
            WHERE p.status <> 'completed' AND {signed} <= :yellow_by
              AND NOT EXISTS (SELECT 1 FROM wage_accounts a
                              WHERE a.project_id = p.id AND a.open_account_date <= :today)""",
        {
            "today": ctx.today,
            "red_before": ctx.today - dt.timedelta(days=ctx["red_after_days"]),
            "yellow_by": ctx.today - dt.timedelta(days=ctx["yellow_from_days"]),
        },
    )


def _w02(ctx: Context, d: Dialect) -> HandQuery:
    return HandQuery(
        f"""SELECT a.id AS subject_id, {d.ym("a.open_account_date")} AS period,
                   CASE WHEN a.open_account_date < :red_before THEN 'red' ELSE 'yellow' END AS level,
                   a.project_id, a.enterprise_id, a.region_code, p.name AS project, a.salary_account AS account,
                   a.open_account_date AS opened_on
            FROM wage_accounts a JOIN projects p ON p.id = a.project_id
            WHERE a.status <> 'closed' AND a.open_account_date <= :yellow_by
              AND (a.filed_date IS NULL OR a.filed_date > :today)""",
        {
            "today": ctx.today,
            "red_before": ctx.today - dt.timedelta(days=ctx["red_after_days"]),
            "yellow_by": ctx.today - dt.timedelta(days=ctx["yellow_from_days"]),
        },
    )


def _w03(ctx: Context, d: Dialect) -> HandQuery:
    months = [month_of(ctx.today, -k) for k in range(2, 2 + int(ctx["lookback_months"]))]
    table = " UNION ALL ".join(f"SELECT '{ym}' AS month, '{months_before(ym, 1)}' AS prev" for ym in months)
    opened, started = d.ym("a.open_account_date"), d.ym("p.start_date")

    def allocated(month: str) -> str:
        return (
            "EXISTS (SELECT 1 FROM labor_cost_allocations lc WHERE lc.account_id = a.id "
            f"AND lc.period_month = {month} AND lc.bill_date <= :today)"
        )

    return HandQuery(
        f"""SELECT a.id AS subject_id, months.month AS period,
                   CASE WHEN months.prev >= {opened} AND (p.start_date IS NULL OR months.prev >= {started})
                             AND NOT {allocated("months.prev")} THEN 'red' ELSE 'yellow' END AS level,
                   a.project_id, p.contractor_id AS enterprise_id, a.region_code, p.name AS project
            FROM wage_accounts a JOIN projects p ON p.id = a.project_id
                 JOIN ({table}) months ON months.month >= {opened}
            WHERE p.status = 'in_progress' AND a.status = 'open' AND a.open_account_date <= :today
              AND (p.start_date IS NULL OR months.month >= {started})
              AND NOT {allocated("months.month")}""",
        {"today": ctx.today},
    )


def _w04(ctx: Context, d: Dialect) -> HandQuery:
    return HandQuery(
        f"""SELECT a.id AS subject_id, b.month AS period,
                   CASE WHEN b.allocated < p.labour_cost_ratio * b.progress * :red_share THEN 'red' ELSE 'yellow' END
                     AS level,
                   a.project_id, p.contractor_id AS enterprise_id, a.region_code, p.name AS project,
                   b.allocated, b.progress, p.labour_cost_ratio AS ratio
            FROM (SELECT lc.account_id, {d.ym("lc.bill_date")} AS month, sum(lc.amount) AS allocated,
                         sum(lc.progress_payment) AS progress
                  FROM labor_cost_allocations lc
                  WHERE lc.bill_date <= :today AND lc.bill_date >= :since
                  GROUP BY lc.account_id, {d.ym("lc.bill_date")}) b
                 JOIN wage_accounts a ON a.id = b.account_id JOIN projects p ON p.id = a.project_id
            WHERE p.labour_cost_ratio IS NOT NULL AND b.progress > 0
              AND b.allocated < p.labour_cost_ratio * b.progress * :keep""",
        {
            "today": ctx.today,
            "since": dt.date.fromisoformat(month_of(ctx.today, -int(ctx["lookback_months"])) + "-01"),
            "red_share": ctx["red_share"],
            "keep": 1 - ctx["tolerance"],
        },
    )


def _w05(ctx: Context, d: Dialect) -> HandQuery:
    return HandQuery(
        f"""SELECT p.id AS subject_id, s.month AS period, 'red' AS level, p.id AS project_id,
                   p.contractor_id AS enterprise_id, p.region_code, p.name AS project,
                   s.unpaid_workers, s.unpaid_amount, s.workers
            FROM (SELECT pr.project_id, pr.pay_month AS month,
                         sum(CASE WHEN {UNPAID} THEN 1 ELSE 0 END) AS unpaid_workers,
                         sum(CASE WHEN {UNPAID} THEN pr.actual_amount ELSE 0 END) AS unpaid_amount,
                         count(*) AS workers
                  FROM payroll_records pr
                  WHERE pr.pay_month >= :first AND pr.pay_month <= :last
                  GROUP BY pr.project_id, pr.pay_month) s
                 JOIN projects p ON p.id = s.project_id
            WHERE s.unpaid_workers > 0""",
        {
            "today": ctx.today,
            "first": month_of(ctx.today, -1 - int(ctx["lookback_months"])),
            "last": month_of(ctx.today, -2),
        },
    )


def _w06(ctx: Context, d: Dialect) -> HandQuery:
    last = month_of(ctx.today - dt.timedelta(days=int(ctx["grace_days"])), -1)
    first = month_of(ctx.today, -int(ctx["lookback_months"]))
    return HandQuery(
        f"""SELECT p.id AS subject_id, s.month AS period,
                   CASE WHEN s.without_pay > s.workers * :red_share THEN 'red' ELSE 'yellow' END AS level,
                   p.id AS project_id, p.contractor_id AS enterprise_id, p.region_code, p.name AS project,
                   s.without_pay, s.workers
            FROM (SELECT wk.project_id, wk.month, count(*) AS workers,
                         sum(CASE WHEN NOT EXISTS (SELECT 1 FROM payroll_records pr
                                                   WHERE pr.project_id = wk.project_id AND pr.worker_id = wk.worker_id
                                                     AND pr.pay_month = wk.month) THEN 1 ELSE 0 END) AS without_pay
                  FROM (SELECT DISTINCT a.project_id, a.worker_id, {d.ym("a.day")} AS month
                        FROM attendance a WHERE a.day >= :start AND a.day < :end AND a.day <= :today) wk
                  GROUP BY wk.project_id, wk.month) s
                 JOIN projects p ON p.id = s.project_id
            WHERE s.without_pay > 0""",
        {
            "today": ctx.today,
            "start": dt.date.fromisoformat(first + "-01"),
            "end": dt.date.fromisoformat(month_of(dt.date.fromisoformat(last + "-01"), 1) + "-01"),
            "red_share": ctx["red_share"],
        },
    )


def _w07(ctx: Context, d: Dialect) -> HandQuery:
    return HandQuery(
        """SELECT p.id AS subject_id, s.month AS period, 'red' AS level, p.id AS project_id,
                  p.contractor_id AS enterprise_id, p.region_code, p.name AS project, s.average, s.workers
           FROM (SELECT pr.project_id, pr.pay_month AS month, avg(pr.actual_amount) AS average, count(*) AS workers
                 FROM payroll_records pr
                 WHERE pr.pay_month >= :first AND pr.pay_month <= :last
                 GROUP BY pr.project_id, pr.pay_month) s
                JOIN projects p ON p.id = s.project_id
           WHERE s.average < :minimum""",
        {
            "first": month_of(ctx.today, -int(ctx["lookback_months"])),
            "last": month_of(ctx.today, -1),
            "minimum": ctx["minimum_wage"],
        },
    )


def _w08(ctx: Context, d: Dialect) -> HandQuery:
    def by(period: str, limit: str, kind: str, where: str) -> str:
        return f"""SELECT min(w.id) AS subject_id, {period} AS period, 'red' AS level,
                          min(pr.project_id) AS project_id, min(pr.enterprise_id) AS enterprise_id,
                          min(pr.region_code) AS region_code, min(w.name) AS worker,
                          sum(pr.actual_amount) AS amount, {limit} AS "limit", '{kind}' AS kind
                   FROM payroll_records pr JOIN workers w ON w.id = pr.worker_id
                   WHERE {where}
                   GROUP BY w.id_number_hash, {period}
                   HAVING sum(pr.actual_amount) > {limit}"""

    monthly = by("pr.pay_month", ":month_limit", "month", "pr.pay_month >= :first AND pr.pay_month <= :this")
    yearly = by("substr(pr.pay_month, 1, 4)", ":year_limit", "year", "pr.pay_month >= :year_from")
    return HandQuery(
        f"{monthly} UNION ALL {yearly}",
        {
            "first": month_of(ctx.today, -int(ctx["lookback_months"])),
            "this": month_of(ctx.today),
            "year_from": f"{ctx.today.year - 1}-01",
            "month_limit": ctx["month_limit"],
            "year_limit": ctx["year_limit"],
        },
    )


def _w09(ctx: Context, d: Dialect) -> HandQuery:
    return HandQuery(
        """SELECT mv.worker_id AS subject_id, mv.moved_on AS period,
                  CASE WHEN mv.moved_on < :red_before THEN 'red' ELSE 'yellow' END AS level,
                  mv.project_id, mv.enterprise_id, mv.region_code, p.name AS project, w.name AS worker,
                  mv.moved_on AS exit_day
           FROM site_movements mv JOIN workers w ON w.id = mv.worker_id JOIN projects p ON p.id = mv.project_id
           WHERE mv.kind = 'exit' AND mv.moved_on < :grace_before AND mv.moved_on >= :since
             AND NOT (mv.settled IS TRUE AND (mv.settlement_date IS NULL OR mv.settlement_date <= :today))""",
        {
            "today": ctx.today,
            "red_before": ctx.today - dt.timedelta(days=int(ctx["red_after_days"])),
            "grace_before": ctx.today - dt.timedelta(days=int(ctx["grace_days"])),
            "since": ctx.today - dt.timedelta(days=int(ctx["lookback_days"])),
        },
    )


def _w10(ctx: Context, d: Dialect) -> HandQuery:
    month = month_of(ctx.today - dt.timedelta(days=int(ctx["grace_days"])), -1)
    return HandQuery(
        f"""SELECT a.id AS subject_id, :month AS period,
                   CASE WHEN a.account_balance < s.unpaid * :red_share THEN 'red' ELSE 'yellow' END AS level,
                   a.project_id, p.contractor_id AS enterprise_id, a.region_code, p.name AS project,
                   a.account_balance AS balance, s.payroll, s.unpaid
            FROM wage_accounts a JOIN projects p ON p.id = a.project_id
                 JOIN (SELECT pr.project_id, sum(pr.actual_amount) AS payroll,
                              sum(CASE WHEN {UNPAID} THEN pr.actual_amount ELSE 0 END) AS unpaid
                       FROM payroll_records pr WHERE pr.pay_month = :month GROUP BY pr.project_id) s
                   ON s.project_id = a.project_id
            WHERE p.status = 'in_progress' AND a.status = 'open' AND a.account_balance < s.unpaid""",
        {"today": ctx.today, "month": month, "red_share": ctx["red_share"]},
    )


def _w11(ctx: Context, d: Dialect) -> HandQuery:
    return HandQuery(
        f"""SELECT p.id AS subject_id, {d.ym("p.contract_signed_on")} AS period, 'red' AS level,
                   p.id AS project_id, p.contractor_id AS enterprise_id, p.region_code, p.name AS project,
                   p.contract_signed_on AS signed_on
            FROM projects p
            WHERE p.status <> 'completed' AND p.contract_signed_on <= :latest
              AND NOT EXISTS (SELECT 1 FROM guarantee_deposits g WHERE g.project_id = p.id
                              AND (g.status = 'exempt' OR g.deposited_on <= :today))""",
        {"today": ctx.today, "latest": latest_late_contract(ctx.today, int(ctx["working_days"]))},
    )


def _w12(ctx: Context, d: Dialect) -> HandQuery:
    return HandQuery(
        f"""SELECT g.id AS subject_id, {d.ym("g.valid_to")} AS period,
                   CASE WHEN g.valid_to < :today THEN 'red' ELSE 'blue' END AS level,
                   g.project_id, g.enterprise_id, g.region_code, p.name AS project, g.guarantee_no, g.valid_to
            FROM guarantee_deposits g JOIN projects p ON p.id = g.project_id
            WHERE g.kind IN ('bank_guarantee', 'insurance') AND g.status = 'active' AND g.valid_to <= :until
              AND p.status <> 'completed'""",
        {"today": ctx.today, "until": ctx.today + dt.timedelta(days=int(ctx["blue_within_days"]))},
    )


def _w13(ctx: Context, d: Dialect) -> HandQuery:
    return HandQuery(
        """SELECT p.id AS subject_id, l.last_day AS period,
                  CASE WHEN l.last_day <= :red_by THEN 'red' ELSE 'yellow' END AS level,
                  p.id AS project_id, p.contractor_id AS enterprise_id, p.region_code, p.name AS project, l.last_day
           FROM projects p
                JOIN (SELECT a.project_id, max(a.day) AS last_day FROM attendance a WHERE a.day <= :today
                      GROUP BY a.project_id) l ON l.project_id = p.id
           WHERE p.status = 'in_progress' AND l.last_day <= :yellow_by""",
        {
            "today": ctx.today,
            "red_by": ctx.today - dt.timedelta(days=int(ctx["red_from_days"])),
            "yellow_by": ctx.today - dt.timedelta(days=int(ctx["yellow_from_days"])),
        },
    )


def _w14(ctx: Context, d: Dialect) -> HandQuery:
    months = [month_of(ctx.today, -k) for k in range(1 + int(ctx["lookback_months"]), 1, -1)]
    table = " UNION ALL ".join(f"SELECT '{ym}' AS month, '{months_before(ym, 1)}' AS prev" for ym in months)

    def diverges(up: str, down: str) -> str:
        return f"o.amount >= ob.amount * {up} AND coalesce(pd.amount, 0) <= pb.amount * {down}"

    return HandQuery(
        f"""WITH outv AS (SELECT ov.project_id, ov.month, ov.amount FROM output_values ov
                          WHERE ov.month >= :since AND (ov.reported_on IS NULL OR ov.reported_on <= :today)),
                 paid AS (SELECT pr.project_id, pr.pay_month AS month, sum(pr.actual_amount) AS amount
                          FROM payroll_records pr
                          WHERE pr.pay_month >= :since AND pr.pay_status = 20 AND pr.balance_date <= :today
                          GROUP BY pr.project_id, pr.pay_month)
            SELECT p.id AS subject_id, months.month AS period,
                   CASE WHEN {diverges(":red_up", ":red_down")} THEN 'red' ELSE 'yellow' END AS level,
                   p.id AS project_id, p.contractor_id AS enterprise_id, p.region_code, p.name AS project,
                   o.amount AS output, ob.amount AS output_before, coalesce(pd.amount, 0) AS wages,
                   pb.amount AS wages_before
            FROM ({table}) months
                 JOIN outv o ON o.month = months.month
                 JOIN outv ob ON ob.project_id = o.project_id AND ob.month = months.prev
                 JOIN paid pb ON pb.project_id = o.project_id AND pb.month = months.prev
                 LEFT JOIN paid pd ON pd.project_id = o.project_id AND pd.month = months.month
                 JOIN projects p ON p.id = o.project_id
            WHERE ob.amount > 0 AND pb.amount > 0 AND {diverges(":up", ":down")}""",
        {
            "today": ctx.today,
            "since": months_before(months[0], 1),
            "up": 1 + ctx["output_growth"],
            "down": 1 - ctx["wage_fall"],
            "red_up": 1 + ctx["red_output_growth"],
            "red_down": 1 - ctx["red_wage_fall"],
        },
    )


def _w15(ctx: Context, d: Dialect) -> HandQuery:
    since = dt.datetime.combine(ctx.today - dt.timedelta(days=int(ctx["days"]) - 1), dt.time(), CST)
    until = dt.datetime.combine(ctx.today + dt.timedelta(days=1), dt.time(), CST)
    return HandQuery(
        """SELECT e.id AS subject_id, :month AS period,
                  CASE WHEN r.clues >= :red_from THEN 'red' ELSE 'yellow' END AS level,
                  NULL AS project_id, e.id AS enterprise_id, e.region_code, e.name AS enterprise, r.clues
           FROM enterprises e
                JOIN (SELECT c.enterprise_id, count(*) AS clues FROM clues c
                      WHERE c.enterprise_id IS NOT NULL AND c.merged_into_id IS NULL
                        AND c.received_at >= :since AND c.received_at < :until
                        AND NOT EXISTS (SELECT 1 FROM channel_records cr WHERE cr.clue_id = c.id
                                        AND cr.channel = 'warning' AND cr.match_rule = 'new')
                      GROUP BY c.enterprise_id HAVING count(*) >= :yellow_from) r
                  ON r.enterprise_id = e.id""",
        {
            "month": month_of(ctx.today),
            "since": since.astimezone(dt.UTC),
            "until": until.astimezone(dt.UTC),
            "yellow_from": ctx["yellow_from"],
            "red_from": ctx["red_from"],
        },
    )


def _w16(ctx: Context, d: Dialect) -> HandQuery:
    return HandQuery(
        """SELECT p.id AS subject_id, u.month AS period,
                  CASE WHEN u.first_paid < :red_before THEN 'red' ELSE 'yellow' END AS level,
                  p.id AS project_id, p.contractor_id AS enterprise_id, p.region_code, p.name AS project,
                  u.workers, u.amount, u.first_paid
           FROM (SELECT pr.project_id, pr.pay_month AS month, count(DISTINCT pr.worker_id) AS workers,
                        sum(pr.actual_amount) AS amount, min(pr.balance_date) AS first_paid
                 FROM payroll_records pr JOIN workers w ON w.id = pr.worker_id
                 WHERE NOT w.on_roster AND pr.pay_status = 20 AND pr.balance_date <= :today AND pr.pay_month >= :first
                 GROUP BY pr.project_id, pr.pay_month) u
                JOIN projects p ON p.id = u.project_id
           WHERE u.first_paid < :grace_before""",
        {
            "today": ctx.today,
            "first": month_of(ctx.today, -int(ctx["lookback_months"])),
            "red_before": ctx.today - dt.timedelta(days=int(ctx["red_after_days"])),
            "grace_before": ctx.today - dt.timedelta(days=int(ctx["grace_days"])),
        },
    )


#: Every rule's hand-written twin, by rule code. A rule added to ``hub.rules.catalogue`` adds one entry
#: here; until it does, the bench names it as having no twin (and leaves it out of the comparison).
HAND: dict[str, HandRule] = {
    "W01": _w01,
    "W02": _w02,
    "W03": _w03,
    "W04": _w04,
    "W05": _w05,
    "W06": _w06,
    "W07": _w07,
    "W08": _w08,
    "W09": _w09,
    "W10": _w10,
    "W11": _w11,
    "W12": _w12,
    "W13": _w13,
    "W14": _w14,
    "W15": _w15,
    "W16": _w16,
}


# --------------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    backend: str
    scale: str
    counts: dict[str, int]
    rules: list[str]
    #: Rules of the catalogue with no entry in :data:`HAND`.
    without_twin: list[str]
    #: Warnings per rule (the engine's SELECT rows, equal to the hand SQL's where there is a twin).
    fired: dict[str, int]
    engine_first_s: float
    engine_again_s: float
    #: Best run of each, per rule and in total.
    selects_s: dict[str, float] = field(default_factory=dict)
    hand_s: dict[str, float] = field(default_factory=dict)
    first_report: dict[str, int] = field(default_factory=dict)
    again_report: dict[str, int] = field(default_factory=dict)
    repeat: int = 1
    profile: str | None = None

    @property
    def selects_total(self) -> float:
        return sum(self.selects_s.values())

    @property
    def hand_total(self) -> float:
        return sum(self.hand_s.values())

    @property
    def twinned_selects_total(self) -> float:
        """The engine's SELECTs of the rules that have a twin (like for like with :attr:`hand_total`)."""
        return sum(v for k, v in self.selects_s.items() if k in self.hand_s)

    def ratios(self) -> dict[str, float]:
        hand = self.hand_total or float("nan")
        return {
            "engine first sweep / hand SQL": self.engine_first_s / hand,
            "engine sweep again / hand SQL": self.engine_again_s / hand,
            "engine SELECTs / hand SQL": self.twinned_selects_total / hand,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "scale": self.scale,
            "counts": self.counts,
            "rules": self.rules,
            "without_twin": self.without_twin,
            "fired": self.fired,
            "engine_first_s": round(self.engine_first_s, 3),
            "engine_again_s": round(self.engine_again_s, 3),
            "selects_s": {k: round(v, 4) for k, v in self.selects_s.items()},
            "hand_s": {k: round(v, 4) for k, v in self.hand_s.items()},
            "first_report": self.first_report,
            "again_report": self.again_report,
            "repeat": self.repeat,
            "ratios": {k: round(v, 3) for k, v in self.ratios().items()},
        }


def clear_warnings(conn: Connection) -> None:
    """Delete every warning, its history and its events (the dataset as the generator left it)."""
    from hub import models as m

    conn.execute(delete(m.Event).where(m.Event.type.like("warning.%")))
    conn.execute(delete(m.WarningAction))
    conn.execute(delete(m.Warning))


def hand_rows(conn: Connection, code: str, ctx: Context, dialect: Dialect, hand: Mapping[str, HandRule]) -> list[Any]:
    return list(conn.execute(hand[code](ctx, dialect).statement()).mappings())


def keys_of(code: str, rows: Iterable[Mapping[str, Any]]) -> set[Key]:
    return {(code, int(r["subject_id"]), str(r["period"]), str(r["level"])) for r in rows}


def _differ(code: str, what: str, got: set[Key], want: set[Key]) -> SweepMismatch:
    extra, missing = sorted(got - want)[:3], sorted(want - got)[:3]
    return SweepMismatch(
        f"{code}: {what} differ — {len(got - want)} only in the first (e.g. {extra}), "
        f"{len(want - got)} only in the second (e.g. {missing})"
    )


def run(
    url: str,
    *,
    backend: str,
    scale: str,
    today: dt.date = datasets.TODAY,
    now: dt.datetime = NOW,
    repeat: int = 3,
    hand: Mapping[str, HandRule] = HAND,
    profile: bool = False,
    progress: Callable[[str], None] = lambda _msg: None,
    counts: dict[str, int] | None = None,
) -> SweepResult:
    """Measure the sweep on the database at ``url`` (migrated and seeded) and check the hand SQL against
    the engine; leaves no warning behind."""
    from hub.crypto import Cipher
    from hub.db import make_engine, session_scope
    from hub.migrate import upgrade
    from hub.models import Warning
    from hub.rules.engine import _fired, evaluate, rules_enabled, thresholds_for
    from hub.settings import Settings
    from hub.vocab import WarningStatus

    upgrade(url)  # a dataset built before a later migration
    settings = Settings(warning_rules_disabled="", warning_thresholds={})
    cipher = Cipher(datasets.BENCH_SECRET)
    rules = rules_enabled(settings)
    codes = [r.code for r in rules]
    without = [c for c in codes if c not in hand]
    ctxs = {r.code: Context(today=today, thresholds=thresholds_for(r, settings)) for r in rules}
    engine = make_engine(url)
    dialect = Dialect(engine.dialect.name)
    profiler = cProfile.Profile() if profile else None
    try:
        with engine.begin() as conn:
            clear_warnings(conn)

        progress("engine: first sweep (from empty) …")
        t0 = time.perf_counter()
        if profiler:
            profiler.enable()
        with session_scope(engine) as session:
            first = evaluate(session, today=today, now=now, cipher=cipher, settings=settings)
        if profiler:
            profiler.disable()
        engine_first = time.perf_counter() - t0

        progress("engine: sweep again (nothing changed) …")
        t0 = time.perf_counter()
        with session_scope(engine) as session:
            again = evaluate(session, today=today, now=now, cipher=cipher, settings=settings)
        engine_again = time.perf_counter() - t0

        selects: dict[str, list[float]] = {c: [] for c in codes}
        hands: dict[str, list[float]] = {c: [] for c in codes if c in hand}
        engine_keys: dict[str, set[Key]] = {}
        hand_keys: dict[str, set[Key]] = {}
        for i in range(repeat):
            progress(f"SELECTs alone vs hand SQL, round {i + 1}/{repeat} …")
            with session_scope(engine) as session:
                for r in rules:
                    t0 = time.perf_counter()
                    fired = _fired(session, r, ctxs[r.code], None)
                    selects[r.code].append(time.perf_counter() - t0)
                    engine_keys[r.code] = keys_of(r.code, fired.values())
            with engine.connect() as conn:
                for code in hands:
                    t0 = time.perf_counter()
                    rows = hand_rows(conn, code, ctxs[code], dialect, hand)
                    hands[code].append(time.perf_counter() - t0)
                    hand_keys[code] = keys_of(code, rows)

        # The checks, before any figure: hand SQL = the engine's SELECTs = the open warnings it wrote.
        with session_scope(engine) as session:
            stored: dict[str, set[Key]] = {c: set() for c in codes}
            q = select(Warning.rule_code, Warning.subject_id, Warning.period, Warning.level).where(
                Warning.status.in_((WarningStatus.ACTIVE.value, WarningStatus.ESCALATED.value))
            )
            for code, subject, period, level in session.execute(q):
                stored.setdefault(code, set()).add((code, int(subject), period, level))
        for code in codes:
            if code in hand_keys and hand_keys[code] != engine_keys[code]:
                raise _differ(code, "hand SQL vs the engine's SELECT", hand_keys[code], engine_keys[code])
            if stored[code] != engine_keys[code]:
                raise _differ(code, "open warnings vs the engine's SELECT", stored[code], engine_keys[code])
    finally:
        with engine.begin() as conn:
            clear_warnings(conn)
        engine.dispose()

    text_profile = None
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        text_profile = out.getvalue()
    return SweepResult(
        backend=backend,
        scale=scale,
        counts=counts or {},
        rules=codes,
        without_twin=without,
        fired={c: len(engine_keys[c]) for c in codes},
        engine_first_s=engine_first,
        engine_again_s=engine_again,
        selects_s={c: min(v) for c, v in selects.items()},
        hand_s={c: min(v) for c, v in hands.items()},
        first_report=first.as_dict(),
        again_report=again.as_dict(),
        repeat=repeat,
        profile=text_profile,
    )


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def table(results: list[SweepResult]) -> Any:
    from rich.table import Table

    t = Table(title="warnings: the engine's full sweep vs the rules by hand (seconds)")
    for col in (
        "backend",
        "scale",
        "warnings",
        "engine first",
        "engine again",
        "engine SELECTs",
        "hand SQL",
        "first / hand",
        "again / hand",
        "SELECTs / hand",
        "no twin",
    ):
        t.add_column(col, justify="left" if col in ("backend", "scale", "no twin") else "right")
    for r in results:
        ratios = list(r.ratios().values())
        t.add_row(
            r.backend,
            r.scale,
            f"{sum(r.fired.values()):,}",
            f"{r.engine_first_s:.2f}",
            f"{r.engine_again_s:.2f}",
            f"{r.selects_total:.2f}",
            f"{r.hand_total:.2f}",
            *(f"{x:.2f}×" for x in ratios),
            ", ".join(r.without_twin) or "–",
        )
    return t


def per_rule_table(r: SweepResult) -> Any:
    from rich.table import Table

    t = Table(title=f"{r.backend}/{r.scale}: per rule (best of {r.repeat}; seconds)")
    for col in ("rule", "warnings", "engine SELECT", "hand SQL", "ratio"):
        t.add_column(col, justify="left" if col == "rule" else "right")
    for code in r.rules:
        h = r.hand_s.get(code)
        t.add_row(
            code,
            f"{r.fired[code]:,}",
            f"{r.selects_s[code]:.3f}",
            "no twin" if h is None else f"{h:.3f}",
            "–" if not h else f"{r.selects_s[code] / h:.2f}×",
        )
    return t


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    parser = argparse.ArgumentParser(prog="python -m bench.rules_sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite", "all"], default="postgres")
    parser.add_argument("--scale", choices=["tiny", "city", "province"], default="province")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of SELECTs alone vs hand SQL (best is kept)")
    parser.add_argument("--profile", action="store_true", help="cProfile the first sweep and print the top functions")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the seeded database even when cached")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/rules-<timestamp>.json")
    args = parser.parse_args(argv)

    console = Console(width=max(Console().width, 160))
    backends = ["postgres", "sqlite"] if args.backend == "all" else [args.backend]
    results = []
    for backend in backends:
        ds = datasets.prepare(backend, args.scale, console=console, rebuild=args.rebuild)
        result = run(
            ds.url,
            backend=backend,
            scale=args.scale,
            today=ds.today,
            repeat=args.repeat,
            profile=args.profile,
            progress=console.print,
            counts=ds.counts,
        )
        results.append(result)
        console.print(per_rule_table(result))
        if result.profile:
            console.print(result.profile, markup=False, highlight=False)
    console.print(table(results))
    for r in results:
        if r.without_twin:
            console.print(
                f"[yellow]{r.backend}/{r.scale}: no hand-written twin for {', '.join(r.without_twin)} "
                "(in the engine's figures, not in the hand SQL's)[/]"
            )
    console.print(
        "goal: engine first sweep / hand SQL ≤ 1.5×, and the first sweep under 120 s (province, PostgreSQL). "
        f"median of the first-sweep ratios: {statistics.median(r.ratios()['engine first sweep / hand SQL'] for r in results):.2f}×"
    )
    if not args.no_save:
        from bench.__main__ import environment

        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"rules-{dt.datetime.now().strftime('%Y%m%dT%H%M%S')}.json"
        path.write_bytes(
            orjson.dumps(
                {
                    "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "argv": sys.argv[1:] if argv is None else argv,
                    "environment": environment(),
                    "results": [r.to_json() for r in results],
                },
                option=orjson.OPT_INDENT_2,
            )
        )
        console.print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
