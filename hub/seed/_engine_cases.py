"""The demo's situations for the rules that read real-name and project-system records: W06 (attendance
without a pay record), W09 (an exit without a settlement), W13 (attendance stopped while in progress),
W14 (output value up while wages fall) and W16 (pay to workers not on the roster), each with a
boundary project that must not fire.

A situation project (``_generate.SITUATIONS``) is generated like any other (workers, 12 months of
payroll); :func:`engine_case_rows` then adjusts its workers and payroll in place and returns the
attendance, site movements and output values the situation needs. These projects' real-name records
and output values are written here **in full**: the bulk generators of attendance, movements and
output values leave the projects with a role in :data:`OWN_RECORDS` alone, so that a situation fires
(or stays below its boundary) whatever the bulk data of the other projects is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from hub.rules import rule
from hub.rules.base import month_of
from hub.seed._base import CST, UTC, Proj, Row, World, first_workday_from
from hub.vocab import MovementKind
from hub.workdays import is_workday

__all__ = ["BOUNDARIES", "FIRING", "OWN_RECORDS", "engine_case_rows"]

#: Situation roles that fire a rule, and the rule.
FIRING = {
    "attendance_without_pay": "W06",
    "exit_not_settled": "W09",
    "stopped_attendance": "W13",
    "output_up_wages_down": "W14",
    "paid_not_on_roster": "W16",
}
#: Situation roles just short of a rule's boundary, and the rule they must not fire.
BOUNDARIES = {
    "attendance_without_pay_boundary": "W06",
    "exit_not_settled_boundary": "W09",
    "stopped_attendance_boundary": "W13",
    "output_up_wages_down_boundary": "W14",
    "paid_not_on_roster_boundary": "W16",
}
#: Roles whose projects' attendance, entries / exits and output values this module writes in full.
OWN_RECORDS = frozenset(FIRING) | frozenset(BOUNDARIES)

Rows = list[tuple[str, Row]]


def engine_case_rows(w: World, proj: Proj, people: list[Row], payroll: list[Row]) -> Rows:
    """Adjust the ``people`` and ``payroll`` of a situation project in place (before they are yielded)
    and return its attendance, site movements and output values; records the situation in
    ``w.highlights["warning_situations"]``. Nothing for a project without such a role."""
    role = next((x for x in proj.roles if x in OWN_RECORDS), None)
    if role is None:
        return []
    rows: Rows
    facts: dict[str, Any]
    first_id = payroll[0]["id"]  # the project's pay records have consecutive ids from here
    if role.startswith("attendance_without_pay"):
        rows, facts = _w06(w, proj, people, payroll, fire=role in FIRING)
    elif role.startswith("exit_not_settled"):
        rows, facts = _w09(w, proj, people, payroll, fire=role in FIRING)
    elif role.startswith("stopped_attendance"):
        rows, facts = _w13(w, proj, people, payroll, fire=role in FIRING)
    elif role.startswith("output_up_wages_down"):
        rows, facts = _w14(w, proj, people, payroll, fire=role in FIRING)
    else:
        rows, facts = _w16(w, proj, people, payroll, fire=role in FIRING)
    # records left off a sheet leave no gap in the ids (nothing refers to a pay record's id)
    for k, row in enumerate(payroll):
        row["id"] = first_id + k
    w.ids["payroll_records"] = first_id + len(payroll) - 1
    w.highlights.setdefault("warning_situations", {})[role] = {
        "project_id": proj.id,
        "account_id": proj.account_id,
        "rule": FIRING.get(role) or BOUNDARIES[role],
        **facts,
    }
    return rows


# --- W06: attendance in a judged month, one worker on no pay record -----------------------------------------


def _w06(w: World, proj: Proj, people: list[Row], payroll: list[Row], *, fire: bool) -> tuple[Rows, dict[str, Any]]:
    """Attendance from the last month whose wage sheet is due to yesterday, for everyone on the sheets
    (and on site this month). Firing: one of the judged month's workers
    taken off the sheet (yellow: one of ≥ 24). Boundary: that worker's record is there but unpaid
    (发放失败) — on the sheet all the same."""
    grace = int(rule("W06").thresholds["grace_days"])
    month = month_of(w.today - dt.timedelta(days=grace), -1)
    sheet = [p for p in payroll if p["pay_month"] == month]
    # from the judged month to yesterday: the site keeps working (W13 stays quiet)
    rows = _attendance(w, proj, people, payroll, since=dt.date(int(month[:4]), int(month[5:]), 1), until=w.today)
    odd = next(p for p in sheet if p["worker_id"] in _construction(people))
    if fire:
        payroll.remove(odd)
    else:
        odd.update(pay_status=30, is_back_pay=False)  # the transfer on pay day failed
    return rows, {"month": month, "worker_id": odd["worker_id"], "workers": len(sheet)}


# --- W09: exits without a settlement ------------------------------------------------------------------------


def _w09(w: World, proj: Proj, people: list[Row], payroll: list[Row], *, fire: bool) -> tuple[Rows, dict[str, Any]]:
    """Firing: two workers left 10 and 40 days ago with no settlement (yellow, red). Boundary: one left
    3 days ago (within the grace) and one 40 days ago, settled two days after."""
    T = w.today
    settled_in = T - dt.timedelta(days=60)  # on site well before the earliest exit below
    staying = [p for p in people if p["exit_date"] is None and p["entry_date"] < settled_in]
    leavers = [p for p in staying if p["id"] in _construction(people)][:2]
    ages = (10, 40) if fire else (3, 40)
    rows: Rows = []
    for person, age in zip(leavers, ages, strict=True):
        day = T - dt.timedelta(days=age)
        person["exit_date"] = day
        payroll[:] = [p for p in payroll if p["worker_id"] != person["id"] or p["pay_month"] <= day.strftime("%Y-%m")]
        last_pay = max((p["actual_amount"] for p in payroll if p["worker_id"] == person["id"]), default=Decimal(0))
        settled = not fire and age == 40
        rows.append(_movement(w, person, MovementKind.ENTRY.value, person["entry_date"]))
        rows.append(
            _movement(
                w,
                person,
                MovementKind.EXIT.value,
                day,
                settled=settled,
                settlement_amount=last_pay if settled else None,
                settlement_date=day + dt.timedelta(days=2) if settled else None,
            )
        )
    return rows, {"worker_ids": [p["id"] for p in leavers], "exit_days": [T - dt.timedelta(days=a) for a in ages]}


def _movement(w: World, person: Row, kind: str, day: dt.date, **settlement: Any) -> tuple[str, Row]:
    return (
        "site_movements",
        {
            "id": w.next_id("site_movements"),
            "worker_id": person["id"],
            "project_id": person["project_id"],
            "enterprise_id": person["enterprise_id"],
            "kind": kind,
            "moved_on": day,
            "settled": settlement.get("settled") if kind == MovementKind.EXIT.value else None,
            "settlement_amount": settlement.get("settlement_amount"),
            "settlement_date": settlement.get("settlement_date"),
            "region_code": person["region_code"],
            "created_at": dt.datetime.combine(day, dt.time(18), CST).astimezone(UTC),
        },
    )


# --- W13: attendance that stops ------------------------------------------------------------------------------


def _w13(w: World, proj: Proj, people: list[Row], payroll: list[Row], *, fire: bool) -> tuple[Rows, dict[str, Any]]:
    """Attendance on the workdays of the six weeks up to a last day: 20 days before today (yellow) or,
    for the boundary, 14 (one day short of the 15)."""
    idle = 20 if fire else 14
    last = w.today - dt.timedelta(days=idle)
    while not is_workday(last):  # the last day on site is a workday: step back to one, then pin it
        last -= dt.timedelta(days=1)
    if not fire:
        last = w.today - dt.timedelta(days=idle)  # the boundary is exact: 14 days, worked that day
    start = last - dt.timedelta(days=42)
    rows = _attendance(w, proj, people, payroll, since=start, until=last, including=last)
    return rows, {"last_day": last, "idle_days": (w.today - last).days}


# --- W14: output value up while wages paid fall ------------------------------------------------------------------


def _w14(w: World, proj: Proj, people: list[Row], payroll: list[Row], *, fire: bool) -> tuple[Rows, dict[str, Any]]:
    """Output value reported for each month, proportional to its wage sheet (4 × wages), except the
    last month W14 judges (the month before last). Firing: output up 30 % on the month before while
    construction workers are left off that month's sheet until the wages paid are at most 70 % of the
    month before's (yellow). Boundary: output up 19 % (short of +20 %), wages as they are."""
    month, before = month_of(w.today, -2), month_of(w.today, -3)

    def paid(ym: str, *, status: tuple[int, ...] = (20,)) -> Decimal:
        return sum(
            (p["actual_amount"] for p in payroll if p["pay_month"] == ym and p["pay_status"] in status), Decimal(0)
        )

    builders = _construction(people)
    while fire and paid(month) > paid(before) * Decimal("0.7"):
        payroll.remove(next(p for p in reversed(payroll) if p["pay_month"] == month and p["worker_id"] in builders))
    growth = Decimal("1.3" if fire else "1.19")
    rows: Rows = []
    output: dict[str, Decimal] = {}
    for ym in sorted({p["pay_month"] for p in payroll}):
        output[ym] = output[before] * growth if ym == month else paid(ym, status=(0, 20, 30, 40)) * 4
        reported = first_workday_from(dt.date(int(ym[:4]), int(ym[5:]), 1) + dt.timedelta(days=35))
        rows.append(
            (
                "output_values",
                {
                    "id": w.next_id("output_values"),
                    "project_id": proj.id,
                    "month": ym,
                    "amount": output[ym].quantize(Decimal("0.01")),
                    "reported_on": min(reported, w.today),
                    "region_code": proj.region_code,
                    "created_at": dt.datetime.combine(min(reported, w.today), dt.time(9), CST).astimezone(UTC),
                },
            )
        )
    return rows, {"month": month, "output": float(output[month]), "wages": float(paid(month))}


# --- W16: pay to workers not on the roster --------------------------------------------------------------------


def _w16(w: World, proj: Proj, people: list[Row], payroll: list[Row], *, fire: bool) -> tuple[Rows, dict[str, Any]]:
    """Firing: two workers the roster does not list, paid every month (red: for months). Boundary: one
    not on the roster whose only pay, last month's, was made 3 days ago (within the 7-day grace)."""
    T = w.today
    off = [p for p in people if p["id"] in _construction(people) and p["exit_date"] is None][: 2 if fire else 1]
    for person in off:
        person["on_roster"] = False
    if not fire:
        [person] = off
        last = month_of(T, -1)
        payroll[:] = [p for p in payroll if p["worker_id"] != person["id"] or p["pay_month"] == last]
        person["entry_date"] = dt.date(int(last[:4]), int(last[5:]), 1)
        for p in payroll:
            if p["worker_id"] == person["id"]:
                p.update(pay_status=20, balance_date=T - dt.timedelta(days=3), is_back_pay=False)
    return [], {"worker_ids": [p["id"] for p in off]}


# --- shared ------------------------------------------------------------------------------------------------------


def _construction(people: Iterable[Row]) -> set[int]:
    """Ids of the construction workers (not the managers)."""
    return {p["id"] for p in people if p["work_role"] == "建筑工人"}


def _attendance(
    w: World,
    proj: Proj,
    people: list[Row],
    payroll: list[Row],
    *,
    since: dt.date,
    until: dt.date,
    including: dt.date | None = None,
) -> Rows:
    """Attendance of the rostered workers on the workdays from ``since`` to ``until`` (and on
    ``including``, a day worked even if it is not a workday), before today, between each worker's entry
    and exit: in a month of the wage sheets only for the workers on that month's sheet (so W06 stays
    quiet), in the current month (no sheet yet) for everyone on site."""
    sheet = {(p["worker_id"], p["pay_month"]) for p in payroll}
    current = w.today.strftime("%Y-%m")
    rows: Rows = []
    day = since
    while day <= min(until, w.today - dt.timedelta(days=1)):
        ym = day.strftime("%Y-%m")
        if is_workday(day) or day == including:
            for person in people:
                on_site = person["entry_date"] <= day and (person["exit_date"] is None or day <= person["exit_date"])
                listed = ym == current or (person["id"], ym) in sheet
                if person.get("on_roster", True) and on_site and listed:
                    at = dt.datetime.combine(day, dt.time(7, 30), CST)
                    rows.append(
                        (
                            "attendance",
                            {
                                "id": w.next_id("attendance"),
                                "worker_id": person["id"],
                                "project_id": proj.id,
                                "day": day,
                                "time_in": at.astimezone(UTC),
                                "time_out": (at + dt.timedelta(hours=10)).astimezone(UTC),
                                "device_id": f"KQ{proj.id:08d}",
                                "region_code": proj.region_code,
                            },
                        )
                    )
        day += dt.timedelta(days=1)
    return rows
