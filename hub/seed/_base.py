"""What every part of the demo generator shares: the plan, the world being generated and its helpers.

A leaf of ``hub.seed``: it imports nothing of the package, so ``_generate``, ``_projects`` and
``_clues`` can all build on it without an import cycle.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from dataclasses import dataclass, field
from typing import Any

import hub.seed._names as N
from hub.crypto import Cipher
from hub.identifiers import make_bank_card, make_id_number, make_phone, mask_id_number, normalise_phone
from hub.regions import RegionRow, bundled_towns, iter_regions
from hub.workdays import is_workday

CST = dt.timezone(dt.timedelta(hours=8))
UTC = dt.UTC
Row = dict[str, Any]

#: Payload fields holding personal data: stored encrypted in the raw archive as ``{"$enc": token}``;
#: ``payload_hash`` is taken over the payload as the upstream sent it (plaintext), so it is stable.
SENSITIVE_PAYLOAD_FIELDS = ("complainantIdNumber", "complainantBankCard", "idNumber")
#: 12345 work order fields (docs/domain.md, "Field names of the upstream interfaces").
HOTLINE_FIELDS = (
    "orderNum",
    "callTime",
    "callerName",
    "callerPhone",
    "sourceType",
    "reflectName",
    "questionCode",
    "majorContent",
    "organizationName",
    "handleDays",
    "deadlineDate",
    "dispatchTime",
    "completeTime",
    "isSupervise",
    "isTimeout",
    "oldOrderNum",
    "isOldCaller",
    "visitTime",
    "visitIsSolved",
    "satisfaction",
)
#: National clue platform fields: complainant, employer, arrears period, amount, headcount, sector, region.
PLATFORM_FIELDS = (
    "clueId",
    "reportTime",
    "complainantName",
    "complainantIdNumber",
    "complainantPhone",
    "complainantBankCard",
    "employerName",
    "employerAddress",
    "projectName",
    "arrearsStartDate",
    "arrearsEndDate",
    "arrearsAmount",
    "involvedNumber",
    "industry",
    "regionCode",
    "regionName",
    "content",
)


@dataclass(frozen=True)
class ScalePlan:
    """How much to generate. ``counties`` limits a city plan to its first N counties (tiny)."""

    name: str
    level: str  # city / province
    projects: int
    workers: int
    clues: int
    counties: int | None = None
    months: int = 12
    #: Full months before the current one with daily attendance (考勤), and the current month up to
    #: yesterday; or, when ``attendance_days`` is set, only that many days up to yesterday. Attendance is
    #: the biggest table by far (a row per worker and day): the city keeps a week, the province five days.
    attendance_months: int = 1
    attendance_days: int | None = None


SCALES = {
    "tiny": ScalePlan("tiny", "city", projects=30, workers=400, clues=120, counties=3),
    "city": ScalePlan(
        "city", "city", projects=1000, workers=26_000, clues=5_000, attendance_months=0, attendance_days=7
    ),
    "province": ScalePlan(
        "province", "province", projects=20_000, workers=550_000, clues=200_000, attendance_months=0, attendance_days=5
    ),
}


def canonical_json(payload: dict[str, Any]) -> str:
    """The canonical JSON of a payload (sorted keys, no spaces, UTF-8): what ``payload_hash`` hashes."""
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def payload_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


@dataclass(slots=True)
class Ent:
    id: int
    uscc: str
    name: str
    short: str
    kind: str
    region_code: str
    credit: str  # the character the generator gives it (A / B / C): which penalties it seeds, never a rating
    address: str
    account: str
    sector: str = "住建"
    blacklisted: bool = False
    row: Row | None = None


@dataclass(slots=True)
class Person:
    name: str
    male: bool
    birth: dt.date
    id_number: str
    phone: str  # as upstream systems send it: 11 digits
    bank: str
    card: str
    bank_code: str

    @property
    def phone_e164(self) -> str:
        """The phone as the hub stores it (E.164)."""
        return normalise_phone(self.phone)


@dataclass(slots=True)
class Proj:
    id: int
    code: str
    name: str
    region_code: str
    address: str
    sector: str
    status: str
    start: dt.date
    end: dt.date | None
    contractor: Ent
    builder: Ent
    employers: list[Ent]
    account_id: int | None = None
    contacts: list[Person] = field(default_factory=list)
    workers: int = 0
    roles: tuple[str, ...] = ()


def ym_add(ym: tuple[int, int], k: int) -> tuple[int, int]:
    n = ym[0] * 12 + ym[1] - 1 + k
    return n // 12, n % 12 + 1


def month_str(ym: tuple[int, int]) -> str:
    return f"{ym[0]:04d}-{ym[1]:02d}"


def first_workday_from(d: dt.date) -> dt.date:
    while not is_workday(d):
        d += dt.timedelta(days=1)
    return d


def local_at(d: dt.date, rng: random.Random, h0: int = 8, h1: int = 18) -> dt.datetime:
    """A time of day on ``d`` in China Standard Time, returned in UTC (timestamps are stored in UTC)."""
    t = dt.datetime(d.year, d.month, d.day, tzinfo=CST) + dt.timedelta(seconds=rng.randrange(h0 * 3600, h1 * 3600))
    return t.astimezone(UTC)


def fmt_local(t: dt.datetime) -> str:
    return t.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


def spread(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainder, exact sum)."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    parts = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (parts[i] - raw[i], i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


class World:
    """Regions in scope, the shared RNG derivation, id counters and the highlights being recorded."""

    def __init__(
        self, *, plan: ScalePlan, seed: int, today: dt.date, cipher: Cipher, region: str, now: dt.datetime | None = None
    ) -> None:
        self.plan, self.seed, self.today, self.cipher = plan, seed, today, cipher
        self.regions: dict[str, RegionRow] = {r.code: r for r in iter_regions()}
        if region not in self.regions:
            raise ValueError(f"unknown region {region!r}: not in the GB/T 2260 list ({len(self.regions)} regions)")
        root = self.regions[region]
        if plan.level == "province":
            self.root = region[:2] + "0000"
            # the counties of ``region`` first (when it is a city): they host the special situations
            self.counties = sorted(
                (c for c, r in self.regions.items() if r.level == "county" and c[:2] == region[:2]),
                key=lambda c: (not c.startswith(region[:4]) or region[2:4] == "00", c),
            )
        else:
            if root.level == "county":
                raise ValueError(f"region {region} is a county: seed a city (e.g. 370800) or a province")
            if root.level == "province":
                root = next(r for r in self.regions.values() if r.parent_code == region and r.level == "city")
            self.root = root.code
            self.counties = [c for c, r in self.regions.items() if r.level == "county" and r.parent_code == root.code]
            if plan.counties:
                self.counties = self.counties[: plan.counties]
        if not self.counties:
            raise ValueError(f"region {region} has no counties in the region list")
        self.scope = set(self.counties) | {self.city_of(c) for c in self.counties}
        #: The towns (街道 / 镇 / 乡) of the counties in scope that the checked-in town files have, in code order.
        self.towns: dict[str, list[RegionRow]] = {}
        for town in bundled_towns():
            if town.parent_code in self.scope:
                self.towns.setdefault(town.parent_code, []).append(town)
        self.city_counties: dict[str, list[str]] = {}
        for c in self.counties:
            self.city_counties.setdefault(self.city_of(c), []).append(c)
        self.ids: dict[str, int] = {}
        self.highlights: dict[str, Any] = {}
        self.used: set[str] = set()  # USCCs, permit numbers, names: must be unique
        self.code_seq: dict[tuple[int, str], int] = {}
        self.person_seq = 0
        self.projects: list[Proj] = []  # compact metadata only (no workers, no payroll)
        self.recent_clues: dict[int, list[str]] = {}  # enterprise id → clue numbers of the last 90 days
        self.stopped: Proj | None = None
        self.repeat_ent: Ent | None = None
        self.listed_ents: list[Ent] = []  # the highlighted blacklist listings (the second ends within the month)
        # Filled by the generator's first step (enterprise_rows): pools by county and kind, and lookups
        self.pools: dict[str, dict[str, list[Ent]]] = {}
        self.external: list[Ent] = []
        self.ents: dict[int, Ent] = {}
        self.by_name: dict[str, Ent] = {}
        self.end_of_today = dt.datetime(today.year, today.month, today.day, 23, 59, tzinfo=CST).astimezone(UTC)
        #: The moment the world is seeded: nothing seeded carries a later time (a demo seeded at 03:00 has
        #: no clue received at 14:00). Default: the end of ``today``, for worlds seeded for a past day.
        self.now = min(now, self.end_of_today) if now is not None else self.end_of_today
        if self.now.date() < today - dt.timedelta(days=1):
            raise ValueError(f"now {now} lies before today {today}")
        m0 = (today.year, today.month)
        self.months = [ym_add(m0, k) for k in range(-plan.months, 0)]  # the last 12 complete months
        self.window_start = dt.date(*self.months[0], 1)
        by_prov: dict[str, list[str]] = {}
        for c, r in self.regions.items():
            if r.level == "county":
                by_prov.setdefault(c[:2], []).append(c)
        self.county_lists = by_prov
        # Region words that lead company names (longest first, so '济宁市' goes before '济宁').
        words = {
            n
            for c in {self.root, *self.counties, *(self.city_of(x) for x in self.counties)}
            for n in (self.regions[c].name, N.province_short(self.regions[c].name))
        }
        words |= {n for r in self.regions.values() if r.level == "province" for n in (r.name, N.province_short(r.name))}
        self.name_prefixes = tuple(sorted(words, key=lambda n: (-len(n), n)))

    def region_for(self, code: str) -> str:
        """``code`` if it lies in the seeded region, else the region's root (city or province)."""
        return code if code in self.scope else self.root

    def clamp(self, t: dt.datetime) -> dt.datetime:
        """``t``, or the world's ``now`` when ``t`` lies later today: what has not happened yet is seeded as now."""
        return t if t <= self.now else self.now

    def rng(self, *parts: object) -> random.Random:
        """A sub-RNG for one block, derived from the seed (string seeds hash deterministically)."""
        return random.Random("/".join(map(str, (self.seed, *parts))))

    def next_id(self, table: str) -> int:
        self.ids[table] = self.ids.get(table, 0) + 1
        return self.ids[table]

    def city_of(self, county: str) -> str:
        return self.regions[county].parent_code or county

    def names(self, county: str) -> tuple[str, str, str]:
        """(province name, city name, county name) of a county."""
        city = self.regions[self.city_of(county)]
        prov = self.regions[county[:2] + "0000"]
        return prov.name, city.name if city.level == "city" else prov.name, self.regions[county].name

    def unique(self, make: Any) -> str:
        for _ in range(50):
            v = make()
            if v not in self.used:
                self.used.add(v)
                return v
        raise RuntimeError("could not generate a unique identifier")

    def person(self, index: int, *, local: list[str]) -> Person:
        """Person ``index``: the same index always gives the same person (name, ID, card, phone)."""
        r = self.rng("person", index)
        x = r.random()
        # Workers come mostly from the region itself and from the big labour-exporting provinces.
        if x < 0.55 or not local:
            pool = local or self.counties
        elif x < 0.70:
            pool = self.county_lists.get("37", self.counties)
        elif x < 0.82:
            pool = self.county_lists["41"]  # 河南
        elif x < 0.92:
            pool = self.county_lists["34"]  # 安徽
        else:
            pool = self.county_lists["51"]  # 四川
        home = r.choice(pool)
        male = r.random() < 0.9
        birth = dt.date(int(r.triangular(1960, 2004.99, 1976)), r.randint(1, 12), r.randint(1, 28))
        bank, bin_prefix, length, bank3 = r.choice(N.BANKS)
        return Person(
            name=N.person_name(r),
            male=male,
            birth=birth,
            id_number=make_id_number(r, region_code=home, birth=birth, male=male),
            phone=make_phone(r),
            bank=bank,
            card=make_bank_card(r, bin_prefix=bin_prefix, length=length),
            bank_code=N.bank_code(r, bank3, home),
        )

    def encrypt_id(self, value: str) -> tuple[str, str, str]:
        """(ciphertext, lookup hash, masked) for an ID number."""
        return self.cipher.encrypt(value), self.cipher.lookup_hash(value), mask_id_number(value)
