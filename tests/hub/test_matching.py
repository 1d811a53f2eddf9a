"""The clue matcher's normalisation and scoring (hub/matching.py), on hand-written Chinese names."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hub.matching import (
    DEFAULT_THRESHOLD,
    PERSON_RULES,
    Features,
    _combine,
    blocking_keys,
    company_core,
    normalise_address,
    normalise_company_name,
    normalise_project_name,
    pinyin_key,
    score,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("济宁市任城区鸿达建筑劳务有限公司", "鸿达建筑劳务"),
        ("山东省济宁市鸿达建筑劳务有限公司（任城分公司）", "鸿达建筑劳务"),
        ("济宁市鸿达建筑劳务有限责任公司", "鸿达建筑劳务"),
        ("山东鸿达建设集团有限公司", "鸿达建设"),
        ("山东鸿达建设集团股份有限公司", "鸿达建设"),
        ("山东鼎诚建设集团有限公司微山分公司", "鼎诚建设"),
        ("山东鼎诚建设集团有限公司锦绣华府项目部", "鼎诚建设"),
        ("济宁市瑞发建筑劳务有限公司(原瑞发劳务队)", "瑞发建筑劳务"),
        ("金祥（济宁）园林绿化工程有限公司", "金祥园林绿化工程"),
        ("济宁市　鸿达建筑劳务 有限公司", "鸿达建筑劳务"),
        ("ＡＢＣ建筑劳务有限公司", "abc建筑劳务"),
        ("鸿达劳务", "鸿达劳务"),
        ("济宁市任城区永安劳务有限公司", "永安劳务"),
        ("济宁市泰和建设工程有限公司", "泰和建设工程"),
        ("济宁鸿达劳务", "鸿达劳务"),
    ],
    ids=[
        "county-prefix",
        "province-branch-in-brackets",
        "youxian-zeren",
        "group-short-province",
        "gufen",
        "branch-after-company",
        "project-department",
        "half-width-brackets",
        "region-in-brackets",
        "full-width-spaces",
        "full-width-latin",
        "abbreviation",
        "trade-name-is-a-county",
        "trade-name-is-a-county-2",
        "short-city-prefix",
    ],
)
def test_normalise_company_name(raw: str, expected: str) -> None:
    assert normalise_company_name(raw) == expected


@pytest.mark.parametrize(
    ("name", "core"),
    [
        ("鸿达建筑劳务", "鸿达"),
        ("鸿达劳务分包", "鸿达"),
        ("鸿达建筑安装工程", "鸿达"),
        ("永安劳务", "永安"),
        ("金业餐饮管理", "金业"),
        ("劳务", "劳务"),
    ],
    ids=["labour", "labour-subcontract", "installation", "region-word-trade", "catering", "industry-only"],
)
def test_company_core(name: str, core: str) -> None:
    assert company_core(name) == core


@pytest.mark.parametrize(
    ("a", "b"), [("宏达", "鸿达"), ("盛鑫", "胜新"), ("顺远", "舜远")], ids=["hong", "sheng-xin", "shun"]
)
def test_pinyin_key_joins_homophones(a: str, b: str) -> None:
    assert pinyin_key(a) == pinyin_key(b)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("济宁市任城区锦绣华府二期住宅项目", "锦绣华府二期"),
        ("锦绣华府二期工地", "锦绣华府二期"),
        ("汶上县泰山路201号附近工地", "泰山路201号"),
        ("金乡县琵琶山路117号在建工地", "琵琶山路117号"),
        ("中山路13号", "中山路13号"),
        ("济宁市任城区泰和华府三期住宅项目", "泰和华府三期"),
        ("凤凰家园一期", "凤凰家园一期"),
        ("嘉祥县第八中学教学楼建设项目", "第八中学教学楼"),
    ],
    ids=[
        "estate",
        "estate-site",
        "road-named-after-a-district",
        "under-construction",
        "road-named-after-a-city",
        "estate-named-after-a-county",
        "estate-named-after-a-county-2",
        "school",
    ],
)
def test_normalise_project_name(raw: str, expected: str) -> None:
    assert normalise_project_name(raw) == expected


def test_normalise_address() -> None:
    assert normalise_address("山东省济宁市任城区建设路128号工地") == "建设路128号"


def _f(**kw: str) -> Features:
    kw.setdefault("region_code", "370811")
    return Features.build(**kw)  # type: ignore[arg-type]


PHONE = "13800138000"
POSITIVES = [
    (
        _f(respondent_name="济宁市任城区鸿达建筑劳务有限公司", phone=PHONE, project_name="锦绣华府二期住宅项目"),
        _f(respondent_name="鸿达劳务", phone=PHONE, project_name="锦绣华府二期"),
        "phone",
    ),
    (
        _f(respondent_name="济宁市宏达建筑劳务有限公司", phone=PHONE),
        _f(respondent_name="鸿达建筑劳务", phone=PHONE, project_name="锦绣华府"),
        "phone",
    ),
    (
        _f(respondent_name="鸿达劳务", phone=PHONE, project_name="锦绣华府二期"),
        _f(respondent_name="鸿达劳务", phone=PHONE, project_name="建设路128号工地"),
        "phone",
    ),
    (
        _f(respondent_name="鸿达劳务", phone=PHONE, project_name="锦绣华府二期"),
        _f(respondent_name="济宁市鸿达建筑劳务有限公司", phone=PHONE, address="济宁市任城区金宇路42号"),
        "phone",
    ),
    (
        _f(respondent_name="济宁市鸿达建筑劳务有限公司", id_hash="h1", project_name="锦绣华府二期"),
        _f(respondent_name="山东鸿达建设集团有限公司", id_hash="h1"),
        "id_number",
    ),
    (
        _f(respondent_name="鸿达劳务", phone="13900000001", project_name="锦绣华府二期"),
        _f(
            respondent_name="济宁市鸿达建筑劳务有限公司",
            phone="13900000002",
            project_name="济宁市任城区锦绣华府二期住宅项目",
        ),
        "name+project",
    ),
    (
        _f(respondent_name="鸿达劳务", phone="13900000001", project_name="建设路128号"),
        _f(respondent_name="鸿达劳务", phone="13900000002", address="任城区建设路128号锦绣华府工地"),
        "name+project",
    ),
    (
        _f(respondent_name="鸿达劳务", complainant_name="王建国"),
        _f(respondent_name="济宁市鸿达建筑劳务有限公司", complainant_name="王建国"),
        "name+complainant",
    ),
    (
        _f(respondent_name="金业餐饮管理", phone="13900000001"),
        _f(respondent_name="济宁市任城区金业餐饮管理有限公司", phone="13900000002", address="济宁市任城区金宇路42号"),
        "name+workplace",
    ),
]


@pytest.mark.parametrize(
    ("a", "b", "rule"),
    POSITIVES,
    ids=[
        "phone-abbreviation",
        "phone-homophone",
        "phone-project-name-vs-address",
        "phone-office-address",
        "id-number-sister-name",
        "name-and-project",
        "project-address-in-employer-address",
        "name-and-complainant",
        "restaurant-is-the-workplace",
    ],
)
def test_score_joins(a: Features, b: Features, rule: str) -> None:
    m = score(a, b)
    assert (m.rule, m.score >= DEFAULT_THRESHOLD) == (rule, True)
    assert score(b, a).rule == rule  # symmetric


NEGATIVES = [
    (
        _f(respondent_name="鸿达劳务", phone="13900000001", project_name="锦绣华府二期"),
        _f(respondent_name="鸿达劳务", phone="13900000002", project_name="翡翠公馆一期"),
    ),
    (
        _f(respondent_name="鸿达劳务", phone=PHONE, project_name="锦绣华府二期"),
        _f(respondent_name="恒泰钢结构工程", phone=PHONE, project_name="锦绣华府二期"),
    ),
    (
        _f(respondent_name="鸿达劳务", phone=PHONE, project_name="锦绣华府二期"),
        _f(respondent_name="济宁市鸿达建筑劳务有限公司", phone=PHONE, project_name="第八中学教学楼建设项目"),
    ),
    (
        _f(respondent_name="鸿达劳务", phone="13900000001", project_name="锦绣华府二期"),
        _f(respondent_name="鸿达劳务", phone="13900000002", project_name="锦绣华府二期", region_code="370829"),
    ),
    (
        _f(respondent_name="鸿达劳务", phone="13900000001", project_name="锦绣华府二期"),
        _f(respondent_name="恒泰建筑劳务", phone="13900000002", project_name="锦绣华府二期"),
    ),
    (
        _f(respondent_name="济宁市梁山县顺远餐饮管理有限公司", phone="13900000001"),
        _f(respondent_name="济宁市梁山县舜远物业服务有限公司", phone="13900000002"),
    ),
    (_f(respondent_name="荣隆食品", phone="13900000001"), _f(respondent_name="容隆食品", phone="13900000002")),
    (
        _f(respondent_name="鸿达劳务", phone="13900000001", address="济宁市任城区金宇路42号"),
        _f(respondent_name="鸿达劳务", phone="13900000002", address="济宁市任城区金宇路42号"),
    ),
    (
        _f(respondent_name="鸿达劳务", complainant_name="王先生"),
        _f(respondent_name="鸿达劳务", complainant_name="王先生"),
    ),
    (
        _f(respondent_name="济宁市永安劳务有限公司", phone="13900000001", project_name="锦绣华府二期"),
        _f(respondent_name="济宁市恒通劳务有限公司", phone="13900000002", project_name="锦绣华府二期"),
    ),
]


@pytest.mark.parametrize(
    ("a", "b"),
    NEGATIVES,
    ids=[
        "same-company-other-project",
        "same-phone-other-employer",
        "same-phone-other-project",
        "namesake-other-county",
        "same-project-other-employer",
        "homophone-other-trade",
        "homophone-shop-by-name-only",
        "same-office-address-only",
        "surname-title-only",
        "trade-names-that-are-regions",
    ],
)
def test_score_keeps_apart(a: Features, b: Features) -> None:
    m = score(a, b)
    assert (m.rule, m.score < DEFAULT_THRESHOLD) == ("none", True)
    assert score(b, a).rule == "none"


def test_blocking_keys_share_the_name_key_across_abbreviation_and_homophone() -> None:
    # Given the full name, its 简称 and a homophone typo, in one county
    keys = [
        set(blocking_keys(_f(respondent_name=n))) for n in ("济宁市任城区鸿达建筑劳务有限公司", "鸿达劳务", "宏达劳务")
    ]
    # Then they share the name key; in another county they do not
    assert keys[0] & keys[1] & keys[2] == {"n:370811:hongda"}
    assert not set(blocking_keys(_f(respondent_name="鸿达劳务", region_code="370829"))) & keys[0]


def test_a_match_by_the_complainant_outranks_every_other_match() -> None:
    # Given every combination of respondent and project similarity, complainant fields, county and trade
    # (find_match leaves the rest of a busy block unread once the caller's own record matches)
    a = Features(county="370811", phone="+8613912345678", id_hash="h1", name="鸿达餐饮", complainant="张伟")
    others = [
        replace(a, phone=phone, id_hash=id_hash, complainant=name, county=county, project=project)
        for phone in (a.phone, "+8613900000000")
        for id_hash in (a.id_hash, "h2")
        for name in (a.complainant, "李娜")
        for county in (a.county, "370812")
        for project in (None, "锦绣华府")
    ]
    grid = [x / 100 for x in range(101)]
    person, rest = [], []
    for b in others:
        for resp in grid:
            for proj in [None, *grid]:
                found = _combine(a, b, resp, proj)
                if found.rule in PERSON_RULES:
                    person.append(found.score)
                elif found.rule != "none":
                    rest.append(found.score)
    # Then the lowest score of a match by phone or ID number is above the highest of any other rule
    assert person and rest
    assert min(person) > max(rest)
    assert (min(person), max(rest)) == (0.948, 0.9)
