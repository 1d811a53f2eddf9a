"""Clue filters that follow the hub's rules: "overdue" on China's day, and no search by personal data
for a key that may not read it."""

from __future__ import annotations

import datetime as dt

import pytest

from hub import models as m
from hub.identifiers import mask_phone

OVERDUE = """query($o: Boolean) { clues(filter: {overdue: $o}, first: 500) { totalCount nodes { clueNo overdue } } }"""


async def test_the_overdue_filter_and_the_overdue_field_count_on_the_same_day(graph, monkeypatch) -> None:
    counts = []
    # 01:00 in China on 11-21 is still 11-20 on a UTC server; and a later day, when more clues are late
    for now in (dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.UTC), dt.datetime(2026, 12, 31, 3, 0, tzinfo=dt.UTC)):
        # Given the hub's clock at that moment
        monkeypatch.setattr(m, "utcnow", lambda now=now: now)
        # When clues are filtered by overdue, both ways
        late = (await graph.data(OVERDUE, {"o": True}))["clues"]
        on_time = (await graph.data(OVERDUE, {"o": False}))["clues"]
        # Then the filter agrees with each clue's own `overdue` field
        assert all(n["overdue"] for n in late["nodes"]) and not any(n["overdue"] for n in on_time["nodes"])
        counts.append(late["totalCount"])
    # and it follows the clock it was given, not the server's date
    assert counts[0] < counts[1]


PHONE_SEARCH = "query($s: String) { clues(filter: {search: $s}) { totalCount } }"


@pytest.mark.parametrize(
    "term", ["0537", "13905370001", "张三 1234"], ids=["four-digits", "a-phone", "digits-in-words"]
)
async def test_a_key_without_unmask_may_not_search_by_digits_of_personal_data(graph, term) -> None:
    # Given a viewer key (answers mask phones as 139****0001), When it searches by digits
    err = await graph.error(PHONE_SEARCH, {"s": term}, as_="viewer")
    # Then it is refused, naming the field, and told what it may do
    assert err["extensions"] == {
        "code": "FORBIDDEN",
        "field": "search",
        "suggestion": "search by a name, or ask an administrator for a key with the unmask permission",
    }
    assert err["message"] == (
        "search: four or more digits in a row may be part of a phone, ID or card number, "
        "and you may not search by personal data"
    )


async def test_searching_by_a_name_or_with_unmask_is_allowed(graph) -> None:
    # A name, or three digits (a headcount, a number in a title), is a search anyone may make
    assert (await graph.data(PHONE_SEARCH, {"s": "工资"}, as_="viewer"))["clues"]["totalCount"] > 0
    await graph.data(PHONE_SEARCH, {"s": "等12人"}, as_="viewer")
    # and a key that may unmask may search by digits
    await graph.data(PHONE_SEARCH, {"s": "0537"}, as_="unmasker")


# (masked answers: a reveal would write unmask audit rows into the shared demo database)
PHONE_FIND = 'query($s: String) { clues(filter: {search: $s}, first: 100) { nodes { clueNo complainantPhone } } }'


def _a_clue_with_a_phone(url: str) -> tuple[str, str]:
    from sqlalchemy import select

    from hub.db import make_engine, session_scope

    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            row = s.execute(select(m.Clue.clue_no, m.Clue.complainant_phone)
                            .where(m.Clue.complainant_phone.is_not(None), m.Clue.region_code.like("3708%"))
                            .order_by(m.Clue.id).limit(1)).one()
    finally:
        engine.dispose()
    return row[0], row[1]


@pytest.mark.parametrize("writing", ["e164", "national-dashes", "plus86-spaces"])
async def test_searching_by_a_phone_matches_it_in_any_writing(graph, demo, writing) -> None:
    # Given a clue whose complainant's phone is stored in E.164 (+8613…)
    clue_no, phone = _a_clue_with_a_phone(demo.url)
    national = phone.removeprefix("+86")
    term = {"e164": phone, "national-dashes": f"{national[:3]}-{national[3:7]}-{national[7:]}",
            "plus86-spaces": f"+86 {national[:3]} {national[3:7]} {national[7:]}"}[writing]
    # When a key that may unmask searches by the number as someone wrote it
    nodes = (await graph.data(PHONE_FIND, {"s": term}, as_="unmasker"))["clues"]["nodes"]
    # Then the clue is found, and every clue found is that complainant's (its number, masked)
    assert clue_no in {n["clueNo"] for n in nodes}
    assert {n["complainantPhone"] for n in nodes} == {mask_phone(phone)}
