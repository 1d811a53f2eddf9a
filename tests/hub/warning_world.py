"""A small world for the warning rules' tests: one contractor, one project, and helpers that add the
account, bills, pay records, deposits, clues, attendance, site exits and output values a case needs
(ORM rows in the test's session)."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from decimal import Decimal
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from hub import models as m
from hub.identifiers import make_uscc

#: The day the rules judge (a Friday); every date below is relative to it.
TODAY = dt.date(2026, 11, 20)
#: "now" on that day, China time 10:00.
NOW = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
COUNTY = "370811"

_seq = itertools.count(1)

#: Tables the tests write, children first (emptied before each test).
TABLES = (
    m.WarningAction,
    m.AuditLog,
    m.CaseAction,
    m.ClueMatchKey,
    m.ChannelRecord,
    m.Event,
    m.Warning,
    m.Clue,
    m.Attendance,
    m.SiteMovement,
    m.OutputValue,
    m.PayrollRecord,
    m.Worker,
    m.LaborCostAllocation,
    m.GuaranteeDeposit,
    m.WageAccount,
    m.Project,
    m.Enterprise,
)


def days(n: int) -> dt.date:
    """``TODAY`` moved by ``n`` days."""
    return TODAY + dt.timedelta(days=n)


def empty(session: Session) -> None:
    for model in TABLES:
        session.execute(delete(model))
    session.flush()


class World:
    """The rows of one test, built in ``session``."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.contractor = self.enterprise("总包")
        self._project: m.Project | None = None

    @property
    def project(self) -> m.Project:
        """The world's project (in progress, contract 200 days ago), made when a case first needs it."""
        if self._project is None:
            self._project = self.add_project()
        return self._project

    def add(self, row: Any) -> Any:
        self.s.add(row)
        self.s.flush()
        return row

    def enterprise(self, name: str) -> m.Enterprise:
        n = next(_seq)
        return self.add(
            m.Enterprise(
                uscc=make_uscc(random.Random(n), region_code=COUNTY),
                name=f"济宁{name}{n}建设有限公司",
                region_code=COUNTY,
                kind="general_contractor",
            )
        )

    def add_project(self, **kw: Any) -> m.Project:
        n = next(_seq)
        values: dict[str, Any] = {
            "project_code": f"P-{n}",
            "name": f"测试项目{n}号楼",
            "sector": "住建",
            "status": "in_progress",
            "contract_signed_on": days(-200),
            "start_date": days(-180),
            "labour_cost_ratio": Decimal("0.2000"),
            "contract_value": Decimal("10000000"),
            "contractor_id": self.contractor.id,
            "region_code": COUNTY,
        }
        values.update(kw)
        return self.add(m.Project(**values))

    def account(self, *, project: m.Project | None = None, **kw: Any) -> m.WageAccount:
        project = project or self.project
        n = next(_seq)
        values: dict[str, Any] = {
            "project_id": project.id,
            "enterprise_id": project.contractor_id,
            "bank_name": "中国建设银行济宁分行",
            "salary_account": f"3701{n:012d}",
            "salary_account_name": "农民工工资专用账户",
            "open_account_date": days(-190),
            "filed_date": days(-180),
            "account_balance": Decimal("100000"),
            "status": "open",
            "region_code": project.region_code,
        }
        values.update(kw)
        return self.add(m.WageAccount(**values))

    def allocation(
        self, account: m.WageAccount, *, month: str, bill_date: dt.date | None = None, **kw: Any
    ) -> m.LaborCostAllocation:
        n = next(_seq)
        values: dict[str, Any] = {
            "account_id": account.id,
            "project_id": account.project_id,
            "batch_number": f"SR{n:08d}",
            "bill_date": bill_date or dt.date(int(month[:4]), int(month[5:]), 5) + dt.timedelta(days=31),
            "period_month": month,
            "amount": Decimal("20000"),
            "progress_payment": Decimal("100000"),
            "region_code": account.region_code,
        }
        values.update(kw)
        return self.add(m.LaborCostAllocation(**values))

    def worker(
        self, *, project: m.Project | None = None, person: str | None = None, on_roster: bool = True
    ) -> m.Worker:
        project = project or self.project
        n = next(_seq)
        person = person or f"person-{n}"
        return self.add(
            m.Worker(
                name=f"工人{n}",
                id_number_enc="x",
                id_number_hash=person,
                id_number_masked="370811********0000",
                project_id=project.id,
                enterprise_id=project.contractor_id,
                region_code=project.region_code,
                on_roster=on_roster,
            )
        )

    def pay(
        self,
        worker: m.Worker,
        *,
        month: str,
        amount: str | Decimal = "6000",
        status: int = 20,
        account: m.WageAccount | None = None,
        balance_date: dt.date | None = None,
    ) -> m.PayrollRecord:
        n = next(_seq)
        paid_on = balance_date or dt.date(int(month[:4]), int(month[5:]), 15) + dt.timedelta(days=31)
        return self.add(
            m.PayrollRecord(
                pay_roll_code=f"GZ{worker.project_id:06d}{month}-{n}",
                project_id=worker.project_id,
                worker_id=worker.id,
                account_id=account.id if account else None,
                enterprise_id=worker.enterprise_id,
                pay_month=month,
                total_pay_amount=Decimal(amount),
                actual_amount=Decimal(amount),
                balance_date=None if status == 0 else paid_on,
                pay_status=status,
                region_code=worker.region_code,
            )
        )

    def deposit(self, **kw: Any) -> m.GuaranteeDeposit:
        values: dict[str, Any] = {
            "project_id": self.project.id,
            "enterprise_id": self.project.contractor_id,
            "kind": "cash",
            "amount": Decimal("100000"),
            "deposited_on": days(-150),
            "status": "active",
            "region_code": self.project.region_code,
        }
        values.update(kw)
        return self.add(m.GuaranteeDeposit(**values))

    def clue(self, *, enterprise: m.Enterprise, received: dt.date) -> m.Clue:
        n = next(_seq)
        at = dt.datetime.combine(received, dt.time(10), dt.timezone(dt.timedelta(hours=8)))
        return self.add(
            m.Clue(
                clue_no=f"XS{n:08d}",
                title="欠薪",
                content="拖欠工资",
                status="received",
                handling_region_code=COUNTY,
                sector="工程建设",
                respondent_name=enterprise.name,
                enterprise_id=enterprise.id,
                received_at=at.astimezone(dt.UTC),
                region_code=COUNTY,
            )
        )

    def attend(self, worker: m.Worker, *on: dt.date) -> list[m.Attendance]:
        """``worker`` clocked in on each day of ``on`` (on the worker's project)."""
        return [
            self.add(
                m.Attendance(
                    worker_id=worker.id,
                    project_id=worker.project_id,
                    day=day,
                    time_in=dt.datetime.combine(day, dt.time(0, 30), dt.UTC),
                    time_out=dt.datetime.combine(day, dt.time(9, 30), dt.UTC),
                    device_id="KQ-1",
                    region_code=worker.region_code,
                )
            )
            for day in on
        ]

    def exit(self, worker: m.Worker, *, on: dt.date, settled: bool | None = False, **kw: Any) -> m.SiteMovement:
        """``worker`` left the site on ``on``; ``settled`` as the real-name platform recorded it."""
        values: dict[str, Any] = {
            "worker_id": worker.id,
            "project_id": worker.project_id,
            "enterprise_id": worker.enterprise_id,
            "kind": "exit",
            "moved_on": on,
            "settled": settled,
            "region_code": worker.region_code,
        }
        values.update(kw)
        return self.add(m.SiteMovement(**values))

    def output(self, *, month: str, amount: str, project: m.Project | None = None) -> m.OutputValue:
        """The project's output value (产值) for ``month``, reported early the month after."""
        project = project or self.project
        reported = dt.date(int(month[:4]), int(month[5:]), 1) + dt.timedelta(days=35)
        return self.add(
            m.OutputValue(
                project_id=project.id,
                month=month,
                amount=Decimal(amount),
                reported_on=min(reported, TODAY),
                region_code=project.region_code,
            )
        )
