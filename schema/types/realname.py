"""The real-name platform's records (实名制): teams, entries and exits, daily attendance.

保障农民工工资支付条例 第二十八条 (nobody works on site without real-name registration) and 第三十一条
(the wage sheet follows the attendance). Rows are region-scoped: a principal sees its jurisdiction's
(hub/access.py), and a worker's personal data stays on ``Worker``, masked there.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

import strawberry
from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from hub import models as m
from hub.errors import InvalidInput
from hub.vocab import MovementKind
from schema.filters import check_month
from schema.pagination import SortSpec
from schema.prefetch import to_one, to_pages
from schema.types._common import Node, node_type
from schema.types.refs import EnterpriseRef, ProjectRef, WorkerRef

strawberry.enum(MovementKind, description="A worker's movement on a site: ENTRY (进场) or EXIT (退场).")

#: The longest span ``Worker.attendance`` answers at once (two months of days).
MAX_ATTENDANCE_DAYS = 62
#: A team's members in registration order (as ``Project.workers``).
WORKER_SORT = SortSpec((m.Worker.id,))


@node_type(m.Team, name="Team", description="A 班组 (work team) of a project on the real-name platform.")
class Team(Node):
    team_sys_no: str = strawberry.field(description="The platform's team number (teamSysNo).")
    name: str
    leader_name: str | None = strawberry.field(description="The team leader (班组长).")
    entry_date: dt.date | None
    exit_date: dt.date | None
    region_code: str

    project = to_one(ProjectRef, m.Project, key="project_id")
    enterprise = to_one(
        EnterpriseRef, m.Enterprise, key="enterprise_id", description="The enterprise employing the team (corpCode)."
    )

    # One page per team: a team number is unique within its project only (teamSysNo, not an id).
    workers = to_pages(
        WorkerRef,
        m.Worker.project_id,
        sort=WORKER_SORT,
        key="project_id",
        match=(("team_sys_no", m.Worker.team_sys_no),),
        description="The team's members on the project (by teamSysNo), in registration order.",
    )


@node_type(
    m.SiteMovement,
    name="SiteMovement",
    description="A worker's 进场 or 退场; an exit carries its wage settlement (退场结算).",
)
class SiteMovement(Node):
    kind: MovementKind
    moved_on: dt.date
    settled: bool | None = strawberry.field(description="An exit: whether the wages were settled; null on entries.")
    settlement_amount: Decimal | None
    settlement_date: dt.date | None
    region_code: str

    worker = to_one(WorkerRef, m.Worker, key="worker_id")
    project = to_one(ProjectRef, m.Project, key="project_id")
    enterprise = to_one(EnterpriseRef, m.Enterprise, key="enterprise_id", description="The employer (corpCode).")


@node_type(m.Attendance, name="Attendance", description="A worker's day on a site (考勤): clock-in, clock-out, device.")
class Attendance(Node):
    day: dt.date
    time_in: dt.datetime | None
    time_out: dt.datetime | None
    device_id: str | None = strawberry.field(description="The attendance device (考勤机).")
    region_code: str

    worker = to_one(WorkerRef, m.Worker, key="worker_id")
    project = to_one(ProjectRef, m.Project, key="project_id")


@strawberry.type(description="A project's attendance in a month: who clocked in, and on how many days in all.")
class AttendanceSummary:
    month: str = strawberry.field(description="YYYY-MM")
    workers: int = strawberry.field(description="Workers with at least one day of attendance in the month.")
    attendance_days: int = strawberry.field(description="Worker-days of attendance in the month.")


def month_span(month: str, *, field: str = "month") -> tuple[dt.date, dt.date]:
    """The first and last day of ``YYYY-MM`` (``InvalidInput`` naming the field otherwise)."""
    check_month(month, field=field)
    first = dt.date(int(month[:4]), int(month[5:]), 1)
    nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)


def attendance_span(start: dt.date, end: dt.date) -> None:
    """``Worker.attendance``'s range: ordered, and at most ``MAX_ATTENDANCE_DAYS`` long."""
    if end < start:
        raise InvalidInput(f"to {end} lies before from {start}", field="to")
    if (end - start).days + 1 > MAX_ATTENDANCE_DAYS:
        raise InvalidInput(
            f"from {start} to {end} spans {(end - start).days + 1} days: ask for at most {MAX_ATTENDANCE_DAYS}",
            field="to",
        )


def summary_loader(info: Info, month: str) -> DataLoader[int, AttendanceSummary]:
    """Project id → its attendance summary for ``month``: one GROUP BY for every project of a page."""
    first, last = month_span(month)
    a = m.Attendance

    async def load(session: AsyncSession, project_ids: Sequence[int]) -> list[AttendanceSummary]:
        stmt = (
            select(a.project_id, func.count(func.distinct(a.worker_id)), func.count())
            .where(a.project_id.in_(set(project_ids)), a.day >= first, a.day <= last)
            .group_by(a.project_id)
        )
        counts: dict[int, tuple[int, int]] = defaultdict(lambda: (0, 0))
        for pid, workers, days in (await session.execute(stmt)).all():
            counts[pid] = (int(workers), int(days))
        return [AttendanceSummary(month=month, workers=counts[p][0], attendance_days=counts[p][1]) for p in project_ids]

    loader: DataLoader[int, AttendanceSummary] = info.context.loaders.batched(("attendance_summary", month), load)
    return loader


def team_loader(info: Info) -> DataLoader[tuple[int, str], m.Team | None]:
    """(project id, teamSysNo) → the team (a team number is unique within its project only)."""

    async def load(session: AsyncSession, keys: Sequence[tuple[int, str]]) -> list[m.Team | None]:
        stmt = select(m.Team).where(tuple_(m.Team.project_id, m.Team.team_sys_no).in_(set(keys)))
        rows = {(t.project_id, t.team_sys_no): t for t in (await session.execute(stmt)).scalars()}
        return [rows.get(k) for k in keys]

    loader: DataLoader[tuple[int, str], m.Team | None] = info.context.loaders.batched("team_by_number", load)
    return loader
