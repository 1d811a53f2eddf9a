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
from typing import Any

import hub.seed._names as N
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
            "credit_level": ent.credit,
            "blacklisted": ent.blacklisted,
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
    if repeat.row is not None:  # every enterprise has its row until it is yielded, just below
        repeat.row["credit_level"], repeat.row["blacklisted"] = "C", False
    w.repeat_ent = repeat
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
            "guarantee_deposits": p,
            "raw_records": round(c * 1.07),
            "clues": c,
            "channel_records": round(c * 1.07),
            "case_actions": c * 4,
            "credit_ratings": round(p * 0.62) + 2,
            "events": c,
        }

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


_PENALTY_REASONS = (
    "拖欠农民工工资",
    "未按规定开设农民工工资专用账户",
    "未按规定存储工资保证金",
    "未实行实名制管理",
    "未按月足额支付工资",
)


def _finale(w: World) -> Iterator[tuple[str, Row]]:
    """Credit ratings with their evidence (warnings are the rules engine's, after seeding)."""
    T = w.today
    # 人社部规〔2016〕1号: A no penalty in the year; B penalised; C 3+ penalties or a group incident.
    year = T.year - 1
    for ent in w.ents.values():
        rr = w.rng("credit", ent.id)
        _, city, county = w.names(ent.region_code)
        doc = f"{(city or county)[0]}{county[0]}人社监罚字"
        ratings = [(year, ent.credit)] if ent is not w.repeat_ent else [(year, "B"), (T.year, "C")]
        for y, level in ratings:
            evidence: list[dict[str, Any]] = []
            for _ in range({"A": 0, "B": 1, "C": 3}[level]):
                when = dt.date(y, rr.randint(1, 12), rr.randint(1, 28))
                evidence.append(
                    {
                        "type": "penalty",
                        "doc_no": f"{doc}〔{y}〕第{rr.randint(1, 160)}号",
                        "date": min(when, T).isoformat(),
                        "reason": rr.choice(_PENALTY_REASONS),
                        "amount": rr.randint(2, 50) * 1000,
                    }
                )
            if level != "A":
                cited = w.recent_clues.get(ent.id, []) if y == T.year else w.evidence.get(ent.id, [])
                evidence += [{"type": "clue", "clue_no": no} for no in cited]
            rated = local_at(dt.date(y + 1, 1, rr.randint(5, 25)), rr) if y < T.year else local_at(T, rr, 8, 9)
            yield (
                "credit_ratings",
                {
                    "id": w.next_id("credit_ratings"),
                    "enterprise_id": ent.id,
                    "year": y,
                    "level": level,
                    "blacklisted": ent.blacklisted and y == ratings[-1][0],
                    "blacklisted_until": dt.date(T.year + 2, rr.randint(1, 12), 1) if ent.blacklisted else None,
                    "evidence": evidence,
                    "rated_at": w.clamp(rated),
                    "region_code": w.region_for(ent.region_code),
                },
            )
    if w.repeat_ent:
        recent = w.recent_clues.get(w.repeat_ent.id, [])
        w.highlights["repeat_enterprise"] = {
            "enterprise_id": w.repeat_ent.id,
            "uscc": w.repeat_ent.uscc,
            "name": w.repeat_ent.name,
            "credit_level": "C",
            "clues_last_90_days": len(recent),
            "clue_nos": recent,
        }
