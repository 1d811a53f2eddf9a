"""Manual clue entry (hub.clue_entry): every bad input a user error naming the field and the limit."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from hub import clue_entry, workflow
from hub import models as m
from hub.access import Principal, bind_principal
from hub.clue_entry import ManualEntry, enter_clue
from hub.errors import DuplicateSource
from hub.db import session_factory
from hub.errors import Forbidden, HubError
from hub.db import make_engine
from hub.migrate import upgrade
from hub.seed import load_regions
from tests.conftest import _fresh_url
from tests.hub.test_workflow import CIPHER, COUNTY, OTHER_COUNTY

#: The injected clock: 2026-11-20 10:00 China time.
NOW = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.timezone.utc)
ENTRY = ManualEntry(
    channel="walk_in",
    source_id="LF-2026-0001",
    region_code="370811",
    title="来访反映欠薪",
    content="来访人反映2026年9月至10月工资未付",
    respondent_name="济宁市任城区鸿达建筑劳务有限公司",
    complainant_name="张建国",
    complainant_phone="13953712345",
    amount=Decimal("42000.00"),
    headcount=3,
    arrears_from=dt.date(2026, 9, 1),
    arrears_to=dt.date(2026, 10, 31),
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory, request):  # type: ignore[no-untyped-def]
    """One database for the module: the refusals write nothing, and each entry has its own register number."""
    url = _fresh_url(tmp_path_factory.mktemp("entry"), request)
    upgrade(url)
    engine = make_engine(url)
    load_regions(engine)
    yield engine
    engine.dispose()


def count(engine, model) -> int:  # type: ignore[no-untyped-def]
    with session_factory(engine)() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def enter(engine, principal: Principal = COUNTY, **changes: Any) -> m.Clue:  # type: ignore[no-untyped-def]
    with session_factory(engine)() as s:
        bind_principal(s, principal)
        return workflow.run_action(
            s,
            lambda s: enter_clue(
                s, entry=dataclasses.replace(ENTRY, **changes), principal=principal, cipher=CIPHER, now=NOW
            ),
        )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": "欠" * 301}, "title", "title is 301 characters long: at most 300"),
        ({"respondent_name": "公" * 201}, "respondentName", "respondentName is 201 characters long: at most 200"),
        ({"complainant_name": "张" * 51}, "complainantName", "complainantName is 51 characters long: at most 50"),
        ({"source_id": "L" * 65}, "sourceId", "sourceId is 65 characters long: at most 64"),
        (
            {"respondent_address": "路" * 301},
            "respondentAddress",
            "respondentAddress is 301 characters long: at most 300",
        ),
        ({"project_code": "3" * 41}, "projectCode", "projectCode is 41 characters long: at most 40"),
        ({"project_name": "项" * 201}, "projectName", "projectName is 201 characters long: at most 200"),
        ({"content": "x" * 10_001}, "content", "content is 10,001 characters long: at most 10,000"),
        ({"title": "   "}, "title", "title is required"),
        ({"amount": Decimal("1e30")}, "amount", "amount 1E+30 is out of range: from 0 to 9,999,999,999,999.99 yuan"),
        ({"amount": Decimal("-0.01")}, "amount", "amount -0.01 is out of range: from 0 to 9,999,999,999,999.99 yuan"),
        ({"amount": Decimal("NaN")}, "amount", "amount NaN is not a number of yuan"),
        ({"amount": Decimal("Infinity")}, "amount", "amount Infinity is not a number of yuan"),
        ({"amount": Decimal("12.345")}, "amount", "amount 12.345 has more than 2 decimal places (yuan and fen)"),
        ({"headcount": 0}, "headcount", "headcount 0 is out of range: from 1 to 100,000 workers"),
        ({"headcount": 10**9}, "headcount", "headcount 1000000000 is out of range: from 1 to 100,000 workers"),
        (
            {"arrears_from": dt.date(1, 1, 1)},
            "arrearsFrom",
            "arrearsFrom 0001-01-01 is out of range: from 2000-01-01 to 2027-11-21",
        ),
        (
            {"arrears_to": dt.date(9999, 12, 31)},
            "arrearsTo",
            "arrearsTo 9999-12-31 is out of range: from 2000-01-01 to 2027-11-21",
        ),
        ({"arrears_from": dt.date(2026, 11, 1)}, "arrearsFrom", "arrearsFrom 2026-11-01 is after arrearsTo 2026-10-31"),
        (
            {"received_at": dt.datetime(9999, 1, 1, tzinfo=dt.timezone.utc)},
            "receivedAt",
            "receivedAt 9999-01-01T00:00:00+00:00 is out of range: from 2000-01-01 to today (2026-11-20, China time)",
        ),
        (
            {"received_at": dt.datetime(1, 1, 2)},
            "receivedAt",
            "receivedAt 0001-01-02T00:00:00+08:00 is out of range: from 2000-01-01 to today (2026-11-20, China time)",
        ),
    ],
    ids=[
        "title",
        "respondent",
        "complainant",
        "source-id",
        "address",
        "project-code",
        "project-name",
        "content",
        "blank-title",
        "amount-1e30",
        "amount-negative",
        "amount-nan",
        "amount-inf",
        "amount-fen",
        "headcount-0",
        "headcount-huge",
        "arrears-year-1",
        "arrears-year-9999",
        "arrears-reversed",
        "received-9999",
        "received-year-1",
    ],
)
def test_bad_input_is_refused_naming_the_field_and_the_limit(engine, changes, field, message) -> None:  # type: ignore[no-untyped-def]
    before = count(engine, m.Clue)
    with pytest.raises(HubError) as err:
        enter(engine, **{"source_id": "LF-BAD", **changes})
    assert (err.value.code, err.value.message, err.value.extra.get("field")) == ("BAD_USER_INPUT", message, field)
    assert count(engine, m.Clue) == before  # nothing written


def test_the_limits_themselves_are_accepted(engine) -> None:  # type: ignore[no-untyped-def]
    clue = enter(
        engine,
        source_id="LF-LIMITS",
        title="欠" * 300,
        complainant_name="张" * 50,
        amount=Decimal("9999999999999.99"),
        headcount=100_000,
        arrears_from=dt.date(2000, 1, 1),
        arrears_to=dt.date(2027, 11, 21),
        received_at=dt.datetime(2026, 11, 20, 23, 59),
    )  # local time, no offset: China time, today
    assert (len(clue.title), clue.amount, clue.headcount) == (300, Decimal("9999999999999.99"), 100_000)


def test_a_malformed_phone_is_refused_without_repeating_it(engine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(HubError) as err:
        enter(engine, source_id="LF-PHONE", complainant_phone="1395371234x")
    assert (err.value.code, err.value.extra.get("field")) == ("INVALID_IDENTIFIER", "complainantPhone")
    # (the character as typed: the phone check no longer upper-cases what it quotes)
    assert err.value.message == "invalid complainantPhone: illegal character 'x' at position 11"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("13953712345", "+8613953712345"), ("+86 139-5371-2345", "+8613953712345"),
     ("(0537) 234-5678", "+865372345678"), ("0537-2345678 转 801", "+865372345678")],
    ids=["mobile", "mobile-plus86", "landline", "landline-extension"],
)
def test_a_typed_phone_is_stored_in_e164(engine, typed: str, stored: str) -> None:  # type: ignore[no-untyped-def]
    # Given an operator typing the complainant's mobile or landline the way it was told to them
    enter(engine, source_id=f"LF-E164-{typed}", complainant_phone=typed)
    # Then its channel record holds it in E.164 (a landline is accepted)
    with session_factory(engine)() as s:
        record = s.execute(select(m.ChannelRecord).where(m.ChannelRecord.source_id == f"LF-E164-{typed}")).scalar_one()
        assert record.complainant_phone == stored


def test_a_register_number_is_entered_once_wherever_it_is(engine) -> None:  # type: ignore[no-untyped-def]
    enter(engine, principal=COUNTY, source_id="LF-2026-0007")
    # Again in the same county, and from another county that cannot see the first: the same answer
    answers = []
    for principal, region in ((COUNTY, "370811"), (OTHER_COUNTY, "370829")):
        with pytest.raises(DuplicateSource) as err:
            enter(
                engine, principal=principal, region_code=region, source_id="LF-2026-0007", respondent_name="另一家公司"
            )
        answers.append((err.value.code, err.value.message, err.value.extra))
    assert (
        answers[0]
        == answers[1]
        == (
            "DUPLICATE_SOURCE",
            "来访 register number LF-2026-0007 is already in the clue pool: a source record is entered once",
            {"field": "sourceId", "value": "LF-2026-0007"},
        )
    )
    with session_factory(engine)() as s:
        assert (
            s.execute(
                select(func.count()).select_from(m.ChannelRecord).where(m.ChannelRecord.source_id == "LF-2026-0007")
            ).scalar_one()
            == 1
        )


@pytest.mark.parametrize("who", [COUNTY, OTHER_COUNTY], ids=["inside", "outside"])
def test_a_register_number_entered_meanwhile_is_a_duplicate_too(engine, monkeypatch, who) -> None:  # type: ignore[no-untyped-def]
    # The check found nothing, then another operator's entry committed first: the pool's own lookup
    # (inside the jurisdiction) or the unique constraint (outside it) answers the same
    source_id = f"LF-2026-0008-{who.region_code}"
    enter(engine, principal=COUNTY, source_id=source_id, respondent_name=f"{source_id}公司", complainant_phone=None)
    monkeypatch.setattr(clue_entry, "_source_taken", lambda *a, **k: False)
    region = "370811" if who is COUNTY else "370829"
    with pytest.raises(DuplicateSource) as err:
        enter(engine, principal=who, region_code=region, source_id=source_id, respondent_name="另一家公司")
    assert (
        err.value.message
        == f"来访 register number {source_id} is already in the clue pool: a source record is entered once"
    )


def test_entry_outside_the_jurisdiction_is_forbidden(engine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Forbidden, match="^regionCode 370829 is outside your jurisdiction 370811$"):
        enter(engine, source_id="LF-OUTSIDE", region_code="370829")


@pytest.mark.parametrize("role", ["viewer", "regional"], ids=["viewer", "regional"])
def test_a_role_the_policy_table_does_not_let_enter_clues_is_forbidden(engine, role) -> None:  # type: ignore[no-untyped-def]
    # Given a key of a role without Action.ENTER_CLUES in hub.access.POLICY
    principal = dataclasses.replace(COUNTY, role=role)
    before = count(engine, m.Clue)
    # When it enters a clue, then it is refused, naming the role, and nothing is written
    with pytest.raises(Forbidden, match=f"^a {role} key may not enter clues$"):
        enter(engine, principal=principal, source_id=f"LF-{role}")
    assert count(engine, m.Clue) == before
