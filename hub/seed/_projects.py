"""Generation of one project block: the project, its 专户 and labour-cost bills, workers, payroll
and wage guarantee deposit.

No warning is written here: the rules engine (``hub.rules``) computes them over the seeded world.
Projects with a role (``_generate.ROLES``) are the situations that fire each rule, and the boundaries
that must not (``w.highlights["warning_situations"]``).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal

import hub.seed._names as N
from hub.identifiers import make_permit_no, mask_bank_card
from hub.seed._base import Ent, Proj, Row, World, first_workday_from, local_at, month_str, ym_add
from hub.seed._engine_cases import OWN_RECORDS, engine_case_rows
from hub.seed._project_money import money_rows
from hub.seed._realname import realname_rows
from hub.workdays import add_working_days

BASE_DAYS = {1: 20, 2: 15, 12: 21}  # site days in a month: winter and 春节 are short
MANAGER_TYPES = ("劳资专管员", "施工员", "安全员")

#: Roles of recently signed projects: (days since the contract, days since the start).
RECENT = {
    "no_account": (45, 35),  # W01 red: no 专户 45 days after the contract
    "account_opened_late": (40, 30),  # W01 red a week ago; the account opened 3 days ago clears it
    "no_account_boundary": (19, 10),  # no 专户 19 days after the contract: not yet a warning
    "not_filed": (70, 50),  # W02 red: opened 40 days ago, never filed
    "no_deposit": (60, 45),  # W11 red: no wage guarantee deposit 60 days after the contract
}
#: Roles of projects without a 专户.
NO_ACCOUNT = frozenset({"no_account", "no_account_boundary"})
#: Roles whose situation the seed records for the tests (``w.highlights["warning_situations"]``).
RECORDED = (
    *RECENT,
    "low_wages",
    "big_pay",
    "low_ratio",
    "guarantee_boundary",
)


def project_rows(
    w: World, county: str, k: int, roles: tuple[str, ...], mean_workers: float, *, listed: bool = True
) -> Iterator[tuple[str, Row]]:
    """One project with its 专户, labour-cost bills, workers, payroll and wage guarantee deposit.

    ``listed``: kept in ``w.projects``, which the clue generator picks complaints' projects from.
    """
    r = w.rng("project", county, k)
    T, days = w.today, dt.timedelta
    prov, city, cname = w.names(county)
    pid = w.next_id("projects")
    sector = r.choices(("住建", "交通", "水利"), (0.75, 0.15, 0.10))[0]
    x = r.random()
    end: dt.date | None = None
    if roles:
        status, start = "in_progress", T - days(r.randint(540, 720))
    elif x < 0.12:
        status, end = "completed", T - days(r.randint(20, 340))
        start = end - days(r.randint(300, 900))
    elif x < 0.15:
        status, end = "stopped", T - days(r.randint(30, 200))
        start = end - days(r.randint(200, 700))
    else:
        status, start = "in_progress", T - days(int(r.triangular(20, 1100, 700)))
    permit_date = start - days(r.randint(3, 30))
    contract = permit_date - days(r.randint(10, 60))
    planned_end = end if status == "completed" and end is not None else start + days(r.randint(300, 1100))
    recent = next((RECENT[x] for x in roles if x in RECENT), None)
    if recent is not None:
        contract, start = T - days(recent[0]), T - days(recent[1])
        permit_date = contract + days(5)
    if status == "in_progress" and planned_end <= T:
        planned_end = T + days(r.randint(30, 400))
    value = Decimal(round(min(8e8, max(2e6, r.lognormvariate(17.2, 1.0))), -3)).quantize(Decimal("0.01"))
    city_counties = w.city_counties[w.city_of(county)]

    def pick(kind: str, same: float = 0.65) -> Ent:
        c = county if r.random() < same else r.choice(city_counties)
        return r.choice(w.pools[c][kind])

    ext_gc = [e for e in w.external if e.kind == "general_contractor"]
    contractor = r.choice(ext_gc) if ext_gc and r.random() < 0.08 else pick("general_contractor")
    ext_b = [e for e in w.external if e.kind == "builder"]
    if sector == "住建" and ext_b and r.random() < 0.04:
        builder = r.choice(ext_b)
    else:
        builder = r.choice(w.pools[county]["builder/" + sector])
    employers: list[Ent] = [w.repeat_ent] if "repeat_employer" in roles and w.repeat_ent else []
    for kind, lo, hi in (("labour_service", 1, 3), ("subcontractor", 0, 2)):
        for _ in range(r.randint(lo, hi)):
            e = pick(kind, 0.7)
            if e not in employers:
                employers.append(e)
    name = N.project_name(r, sector=sector, city=city, county=cname, year=start.year)
    code_seq = w.code_seq.setdefault((contract.year, county), r.randint(1000, 90000))
    w.code_seq[(contract.year, county)] += r.randint(1, 40)
    industry = {"住建": "47", "交通": "48", "水利": "48"}[sector]  # GB/T 4754: 47 房屋建筑业, 48 土木工程建筑业
    proj = Proj(
        id=pid,
        code=f"{contract.year}-{county}-{industry}-0{r.choice('123')}-{code_seq:06d}",
        name=name,
        region_code=county,
        address=f"{city}{cname}{N.road(r)}与{N.road(r)}交汇处{r.choice('东西南北')}侧",
        sector=sector,
        status=status,
        start=start,
        end=end,
        contractor=contractor,
        builder=builder,
        employers=employers,
        roles=roles,
    )
    ratio = Decimal(r.randint(1500, 3000)) / 10000  # agreed labour-cost share of progress payments
    specialty = {"住建": "01", "交通": "02", "水利": "03"}[sector]
    permit = (
        None
        if (r.random() < 0.02 and not roles)
        else w.unique(lambda: make_permit_no(r, region_code=county, issued=permit_date, specialty=specialty))
    )
    yield (
        "projects",
        {
            "id": pid,
            "project_code": proj.code,
            "name": name,
            "address": proj.address,
            "sector": sector,
            "status": status,
            "permit_no": permit,
            "permit_date": permit_date if permit else None,
            "contract_value": value,
            "contract_signed_on": contract,
            "labour_cost_cycle_days": 30,
            "labour_cost_ratio": ratio,
            "start_date": start,
            "planned_end_date": planned_end,
            "contractor_id": contractor.id,
            "builder_id": builder.id,
            "region_code": county,
            "created_at": local_at(contract, r),
        },
    )

    # 专户: opened by the general contractor within 30 days of the contract (人社部发〔2021〕53号),
    # filed within 30 days of opening; a few late, a few missing — they drive warnings W01 / W02.
    acc: Row | None = None
    if not NO_ACCOUNT & set(roles) and (roles or r.random() > 0.02):
        late = r.random() < 0.05 and not roles
        opened = contract + days(r.randint(31, 75) if late else r.randint(3, 28))
        f = r.random()
        if f < 0.03 and not roles:
            filed = None
        else:
            filed = opened + days(r.randint(31, 60) if f < 0.09 and not roles else r.randint(1, 25))
        if "account_opened_late" in roles:
            opened, filed = T - days(3), None
        elif "not_filed" in roles:
            opened, filed = T - days(40), None
        bank = r.choice(N.BANKS)
        proj.account_id = aid = w.next_id("wage_accounts")
        acc = {
            "id": aid,
            "project_id": pid,
            "enterprise_id": contractor.id,
            "bank_name": f"{bank[0]}{city}{cname}支行",
            "bank_code": N.bank_code(r, bank[3], county),
            "salary_account": f"37{aid:09d}{r.randint(0, 99999999):08d}",
            "salary_account_name": f"{contractor.name}{name}农民工工资专用账户",
            "open_account_date": opened,
            "filed_date": filed,
            "account_balance": Decimal(0),
            "status": "closed" if status == "completed" and end and end < T - days(60) else "open",
            "region_code": county,
            "created_at": local_at(opened, r),
        }
    people, payroll, allocations = _workers_and_money(w, r, proj, acc, ratio, mean_workers)
    cases = engine_case_rows(w, proj, people, payroll)  # W06, W09, W13, W14, W16 situations and boundaries
    # Contracts, progress payments, expense bills, output value: drawn before the 专户 row leaves (a
    # closed 专户's remainder is transferred out), yielded after it (parents first).
    money = list(
        money_rows(
            w,
            proj,
            value=value,
            signed=contract,
            ratio=ratio,
            acc=acc,
            allocations=allocations,
            payroll=payroll,
            people=people,
        )
    )
    if acc:
        yield "wage_accounts", acc  # parents first: the loader relies on stream order
    for row in allocations:
        yield "labor_cost_allocations", row
    for row in people:
        yield "workers", row
    for row in payroll:
        yield "payroll_records", row
    yield from cases
    yield from realname_rows(w, proj, people, payroll, bulk=not OWN_RECORDS & set(proj.roles))
    yield from money
    yield from _deposit(w, r, proj, value, contract)
    if listed:
        w.projects.append(proj)
    for role in roles:
        if role in RECORDED:
            w.highlights.setdefault("warning_situations", {})[role] = {
                "project_id": pid,
                "account_id": proj.account_id,
            }


def _workers_and_money(
    w: World, r: random.Random, proj: Proj, acc: Row | None, ratio: Decimal, mean: float
) -> tuple[list[Row], list[Row], list[Row]]:
    """Workers (实名制), their monthly payroll (代发) and the 专户's income bills, for one project."""
    T, days, months = w.today, dt.timedelta, w.months
    base = months[0][0] * 12 + months[0][1]

    def mi(d: dt.date) -> int:
        return d.year * 12 + d.month - base

    nm = len(months)
    first, last = max(0, mi(proj.start)), min(nm - 1, mi(proj.end) if proj.end else nm - 1)
    n = max(4, min(400, round(mean * r.lognormvariate(-0.18, 0.6))))
    if proj.roles:
        n = max(n, 24)
    proj.workers = n
    # Highlight (1): labour cost stops 4 months before today (条例 Art. 24: at least monthly), wages go unpaid.
    stop = nm - 5 if "stopped_allocation" in proj.roles else None
    mstr = [month_str(m) for m in months]
    pay_day = [first_workday_from(dt.date(*ym_add(m, 1), r.randint(8, 18))) for m in months]
    unpaid = [pay_day[i] > T or (stop is not None and i > stop) for i in range(nm)]
    acc_for = [acc["id"] if acc and acc["open_account_date"] <= pay_day[i] else None for i in range(nm)]
    roll = [f"GZ{proj.id:08d}{m[0]:04d}{m[1]:02d}" for m in months]
    batch = [f"PF{m[0]:04d}{m[1]:02d}{proj.id:010d}" for m in months]
    due, paid = [Decimal(0)] * nm, [Decimal(0)] * nm
    people: list[Row] = []
    payroll: list[Row] = []
    chosen: set[int] = set()
    big = [60_000, 50_000] if "big_pay" in proj.roles else []
    managers = 1 if n < 40 else 2
    team_left, team_no = 0, 0
    employer, leader = proj.contractor, False
    for j in range(n):
        if (
            w.person_seq > 100 and r.random() < 0.08 and "big_pay" not in proj.roles
        ):  # some move on from earlier projects
            idx = r.randrange(max(1, w.person_seq - 5000), w.person_seq)
        else:
            w.person_seq += 1
            idx = w.person_seq
        if idx in chosen:
            w.person_seq += 1
            idx = w.person_seq
        chosen.add(idx)
        p = w.person(idx, local=w.counties)
        if j < managers:
            role, wtype, employer, team, leader = "管理人员", MANAGER_TYPES[j], proj.contractor, None, False
            rate = r.randint(6000, 12000)  # monthly
            entry = proj.start
        else:
            if team_left == 0:
                team_no += 1
                team_left = r.randint(12, 30)
                employer = proj.employers[(team_no - 1) % len(proj.employers)] if proj.employers else proj.contractor
                leader = True  # the first worker of a team (班组) is its leader
            else:
                leader = False
            team_left -= 1
            role, team = "建筑工人", f"{proj.id:08d}{team_no:03d}"
            wt = N.WORK_TYPES[min(len(N.WORK_TYPES) - 1, _bisect(N.WORK_TYPE_CUM, r.random()))]
            wtype, rate = wt[0], r.randint(wt[2], wt[3])
            if proj.start < w.window_start and r.random() < 0.9:
                entry = proj.start + days(r.randint(0, (w.window_start - proj.start).days))
            else:
                lo = max(proj.start, w.window_start)
                entry = lo + days(r.randint(0, max(0, ((proj.end or T) - lo).days - 25)))
        exit_ = proj.end
        if exit_ is None and role == "建筑工人" and r.random() < 0.08:
            e = entry + days(r.randint(60, 330))
            exit_ = e if e < T - days(5) else None
        wid = w.next_id("workers")
        enc, h, masked = w.encrypt_id(p.id_number)
        card_masked = mask_bank_card(p.card)
        people.append(
            {
                "id": wid,
                "name": p.name,
                "id_card_type": "01",
                "id_number_enc": enc,
                "id_number_hash": h,
                "id_number_masked": masked,
                "gender": "M" if p.male else "F",
                "birth_date": p.birth,
                "phone": p.phone_e164,
                "project_id": proj.id,
                "enterprise_id": employer.id,
                "team_sys_no": team,
                "work_type": wtype,
                "work_role": role,
                "is_team_leader": bool(leader),
                "bank_card_enc": w.cipher.encrypt(p.card),
                "bank_card_masked": card_masked,
                "bank_code": p.bank_code,
                "entry_date": entry,
                "exit_date": exit_,
                "region_code": proj.region_code,
                "created_at": local_at(entry, r),
            }
        )
        if role == "建筑工人" and len(proj.contacts) < 4 and exit_ is None:
            proj.contacts.append(p)
        e_mi, x_mi = mi(entry), mi(exit_) if exit_ else nm
        for i in range(max(first, e_mi), min(last, x_mi) + 1):
            d = BASE_DAYS.get(months[i][1], 24) + int(r.random() * 5) - 2
            if i == e_mi:  # joined this month
                d = min(d, max(1, (31 - entry.day) * 4 // 5))
            if i == x_mi and exit_ is not None:  # left this month
                d = min(d, max(1, exit_.day * 4 // 5))
            total = rate * d // 24 if role == "管理人员" else rate * d
            total = min(12000, max(3000, total))  # monthly pay ¥3,000–¥12,000
            if role != "管理人员":
                d = min(31, max(d, -(-total // rate)))
            actual = total if r.random() < 0.85 else total - int(total * r.uniform(0.01, 0.05))
            if "low_wages" in proj.roles and i == nm - 2:  # W07: a wage sheet below the minimum wage
                total = actual = 1500
            if big and i == nm - 3:
                # W08: ¥60,000 to one worker in a month fires; exactly ¥50,000 to the next does not
                total = actual = big.pop(0)
            if unpaid[i]:
                status = 0
            else:
                # Last month's transfers: a few failed (发放失败) or are being re-issued (重新发放中);
                # earlier months' were re-issued and paid (the 专户 pays every month in full).
                x = r.random()
                status = 30 if x < 0.004 and i == nm - 1 else 40 if x < 0.007 and i == nm - 1 else 20
            due[i] += actual
            if status == 20 and acc_for[i]:
                paid[i] += actual
            payroll.append(
                {
                    "id": w.next_id("payroll_records"),
                    "pay_roll_code": roll[i],
                    "project_id": proj.id,
                    "worker_id": wid,
                    "account_id": acc_for[i],
                    "enterprise_id": employer.id,
                    "pay_month": mstr[i],
                    "total_pay_amount": Decimal(total),
                    "actual_amount": Decimal(actual),
                    "days": d,
                    "work_hours": Decimal(d * 8),
                    "balance_date": None if status == 0 else pay_day[i],
                    "pay_status": status,
                    "is_back_pay": status == 40,
                    "bank_card_masked": card_masked,
                    "batch_number": batch[i],
                    "region_code": proj.region_code,
                }
            )
    allocations = _allocations(w, r, proj, acc, ratio, first, last, stop, due, paid, pay_day, acc_for) if acc else []
    if stop is not None:
        _stopped(w, proj, acc, stop, last)
    return people, payroll, allocations


def _bisect(cum: list[float], x: float) -> int:
    x *= cum[-1]
    for i, c in enumerate(cum):
        if x < c:
            return i
    return len(cum) - 1


def _allocations(
    w: World,
    r: random.Random,
    proj: Proj,
    acc: Row,
    ratio: Decimal,
    first: int,
    last: int,
    stop: int | None,
    due: list[Decimal],
    paid: list[Decimal],
    pay_day: list[dt.date],
    acc_for: list[int | None],
) -> list[Row]:
    """Monthly income bills (billType 1) from the builder into the 专户, with the balance after each.

    条例 Art. 24: labour cost allocated at least monthly. The bill for month M arrives early in M+1,
    before the wages for M are paid from the account (mid M+1).
    """
    T, months = w.today, w.months
    rows: list[Row] = []
    balance = Decimal(round(float(due[first]) * r.uniform(0.3, 0.9), -2)) if proj.start < w.window_start else Decimal(0)
    if stop is not None:
        balance = Decimal(round(float(due[first]) * 0.1, -2))
    gap = r.randint(first + 1, last) if last - first >= 3 and not proj.roles and r.random() < 0.04 else None
    carry = Decimal(0)
    for i in range(first, last + 1):
        bill = first_workday_from(dt.date(*ym_add(months[i], 1), r.randint(1, 6)))
        if bill > T or acc_for[i] is None or (stop is not None and i > stop) or due[i] == 0:
            balance -= paid[i]
            continue
        if i == gap and balance >= paid[i]:  # a month without labour cost, made up the month after (W03)
            carry = due[i]
            balance -= paid[i]
            continue
        amount = Decimal(round(float(due[i] + carry) * r.uniform(1.0, 1.1), -2))
        carry = Decimal(0)
        balance += amount
        share = ratio
        # labour cost below the agreed share of the progress payment (W04): now and then, and on purpose
        if r.random() < 0.005 or ("low_ratio" in proj.roles and i == last - 1):
            share = (ratio * Decimal(r.uniform(0.55, 0.8))).quantize(Decimal("0.0001"))
        rid = w.next_id("labor_cost_allocations")
        rows.append(
            {
                "id": rid,
                "account_id": acc["id"],
                "project_id": proj.id,
                "batch_number": f"SR{bill:%Y%m%d}{rid:010d}",
                "bill_date": bill,
                "period_month": month_str(months[i]),
                "amount": amount,
                "account_balance": balance,
                "payer_name": proj.builder.name,
                "payer_account": proj.builder.account,
                "progress_payment": (amount / share).quantize(Decimal("0.01")),
                "region_code": proj.region_code,
                "created_at": local_at(bill, r),
            }
        )
        balance -= paid[i]
    acc["account_balance"] = balance.quantize(Decimal("0.01"))
    return rows


def _stopped(w: World, proj: Proj, acc: Row | None, stop: int, last: int) -> None:
    """Highlight (1): no labour cost for months while workers keep working unpaid (W03, W05, W10)."""
    months = w.months
    w.stopped = proj
    w.highlights["stopped_allocation_project"] = {
        "project_id": proj.id,
        "project_code": proj.code,
        "name": proj.name,
        "account_id": acc["id"] if acc else 0,
        "last_allocation_period": month_str(months[stop]),
        "unpaid_months": [month_str(months[i]) for i in range(stop + 1, last + 1)],
        "workers": proj.workers,
    }


def _deposit(w: World, r: random.Random, proj: Proj, value: Decimal, contract: dt.date) -> Iterator[tuple[str, Row]]:
    """工资保证金 (人社部发〔2021〕65号): 1%–3% of the contract value by credit, within 20 working days."""
    T, days = w.today, dt.timedelta
    did = w.next_id("guarantee_deposits")
    row: Row = {
        "id": did,
        "project_id": proj.id,
        "enterprise_id": proj.contractor.id,
        "kind": "cash",
        "amount": Decimal(0),
        "rate": Decimal(0),
        "deposited_on": None,
        "guarantee_no": None,
        "issuer": None,
        "valid_from": None,
        "valid_to": None,
        "status": "exempt",
        "region_code": proj.region_code,
        "created_at": local_at(contract, r),
    }
    if "no_deposit" in proj.roles:  # W11: nothing deposited, no exemption
        return
    # 65号: contracts under ¥3M with no arrears in the past year are exempt.
    if value < 3_000_000 and r.random() < 0.7 and not proj.roles:
        yield "guarantee_deposits", row
        return
    credit = proj.contractor.credit
    # A with clean years → reduced (never below 0.5%); B → 2%; C (arrears history) → higher rate
    rate = {
        "A": Decimal("0.0050") if r.random() < 0.2 else Decimal("0.0100"),
        "B": Decimal("0.0200"),
        "C": Decimal("0.0300"),
    }[credit]
    late = r.random() < 0.04 and not proj.roles
    deposited = add_working_days(contract, r.randint(25, 40) if late else r.randint(3, 18))
    if proj.roles and deposited >= T:  # a recent contract of a warning situation: deposited already
        deposited = add_working_days(contract, 1)
    row.update(
        rate=rate,
        amount=(value * rate).quantize(Decimal("1")),
        deposited_on=deposited,
        created_at=local_at(deposited, r),
        status="active",
    )
    # 65号: deposited within 20 working days of the contract; a few late ones (W11 while they were late)
    kind = next((k for k in ("expired_guarantee", "expiring_guarantee", "guarantee_boundary") if k in proj.roles), None)
    x = r.random()
    if kind or x < 0.55:
        insurer = x > 0.47 and not kind
        row["kind"] = "insurance" if insurer else "bank_guarantee"
        row["guarantee_no"] = f"{'BX' if insurer else 'BH'}{deposited:%Y%m%d}{did:08d}"
        city = w.names(proj.region_code)[1]
        row["issuer"] = f"中国人民财产保险股份有限公司{city}分公司" if insurer else f"{r.choice(N.BANKS)[0]}{city}分行"
        years = r.randint(1, 3)
        valid_from = deposited
        valid_to = dt.date(valid_from.year + years, valid_from.month, min(valid_from.day, 28))
        while proj.status == "in_progress" and valid_to < T and r.random() > 0.02:  # renewed on expiry
            valid_from = valid_to
            valid_to = dt.date(valid_from.year + years, valid_from.month, valid_from.day)
        if kind == "expired_guarantee":
            valid_to = T - days(20)
        elif kind == "expiring_guarantee":
            valid_to = T + days(12)
        elif kind == "guarantee_boundary":
            valid_to = T + days(31)  # W12 from 30 days before expiry: not yet
        row.update(valid_from=min(valid_from, valid_to - days(30)), valid_to=valid_to)
        if kind in ("expired_guarantee", "expiring_guarantee"):
            w.highlights[kind] = {
                "deposit_id": did,
                "guarantee_no": row["guarantee_no"],
                "project_id": proj.id,
                "valid_to": valid_to.isoformat(),
            }
    else:
        row["issuer"] = f"{r.choice(N.BANKS)[0]}{w.names(proj.region_code)[1]}分行"
    if proj.status == "completed" and proj.end and proj.end + days(30) < T:
        row["status"] = "refunded"  # refunded after completion plus a 30-day public notice
    yield "guarantee_deposits", row
