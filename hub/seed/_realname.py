"""Generation of a project's real-name platform records (实名制): its teams (班组), every worker's
entry and exit (进场 / 退场, an exit with its wage settlement) and the recent daily attendance (考勤).

Coherent with the roster and the payroll ``_projects`` made for the project (保障农民工工资支付条例
第二十八条 ties the roster to the site, 第三十一条 the wage sheet to the attendance):

- a team per ``team_sys_no``, led by the worker the roster flags as its leader;
- an entry on every worker's ``entry_date``; an exit on every ``exit_date`` that has passed, settled
  (the last month's pay, paid within a few days);
- attendance only for a recent window (``ScalePlan.attendance_months`` full months before the
  current one, and the current month up to yesterday — or, at the scales where attendance would
  outweigh everything else, only the last ``ScalePlan.attendance_days``), for the workers on site: on a
  full month, on as many days as that month's pay record says (``days``; never more than the worker
  was on site), on the recent days on most working days (and some rest days) — so that no project in progress goes 15 days
  without attendance (W13) and nobody has attendance in a month without a pay record (W06).

Its own random stream (``w.rng("realname", project id)``), so the rest of the world is the same with
or without it.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal

from hub.seed._base import CST, UTC, Proj, Row, World, local_at, month_str, ym_add
from hub.workdays import is_workday

#: Attendance devices (考勤机) per project: gate face readers.
DEVICES_PER_PROJECT = 2
_NUMERALS = "一二三四五六七八九十"


def realname_rows(
    w: World, proj: Proj, people: list[Row], payroll: list[Row], *, bulk: bool = True
) -> Iterator[tuple[str, Row]]:
    """Teams, movements and attendance of one project, after its workers and payroll.

    ``bulk=False``: the teams only — for a project whose movements and attendance a warning situation
    writes itself (so that its rule fires, or stays below its boundary, whatever the bulk data is).
    """
    r = w.rng("realname", proj.id)
    T, yesterday = w.today, w.today - dt.timedelta(days=1)
    yield from _teams(w, r, proj, people)
    if not bulk:
        return
    pay = _pay_by_worker(payroll)
    for p in people:
        yield "site_movements", _movement(w, r, proj, p, "entry", p["entry_date"])
        exit_ = p["exit_date"]
        if exit_ is not None and exit_ < T:
            last = pay.get(p["id"], {})
            # The last month's pay; for one who left before the payroll months, a month's pay in the usual range
            amount = last[max(last)][0] if last else Decimal(r.randint(30, 120) * 100)
            settled_on = min(yesterday, exit_ + dt.timedelta(days=r.randint(0, 3)))
            yield "site_movements", _movement(w, r, proj, p, "exit", exit_, amount=amount, on=max(exit_, settled_on))
    yield from _attendance(w, r, proj, people, pay)


def _pay_by_worker(payroll: list[Row]) -> dict[int, dict[str, tuple[Decimal, int]]]:
    """worker id → pay month → (actual amount, days)."""
    out: dict[int, dict[str, tuple[Decimal, int]]] = {}
    for row in payroll:
        out.setdefault(row["worker_id"], {})[row["pay_month"]] = (row["actual_amount"], row["days"] or 0)
    return out


def _teams(w: World, r: random.Random, proj: Proj, people: list[Row]) -> Iterator[tuple[str, Row]]:
    members: dict[str, list[Row]] = {}
    for p in people:
        if p["team_sys_no"]:
            members.setdefault(p["team_sys_no"], []).append(p)
    for k, (no, team) in enumerate(members.items()):
        leader = next((p for p in team if p["is_team_leader"]), team[0])
        exits = [p["exit_date"] for p in team]
        entry = min(p["entry_date"] for p in team)
        yield (
            "teams",
            {
                "id": w.next_id("teams"),
                "team_sys_no": no,
                "name": f"{leader['work_type']}{_NUMERALS[k % 10]}班",
                "project_id": proj.id,
                "enterprise_id": leader["enterprise_id"],
                "leader_name": leader["name"],
                "entry_date": entry,
                "exit_date": max(exits) if all(e is not None and e < w.today for e in exits) else None,
                "region_code": proj.region_code,
                "created_at": local_at(entry, r),
            },
        )


def _movement(
    w: World,
    r: random.Random,
    proj: Proj,
    p: Row,
    kind: str,
    day: dt.date,
    *,
    amount: Decimal | None = None,
    on: dt.date | None = None,
) -> Row:
    exit_ = kind == "exit"
    return {
        "id": w.next_id("site_movements"),
        "worker_id": p["id"],
        "project_id": proj.id,
        "enterprise_id": p["enterprise_id"],
        "kind": kind,
        "moved_on": day,
        "settled": True if exit_ else None,
        "settlement_amount": amount if exit_ else None,
        "settlement_date": on if exit_ else None,
        "region_code": proj.region_code,
        "created_at": w.clamp(local_at(on or day, r)),
    }


def _attendance(
    w: World, r: random.Random, proj: Proj, people: list[Row], pay: dict[int, dict[str, tuple[Decimal, int]]]
) -> Iterator[tuple[str, Row]]:
    T, plan = w.today, w.plan
    m0 = (T.year, T.month)
    full = [ym_add(m0, -k) for k in range(plan.attendance_months, 0, -1)]
    # The recent days: the current month up to yesterday, or the last ``attendance_days`` (big scales).
    if plan.attendance_days is None:
        recent = [dt.date(T.year, T.month, d) for d in range(1, T.day)]
    else:
        recent = [T - dt.timedelta(days=k) for k in range(plan.attendance_days, 0, -1)]
    # On a working day most of the site clocks in; on a rest day (Sunday, holiday) some of it.
    recent_share = [(d, 0.9 if is_workday(d) else 0.3) for d in recent]
    devices = [f"KQ{proj.id:08d}{k:02d}" for k in range(1, DEVICES_PER_PROJECT + 1)]
    dawn = {d: dt.datetime(d.year, d.month, d.day, 6, 30, tzinfo=CST).astimezone(UTC) for d in recent}
    minute = dt.timedelta(minutes=1)
    for p in people:
        entry, exit_ = p["entry_date"], p["exit_date"]
        months = pay.get(p["id"], {})
        days: list[dt.date] = []
        for ym in full:
            paid = months.get(month_str(ym))
            if not paid or not paid[1]:
                continue  # no pay record for the month: no attendance either (W06)
            first = dt.date(*ym, 1)
            span = [first + dt.timedelta(days=k) for k in range((dt.date(*ym_add(ym, 1), 1) - first).days)]
            present = [d for d in span if entry <= d and (exit_ is None or d <= exit_)]
            # Working days first: a site rests on Sundays and holidays before it rests on a weekday.
            present.sort(key=lambda d: (not is_workday(d), r.random()))
            days.extend(sorted(present[: paid[1]]))
        days.extend(
            d for d, share in recent_share if entry <= d and (exit_ is None or d <= exit_) and r.random() < share
        )
        device = r.choice(devices)
        for d in days:
            start = dawn.get(d) or dt.datetime(d.year, d.month, d.day, 6, 30, tzinfo=CST).astimezone(UTC)
            start += r.randrange(90) * minute
            yield (
                "attendance",
                {
                    "id": w.next_id("attendance"),
                    "worker_id": p["id"],
                    "project_id": proj.id,
                    "day": d,
                    "time_in": start,
                    "time_out": start + (540 + r.randrange(120)) * minute,
                    "device_id": device,
                    "region_code": proj.region_code,
                },
            )
