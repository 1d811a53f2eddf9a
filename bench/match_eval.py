"""``python -m bench.match_eval [--matters N] [--seed S]``: how well the clue matcher finds duplicates.

A deterministic generator (:func:`generate`, seeded ``random.Random``) builds a labelled evaluation set
for one city (济宁市 370800 and its counties): base complaints (a group of workers, an employer, a
project, a county) from the demo world's name generators (``hub.seed.world``), each emitted as 1–3
``ClueIn`` records on the channels that really carry wage clues (12345, the national platform, 信访,
来访, online), received days apart and written the way each channel writes them:

- the complainant: the same phone written differently (dashes, +86, spaces, full-width digits), a
  landline (another number than the mobile: a key of its own), "王先生" instead of a name, another worker
  of the same group case (other name, phone and ID number);
- the employer: its full registered name, its 简称 (region and legal form dropped), an input-method
  homophone (宏达 for 鸿达), a branch or a project department, full-width brackets and spaces;
- the project: its registered name, its short name, the site address instead of the name, nothing;
- what the channel knows: 12345 has no ID number and no USCC; the national platform has the ID number
  and often an employer address (the site, or the registered office); an online form picks the
  company from the registry (USCC).

Hard non-duplicates are generated against base complaints: the same company on another project, the
same phone a year later, the same phone against another employer, a namesake company in another
county, a homophone company in the same county, another employer on the same project.

The records then run, in received order, through the real :class:`hub.cluepool.ClueIntake` on a
fresh migrated SQLite database. Pairwise precision and recall of the resulting clustering (records
on one clue) against the truth, recall per duplicate variation and false merges per hard-negative
kind are printed and written to ``bench/results/match-eval-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pypinyin import lazy_pinyin

from connectors.base import ClueIn
from hub.identifiers import make_id_number, make_phone, make_uscc
from hub.seed import world as names

RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: The issue's goals.
GOAL_PRECISION = 0.99
GOAL_RECALL = 0.95
CST = dt.timezone(dt.timedelta(hours=8))

PROVINCE = "山东省"
CITY = ("370800", "济宁市")
COUNTIES = [  # GB/T 2260, 济宁市; weights roughly follow population
    ("370811", "任城区", 14), ("370812", "兖州区", 8), ("370826", "微山县", 6), ("370827", "鱼台县", 5),
    ("370828", "金乡县", 6), ("370829", "嘉祥县", 8), ("370830", "汶上县", 7), ("370831", "泗水县", 6),
    ("370832", "梁山县", 7), ("370881", "曲阜市", 6), ("370883", "邹城市", 11),
]
#: Where migrant workers' ID numbers come from (GB/T 2260 counties): Shandong, Henan, Anhui, Hebei, Jiangsu.
HOME_COUNTIES = ["370811", "370826", "370832", "370883", "371321", "371722", "371426", "410522", "411721", "412726",
                 "341221", "341621", "130627", "320323", "370902", "371102"]
CHANNELS = ["hotline12345", "national_platform", "petition", "walk_in", "online"]
CHANNEL_WEIGHTS = [40, 30, 8, 12, 10]
SOURCE_PREFIX = {"hotline12345": "GD", "national_platform": "QG", "petition": "XF", "walk_in": "LF", "online": "WS"}

#: Homophones an input method offers for the characters of the demo 字号 (checked with pypinyin below).
_HOMOPHONES_RAW = {
    "恒": "衡横", "宏": "鸿洪弘红", "鸿": "宏洪弘", "华": "化桦骅", "鑫": "新欣信", "金": "今津锦", "盛": "胜圣晟",
    "德": "得", "永": "勇涌", "福": "富复", "泰": "太态", "瑞": "锐睿", "汇": "惠慧辉", "博": "波柏", "天": "添田",
    "兴": "星行", "昌": "长畅", "通": "同彤", "顺": "舜", "嘉": "佳家加", "广": "光", "鼎": "顶定", "正": "政证",
    "信": "鑫新欣", "万": "皖", "联": "连莲", "东": "冬栋", "圣": "盛胜", "祥": "翔湘", "锦": "金进", "宇": "雨玉禹",
    "润": "闰", "安": "岸", "中": "忠众", "诚": "成城承", "远": "源元园", "隆": "龙珑", "荣": "容蓉", "富": "福复",
    "达": "大答", "源": "元远园", "丰": "峰风锋", "和": "合禾", "业": "叶烨", "发": "法", "厦": "夏", "图": "途",
    "基": "吉集", "成": "诚城承", "建": "健剑", "力": "立利", "邦": "帮", "辉": "晖徽汇", "泽": "择则", "海": "嗨",
}
HOMOPHONES = {c: [h for h in hs if lazy_pinyin(h) == lazy_pinyin(c)] for c, hs in _HOMOPHONES_RAW.items()}
HOMOPHONES = {c: hs for c, hs in HOMOPHONES.items() if hs}

DUPLICATE_KINDS = [
    # complainant
    "same_phone", "phone_format", "landline", "id_number", "caller_title", "other_complainant",
    # respondent
    "name_full", "name_abbrev", "name_homophone", "name_branch", "name_unit", "name_fullwidth", "name_prefix", "uscc",
    # project
    "project_full", "project_short", "project_by_address", "project_none", "address_site", "address_office",
    # other
    "city_level_region", "linked", "non_construction", "days_apart_15plus",
]
NEGATIVE_KINDS = [
    "same_company_other_project", "same_phone_year_later", "same_phone_other_employer",
    "namesake_other_county", "homophone_company_same_county", "same_project_other_employer",
]


@dataclass(frozen=True, slots=True)
class Company:
    name: str
    trade: str
    uscc: str
    county: tuple[str, str]  # (code, name): where it is registered
    office: str  # registered address
    sector: str  # 工程建设 / 非工程


@dataclass(frozen=True, slots=True)
class Project:
    name: str
    short: str  # what people on the site call it
    site: str  # street address of the site, without the region
    county: tuple[str, str]


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    phone: str
    id_number: str


@dataclass(slots=True)
class Matter:
    """One complaint (the truth): a group of workers, an employer, a project, a county, a time."""

    id: str
    company: Company
    project: Project | None
    county: tuple[str, str]
    workers: list[Person]
    headcount: int
    amount: Decimal
    first_at: dt.datetime
    arrears: tuple[dt.date, dt.date]


@dataclass(frozen=True, slots=True)
class Labelled:
    """A record and its truth: the matter it belongs to, its role and how it was written."""

    clue: ClueIn
    matter: str
    role: str  # base (a matter's first record) / duplicate / negative
    kinds: tuple[str, ...]  # duplicate: variation kinds; negative: the hard-negative kind
    decoy_of: str | None = None  # negative: the matter it was built to resemble


@dataclass
class _World:
    rng: random.Random
    companies: dict[str, list[Company]] = field(default_factory=lambda: defaultdict(list))  # by county code
    legal_names: set[str] = field(default_factory=set)
    projects: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # project names by county
    sites: set[tuple[str, str]] = field(default_factory=set)
    serial: Counter[str] = field(default_factory=Counter)
    registered: list[Project] = field(default_factory=list)  # every project, in creation order

    def region_words(self, county: tuple[str, str]) -> tuple[str, ...]:
        return (PROVINCE, "山东", CITY[1], CITY[1][:-1], county[1], county[1][:-1])

    # -- companies, projects, people ----------------------------------------------------------

    def company(self, county: tuple[str, str], *, trade: str | None = None, kind: str | None = None,
                sector: str = "工程建设") -> Company:
        rng = self.rng
        for _ in range(100):
            t = trade or names.trade_name(rng)
            k = kind or rng.choices(["labour", "contractor", "sub"], [60, 25, 15])[0]
            if sector == "非工程":
                name = f"{CITY[1]}{county[1]}{t}{rng.choice(names.NON_CONSTRUCTION_KINDS)}"
            elif k == "labour":
                name = names.labour_name(rng, t, province=PROVINCE, city=CITY[1], county=county[1])
            elif k == "labour_county":  # a registration under the county (namesakes in other counties)
                name = f"{CITY[1]}{county[1]}{t}劳务有限公司"
            elif k == "contractor":
                name = names.contractor_name(rng, t, province=PROVINCE, city=CITY[1], county=county[1])
            else:
                name = names.subcontractor_name(rng, t, province=PROVINCE, city=CITY[1])[0]
            if name not in self.legal_names:  # a registered name is unique
                break
        else:
            raise LookupError(f"no free company name for {trade or 'any 字号'} in {county[1]}")
        self.legal_names.add(name)
        c = Company(name=name, trade=t, uscc=make_uscc(rng, region_code=county[0]), county=county,
                    office=names.address(rng, city=CITY[1], county=county[1]), sector=sector)
        self.companies[county[0]].append(c)
        return c

    def project(self, county: tuple[str, str], *, short: str | None = None) -> Project:
        rng = self.rng
        for _ in range(200):
            year = rng.choice([2024, 2025, 2026])
            sector = rng.choices(["住建", "交通", "水利"], [80, 12, 8])[0]
            name = names.project_name(rng, sector=sector, city=CITY[1], county=county[1], year=year)
            s = _project_short(name, county)
            if short is not None:  # a namesake estate in another county
                name, s = f"{CITY[1]}{county[1]}{short}住宅项目", short
            if name in self.projects[county[0]]:
                short = None  # the namesake estate exists there already: any other project
                continue
            site = f"{names.road(rng)}{rng.randint(1, 399)}号"
            if (county[0], site) in self.sites:
                continue
            self.projects[county[0]].add(name)
            self.sites.add((county[0], site))
            project = Project(name=name, short=s, site=site, county=county)
            self.registered.append(project)
            return project
        raise RuntimeError("could not find a free project name")

    def person(self) -> Person:
        rng = self.rng
        birth = dt.date(rng.randint(1965, 2003), rng.randint(1, 12), rng.randint(1, 28))
        return Person(names.person_name(rng), make_phone(rng),
                      make_id_number(rng, region_code=rng.choice(HOME_COUNTIES), birth=birth))

    def source_id(self, channel: str, at: dt.datetime) -> str:
        self.serial[channel] += 1
        return f"{SOURCE_PREFIX[channel]}{at:%Y%m%d}{self.serial[channel]:06d}"


def _project_short(name: str, county: tuple[str, str]) -> str:
    """How a worker names the project: '济宁市任城区锦绣华府二期住宅项目' → '锦绣华府二期'."""
    s = name.removeprefix(CITY[1]).removeprefix(county[1])
    for suffix in ("住宅项目", "建设项目", "项目", "工程"):
        if s.endswith(suffix) and len(s) - len(suffix) >= 4:
            return s[: -len(suffix)]
    return s


# -- how channels write things ---------------------------------------------------------------

_FULLWIDTH = str.maketrans("0123456789()+-", "０１２３４５６７８９（）＋－")


def _phone_text(rng: random.Random, phone: str) -> tuple[str, str | None]:
    """The mobile as typed: (text, variation kind or None for the plain 11 digits)."""
    style = rng.choices(["plain", "dash", "space", "+86", "0086", "fullwidth"], [55, 12, 10, 10, 5, 8])[0]
    if style == "plain":
        return phone, None
    if style == "dash":
        return f"{phone[:3]}-{phone[3:7]}-{phone[7:]}", "phone_format"
    if style == "space":
        return f"{phone[:3]} {phone[3:7]} {phone[7:]}", "phone_format"
    if style == "+86":
        return f"+86 {phone}" if rng.random() < 0.5 else f"+86-{phone[:3]}-{phone[3:7]}-{phone[7:]}", "phone_format"
    if style == "0086":
        return f"0086{phone}", "phone_format"
    return phone.translate(_FULLWIDTH), "phone_format"


def _homophone(rng: random.Random, trade: str) -> str | None:
    """The 字号 with one character replaced by a homophone an input method offers."""
    spots = [i for i, ch in enumerate(trade) if ch in HOMOPHONES]
    if not spots:
        return None
    i = rng.choice(spots)
    return trade[:i] + rng.choice(HOMOPHONES[trade[i]]) + trade[i + 1:]


def _respondent(w: _World, c: Company, project: Project | None, channel: str) -> tuple[str, str]:
    """The employer's name as the channel writes it, and the variation kind."""
    rng = w.rng
    words = w.region_words(c.county)
    weights = {  # full, abbrev, homophone, branch, unit, fullwidth, prefix
        "hotline12345": [25, 40, 20, 3, 4, 3, 5],
        "national_platform": [40, 25, 12, 6, 7, 6, 4],
        "petition": [50, 20, 10, 6, 8, 2, 4],
        "walk_in": [55, 20, 8, 6, 6, 2, 3],
        "online": [70, 12, 8, 3, 3, 2, 2],
    }[channel]
    style = rng.choices(["full", "abbrev", "homophone", "branch", "unit", "fullwidth", "prefix"], weights)[0]
    short = names.short_name(c.name, words)
    if style == "abbrev":
        return short, "name_abbrev"
    if style == "homophone":
        typo = _homophone(rng, c.trade)
        if typo:
            base = short if rng.random() < 0.6 else c.name
            return base.replace(c.trade, typo, 1), "name_homophone"
    if style == "branch":
        county = rng.choice(COUNTIES)[1]
        return rng.choice([f"{c.name}（{county[:-1]}分公司）", f"{c.name}{county[:-1]}分公司",
                           f"{c.name}(济宁)"]), "name_branch"
    if style == "unit" and project is not None:
        return f"{c.name}{project.short}项目部", "name_unit"
    if style == "fullwidth":
        bare = names.short_name(c.name, words) + c.name[c.name.index("有限"):] if "有限" in c.name else c.name
        return rng.choice([
            c.name.replace(CITY[1], CITY[1] + " ", 1), c.name.replace("有限公司", "\u3000有限公司"),
            bare.replace(c.trade, f"{c.trade}（{CITY[1][:-1]}）", 1), f"{c.name}（原{c.trade}劳务队）",
        ]), "name_fullwidth"
    if style == "prefix":
        if c.name.startswith(CITY[1]):
            return f"{PROVINCE}{c.name}", "name_prefix"
        return c.name.replace("有限公司", "有限责任公司"), "name_prefix"
    return c.name, "name_full"


def _project(w: _World, p: Project | None, channel: str) -> tuple[str | None, str]:
    """The project as the channel names it, and the variation kind."""
    rng = w.rng
    if p is None:
        return None, "project_none"
    weights = {  # full, short, by address, none
        "hotline12345": [20, 40, 20, 20],
        "national_platform": [45, 30, 15, 10],
        "petition": [40, 30, 15, 15],
        "walk_in": [40, 30, 15, 15],
        "online": [55, 25, 10, 10],
    }[channel]
    style = rng.choices(["full", "short", "address", "none"], weights)[0]
    if style == "full":
        return p.name, "project_full"
    if style == "short":
        return p.short + rng.choice(["", "", "工地", "项目"]), "project_short"
    if style == "address":
        county = p.county[1] if rng.random() < 0.5 else ""
        return f"{county}{p.site}{rng.choice(['', '工地', '附近工地', '在建工地'])}", "project_by_address"
    return None, "project_none"


def _record(w: _World, m: Matter, *, at: dt.datetime, channel: str, person: Person, company: Company,
            project: Project | None, first: Labelled | None = None) -> tuple[ClueIn, list[str]]:
    """One channel's record of a matter, and the kinds of variation in it."""
    rng = w.rng
    kinds: list[str] = []
    respondent, k = _respondent(w, company, project, channel)
    kinds.append(k)
    project_name, k = _project(w, project, channel)
    kinds.append(k)
    phone: str | None
    phone, k = _phone_text(rng, person.phone)
    if k:
        kinds.append(k)
    complainant: str | None = person.name
    if channel == "hotline12345":
        if rng.random() < 0.08:
            # A call from a landline of the 济宁 area (0537): a number of its own, derived from the person so
            # that the generator draws what it drew when the connector dropped landlines.
            phone = f"0537-2{person.phone[-6:]}"
            kinds.append("landline")
        if rng.random() < 0.35:
            complainant = person.name[0] + rng.choice(["先生", "女士"])
            kinds.append("caller_title")
    id_number = {"hotline12345": 0.0, "national_platform": 0.95, "petition": 0.5, "walk_in": 0.7, "online": 0.9}[channel]
    id_number_text = person.id_number if rng.random() < id_number else None
    if id_number_text:
        kinds.append("id_number")
    uscc = company.uscc if rng.random() < {"online": 0.6, "walk_in": 0.3, "petition": 0.2}.get(channel, 0.0) else None
    if uscc:
        kinds.append("uscc")
    address = None
    if channel in ("national_platform", "petition", "walk_in"):
        r = rng.random()
        if project is not None and r < 0.45:
            address = rng.choice([f"{CITY[1]}{project.county[1]}{project.site}", f"{project.county[1]}{project.site}",
                                  f"{project.site}{project.short}工地"])
            kinds.append("address_site")
        elif r < 0.7:
            address = company.office
            kinds.append("address_office")
    region = m.county[0]
    if channel == "hotline12345" and rng.random() < 0.05:
        region = CITY[0]  # the operator could not tell the county
        kinds.append("city_level_region")
    related = None
    if first is not None and channel == "hotline12345" and first.clue.channel == channel and rng.random() < 0.3 \
            and person.phone == _plain(first.clue.complainant_phone):
        related = first.clue.source_id  # 12345's own link: oldOrderNum / isOldCaller
        kinds.append("linked")
    if company.sector == "非工程":
        kinds.append("non_construction")
    place = m.county[1]
    amount = m.amount if rng.random() < 0.7 else (m.amount * Decimal(rng.choice(["0.8", "0.9", "1.1", "1.2"]))).quantize(Decimal(1))
    period = f"{m.arrears[0]:%Y年%m月}至{m.arrears[1]:%m月}"
    content = names.complaint_text(rng, channel=channel, place=place, project=project_name, respondent=respondent,
                                   period=period, amount=float(amount), headcount=m.headcount,
                                   work_type=rng.choice(names.WORK_TYPES)[0])
    shift = dt.timedelta(days=rng.choice([0, 0, 0, -15, 15, -30, 30]))  # people remember the months differently
    clue = ClueIn(
        channel=channel, source_id=w.source_id(channel, at), received_at=at,
        title=f"{complainant or '来电人'}反映{respondent}拖欠工资", content=content, region_code=region,
        respondent_name=respondent, complainant_name=complainant, complainant_phone=phone,
        complainant_id_number=id_number_text, respondent_uscc=uscc, respondent_address=address,
        project_name=project_name, amount=amount, headcount=m.headcount, arrears_from=m.arrears[0] + shift,
        arrears_to=m.arrears[1], sector=company.sector, related_source_id=related,
    )
    return clue, kinds


def _plain(phone: str | None) -> str | None:
    if phone is None:
        return None
    return "".join(ch for ch in phone.translate(str.maketrans("０１２３４５６７８９", "0123456789")) if ch.isdigit())[-11:]


def _at(rng: random.Random, day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, rng.randint(8, 20), rng.randint(0, 59), rng.randint(0, 59), tzinfo=CST)


# -- the generator ---------------------------------------------------------------------------

#: Share of the projects the hub's permit registry (施工许可 connector) knows; the rest are unregistered
#: (private work, permits from elsewhere) and can only be compared by the words of the complaints.
REGISTERED_SHARE = 0.85


def generate(matters: int = 1000, *, seed: int = 20261121, negatives: float = 0.2) -> list[Labelled]:
    """The labelled evaluation set: ``matters`` base complaints as 1–3 records each, plus hard negatives
    (about ``negatives`` × ``matters``), in received order."""
    return generate_with_registry(matters, seed=seed, negatives=negatives)[0]


def generate_with_registry(matters: int = 1000, *, seed: int = 20261121,
                           negatives: float = 0.2) -> tuple[list[Labelled], list[Project]]:
    """The evaluation set, and the projects of it that the permit registry knows (``REGISTERED_SHARE``)."""
    rng = random.Random(seed)
    w = _World(rng)
    out = _generate(w, rng, matters, negatives)
    pick = random.Random(seed + 1)  # apart from the set's own draws, so that the set does not change with it
    return out, [p for p in w.registered if pick.random() < REGISTERED_SHARE]


def _generate(w: _World, rng: random.Random, matters: int, negatives: float) -> list[Labelled]:
    start = dt.date(2024, 3, 4)
    span = 560  # days; with a year of negatives after the last one, everything lies in the official holiday calendar (≤ 2026)
    out: list[Labelled] = []
    by_matter: dict[str, Matter] = {}
    counties = [(c, n) for c, n, _ in COUNTIES]
    county_weights = [wt for *_, wt in COUNTIES]
    for i in range(matters):
        county = rng.choices(counties, county_weights)[0]
        sector = "非工程" if rng.random() < 0.08 else "工程建设"
        # A construction company works on several projects; a shop or a factory is its own workplace, so
        # two complaints against it within a month are one matter: only construction companies recur.
        reuse = [c for c in w.companies[county[0]] if c.sector == "工程建设"] if sector == "工程建设" else []
        company = rng.choice(reuse) if reuse and rng.random() < 0.25 else w.company(county, sector=sector)
        project = None if sector == "非工程" else w.project(county)
        headcount = rng.choices([1, rng.randint(2, 9), rng.randint(10, 40)], [35, 45, 20])[0]
        workers = [w.person() for _ in range(min(headcount, 4))]
        first_day = start + dt.timedelta(days=rng.randrange(span))
        arrears_to = first_day.replace(day=1) - dt.timedelta(days=1)
        arrears_from = (arrears_to - dt.timedelta(days=rng.choice([30, 60, 90, 180, 300]))).replace(day=1)
        amount = Decimal(rng.randint(3, 60) * 1000 * max(1, headcount // 3))
        m = Matter(id=f"M{i:05d}", company=company, project=project, county=county, workers=workers, headcount=headcount,
                   amount=amount, first_at=_at(rng, first_day), arrears=(arrears_from, arrears_to))
        by_matter[m.id] = m
        n = rng.choices([1, 2, 3], [45, 35, 20])[0]
        first: Labelled | None = None
        for j in range(n):
            channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
            days = 0 if j == 0 else rng.randint(0, 28)
            # A later record is received after the first one, so that "first" and "duplicate" stay apart.
            at = max(_at(rng, first_day + dt.timedelta(days=days)), m.first_at + dt.timedelta(minutes=rng.randint(20, 300))) \
                if j else m.first_at
            person = workers[0]
            extra: list[str] = []
            if j and len(workers) > 1 and rng.random() < 0.3:
                person = rng.choice(workers[1:])
                extra.append("other_complainant")
            elif j:
                extra.append("same_phone")
            if days >= 15:
                extra.append("days_apart_15plus")
            clue, kinds = _record(w, m, at=at, channel=channel, person=person, company=company, project=project, first=first)
            rec = Labelled(clue, m.id, "base" if j == 0 else "duplicate", tuple(extra + kinds))
            out.append(rec)
            first = first or rec
    # Hard negatives: a new matter built to resemble a base one.
    bases = list(by_matter.values())
    rng.shuffle(bases)  # each base complaint gets at most one hard negative: two would resemble each other
    for k in range(min(int(matters * negatives), len(bases))):
        kind = NEGATIVE_KINDS[k % len(NEGATIVE_KINDS)]
        # "Another project of the same company" and "another employer on the same site" need a project.
        need_project = kind in ("same_company_other_project", "same_project_other_employer")
        m = next((b for b in bases if b.project is not None or not need_project), bases[0])
        bases.remove(m)
        out.append(_negative(w, m, kind, f"N{k:05d}"))
    out.sort(key=lambda r: (r.clue.received_at, r.clue.source_id))
    return out


def _negative(w: _World, m: Matter, kind: str, matter_id: str) -> Labelled:
    rng = w.rng
    near = m.first_at + dt.timedelta(days=rng.randint(-20, 20), hours=rng.randint(-5, 5))
    person, company, project, county = w.person(), m.company, m.project, m.county
    at = near
    if kind == "same_company_other_project":
        project = w.project(county)
    elif kind == "same_phone_year_later":
        person = m.workers[0]
        at = m.first_at + dt.timedelta(days=rng.randint(335, 420))
        project = project if rng.random() < 0.5 or m.company.sector == "非工程" else w.project(county)
    elif kind == "same_phone_other_employer":
        person = m.workers[0]
        company = w.company(county, sector=m.company.sector)
        project = w.project(county) if m.company.sector == "工程建设" else None
    elif kind == "namesake_other_county":
        others = [(c, n) for c, n, _ in COUNTIES if c != m.county[0]]
        rng.shuffle(others)
        for county in others:  # the first county where the 字号 is still free
            try:
                company = w.company(county, trade=m.company.trade, kind="labour_county", sector=m.company.sector)
                break
            except LookupError:
                continue
        if m.company.sector == "工程建设":
            project = w.project(county, short=m.project.short if m.project and rng.random() < 0.5 else None)
    elif kind == "homophone_company_same_county":
        typo = _homophone(rng, m.company.trade) or m.company.trade[::-1]
        company = w.company(county, trade=typo, sector=m.company.sector)
        project = w.project(county) if m.company.sector == "工程建设" else None
    elif kind == "same_project_other_employer":
        company = w.company(county, kind=rng.choice(["labour", "sub"]))
    neg = Matter(id=matter_id, company=company, project=project, county=county, workers=[person],
                 headcount=rng.randint(1, 12), amount=Decimal(rng.randint(3, 60) * 1000), first_at=at, arrears=m.arrears)
    channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
    clue, _ = _record(w, neg, at=at, channel=channel, person=person, company=company, project=project)
    return Labelled(clue, matter_id, "negative", (kind,), decoy_of=m.id)


# -- running and scoring ---------------------------------------------------------------------

@dataclass
class EvalResult:
    records: int
    matters: int
    clues: int
    rejected: list[dict[str, str]]
    precision: float
    recall: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    duplicates: dict[str, dict[str, float | int]]  # kind → records, joined, recall
    negatives: dict[str, dict[str, float | int]]  # kind → records, false merges, rate
    rules: dict[str, int]  # match rule → records joined by it
    wrong_merges: list[dict[str, Any]]  # a sample, to read
    missed: list[dict[str, Any]]  # a sample, to read
    seconds: float

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def run(matters: int = 1000, *, seed: int = 20261121, url: str | None = None) -> EvalResult:
    """Generate the set, run it through ``ClueIntake`` on a fresh migrated database, score it."""
    from hub.cluepool import ClueIntake, Invalid
    from hub.crypto import Cipher
    from hub.db import make_engine, session_scope
    from hub.migrate import upgrade

    records, registry = generate_with_registry(matters, seed=seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="match-eval-") as tmp:
        db_url = url or f"sqlite:///{Path(tmp) / 'hub.db'}"
        upgrade(db_url)
        engine = make_engine(db_url)
        clue_of: dict[int, int] = {}
        rule_of: dict[int, tuple[str, float | None]] = {}
        rejected: list[dict[str, str]] = []
        try:
            with session_scope(engine) as session:
                _register(session, registry)
                intake = ClueIntake(session, cipher=Cipher("match-eval"), window=dt.timedelta(days=30))
                for i, r in enumerate(records):
                    try:
                        cr = intake.intake(r.clue)
                    except Invalid as exc:
                        rejected.append({"source_id": r.clue.source_id, "field": exc.field, "reason": exc.reason})
                        continue
                    clue_of[i] = cr.clue_id
                    rule_of[i] = (cr.match_rule, cr.match_score)
        finally:
            engine.dispose()
    seconds = time.perf_counter() - started
    return _score(records, clue_of, rule_of, rejected, seconds)


def _register(session: Any, projects: list[Project]) -> None:
    """The permit registry as the permits connector would have filled it: name, site address, county."""
    from hub import models as hm

    builder = hm.Enterprise(name="济宁市城市建设投资发展有限公司", uscc=make_uscc(random.Random(1), region_code="370800"),
                            region_code="370800", kind="builder")
    session.add(builder)
    session.flush()
    session.add_all(hm.Project(
        project_code=f"3708{i:08d}", name=p.name, address=f"{CITY[1]}{p.county[1]}{p.site}", sector="住建",
        status="in_progress", region_code=p.county[0], contractor_id=builder.id,
    ) for i, p in enumerate(projects))
    session.flush()


def _score(records: list[Labelled], clue_of: dict[int, int], rule_of: dict[int, tuple[str, float | None]],
           rejected: list[dict[str, str]], seconds: float) -> EvalResult:
    by_matter: dict[str, list[int]] = defaultdict(list)
    by_clue: dict[int, list[int]] = defaultdict(list)
    cells: Counter[tuple[int, str]] = Counter()
    for i, r in enumerate(records):
        by_matter[r.matter].append(i)
        if i in clue_of:
            by_clue[clue_of[i]].append(i)
            cells[(clue_of[i], r.matter)] += 1
    true_pairs = sum(_pairs(len(v)) for v in by_matter.values())
    predicted = sum(_pairs(len(v)) for v in by_clue.values())
    correct = sum(_pairs(n) for n in cells.values())

    dup: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    missed: list[dict[str, Any]] = []
    for i, r in enumerate(records):
        if r.role != "duplicate":
            continue
        earlier = [j for j in by_matter[r.matter] if j < i]
        joined = i in clue_of and any(clue_of.get(j) == clue_of[i] for j in earlier)
        for k in (*r.kinds, "all"):
            dup[k][0] += 1
            dup[k][1] += joined
        if not joined and len(missed) < 60:
            missed.append({"record": _brief(r), "earlier": [_brief(records[j]) for j in earlier]})
    neg: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong: list[dict[str, Any]] = []
    for i, r in enumerate(records):
        if i not in clue_of:
            continue
        others = [j for j in by_clue[clue_of[i]] if records[j].matter != r.matter and j < i]
        if r.role == "negative":
            for k in (r.kinds[0], "all"):
                neg[k][0] += 1
                neg[k][1] += bool(others)
        if others and len(wrong) < 40:
            wrong.append({"record": _brief(r), "rule": rule_of[i][0], "score": rule_of[i][1],
                          "joined": [_brief(records[j]) for j in others]})
    rules = Counter(rule for rule, _ in rule_of.values())
    return EvalResult(
        records=len(records), matters=len(by_matter), clues=len(by_clue), rejected=rejected,
        precision=correct / predicted if predicted else 1.0, recall=correct / true_pairs if true_pairs else 1.0,
        true_pairs=true_pairs, predicted_pairs=predicted, correct_pairs=correct,
        duplicates={k: {"records": n, "joined": j, "recall": j / n} for k, (n, j) in sorted(dup.items())},
        negatives={k: {"records": n, "false_merges": f, "rate": f / n} for k, (n, f) in sorted(neg.items())},
        rules=dict(rules.most_common()), wrong_merges=wrong, missed=missed, seconds=round(seconds, 2),
    )


def _brief(r: Labelled) -> dict[str, Any]:
    c = r.clue
    return {"matter": r.matter, "role": r.role, "kinds": list(r.kinds), "channel": c.channel,
            "at": c.received_at.strftime("%Y-%m-%d"), "region": c.region_code, "respondent": c.respondent_name,
            "project": c.project_name, "address": c.respondent_address, "phone": c.complainant_phone,
            "complainant": c.complainant_name, "id": bool(c.complainant_id_number), "uscc": bool(c.respondent_uscc)}


# -- the command -----------------------------------------------------------------------------

def report(result: EvalResult, *, console: Any) -> None:
    """Print the figures next to the goals (rich tables)."""
    from rich.table import Table

    def mark(ok: bool) -> str:
        return "[green]✓[/]" if ok else "[red]✗[/]"

    head = Table(title=f"clue matcher — {result.matters:,} matters, {result.records:,} records → {result.clues:,} clues "
                       f"({result.seconds:.1f} s)")
    for col in ("figure", "value", "goal", ""):
        head.add_column(col, justify="left" if col == "figure" else "right")
    head.add_row("pairwise precision", f"{result.precision:.4f}", f"≥ {GOAL_PRECISION}", mark(result.precision >= GOAL_PRECISION))
    head.add_row("pairwise recall", f"{result.recall:.4f}", f"≥ {GOAL_RECALL}", mark(result.recall >= GOAL_RECALL))
    head.add_row("pairs: true / predicted / correct",
                 f"{result.true_pairs:,} / {result.predicted_pairs:,} / {result.correct_pairs:,}", "", "")
    head.add_row("records rejected by the intake", f"{len(result.rejected):,}", "0", mark(not result.rejected))
    console.print(head)

    dup = Table(title="duplicates: joined to an earlier record of their matter, by variation kind")
    for col in ("kind", "records", "joined", "recall"):
        dup.add_column(col, justify="left" if col == "kind" else "right")
    for k, v in result.duplicates.items():
        dup.add_row(k, f"{v['records']:,}", f"{v['joined']:,}", f"{v['recall']:.3f}")
    console.print(dup)

    neg = Table(title="hard non-duplicates: records put on a clue of another matter")
    for col in ("kind", "records", "false merges", "rate"):
        neg.add_column(col, justify="left" if col == "kind" else "right")
    for k, v in result.negatives.items():
        neg.add_row(k, f"{v['records']:,}", f"{v['false_merges']:,}", f"{v['rate']:.3f}")
    console.print(neg)
    console.print("joined by rule: " + ", ".join(f"{k} {v:,}" for k, v in result.rules.items()))


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    parser = argparse.ArgumentParser(prog="python -m bench.match_eval", description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    parser.add_argument("--matters", type=int, default=1000, help="base complaints to generate (default 1000)")
    parser.add_argument("--seed", type=int, default=20261121, help="random seed (same seed, same set)")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/match-eval-<timestamp>.json")
    parser.add_argument("--show", type=int, default=0, help="print this many missed duplicates and wrong merges")
    args = parser.parse_args(argv)
    console = Console(width=max(Console().width, 120))
    result = run(args.matters, seed=args.seed)
    report(result, console=console)
    for title, rows in (("missed", result.missed), ("wrong merges", result.wrong_merges)):
        for row in rows[: args.show]:
            console.print(f"[bold]{title}[/]", row)
    if not args.no_save:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"match-eval-{dt.datetime.now():%Y%m%dT%H%M%S}.json"
        import orjson

        path.write_bytes(orjson.dumps({"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                                       "argv": sys.argv[1:] if argv is None else argv, "matters": args.matters,
                                       "seed": args.seed, "goals": {"precision": GOAL_PRECISION, "recall": GOAL_RECALL},
                                       "result": result.to_json()}, option=orjson.OPT_INDENT_2))
        console.print(f"results: {path}")
    return 0 if result.precision >= GOAL_PRECISION and result.recall >= GOAL_RECALL else 1


if __name__ == "__main__":
    raise SystemExit(main())
