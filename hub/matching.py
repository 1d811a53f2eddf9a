"""The clue matcher: is an incoming clue-bearing record the same matter as a clue already in the pool?

One matcher serves every channel (12345 orders, national-platform clues, manual entries, warning
escalations). It works in two steps (docs/architecture.md "How data moves"):

1. **Blocking.** Each channel record stores a few exact keys (:func:`blocking_keys`) in
   ``clue_match_keys``; candidates are the records sharing a key with the incoming one and received
   within the window (default 30 days, ``HUB_MATCH_WINDOW_DAYS``). One indexed lookup on
   ``(key, received_at)``.
2. **Scoring.** :func:`score` compares the incoming record with each candidate record — complainant
   (ID number, phone), respondent (USCC, or the name after normalisation, compared with rapidfuzz and
   by pinyin so that 宏达/鸿达 typed by an IME still meet), project (code, or its name or address) —
   and returns the rule that applies and its score. The best candidate at or above the threshold
   wins; otherwise the record starts a new clue.

:func:`find_candidates` scores every candidate (an operator's list of similar clues); the intake asks
:func:`find_match`, which gives the same answer as :func:`match` over them but reads a busy block only
when the caller's own earlier records do not already decide it.

Rules (docs/domain.md "Clues and their workflow", keys marked *proposal*):

================  ===============================================================================
rule              when
================  ===============================================================================
linked            the upstream itself links the record to an earlier one (12345 ``oldOrderNum``)
id_number         same complainant ID number, compatible respondent, no conflicting project
phone             same complainant phone, compatible respondent, no conflicting project
uscc+project      same respondent USCC and the same project (code, name or address)
name+project      same respondent by normalised name in the same county, and the same project
name+complainant  same respondent by name in the same county, same complainant name, no project info
name+workplace    same non-construction employer (餐饮, 商贸, 物业 …) in the same county, no project named
================  ===============================================================================

Hard non-matches by design: the same company on a different project; the same phone against a
different employer; anything outside the window (the same caller a year later is a new matter).

What the scorer compares, and why:

- **Respondent names** are normalised (:func:`normalise_company_name`): NFKC (full-width → half-width),
  bracketed parts dropped (``（任城分公司）``, ``(原…劳务队)``), a branch or unit after ``…公司`` cut
  (``…有限公司微山分公司``, ``…项目部``: a 分公司 is no legal person), legal forms dropped, then the
  leading region names (full or short: 山东省 / 山东, 企业名称登记管理规定) — but never a region word
  that is itself the 字号 (永安劳务, 泰和建设: fewer than two characters would remain before the
  industry words). The 字号 (:func:`company_core`) is the name without its industry words.
- **Same respondent** (:func:`respondent_similarity`): USCC when both have one; equal names; the same
  字号 or a homophone of it (pinyin, an input-method typo) *with a compatible trade* (one name has no
  industry words, or they share a specific one: 建筑劳务 / 劳务分包). The same 字号 with another trade
  (鸿达劳务 / 鸿达钢结构) may be a sister company and scores 0.7 (enough with the same complainant, not
  by name alone); a homophone with another trade (顺远餐饮 / 舜远物业) is another company (0.5).
- **Same project** (:func:`project_similarity`): project names lose full region names only (their
  short forms are road and estate words: 泰山路, 泰和华府) and 项目 / 工程 / 工地 / 在建 suffixes. A
  project named by its street address (``建设路128号工地``, :func:`is_address`) is not compared with
  one named by its name: that says nothing either way (``None``), as does an employer address against
  a project that it does not match (the address is often the registered office). Two employer
  addresses are never compared: an equal office address says "the same company", already counted. Only
  two project fields of the same kind can *conflict* (another project).
- **Complainant names**: '王先生' (a 12345 caller who gave a surname) is no name and never matches.

``bench/match_eval.py`` measures all of this on a labelled evaluation set (``python -m bench.match_eval``).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson
import psycopg
from pypinyin import lazy_pinyin
from rapidfuzz import fuzz
from sqlalchemy import String, Text, and_, any_, bindparam, cast, exists, func, not_, or_, select, true
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY

from hub import models as m
from hub.regions import iter_regions

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_WINDOW",
    "Candidate",
    "Features",
    "Match",
    "blocking_keys",
    "find_candidates",
    "find_match",
    "match",
    "normalise_address",
    "normalise_company_name",
    "normalise_project_name",
    "phone_key",
    "score",
]

DEFAULT_WINDOW = dt.timedelta(days=30)
DEFAULT_THRESHOLD = 0.8
#: At most this many candidate records are scored (a key shared by more is a hot block: the newest win).
MAX_CANDIDATES = 200

# Legal-form and branch suffixes, longest first (GB/T 2260 names, 公司法 forms).
_LEGAL_FORMS = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "总公司",
    "分公司",
    "子公司",
    "公司",
    "集团",
    "有限",
    "股份",
)
# Industry words after the 字号 (trade name): dropped to get the core people say on the phone.
_INDUSTRY = tuple(
    sorted(
        (
            "建筑劳务分包",
            "劳务分包",
            "建筑劳务",
            "劳务派遣",
            "劳务",
            "建设工程",
            "建筑安装工程",
            "建筑安装",
            "建筑工程",
            "建设集团",
            "建工集团",
            "建设",
            "建工",
            "建筑",
            "工程",
            "钢结构",
            "装饰",
            "市政",
            "防水",
            "机电安装",
            "幕墙",
            "地基基础",
            "园林绿化",
            "房地产开发",
            "房地产",
            "置业",
            "城市建设投资发展",
            "城市建设投资",
            "商贸",
            "物业服务",
            "物业管理",
            "物业",
            "餐饮管理",
            "餐饮",
            "纺织",
            "食品",
            "机械制造",
            "科技",
            "实业",
            "发展",
            "投资",
            "贸易",
            "服务",
            "管理",
            "制造",
            "专业",
            "分包",
        ),
        key=lambda w: (-len(w), w),
    )
)
# Industry words too generic to tell two trades apart (机电安装工程 / 防水工程 share only 工程).
_GENERIC_INDUSTRY = frozenset({"工程", "管理", "服务", "发展", "专业", "实业", "投资", "科技"})
# Employers outside construction (非工程, docs/domain.md): the company's premises are the workplace.
_WORKPLACE_INDUSTRY = (
    "餐饮管理",
    "餐饮",
    "酒店管理",
    "酒店",
    "商贸",
    "贸易",
    "超市",
    "商场",
    "物业服务",
    "物业管理",
    "物业",
    "纺织",
    "服装",
    "食品",
    "机械制造",
    "制造",
    "电子",
    "化工",
    "家政服务",
    "家政",
    "保洁服务",
    "保洁",
)
# How a 12345 operator records a caller who gives only a surname: 王先生, 李女士, 张师傅 (no name).
_TITLED = re.compile(r"^(.{1,2}?)(先生|女士|小姐|师傅|老师)$")
# Where a respondent is named by a unit or a branch of the company, cut at 公司: "…有限公司第三项目部",
# "…有限公司微山分公司". A 分公司 is no legal person (公司法 Art. 13): the company answers for its wages.
_UNIT_AFTER_COMPANY = re.compile(
    r"^(.+?公司).+?(项目部|项目经理部|工区|工地|分部|指挥部|分公司|分店|办事处|营业部|经营部)$"
)
_BRACKETED = re.compile(r"[\(（\[【][^\)）\]】]*[\)）\]】]")
_NOISE = re.compile(r"[\s·.,，、;；:：'\"“”‘’\-—_/]+")
_PROJECT_SUFFIXES = tuple(
    sorted(
        (
            "建设项目",
            "住宅项目",
            "工程项目",
            "项目",
            "工程",
            "工地",
            "施工现场",
            "现场",
            "附近",
            "在建",
            "旁边",
        ),
        key=lambda w: (-len(w), w),
    )
)
# A place rather than a project name: a house number (建设路128号, not 壹号院 / 1号楼), a crossing, a side.
_ADDRESS_LIKE = re.compile(r"\d+号(?![院楼])|交叉口|路口|[东西南北]侧|对面")


@lru_cache(maxsize=2)
def _region_words(*, short: bool = True) -> tuple[str, ...]:
    """Every province / city / county name ('济宁市'), with ``short`` also its short form ('济宁'), longest first."""
    words: set[str] = set()
    for r in iter_regions():
        words.add(r.name)
        for suffix in (
            "壮族自治区",
            "回族自治区",
            "维吾尔自治区",
            "特别行政区",
            "自治区",
            "自治州",
            "自治县",
            "地区",
            "新区",
            "省",
            "市",
            "区",
            "县",
            "旗",
            "盟",
        ):
            if short and r.name.endswith(suffix) and len(r.name) - len(suffix) >= 2:
                words.add(r.name[: -len(suffix)])
                break
    return tuple(sorted(words, key=lambda w: (-len(w), w)))


@lru_cache(maxsize=2)
def _region_words_by_first_char(*, short: bool) -> dict[str, tuple[str, ...]]:
    """:func:`_region_words` grouped by first character (still longest first): a prefix test looks at a
    handful of names instead of all 3,000+."""
    out: dict[str, list[str]] = {}
    for w in _region_words(short=short):
        out.setdefault(w[0], []).append(w)
    return {k: tuple(v) for k, v in out.items()}


def _strip_region_prefix(text: str, *, keep: int = 2, company: bool = False) -> str:
    """Drop leading region words (济宁市任城区…), keeping at least ``keep`` characters.

    A company name starts with its registration region, written in full or short ('山东省' / '山东',
    企业名称登记管理规定), so short forms are dropped too — unless fewer than two characters would be
    left before the industry words: many 字号 are also place names (永安, 泰和, 嘉祥, 兴隆 …), and
    '济宁市永安劳务' is 永安劳务, not 劳务. Project names and addresses lose only full region names
    (``company=False``): their short forms are everyday words there (泰山路, 中山路, 凤凰家园, 泰和华府).
    """
    by_first = _region_words_by_first_char(short=company)
    changed = True
    while changed and text:
        changed = False
        for w in by_first.get(text[0], ()):
            if text.startswith(w) and len(text) - len(w) >= keep:
                if company and len(_strip_industry(text[len(w) :], keep=0)) < 2:
                    continue
                text = text[len(w) :]
                changed = True
                break
    return text


def _strip_suffixes(text: str, words: tuple[str, ...], *, keep: int) -> str:
    """Drop trailing ``words`` (longest first, repeatedly) while at least ``keep`` characters remain."""
    changed = True
    while changed:
        changed = False
        for word in words:
            if text.endswith(word) and len(text) - len(word) >= keep:
                text = text[: -len(word)]
                changed = True
                break
    return text


def _strip_industry(text: str, *, keep: int) -> str:
    """Drop trailing industry words (建筑劳务, 建设工程 …) while at least ``keep`` characters remain."""
    return _strip_suffixes(text, _INDUSTRY, keep=keep)


def _clean(text: str) -> str:
    """NFKC (full-width → half-width), lower case, no brackets' content, no spaces or punctuation."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _BRACKETED.sub("", text)
    return _NOISE.sub("", text)


@lru_cache(maxsize=65536)
def normalise_company_name(name: str) -> str:
    """'山东省济宁市鸿达建筑劳务有限公司（任城分公司）' → '鸿达建筑劳务'.

    Full-width/half-width, brackets, a unit after the company (项目部 …), legal-form suffixes and
    leading region names are removed; what is left is the name people use for the company.
    """
    text = _clean(name)
    unit = _UNIT_AFTER_COMPANY.match(text)
    if unit:
        text = unit.group(1)
    return _strip_region_prefix(_strip_suffixes(text, _LEGAL_FORMS, keep=2), company=True)


@lru_cache(maxsize=65536)
def company_core(name_norm: str) -> str:
    """The 字号 of a normalised name: '鸿达建筑劳务' → '鸿达' (industry words dropped, ≥ 2 characters kept)."""
    return _strip_industry(name_norm, keep=2)


@lru_cache(maxsize=65536)
def pinyin_key(text: str) -> str:
    """Toneless pinyin, so that homophones typed by an input method (宏达 / 鸿达) compare equal."""
    return "".join(lazy_pinyin(text))


def normalise_project_name(name: str) -> str:
    """'济宁市任城区锦绣华府二期住宅项目' → '锦绣华府二期'."""
    return _strip_suffixes(_strip_region_prefix(_clean(name), keep=2), _PROJECT_SUFFIXES, keep=2)


def normalise_address(address: str) -> str:
    """'山东省济宁市任城区建设路128号工地' → '建设路128号'."""
    return normalise_project_name(address)


@dataclass(frozen=True, slots=True)
class Features:
    """What the matcher compares, for one channel record (stored as ``ChannelRecord.match_features``)."""

    county: str
    phone: str | None = None
    id_hash: str | None = None
    uscc: str | None = None
    name: str | None = None  # normalised respondent name
    core: str | None = None  # its 字号
    project_code: str | None = None
    project: str | None = None  # normalised project name (or the address a caller gave as the project)
    address: str | None = None
    complainant: str | None = None

    @classmethod
    def build(
        cls,
        *,
        region_code: str,
        respondent_name: str | None,
        phone: str | None = None,
        id_hash: str | None = None,
        uscc: str | None = None,
        project_code: str | None = None,
        project_name: str | None = None,
        address: str | None = None,
        complainant_name: str | None = None,
    ) -> Features:
        """Features from a record's cleaned fields (phone in E.164, ID hashed, USCC validated)."""
        name = normalise_company_name(respondent_name) if respondent_name else None
        return cls(
            county=region_code[:6],
            phone=phone or None,
            id_hash=id_hash or None,
            uscc=uscc or None,
            name=name or None,
            core=company_core(name) if name else None,
            project_code=project_code or None,
            project=normalise_project_name(project_name) or None if project_name else None,
            address=normalise_address(address) or None if address else None,
            complainant=_clean(complainant_name) or None if complainant_name else None,
        )

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Features:
        return cls(**(data or {"county": ""}))


def phone_key(phone: str) -> str:
    """The blocking key of a complainant's phone, in E.164 (:func:`hub.identifiers.normalise_phone`), so
    that '0593-7856234', '+86 593 785 6234' and '05937856234' are one key."""
    return f"p:{phone}"


def blocking_keys(f: Features) -> list[str]:
    """The exact keys under which a record is found: phone, ID hash, USCC, project code, name in county.

    The name key is the pinyin of the 字号 within the county, so abbreviations (鸿达劳务 for
    鸿达建筑劳务有限公司) and homophone typos (宏达) share it.
    """
    keys = []
    if f.phone:
        keys.append(phone_key(f.phone))
    if f.id_hash:
        keys.append(f"i:{f.id_hash}")
    if f.uscc:
        keys.append(f"u:{f.uscc}")
    if f.project_code:
        keys.append(f"j:{f.project_code}")
    if f.core:
        keys.append(f"n:{f.county}:{pinyin_key(f.core)}")
    if f.address:
        keys.append(f"a:{f.county}:{f.address}")
    return keys


def respondent_similarity(a: Features, b: Features) -> float:
    """0…1: the same respondent? USCC decides when both have one; otherwise the names."""
    if a.uscc and b.uscc:
        return 1.0 if a.uscc == b.uscc else 0.0
    if not a.name or not b.name:
        return 0.0
    if a.name == b.name:
        return 1.0
    full = fuzz.ratio(a.name, b.name) / 100
    if a.core and a.core == b.core:
        # 鸿达劳务 vs 鸿达建筑劳务: same 字号. With another trade (鸿达劳务 / 鸿达钢结构) it may be a sister
        # company: enough with the same complainant, not by name alone.
        return max(full, 0.92) if _same_trade(a, b) else 0.7
    if a.core and b.core and pinyin_key(a.core) == pinyin_key(b.core):
        # A homophone typed by an input method (宏达 / 鸿达) — or another company (顺远餐饮 / 舜远物业).
        return max(full, 0.88) if _same_trade(a, b) else 0.5
    core = fuzz.ratio(a.core or "", b.core or "") / 100
    # The name as a whole and the trade name must both be close (one typo in a 4-character core).
    return min(full, core) if core < 0.75 else max(full, core * 0.9)


def _industry_words(f: Features) -> frozenset[str]:
    """The specific industry words after the 字号 ('建筑劳务' → {建筑劳务, 劳务, 建筑}), generic ones left out."""
    return _industry_words_after(f.name or "", len(f.core or ""))


@lru_cache(maxsize=65536)
def _industry_words_after(name: str, core_length: int) -> frozenset[str]:
    # Cached: a busy block compares one incoming name with dozens of records of a few companies.
    rest = name[core_length:]
    return frozenset(w for w in _INDUSTRY if w in rest and w not in _GENERIC_INDUSTRY)


def _same_trade(a: Features, b: Features) -> bool:
    """Compatible industries: one name has none (鸿达 / 鸿达劳务) or they share a word (建筑劳务 / 劳务分包)."""
    x, y = _industry_words(a), _industry_words(b)
    return not x or not y or bool(x & y)


def is_address(text: str) -> bool:
    """Does a normalised project text name a place ('建设路128号') rather than a project ('锦绣华府二期')?"""
    return _ADDRESS_LIKE.search(text) is not None


def _text_similarity(x: str, y: str) -> float:
    if x == y:
        return 1.0
    s = fuzz.ratio(x, y) / 100
    if min(len(x), len(y)) >= 5 and (x in y or y in x):
        s = max(s, 0.9)  # '建设路128号' within '建设路128号锦绣华府'
    return s


def project_similarity(a: Features, b: Features) -> float | None:
    """0…1: the same project (code, name, or a name on one side and the address on the other)?

    ``None`` when the two records say nothing comparable: one side says nothing about a project, or
    they describe it differently — a name on one side and a street address on the other
    ('锦绣华府二期' / '建设路128号工地'), or the employer address of one (often the registered office,
    not the site) against the project of the other without a match. Two employer addresses are never
    compared: an equal office address says the same company, not the same project. Only the project
    fields, both names or both addresses, can disagree (a low score: another project).
    """
    if a.project_code and b.project_code:
        return 1.0 if a.project_code == b.project_code else 0.0
    support = 0.0
    decisive: float | None = None
    for x, y, both_projects in (
        (a.project, b.project, True),
        (a.project, b.address, False),
        (a.address, b.project, False),
    ):
        if not x or not y:
            continue
        s = _text_similarity(x, y)
        support = max(support, s)
        if both_projects and is_address(x) == is_address(y):
            decisive = s
    if support >= 0.85 or decisive is not None:
        return support
    return None


def _same_complainant(x: str | None, y: str | None) -> bool:
    """The same person by name. '王先生' (how 12345 operators record a caller) is no name: a surname
    alone is shared by one person in ten, so it never matches another record by itself."""
    return bool(x) and x == y and not _TITLED.fullmatch(x or "")


def _is_workplace(name_norm: str | None) -> bool:
    """Is the employer (normalised name) a non-construction business whose own premises are the workplace?"""
    return name_norm is not None and name_norm.endswith(_WORKPLACE_INDUSTRY)


@dataclass(frozen=True, slots=True)
class Match:
    rule: str
    score: float


#: The rules that join a record by its complainant. Their scores (≥ 0.948) are above every other rule's
#: (≤ 0.9): :func:`find_match` relies on it to leave a busy block unread.
PERSON_RULES = frozenset({"id_number", "phone"})


def score(a: Features, b: Features) -> Match:
    """The rule that joins ``a`` to ``b`` and its score; rule ``none`` (score < threshold) when none does.

    A ``none`` still carries a similarity score, used to list similar clues to an operator.
    """
    return _combine(a, b, respondent_similarity(a, b), project_similarity(a, b))


def _combine(a: Features, b: Features, resp: float, proj: float | None) -> Match:
    """:func:`score` from the two similarities (respondent, project) and the complainant fields."""
    same_county = a.county == b.county
    proj_conflict = proj is not None and proj < 0.6
    person = (
        "id_number" if a.id_hash and a.id_hash == b.id_hash else "phone" if a.phone and a.phone == b.phone else None
    )
    # Scores are banded so that a candidate with the same complainant (≥ 0.9) always beats one that
    # only shares respondent and project (≤ 0.9): the walk-in's own earlier complaint, not a workmate's.
    if person and resp >= 0.6 and not proj_conflict:
        base = 0.92 if person == "id_number" else 0.9
        return Match(person, round(base + 0.04 * resp + 0.04 * (resp if proj is None else proj), 4))
    if resp >= 0.85 and (same_county or (a.uscc is not None and a.uscc == b.uscc)):
        if proj is not None and proj >= 0.85:
            rule = "uscc+project" if a.uscc and a.uscc == b.uscc else "name+project"
            return Match(rule, round(0.6 + 0.15 * resp + 0.15 * proj, 4))
        if proj is None and _same_complainant(a.complainant, b.complainant):
            return Match("name+complainant", round(0.55 + 0.3 * resp, 4))
        if resp >= 0.9 and not a.project and not b.project and _is_workplace(a.name) and _is_workplace(b.name):
            # A restaurant, a shop, a factory is its own workplace: its workers' complaints within the
            # window are one matter, whoever makes them (a building company's may be other projects).
            # The name is the only evidence, so a homophone (荣隆 / 容隆: maybe two shops) is not enough.
            return Match("name+workplace", round(0.55 + 0.3 * resp, 4))
    soft = 0.45 * resp + 0.35 * (proj or 0.0) + (0.2 if person else 0.0)
    return Match("none", round(min(soft, DEFAULT_THRESHOLD - 0.01), 4))


@dataclass(frozen=True, slots=True)
class Candidate:
    """A record in the pool, its clue, and how the incoming record compares with it."""

    channel_record_id: int
    clue_id: int
    received_at: dt.datetime
    match: Match


@lru_cache(maxsize=2)
def _candidate_statement(*, postgres: bool) -> Any:
    """The candidate lookup, built once with bind parameters (a match is a hot path: building the
    statement per call cost more than scoring). On PostgreSQL the keys go as one array parameter, so
    the statement text never changes and psycopg prepares it server-side after a few calls."""
    key = m.ClueMatchKey.key
    in_keys = (
        key == any_(bindparam("keys", type_=ARRAY(String))) if postgres else key.in_(bindparam("keys", expanding=True))
    )
    hits = (
        select(m.ClueMatchKey.channel_record_id)
        .where(in_keys, m.ClueMatchKey.received_at >= bindparam("lo"), m.ClueMatchKey.received_at <= bindparam("hi"))
        .order_by(m.ClueMatchKey.received_at.desc())
        .limit(MAX_CANDIDATES)
    )
    return select(
        m.ChannelRecord.id,
        m.ChannelRecord.clue_id,
        m.ChannelRecord.received_at,
        cast(m.ChannelRecord.match_features, Text),
    ).where(m.ChannelRecord.id.in_(hits.scalar_subquery()))


@lru_cache(maxsize=1)
def _pg_candidate_sql() -> tuple[str, dict[str, Any]]:
    """The PostgreSQL candidate statement compiled once for psycopg: its text and constant parameters."""
    compiled = _candidate_statement(postgres=True).compile(dialect=postgresql.psycopg.dialect())
    return str(compiled), {k: v for k, v in compiled.params.items() if v is not None}


def _pg_candidate_rows(session: Session, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
    """The candidate rows through psycopg itself, in the session's transaction.

    At the tail of the match latency (the busiest name blocks, 60–80 candidates), SQLAlchemy's
    execution and per-row result processing cost more CPU than the lookup and the scoring together
    (bench/README.md, "Clue matcher speed"); psycopg's C loaders return the same four columns. The
    statement is prepared server-side on first use. A session of the async engine (the graph's similar
    clues, run in its sync shim) holds an adapted connection, not psycopg's own: it keeps SQLAlchemy's path.
    """
    raw = session.connection().connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        return session.execute(_candidate_statement(postgres=True), params).all()
    sql, constants = _pg_candidate_sql()
    with raw.cursor() as cur:
        cur.execute(sql, {**constants, **params}, prepare=True)
        # timestamptz comes back in the connection's time zone; the hub's timestamps are UTC (UtcDateTime)
        return [(rid, cid, at.astimezone(dt.UTC), text) for rid, cid, at, text in cur.fetchall()]


@lru_cache(maxsize=1)
def _pg_match_sql() -> tuple[str, dict[str, Any]]:
    """:func:`find_match`'s lookup on PostgreSQL, compiled once for psycopg: its text and constant parameters.

    The same key rows as :func:`_candidate_statement` (the newest :data:`MAX_CANDIDATES` in the window,
    read from the index alone); each record's features only where it shares a complainant key
    (``person``) with the incoming one — or every record's, when none does, or when the key rows
    reached the limit (a record's complainant key row may then be the one cut). A record left unread
    comes back with its id alone. The condition on the outer row is a one-time filter of the lateral
    subquery: a record left unread costs no heap access.
    """
    k, cr = m.ClueMatchKey, m.ChannelRecord
    key_rows = (
        select(k.key, k.channel_record_id)
        .where(
            k.key == any_(bindparam("keys", type_=ARRAY(String))),
            k.received_at >= bindparam("lo"),
            k.received_at <= bindparam("hi"),
        )
        .order_by(k.received_at.desc())
        .limit(MAX_CANDIDATES)
        .cte("key_rows")
    )
    hits = (
        select(
            key_rows.c.channel_record_id.label("id"),
            func.bool_or(key_rows.c.key == any_(bindparam("person", type_=ARRAY(String)))).label("person"),
        )
        .where(key_rows.c.channel_record_id.is_not(None))
        .group_by(key_rows.c.channel_record_id)
        .cte("hits")
    )
    other = hits.alias("other")
    only_person = and_(
        exists(select(other.c.id).where(other.c.person).correlate(None)),
        select(func.count()).select_from(key_rows).correlate(None).scalar_subquery() < MAX_CANDIDATES,
    )
    record = (
        select(cr.clue_id, cr.received_at, cast(cr.match_features, Text).label("features"))
        .where(cr.id == hits.c.id, or_(hits.c.person, not_(only_person)))
        .offset(0)  # not pulled up into a join (whose filter would come after the read)
        .lateral("record")
    )
    statement = select(hits.c.id, record.c.clue_id, record.c.received_at, record.c.features).select_from(
        hits.outerjoin(record, true())
    )
    compiled = statement.compile(dialect=postgresql.psycopg.dialect())
    return str(compiled), {k: v for k, v in compiled.params.items() if v is not None}


def _pg_connection(session: Session) -> psycopg.Connection[Any] | None:
    """The session's psycopg connection, or None for a session of the async engine (an adapted one)."""
    raw = session.connection().connection.driver_connection
    return raw if isinstance(raw, psycopg.Connection) else None


def _pg_match_rows(session: Session, params: dict[str, Any]) -> tuple[list[tuple[Any, ...]], list[int]]:
    """:func:`_pg_match_sql`'s answer: the rows read (as :func:`_pg_candidate_rows`) and the ids left unread."""
    raw = _pg_connection(session)
    if raw is None:
        return list(session.execute(_candidate_statement(postgres=True), params).all()), []
    with raw.cursor() as cur:
        sql, constants = _pg_match_sql()
        cur.execute(sql, {**constants, **params}, prepare=True)
        rows, pending = [], []
        for rid, cid, at, text in cur.fetchall():
            if cid is None:
                pending.append(rid)
            else:
                rows.append((rid, cid, at.astimezone(dt.UTC), text))
        return rows, pending


def _pg_record_rows(session: Session, ids: list[int]) -> list[tuple[Any, ...]]:
    """Records by id (id, clue id, received at, features as text): the rest of a block."""
    raw = _pg_connection(session)
    if raw is None:  # _pg_match_rows read every record then
        raise TypeError("the rest of a block is read through psycopg only")
    with raw.cursor() as cur:
        cur.execute(
            "SELECT id, clue_id, received_at, match_features::text FROM channel_records WHERE id = ANY(%(ids)s)",
            {"ids": ids},
            prepare=True,
        )
        return [(rid, cid, at.astimezone(dt.UTC), text) for rid, cid, at, text in cur.fetchall()]


def find_candidates(
    session: Session,
    f: Features,
    *,
    received_at: dt.datetime,
    window: dt.timedelta = DEFAULT_WINDOW,
    exclude_clue_id: int | None = None,
) -> list[Candidate]:
    """Records sharing a blocking key with ``f`` within ``window`` of ``received_at``, scored, best first."""
    keys = blocking_keys(f)
    if not keys:
        return []
    params = {"keys": keys, "lo": received_at - window, "hi": received_at + window}
    rows: Sequence[Sequence[Any]]
    if session.get_bind().dialect.name == "postgresql":
        rows = _pg_candidate_rows(session, params)
    else:
        rows = session.execute(_candidate_statement(postgres=False), params).all()
    scorer = _Scorer(f)
    out = [
        Candidate(rid, cid, at, scorer(text))
        for rid, cid, at, text in rows
        if exclude_clue_id is None or cid != exclude_clue_id
    ]
    out.sort(key=lambda c: _rank(c, received_at))
    return out


def _rank(c: Candidate, received_at: dt.datetime) -> tuple[float, float, int]:
    """Best score first; among equals, the record received closest in time to the incoming one, then the
    newest record (as :mod:`hub.rematch` breaks ties)."""
    return -c.match.score, abs((c.received_at - received_at).total_seconds()), -c.channel_record_id


class _Scorer:
    """:func:`score` of one incoming record against many candidates, each distinct comparison once.

    A busy block (a company's name key: 60–120 records in the window) holds a few spellings of a few
    companies and their few projects, but nearly every record has a complainant of its own. So the
    two similarities are kept by the candidate's respondent fields and project fields, and only the
    cheap combination (:func:`_combine`, which compares complainants) runs per record.
    """

    def __init__(self, f: Features) -> None:
        self.f = f
        self._by_text: dict[str | None, Match] = {}
        self._respondent: dict[tuple[str | None, ...], float] = {}
        self._project: dict[tuple[str | None, ...], float | None] = {}

    def __call__(self, text: str | None) -> Match:
        """The match of the candidate whose ``match_features`` read as ``text``."""
        found = self._by_text.get(text)
        if found is None:
            b = Features.from_json(orjson.loads(text) if text else None)
            resp_key = (b.uscc, b.name, b.core)
            resp = self._respondent.get(resp_key)
            if resp is None:
                resp = self._respondent[resp_key] = respondent_similarity(self.f, b)
            proj_key = (b.project_code, b.project, b.address)
            if proj_key in self._project:
                proj = self._project[proj_key]
            else:
                proj = self._project[proj_key] = project_similarity(self.f, b)
            found = self._by_text[text] = _combine(self.f, b, resp, proj)
        return found


def find_match(
    session: Session,
    f: Features,
    *,
    received_at: dt.datetime,
    window: dt.timedelta = DEFAULT_WINDOW,
    threshold: float = DEFAULT_THRESHOLD,
) -> Candidate | None:
    """The record ``f`` joins (the intake's question): ``match(find_candidates(…), threshold=…)``, cheaper.

    A candidate with the same complainant (phone or ID number) that matches outranks every candidate
    without one (:func:`score`'s bands), so when the blocking lookup finds
    records under the complainant's own keys, those are read and scored first; the rest of the block —
    a company's name key, often 60–120 records, each a row to read — only when none of them matches.
    On PostgreSQL the lookup reads the complainant's records alone in that case (one statement); on
    SQLite, where reading a record costs little, it reads the whole block as :func:`find_candidates` does.
    """
    keys = blocking_keys(f)
    if not keys:
        return None
    params = {"keys": keys, "lo": received_at - window, "hi": received_at + window}
    scorer = _Scorer(f)
    pending: list[int] = []
    rows: Sequence[Sequence[Any]]
    if session.get_bind().dialect.name == "postgresql":
        person = [k for k in keys if k.startswith(("p:", "i:"))]
        rows, pending = _pg_match_rows(session, {**params, "person": person})
    else:
        rows = session.execute(_candidate_statement(postgres=False), params).all()
    best = _best(rows, scorer, received_at)
    if pending and (best is None or best.match.rule not in PERSON_RULES):
        more = _best(_pg_record_rows(session, pending), scorer, received_at)
        if best is None or (more is not None and _rank(more, received_at) < _rank(best, received_at)):
            best = more
    return match([best] if best is not None else [], threshold=threshold)


def _best(rows: Iterable[Sequence[Any]], scorer: _Scorer, received_at: dt.datetime) -> Candidate | None:
    """The first of ``rows`` (id, clue id, received at, features text) in :func:`find_candidates`' order."""
    cands = [Candidate(rid, cid, at, scorer(text)) for rid, cid, at, text in rows]
    return min(cands, key=lambda c: _rank(c, received_at)) if cands else None


def match(candidates: Iterable[Candidate], *, threshold: float = DEFAULT_THRESHOLD) -> Candidate | None:
    """The best candidate at or above ``threshold`` (``candidates`` best first), or None."""
    for c in candidates:
        return c if c.match.rule != "none" and c.match.score >= threshold else None
    return None
