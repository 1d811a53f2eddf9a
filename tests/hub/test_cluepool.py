"""The clue pool's intake (hub.cluepool) and phones: stored in E.164, matched on the normalised number,
a landline complaint accepted like a mobile one, a bad number refused without repeating it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub import models as m
from hub.cluepool import ClueIntake
from hub.db import session_scope
from hub.records import Item
from tests.hub.test_workflow import CIPHER, complaint, engine, intake

__all__ = ["engine"]  # the fixture, shared with the workflow tests

#: A valid 居民身份证号 (the GB 11643-1999 example).
ID_NUMBER = "11010519491231002X"


def records_of(engine, clue_id: int) -> list[m.ChannelRecord]:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        return list(
            s.execute(select(m.ChannelRecord).where(m.ChannelRecord.clue_id == clue_id).order_by(m.ChannelRecord.id))
            .scalars()
            .all()
        )


def test_a_landline_complaint_joins_a_mobile_one_of_the_same_complainant(engine) -> None:  # type: ignore[no-untyped-def]
    # Given a complaint on the national platform from a mobile, with the complainant's ID number
    # When the same worker walks in a week later and leaves the number of the site office's landline
    ids = intake(
        engine,
        complaint("GZQX2026110200001", channel="national_platform", complainant_id_number=ID_NUMBER),
        complaint("LF-2026-0009", channel="walk_in", received="2026-11-09", complainant_id_number=ID_NUMBER,
                  complainant_phone="0537-2345678"),
    )
    # Then the landline complaint is accepted and joins the mobile one, on the ID number
    assert ids[0] == ids[1]
    mobile, landline = records_of(engine, ids[0])
    assert (mobile.complainant_phone, mobile.match_rule) == ("+8613953712345", "new")
    assert (landline.complainant_phone, landline.match_rule) == ("+865372345678", "id_number")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("0537-2345678", "+86 537 234 5678"),
        ("05372345678", "(0537) 234-5678"),
        ("0086 537 2345678", "0537-2345678 转 801"),
    ],
    ids=["dash-vs-plus86-spaces", "compact-vs-parenthesised", "0086-vs-extension"],
)
def test_two_spellings_of_one_landline_join_each_other(engine, first: str, second: str) -> None:  # type: ignore[no-untyped-def]
    # Given a 12345 call from a landline, and a week later the platform complaint with the number written otherwise
    ids = intake(
        engine,
        complaint("2026110200123", complainant_phone=first),
        complaint("GZQX2026110900007", channel="national_platform", received="2026-11-09", complainant_phone=second),
    )
    # Then both are one clue, joined by the phone rule on the E.164 number
    assert ids[0] == ids[1]
    assert [(r.complainant_phone, r.match_rule) for r in records_of(engine, ids[0])] == [
        ("+865372345678", "new"),
        ("+865372345678", "phone"),
    ]
    # and the matcher's blocking key is the E.164 number
    with session_scope(engine) as s:
        keys = s.execute(select(m.ClueMatchKey.key).where(m.ClueMatchKey.key.like("p:%"))).scalars().all()
    assert keys == ["p:+865372345678", "p:+865372345678"]


def test_another_landline_of_the_same_area_is_another_complainant(engine) -> None:  # type: ignore[no-untyped-def]
    # Given two callers from two numbers of one area code, complaining about two companies
    ids = intake(
        engine,
        complaint("2026110200123", complainant_phone="0537-2345678"),
        complaint("2026110200124", complainant_phone="0537-2345679", complainant_name="李四",
                  respondent_name="济宁市兖州区顺达物流有限公司", project_name=None),
    )
    # Then they stay apart
    assert ids[0] != ids[1]


def test_a_bad_phone_from_a_connector_is_quarantined_with_the_number_masked(engine) -> None:  # type: ignore[no-untyped-def]
    # Given a page with one record whose phone is a 400 service number and one from a landline
    with session_scope(engine) as s:
        result = ClueIntake(s, cipher=CIPHER).ingest([
            Item(complaint("2026110200200", complainant_phone="400-800-8888"), raw_record_id=None),
            Item(complaint("2026110200201", complainant_phone="0537-2345678"), raw_record_id=None),
        ])
    # Then the first is a problem naming the field and what is wrong, not the number; the landline one is created
    assert result.created == 1
    [problem] = result.problems
    assert (problem.field, problem.reason) == (
        "complainantPhone",
        "invalid complainantPhone: a shared-cost (400) service number, not a mobile or a landline",
    )
