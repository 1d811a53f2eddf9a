"""Pure generation of the demo data: yields ``(table, row)`` pairs as plain dicts, never touches a DB.

The stream is ordered so that a parent row always comes before its children, and it is generated in
blocks (one project with its account, allocations, workers, payroll and deposit; one day of clues)
with a sub-RNG per block derived from the seed, so memory stays flat at any scale: only compact
metadata of enterprises and projects is kept, never workers or payroll. Primary keys are assigned
here, so foreign keys are wired without round trips.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import hub.seed._names as N
from hub.blacklist import add_months
from hub.crypto import Cipher
from hub.identifiers import make_uscc
from hub.seed._base import Ent, Row, ScalePlan, World, local_at, spread
from hub.seed._clues import clue_rows
from hub.seed._projects import project_rows


def enterprise_rows(w: World, counts: dict[str, int]) -> Iterator[tuple[str, Row]]:
    """Enterprise pools per county, registered in real counties; a few big builders and contractors
    from other provinces (e.g. Beijing 110000, Jiangsu 320000). Fills ``w.pools``."""
    w.pools, w.external, w.ents, w.by_name = {}, [], {}, {}
    total = sum(counts.values())
    outside = [p for p in ("11", "32", "33") if p != w.root[:2]][:2]

    def make(r: random.Random, county: str, kind: str, sector: str = "住建") -> Ent:
        prov, city, cname = w.names(county)
        reg, org = "9", "1"
        qual: str | None = None
        where = county
        for _ in range(30):
            trade = N.trade_name(r)
            if kind == "general_contractor":
                name = N.contractor_name(r, trade, province=prov, city=city, county=cname)
                qual = r.choice(["建筑工程施工总承包一级", "建筑工程施工总承包二级", "市政公用工程施工总承包一级"])
            elif kind == "subcontractor":
                name, qual = N.subcontractor_name(r, trade, province=prov, city=city)
            elif kind == "labour_service":
                name, qual = N.labour_name(r, trade, province=prov, city=city, county=cname), "施工劳务不分等级"
            else:
                name, reg, org, level = N.builder_name(r, trade, sector=sector, city=city, county=cname)
                if level and name in w.by_name:
                    return w.by_name[name]  # a bureau or 城投 exists once: reuse it
                if level == "city":
                    where = w.city_of(county)  # registered at city level (USCC chars 3–8 = the city)
                if level:
                    break
            if name not in w.used:
                break
        w.used.add(name)
        # 人社部规〔2016〕1号: A (no penalty) for most, B (penalised), C (3+ penalties / group incident).
        x = r.random()
        credit = "A" if x < 0.86 else "B" if x < 0.97 else "C"
        ent = Ent(
            id=w.next_id("enterprises"),
            kind=kind,
            name=name,
            short=N.short_name(name, w.name_prefixes),
            region_code=where,
            uscc=w.unique(lambda: make_uscc(r, region_code=where, registration=reg, org_type=org)),
            credit=credit if kind != "builder" else "A",
            address=N.address(r, city=city, county=cname),
            account=f"{r.randint(10**15, 10**16 - 1)}{r.randint(100, 999)}",
            sector=sector,
        )
        ent.blacklisted = ent.credit == "C" and r.random() < 0.4  # 失信联合惩戒名单
        w.ents[ent.id] = w.by_name[name] = ent
        ent.row = {
            "id": ent.id,
            "uscc": ent.uscc,
            "name": name,
            "short_name": ent.short,
            "legal_representative": N.person_name(r),
            "region_code": where,
            "address": ent.address,
            "kind": kind,
            "qualification": qual,
            "credit_level": None,  # rated from the evidence at the end of seeding (hub.credit)
            "blacklisted": False,
            "created_at": local_at(w.today - dt.timedelta(days=r.randint(400, 5000)), r),
        }
        return ent

    for county in w.counties:
        r = w.rng("enterprises", county)
        n = counts[county]
        pool = w.pools[county] = {}
        pool["general_contractor"] = [make(r, county, "general_contractor") for _ in range(max(1, round(n / 10)))]
        pool["subcontractor"] = [make(r, county, "subcontractor") for _ in range(max(1, round(n / 8)))]
        pool["labour_service"] = [make(r, county, "labour_service") for _ in range(max(2, round(n / 5)))]
        for sector, share in (("住建", 0.18), ("交通", 0.05), ("水利", 0.04)):
            pool["builder/" + sector] = [make(r, county, "builder", sector) for _ in range(max(1, round(n * share)))]
    r = w.rng("enterprises", "external")
    for i in range(max(2, round(total / 60))):
        county = r.choice(w.county_lists[outside[i % len(outside)] if outside else w.root[:2]])
        w.external.append(make(r, county, "general_contractor" if i % 3 else "builder"))
    # Highlight (3): a labour company in the first county with many recent clues; credit C.
    repeat = w.pools[w.counties[0]]["labour_service"][0]
    repeat.credit, repeat.blacklisted = "C", False
    w.repeat_ent = repeat
    # Highlight: a labour company of the first county on the blacklist (and a second one whose three
    # years end within the month, so the sweep ends it by itself in a running demo).
    listed = [e for e in w.pools[w.counties[0]]["labour_service"][1:] + w.pools[w.counties[0]]["subcontractor"]]
    for ent in listed[:2]:
        ent.credit, ent.blacklisted = "C", True
    w.listed_ents = listed[:2]
    for ent in w.ents.values():
        if ent.row is not None:
            yield "enterprises", ent.row
        ent.row = None


#: Roles of the first projects of the first county: the special situations every scale must have.
ROLES: tuple[tuple[str, ...], ...] = (
    ("stopped_allocation", "repeat_employer"),
    ("multi_channel", "repeat_employer"),
    ("expired_guarantee", "group_case", "repeat_employer"),
    ("expiring_guarantee", "large_amount"),
)
#: Projects added to the first county after the planned ones: what fires each warning rule the
#: projects above do not, and the boundaries that must not fire (hub.seed._projects). They come last,
#: from their own random streams, and no complaint names them, so the rest of the world is as before.
SITUATIONS: tuple[tuple[str, ...], ...] = (
    ("no_account",),
    ("account_opened_late",),
    ("no_account_boundary",),
    ("not_filed",),
    ("low_wages", "big_pay"),
    ("low_ratio",),
    ("no_deposit",),
    ("guarantee_boundary",),
    # W06, W09, W13, W14, W16 and their boundaries: real-name records and output values (hub.seed._engine_cases)
    ("attendance_without_pay",),
    ("attendance_without_pay_boundary",),
    ("exit_not_settled",),
    ("exit_not_settled_boundary",),
    ("stopped_attendance",),
    ("stopped_attendance_boundary",),
    ("output_up_wages_down",),
    ("output_up_wages_down_boundary",),
    ("paid_not_on_roster",),
    ("paid_not_on_roster_boundary",),
)


#: Block numbers of the situation projects' random streams (after any county's planned projects).
SITUATION_BASE = 1_000_000


class Generation:
    """One run of the generator: ``rows()`` streams ``(table, row)``; ``highlights`` is complete after it."""

    def __init__(
        self, *, plan: ScalePlan, seed: int, today: dt.date, cipher: Cipher, region: str, now: dt.datetime | None = None
    ) -> None:
        self.world = w = World(plan=plan, seed=seed, today=today, cipher=cipher, region=region, now=now)
        r = w.rng("counties")
        weights = [r.uniform(0.6, 1.4) * (1.6 if w.regions[c].kind == "市辖区" else 1.0) for c in w.counties]
        counts = spread(plan.projects, weights)
        while counts[0] < len(ROLES) + 2:  # the first county hosts the special situations
            big = counts.index(max(counts[1:]), 1)
            counts[0], counts[big] = counts[0] + 1, counts[big] - 1
        self.counts = dict(zip(w.counties, counts, strict=True))

    @property
    def highlights(self) -> dict[str, Any]:
        return self.world.highlights

    def estimated_totals(self) -> dict[str, int]:
        """Expected row counts per table (exact for projects and clues), for progress bars."""
        p, c = self.world.plan.projects, self.world.plan.clues
        return {
            "enterprises": round(p * 0.62) + 2,
            "projects": p + len(SITUATIONS),
            "wage_accounts": round(p * 0.98),
            "labor_cost_allocations": p * 9,
            "workers": self.world.plan.workers,
            "payroll_records": self.world.plan.workers * 10,
            "project_contracts": round(p * 3.3),
            "progress_payments": p * 9,
            "account_expenses": p * 9,
            "output_values": p * 10,
            "teams": round(self.world.plan.workers / 20),
            "site_movements": round(self.world.plan.workers * 1.1),
            "attendance": self._attendance_estimate(),
            "guarantee_deposits": p,
            "raw_records": round(c * 1.07),
            "clues": c,
            "channel_records": round(c * 1.07),
            "case_actions": c * 4,
            "penalties": round(p * 0.62 * 0.2) + 4,
            "blacklist_entries": round(p * 0.62 * 0.012) + 2,
            "events": c,
        }

    def _attendance_estimate(self) -> int:
        """The on-site share of the workers × ~22 days a full month and ~2/3 of the recent days."""
        plan = self.world.plan
        recent = plan.attendance_days if plan.attendance_days is not None else self.world.today.day - 1
        return round(plan.workers * 0.8 * (22 * plan.attendance_months + recent * 2 / 3))

    def rows(self) -> Iterator[tuple[str, Row]]:
        w = self.world
        yield from enterprise_rows(w, self.counts)
        mean = w.plan.workers / w.plan.projects
        for ci, county in enumerate(w.counties):
            for k in range(self.counts[county]):
                roles = ROLES[k] if ci == 0 and k < len(ROLES) else ()
                yield from project_rows(w, county, k, roles, mean)
        for k, roles in enumerate(SITUATIONS):
            yield from project_rows(w, w.counties[0], SITUATION_BASE + k, roles, mean, listed=False)
        yield from clue_rows(w)
        yield from _finale(w)


#: Violations penalties are seeded for (行政处罚 of the labour-inspection authority).
_PENALTY_REASONS = (
    "拖欠农民工工资",
    "未按规定开设农民工工资专用账户",
    "未按规定存储工资保证金",
    "未实行实名制管理",
    "未按月足额支付工资",
)


def _finale(w: World) -> Iterator[tuple[str, Row]]:
    """The credit evidence: penalties and blacklist listings.

    No warning and no rating is written here: ``hub.seed.seed_database`` has the rules engine
    (``hub.rules``) and ``hub.credit`` judge the seeded world.
    """
    yield from _penalties(w)
    yield from _listings(w)
    if w.repeat_ent:
        recent = w.recent_clues.get(w.repeat_ent.id, [])
        w.highlights["repeat_enterprise"] = {
            "enterprise_id": w.repeat_ent.id,
            "uscc": w.repeat_ent.uscc,
            "name": w.repeat_ent.name,
            "clues_last_90_days": len(recent),
            "clue_nos": recent,
        }


def _penalty_doc(w: World, ent: Ent, year: int, seq: dict[tuple[str, int], int]) -> tuple[str, str]:
    """The issuing region and a unique 处罚决定书文号 of that region and year (e.g. 济任人社监罚字〔2026〕第3号)."""
    region = w.region_for(ent.region_code)
    _, city, county = w.names(region)
    prefix = f"{(city or county)[0]}{county[0]}人社监罚字"
    n = seq[(prefix, year)] = seq.get((prefix, year), 0) + 1
    return region, f"{prefix}〔{year}〕第{n}号"


def _penalties(w: World) -> Iterator[tuple[str, Row]]:
    """Administrative penalties by each enterprise's character in the generator (``Ent.credit``): none for
    most, one this year for a "B" one, three this year (or a fine and a refusal) for a "C" one, and some
    older ones, so that the ratings computed from them show every level and some history."""
    T = w.today
    seq: dict[tuple[str, int], int] = {}
    for ent in w.ents.values():
        rr = w.rng("penalties", ent.id)
        this_year = (T - dt.date(T.year, 1, 1)).days
        dates: list[tuple[dt.date, str]] = []
        if ent.credit == "B":
            dates.append((T - dt.timedelta(days=rr.randint(0, this_year)), "fine"))
        elif ent.credit == "C":
            kinds = (
                ["fine", "refused_rectification"] if rr.random() < 0.25 and ent is not w.repeat_ent else ["fine"] * 3
            )
            dates += [(T - dt.timedelta(days=rr.randint(0, this_year)), k) for k in kinds]
        if ent is w.repeat_ent or (ent.credit == "A" and ent.kind != "builder" and rr.random() < 0.12):
            past = dt.date(T.year - rr.choice((1, 1, 2)), rr.randint(1, 12), rr.randint(1, 28))
            dates.append((past, rr.choice(("fine", "order"))))
        for day, kind in sorted(dates):
            region, doc = _penalty_doc(w, ent, day.year, seq)
            yield (
                "penalties",
                {
                    "id": w.next_id("penalties"),
                    "enterprise_id": ent.id,
                    "document_no": doc,
                    "decided_on": day,
                    "kind": kind,
                    "violation": rr.choice(_PENALTY_REASONS)
                    if kind != "refused_rectification"
                    else "拒不履行责令限期支付工资指令书",
                    "amount": Decimal(rr.randint(2, 50) * 1000) if kind == "fine" else None,
                    "source": "imported",
                    "created_by": "seed",
                    "created_at": w.clamp(local_at(min(day + dt.timedelta(days=rr.randint(0, 10)), T), rr)),
                    "region_code": region,
                },
            )


def _listings(w: World) -> Iterator[tuple[str, Row]]:
    """失信联合惩戒名单 listings (人社部令第45号: three years from the decision) of the blacklisted enterprises;
    the second highlighted one ends within the month."""
    T = w.today
    seq = 0
    for ent in w.ents.values():
        if not ent.blacklisted:
            continue
        rr = w.rng("listing", ent.id)
        decided = T - dt.timedelta(days=rr.randint(30, 900))
        if w.listed_ents[1:] and ent is w.listed_ents[1]:
            decided = add_months(T + dt.timedelta(days=12), -36)
        region = w.region_for(ent.region_code)
        _, city, county = w.names(region)
        seq += 1
        yield (
            "blacklist_entries",
            {
                "id": w.next_id("blacklist_entries"),
                "enterprise_id": ent.id,
                "document_no": f"{(city or county)[0]}{county[0]}人社失信字〔{decided.year}〕第{seq}号",
                "decided_on": decided,
                "reason": "拖欠农民工工资数额较大，经责令限期支付仍未支付",
                "ends_on": add_months(decided, 36),
                "status": "listed",
                "created_by": "seed",
                "created_at": w.clamp(local_at(decided, rr)),
                "region_code": region,
            },
        )
    if w.listed_ents:
        first = w.listed_ents[0]
        w.highlights["blacklisted_enterprise"] = {"enterprise_id": first.id, "uscc": first.uscc, "name": first.name}
    if w.listed_ents[1:]:
        second = w.listed_ents[1]
        w.highlights["expiring_listing"] = {
            "enterprise_id": second.id,
            "ends_on": add_months(add_months(T + dt.timedelta(days=12), -36), 36).isoformat(),
        }
