"""Generation of a project's money beyond wages: the contract chain, the progress payments, the 专户's
expense bills and the monthly output value.

Everything here is derived from what ``hub.seed._projects`` already made for the project (its parties,
its labour-cost bills, its payroll), from a random stream of its own (``w.rng("money", project id)``),
so that the rest of the world is drawn exactly as before:

- the contract chain (保障农民工工资支付条例 第三十条): the 总包 holds the construction contract from the
  建设单位, each of ``proj.employers`` a 专业分包 or 劳务分包 contract from the 总包;
- one progress payment (工程款拨付, 第二十四条) per labour-cost bill, the one that bill came with: same day,
  the amount the bill records as ``progress_payment`` — so the labour-cost share rule (W04) and the
  progress payments agree;
- one wage expense bill per paid 代发 batch (the month's wages leaving the 专户 on pay day); now and
  then a leaver's 退场结算 transferred to the worker's own card (the only place 人社部发〔2021〕53号 lets a
  专户's money go); and, when a closed 专户 still holds money, the remainder transferred back to the 总包
  (the account is closed once the wages are paid; what is left returns to the contractor);
- the monthly output value (工程量产值), proportional to the month's wages over the agreed labour-cost share
  with ±3 % noise: output and wages move together, so "output up ≥ 20 % while wages fall ≥ 20 %" (W14)
  never fires by accident.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

from hub.identifiers import mask_bank_card
from hub.seed._base import Proj, Row, World, first_workday_from, local_at, ym_add

#: Share of the contract value a 分包 holds: (low, high) per role.
_SHARE = {"specialist": (0.05, 0.20), "labour": (0.08, 0.25)}
_CENT = Decimal("0.01")


def money_rows(
    w: World,
    proj: Proj,
    *,
    value: Decimal,
    signed: dt.date,
    ratio: Decimal,
    acc: Row | None,
    allocations: list[Row],
    payroll: list[Row],
    people: list[Row],
) -> Iterator[tuple[str, Row]]:
    """The project's contract chain, progress payments, expense bills and output values.

    Call it before the 专户 row is yielded: closing a 专户 with money left sets its balance to zero.
    """
    r = w.rng("money", proj.id)
    yield from _contracts(w, r, proj, value=value, signed=signed)
    for al in allocations:
        yield (
            "progress_payments",
            {
                "id": w.next_id("progress_payments"),
                "project_id": proj.id,
                "payment_no": f"GCK{al['bill_date']:%Y%m%d}{al['id']:08d}",
                "paid_on": al["bill_date"],
                "amount": al["progress_payment"],
                "payer_id": proj.builder.id,
                "region_code": proj.region_code,
                "created_at": al["created_at"],
            },
        )
    if acc is not None:
        yield from _expenses(w, r, proj, acc, allocations, payroll, people)
    yield from _output_values(w, r, proj, ratio, payroll)


def _contracts(w: World, r: random.Random, proj: Proj, *, value: Decimal, signed: dt.date) -> Iterator[tuple[str, Row]]:
    """总包 from the 建设单位; each employer's 分包 from the 总包, signed before it came on site."""
    seq = proj.code[-6:]
    yield (
        "project_contracts",
        {
            "id": w.next_id("project_contracts"),
            "project_id": proj.id,
            "enterprise_id": proj.contractor.id,
            "parent_enterprise_id": proj.builder.id,
            "role": "general",
            "contract_no": f"SGZB-{signed:%Y}-{proj.region_code}-{seq}",
            "contract_value": value,
            "signed_on": signed,
            "region_code": proj.region_code,
            "created_at": w.clamp(local_at(signed, r)),
        },
    )
    for k, ent in enumerate(proj.employers, start=1):
        role = "labour" if ent.kind == "labour_service" else "specialist"
        lo, hi = _SHARE[role]
        day = min(signed + dt.timedelta(days=r.randint(5, 40)), max(signed, proj.start))
        yield (
            "project_contracts",
            {
                "id": w.next_id("project_contracts"),
                "project_id": proj.id,
                "enterprise_id": ent.id,
                "parent_enterprise_id": proj.contractor.id,
                "role": role,
                "contract_no": f"{'LWFB' if role == 'labour' else 'ZYFB'}-{signed:%Y}-{proj.region_code}-{seq}-{k:02d}",
                "contract_value": (value * Decimal(str(round(r.uniform(lo, hi), 4)))).quantize(Decimal("1")),
                "signed_on": day,
                "region_code": proj.region_code,
                "created_at": w.clamp(local_at(day, r)),
            },
        )


def _expenses(
    w: World, r: random.Random, proj: Proj, acc: Row, allocations: list[Row], payroll: list[Row], people: list[Row]
) -> Iterator[tuple[str, Row]]:
    """One 代发 expense bill per paid batch; now and then a leaver's 退场结算 transferred to the worker's own
    card; a closed 专户's remainder transferred back to the 总包."""
    batches: dict[str, list[Row]] = defaultdict(list)
    for p in payroll:
        if p["pay_status"] == 20 and p["account_id"] == acc["id"]:
            batches[p["batch_number"]].append(p)
    # (day, batch number, amount, the rest of the row), in the order the money left
    bills: list[tuple[dt.date, str, Decimal, Row]] = []
    for batch, rows in batches.items():
        bills.append(
            (
                max(p["balance_date"] for p in rows),  # the day the batch was through
                batch,
                sum((p["actual_amount"] for p in rows), Decimal(0)),
                {
                    "action": "wages",
                    "counterparty_name": f"农民工工资代发（{len(rows)}人）",
                    "purpose": f"代发{rows[0]['pay_month']}工资",
                },
            )
        )
    # (the warning situations' accounts are left as their rules need them)
    settlement = None if proj.roles else _settlement(w, r, acc, allocations, payroll, people)
    if settlement is not None:
        bills.append(settlement)
    bills.sort(key=lambda b: (b[0], b[1]))
    # Balance after a bill: the last labour-cost bill's balance, less what left the account since.
    incomes = sorted((al["bill_date"], al["id"], al["account_balance"]) for al in allocations)
    days = [(d, i) for d, i, _ in incomes]
    spent_since: dict[int, Decimal] = defaultdict(Decimal)
    for day, batch, amount, extra in bills:
        k = bisect.bisect_right(days, (day, float("inf")))
        balance: Decimal | None = None
        if k:
            spent_since[k] += amount
            balance = (incomes[k - 1][2] - spent_since[k]).quantize(_CENT)
        yield (
            "account_expenses",
            {
                "id": w.next_id("account_expenses"),
                "account_id": acc["id"],
                "project_id": proj.id,
                "batch_number": batch,
                "bill_date": day,
                "amount": amount,
                "account_balance": balance,
                "counterparty_account_enc": None,
                "counterparty_account_masked": None,
                **extra,
                "region_code": proj.region_code,
                "created_at": w.clamp(local_at(day, r, 15, 18)),
            },
        )
    left = acc["account_balance"]
    if acc["status"] == "closed" and left > 0:
        end = proj.end or w.today
        last_day = bills[-1][0] if bills else end
        day = first_workday_from(max(end, last_day) + dt.timedelta(days=r.randint(20, 50)))
        day = min(day, w.today - dt.timedelta(days=1))
        yield (
            "account_expenses",
            {
                "id": w.next_id("account_expenses"),
                "account_id": acc["id"],
                "project_id": proj.id,
                "batch_number": f"ZZ{day:%Y%m%d}{acc['id']:010d}",
                "bill_date": day,
                "amount": left,
                "action": "transfer",
                "account_balance": Decimal("0.00"),
                "counterparty_name": proj.contractor.name,
                "counterparty_account_enc": w.cipher.encrypt(proj.contractor.account),
                "counterparty_account_masked": mask_bank_card(proj.contractor.account),
                "purpose": "销户余额转出",
                "region_code": proj.region_code,
                "created_at": w.clamp(local_at(day, r)),
            },
        )
        acc["account_balance"] = Decimal("0.00")


def _settlement(
    w: World, r: random.Random, acc: Row, allocations: list[Row], payroll: list[Row], people: list[Row]
) -> tuple[dt.date, str, Decimal, Row] | None:
    """A leaver's 退场结算 paid from an open 专户 to the worker's own card, a few days after the exit.

    Only when the account can afford it without coming near a warning: its balance afterwards still
    covers the payroll not yet paid (W10) and no labour-cost bill's balance turns negative. The later
    balances (income bills, the account) are lowered by the amount.
    """
    leavers = [p for p in people if p["exit_date"] and p.get("bank_card_enc")]
    if acc["status"] != "open" or not leavers or r.random() >= 0.25:
        return None
    worker = r.choice(leavers)
    amount = Decimal(r.randint(5, 30) * 100)
    day = first_workday_from(worker["exit_date"] + dt.timedelta(days=r.randint(2, 8)))
    later = [al for al in allocations if al["bill_date"] > day]
    unpaid = sum((p["actual_amount"] for p in payroll if p["pay_status"] == 0), Decimal(0))
    if (
        day >= w.today
        or day < acc["open_account_date"]
        or acc["account_balance"] - amount < unpaid
        or any(al["account_balance"] < amount for al in later)
    ):
        return None
    for al in later:
        al["account_balance"] -= amount
    acc["account_balance"] -= amount
    card = w.cipher.decrypt(worker["bank_card_enc"])
    return (
        day,
        f"ZZ{day:%Y%m%d}{worker['id']:010d}",
        amount,
        {
            "action": "transfer",
            "counterparty_name": worker["name"],
            "counterparty_account_enc": w.cipher.encrypt(card),
            "counterparty_account_masked": mask_bank_card(card),
            "purpose": "退场结算",
        },
    )


def _output_values(
    w: World, r: random.Random, proj: Proj, ratio: Decimal, payroll: list[Row]
) -> Iterator[tuple[str, Row]]:
    """工程量产值 per month: the month's wages over the labour-cost share, ±3 %; reported early next month.

    Not for the warning situations' projects: those that need output values (W14's) write their own.
    """
    if proj.roles:
        return
    wages: dict[str, Decimal] = defaultdict(Decimal)
    for p in payroll:
        wages[p["pay_month"]] += p["total_pay_amount"]
    for month in sorted(wages):
        y, mo = map(int, month.split("-"))
        reported = first_workday_from(dt.date(*ym_add((y, mo), 1), r.randint(3, 10)))
        if reported > w.today or not wages[month]:
            continue
        amount = (wages[month] / ratio * Decimal(str(round(r.uniform(0.97, 1.03), 4)))).quantize(Decimal("1"))
        yield (
            "output_values",
            {
                "id": w.next_id("output_values"),
                "project_id": proj.id,
                "month": month,
                "amount": amount,
                "reported_on": reported,
                "region_code": proj.region_code,
                "created_at": w.clamp(local_at(reported, r)),
            },
        )
