"""The arrears blacklist (人社部令第45号): listing, early removal after six months, expiry by itself; events."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from hub.access import Principal, Role
from hub.actors import refresh_credit_levels_now
from hub.blacklist import add_months, list_enterprise, remove_early
from hub.db import make_engine, session_scope
from hub.errors import Conflict, DuplicateDocument, Forbidden, IllegalTransition, TooEarly
from hub.identifiers import make_uscc
from hub.models import AuditLog, BlacklistEntry, CreditRating, Enterprise, Event, Penalty
from tests.hub.credit_fixtures import ADMIN, INSPECTOR

LISTED_ON = dt.date(2025, 8, 31)
USCC = make_uscc(random.Random(45), region_code="370811")


@pytest.fixture
def engine(empty_db_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_db_url)
    with session_scope(engine) as s:
        s.add(Enterprise(uscc=USCC, name="济宁市拖欠劳务有限公司", region_code="370811", kind="labour_service"))
    yield engine
    engine.dispose()


def _list(s: Session, *, today: dt.date = LISTED_ON, principal: Principal = ADMIN, no: str = "济任人社失信字〔2025〕第7号") -> BlacklistEntry:
    return list_enterprise(s, principal=principal, uscc=USCC, document_no=no, decided_on=LISTED_ON,
                           reason="拖欠农民工工资数额较大", region_code="370811", today=today)


def _flag(s: Session) -> bool:
    return s.execute(select(Enterprise.blacklisted).where(Enterprise.uscc == USCC)).scalar_one()


def _events(s: Session) -> list[tuple[str, str, str | None, str]]:
    return [(e.type, e.region_code, e.handling_region_code, e.payload["status"])
            for e in s.scalars(select(Event).where(Event.entity_type == "blacklist_entry").order_by(Event.id))]


@pytest.mark.parametrize(("day", "expected"), [(dt.date(2023, 8, 31), dt.date(2024, 2, 29)), (dt.date(2025, 8, 31), dt.date(2026, 2, 28)),
                                               (dt.date(2025, 3, 15), dt.date(2025, 9, 15))],
                         ids=["31 August to a leap February", "31 August to February", "a plain day"])
def test_six_months_later_keeps_the_day_or_the_months_last(day: dt.date, expected: dt.date) -> None:
    assert add_months(day, 6) == expected


def test_a_listing_lasts_three_years_and_says_so(engine: Engine) -> None:
    # When an administrator lists the enterprise
    with session_scope(engine) as s:
        entry = _list(s)
        # Then the listing ends three years from the decision, the enterprise is flagged, an event reaches the
        # deciding region (and the enterprise's own), and the listing is audited
        assert (entry.status, entry.ends_on) == ("listed", dt.date(2028, 8, 31))
        assert _flag(s) is True
        assert _events(s) == [("blacklist.listed", "370811", "370811", "listed")]
        assert s.scalars(select(AuditLog.action)).all() == ["blacklist.list"]


@pytest.mark.parametrize(
    ("principal", "error", "message"),
    [
        (INSPECTOR, Forbidden, r"^only administrators may list enterprises on the blacklist$"),
        (Principal(name="x", role=Role.ADMIN, region_code="370812"), Forbidden,
         r"^regionCode 370811 is outside your jurisdiction 370812$"),
    ],
    ids=["an inspector", "an admin of another county"],
)
def test_who_may_list(engine: Engine, principal: Principal, error: type[Exception], message: str) -> None:
    with session_scope(engine) as s, pytest.raises(error, match=message):
        _list(s, principal=principal)


def test_a_second_listing_or_decision_is_refused(engine: Engine) -> None:
    with session_scope(engine) as s:
        _list(s)
    with session_scope(engine) as s, pytest.raises(DuplicateDocument, match=r"^listing decision 济任人社失信字〔2025〕第7号 is already recorded$"):
        _list(s)
    with session_scope(engine) as s, pytest.raises(
        Conflict, match=r"^济宁市拖欠劳务有限公司 is already listed by decision 济任人社失信字〔2025〕第7号 until 2028-08-31$"
    ):
        _list(s, no="济任人社失信字〔2025〕第8号")


def _remove(s: Session, *, today: dt.date, corrected: dt.date = dt.date(2025, 9, 30)) -> BlacklistEntry:
    entry = s.execute(select(BlacklistEntry)).scalar_one()
    return remove_early(s, principal=ADMIN, entry=entry, corrected_on=corrected, promise_no="信用承诺〔2026〕12号",
                        reason="已全额支付并作出信用承诺", today=today)


def test_early_removal_before_six_months_from_the_correction_is_refused(engine: Engine) -> None:
    with session_scope(engine) as s:
        _list(s)
    # Given a correction on 30 September 2025, the day before six months have passed
    with session_scope(engine) as s, pytest.raises(
        TooEarly,
        match=r"^listing 济任人社失信字〔2025〕第7号 may be removed early from 2026-03-30, 6 months after the correction on 2025-09-30$",
    ):
        _remove(s, today=dt.date(2026, 3, 29))
    with session_scope(engine) as s:
        # Then nothing changed
        assert (s.execute(select(BlacklistEntry.status)).scalar_one(), _flag(s)) == ("listed", True)


def test_early_removal_six_months_after_the_correction_ends_the_listing(engine: Engine) -> None:
    with session_scope(engine) as s:
        _list(s)
    with session_scope(engine) as s:
        entry = _remove(s, today=dt.date(2026, 3, 30))
        assert (entry.status, entry.ended_on, entry.corrected_on, entry.promise_no) == (
            "removed", dt.date(2026, 3, 30), dt.date(2025, 9, 30), "信用承诺〔2026〕12号")
        assert _flag(s) is False
        assert _events(s) == [("blacklist.listed", "370811", "370811", "listed"),
                              ("blacklist.removed", "370811", "370811", "removed")]
        assert s.scalars(select(AuditLog.action).order_by(AuditLog.id)).all() == ["blacklist.list", "blacklist.remove"]
    # And a removed listing cannot be removed again
    with session_scope(engine) as s, pytest.raises(
        IllegalTransition, match=r"^listing 济任人社失信字〔2025〕第7号 has already ended \(提前移出\): nothing to remove$"
    ):
        _remove(s, today=dt.date(2026, 4, 1))


def test_new_arrears_since_the_correction_keep_the_listing(engine: Engine) -> None:
    with session_scope(engine) as s:
        entry = _list(s)
        s.add(Penalty(enterprise_id=entry.enterprise_id, document_no="济任人社监罚字〔2026〕第3号", decided_on=dt.date(2026, 1, 10),
                      kind="fine", violation="拖欠农民工工资", amount=Decimal(8000), source="entered", created_by="t",
                      region_code="370811"))
    with session_scope(engine) as s, pytest.raises(
        IllegalTransition,
        match=r"^listing 济任人社失信字〔2025〕第7号 cannot be removed early: penalty 济任人社监罚字〔2026〕第3号 of 2026-01-10 "
        r"came after the correction on 2025-09-30$",
    ):
        _remove(s, today=dt.date(2026, 5, 1))


def test_a_listing_expires_by_itself_after_three_years(engine: Engine) -> None:
    with session_scope(engine) as s:
        _list(s)
    # Given the sweep the day before the three years are over: still listed, rated as listed
    refresh_credit_levels_now(engine, today=dt.date(2028, 8, 30))
    with session_scope(engine) as s:
        assert (s.execute(select(BlacklistEntry.status)).scalar_one(), _flag(s)) == ("listed", True)
        r = s.execute(select(CreditRating).where(CreditRating.year == 2028)).scalar_one()
        assert (r.blacklisted, r.blacklisted_until) == (True, dt.date(2028, 8, 31))
    # When the sweep runs on the day they are over
    refresh_credit_levels_now(engine, today=dt.date(2028, 8, 31))
    # Then the listing has ended by itself, the enterprise is no longer flagged, and one event says so
    with session_scope(engine) as s:
        entry = s.execute(select(BlacklistEntry)).scalar_one()
        assert (entry.status, entry.ended_on, entry.ended_by, _flag(s)) == ("expired", dt.date(2028, 8, 31), "system", False)
        assert _events(s)[-1] == ("blacklist.expired", "370811", "370811", "expired")
    refresh_credit_levels_now(engine, today=dt.date(2028, 9, 1))
    with session_scope(engine) as s:
        assert [e[0] for e in _events(s)] == ["blacklist.listed", "blacklist.expired"]  # once
        r = s.execute(select(CreditRating).where(CreditRating.year == 2028)).scalar_one()
        assert (r.blacklisted, r.blacklisted_until) == (False, None)
