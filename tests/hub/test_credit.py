"""Credit ratings from the evidence (人社部规〔2016〕1号) and the deposit rate that follows (人社部发〔2021〕65号).

Every test injects the day (``TODAY``): none depends on the day it runs.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from hub.actors import refresh_credit_levels_now
from hub.credit import deposit_rate, rate_enterprises
from hub.db import make_engine, session_scope
from hub.identifiers import make_uscc
from hub.models import BlacklistEntry, Clue, CreditRating, Enterprise, Event, Penalty, Warning
from hub.penalties import PenaltyIn, record_penalty
from tests.hub.credit_fixtures import INSPECTOR

TODAY = dt.date(2026, 6, 15)
NOW = dt.datetime(2026, 6, 15, 2, 0, tzinfo=dt.UTC)
CST = dt.timezone(dt.timedelta(hours=8))
_SERIAL = count(1)


@pytest.fixture
def engine(empty_db_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_db_url)
    yield engine
    engine.dispose()


def enterprise(session: Session) -> Enterprise:
    n = next(_SERIAL)
    ent = Enterprise(
        uscc=make_uscc(random.Random(n), region_code="370811"), name=f"济宁市测试{n}号劳务有限公司", region_code="370811",
        kind="labour_service",
    )
    session.add(ent)
    session.flush()
    return ent


def penalty(session: Session, ent: Enterprise, day: dt.date, kind: str = "fine") -> Penalty:
    row = Penalty(enterprise_id=ent.id, document_no=f"济任人社监罚字〔{day.year}〕第{next(_SERIAL)}号", decided_on=day, kind=kind,
                  violation="拖欠农民工工资", amount=Decimal(5000) if kind == "fine" else None, source="entered",
                  created_by="test", region_code="370811")
    session.add(row)
    session.flush()
    return row


def clue(session: Session, ent: Enterprise, closed_at: dt.datetime, *, headcount: int, recovered: str = "80000",
         workers_paid: int | None = None, status: str = "closed") -> Clue:
    n = next(_SERIAL)
    row = Clue(clue_no=f"XS-TEST-{n:06d}", title="欠薪", content="反映拖欠工资", status=status, handling_region_code="370811",
               sector="工程建设", respondent_name=ent.name, enterprise_id=ent.id, headcount=headcount,
               received_at=closed_at - dt.timedelta(days=20), closed_at=closed_at, conclusion="已责令支付",
               recovered_amount=Decimal(recovered), workers_paid=workers_paid if workers_paid is not None else headcount,
               region_code="370811")
    session.add(row)
    session.flush()
    return row


def warning(session: Session, ent: Enterprise, detected_at: dt.datetime, level: str = "red") -> Warning:
    row = Warning(rule_code="W15", level=level, subject_type="enterprise", subject_id=ent.id, enterprise_id=ent.id,
                  period=f"{detected_at:%Y-%m}", status="active", message="近90日线索≥3件", rule_cite="(proposal)",
                  detected_at=detected_at, region_code="370811")
    session.add(row)
    session.flush()
    return row


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    """A moment of ``day`` on China time."""
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=CST)


def rating(session: Session, ent: Enterprise, year: int) -> CreditRating:
    return session.execute(
        select(CreditRating).where(CreditRating.enterprise_id == ent.id, CreditRating.year == year)
    ).scalar_one()


def evidence(r: CreditRating) -> list[tuple[str, str]]:
    return [(e["type"], e["weight"]) for e in r.evidence]


# --- levels from evidence -----------------------------------------------------------------------------------

LEVEL_CASES: list[tuple[str, Any, str, list[tuple[str, str]]]] = [
    ("no evidence", lambda s, e: None, "A", []),
    ("one penalty", lambda s, e: penalty(s, e, dt.date(2026, 3, 1)), "B", [("penalty", "decisive")]),
    ("two penalties", lambda s, e: [penalty(s, e, dt.date(2026, m, 1)) for m in (2, 3)], "B",
     [("penalty", "decisive")] * 2),
    ("three penalties", lambda s, e: [penalty(s, e, dt.date(2026, m, 1)) for m in (1, 2, 3)], "C",
     [("penalty", "decisive")] * 3),
    ("refused rectification", lambda s, e: penalty(s, e, dt.date(2026, 4, 1), kind="refused_rectification"), "C",
     [("penalty", "decisive")]),
    ("group case of 10 workers", lambda s, e: clue(s, e, at(dt.date(2026, 5, 1)), headcount=10), "C",
     [("clue", "decisive")]),
    ("9 workers is not a group case", lambda s, e: clue(s, e, at(dt.date(2026, 5, 1)), headcount=9), "A",
     [("clue", "arrears")]),
    ("a clue closed without arrears found", lambda s, e: clue(s, e, at(dt.date(2026, 5, 1)), headcount=30,
                                                              recovered="0", workers_paid=0), "A", []),
    ("an open clue", lambda s, e: clue(s, e, at(dt.date(2026, 5, 1)), headcount=30, status="in_progress"), "A", []),
    ("a red warning only supports", lambda s, e: warning(s, e, at(dt.date(2026, 5, 2))), "A",
     [("warning", "supporting")]),
    ("a yellow warning is not cited", lambda s, e: warning(s, e, at(dt.date(2026, 5, 2)), level="yellow"), "A", []),
]


@pytest.mark.parametrize(("given", "level", "cited"), [c[1:] for c in LEVEL_CASES], ids=[c[0] for c in LEVEL_CASES])
def test_the_level_follows_from_the_evidence(engine: Engine, given: Any, level: str, cited: list[tuple[str, str]]) -> None:
    # Given an enterprise and the evidence of the case in 2026
    with session_scope(engine) as s:
        ent = enterprise(s)
        given(s, ent)
        # When 2026 is rated
        rate_enterprises(s, year=2026, today=TODAY, now=NOW)
        # Then the level is the rule's, and the rating cites that evidence with its weight
        r = rating(s, ent, 2026)
        assert (r.level, evidence(r)) == (level, cited)


@pytest.mark.parametrize(
    ("decided", "year_b"),
    [(dt.date(2025, 12, 31), 2025), (dt.date(2026, 1, 1), 2026)],
    ids=["31 December counts in its year", "1 January counts in the next"],
)
def test_a_penalty_counts_in_the_year_it_was_decided(engine: Engine, decided: dt.date, year_b: int) -> None:
    with session_scope(engine) as s:
        ent = enterprise(s)
        penalty(s, ent, decided)
        rate_enterprises(s, year=2025, today=TODAY, now=NOW)
        rate_enterprises(s, year=2026, today=TODAY, now=NOW)
        assert {y: rating(s, ent, y).level for y in (2025, 2026)} == {y: "B" if y == year_b else "A" for y in (2025, 2026)}


def test_a_clue_closed_after_midnight_in_china_counts_in_the_new_year(engine: Engine) -> None:
    # Given a group case closed at 00:30 on 1 January 2026 in China (16:30 UTC on 31 December)
    with session_scope(engine) as s:
        ent = enterprise(s)
        clue(s, ent, dt.datetime(2025, 12, 31, 16, 30, tzinfo=dt.UTC), headcount=12)
        rate_enterprises(s, year=2025, today=TODAY, now=NOW)
        rate_enterprises(s, year=2026, today=TODAY, now=NOW)
        # Then it is 2026's group incident, not 2025's
        assert (rating(s, ent, 2025).level, rating(s, ent, 2026).level) == ("A", "C")


def test_the_evidence_links_name_the_rows_and_say_why(engine: Engine) -> None:
    with session_scope(engine) as s:
        ent = enterprise(s)
        p = [penalty(s, ent, dt.date(2026, m, 5)) for m in (1, 2, 3)]
        c = clue(s, ent, at(dt.date(2026, 4, 1)), headcount=14)
        w = warning(s, ent, at(dt.date(2026, 4, 2)))
        rate_enterprises(s, year=2026, today=TODAY, now=NOW)
        r = rating(s, ent, 2026)
        assert r.level == "C"
        assert r.evidence == [
            *[{"type": "penalty", "id": x.id, "document_no": x.document_no, "date": f"2026-0{i}-05", "kind": "fine",
               "weight": "decisive", "reason": f"labour-law penalty {i} of 3 in 2026 (C: 3 or more)"}
              for i, x in enumerate(p, 1)],
            {"type": "clue", "id": c.id, "clue_no": c.clue_no, "date": "2026-04-01", "weight": "decisive",
             "reason": "group case: arrears of 14 workers found (C)"},
            {"type": "warning", "id": w.id, "rule_code": "W15", "date": "2026-04-02", "weight": "supporting",
             "reason": "red warning W15 (1 red in 2026; supporting only)"},
        ]


def test_a_year_after_today_cannot_be_rated(engine: Engine) -> None:
    from hub.errors import InvalidInput

    with session_scope(engine) as s, pytest.raises(InvalidInput, match=r"^year 2027 cannot be rated on 2026-06-15: from 2000 to 2026$"):
        rate_enterprises(s, year=2027, today=TODAY)


# --- recompute: on a schedule, on new evidence; events ------------------------------------------------------


def test_a_new_penalty_moves_the_rating_and_the_enterprise_and_says_so_once(engine: Engine) -> None:
    # Given an enterprise rated A by the sweep
    with session_scope(engine) as s:
        ent_id = enterprise(s).id
        uscc = s.get_one(Enterprise, ent_id).uscc
    refresh_credit_levels_now(engine, today=TODAY)
    with session_scope(engine) as s:
        assert s.get_one(Enterprise, ent_id).credit_level == "A"
        assert s.scalars(select(Event.type)).all() == []  # a first rating of A is no news

        # When an inspector records a penalty and the sweep runs for that enterprise
        record_penalty(s, principal=INSPECTOR, today=TODAY, penalty=PenaltyIn(
            uscc=uscc, document_no="济任人社监罚字〔2026〕第88号", decided_on="2026-05-20", kind="fine",
            violation="拖欠农民工工资", region_code="370811", amount="20000"))
    assert refresh_credit_levels_now(engine, today=TODAY, enterprise_ids=[ent_id], years=[2026]) == 1

    # Then the rating and the enterprise are B, and one event tells the regions
    with session_scope(engine) as s:
        assert s.get_one(Enterprise, ent_id).credit_level == "B"
        events = s.scalars(select(Event)).all()
        assert [(e.type, e.entity_type, e.entity_id, e.region_code, e.payload["year"], e.payload["level"],
                 e.payload["previous"]) for e in events] == [("credit.level_changed", "enterprise", ent_id, "370811", 2026, "B", "A")]
    # And running it again changes nothing and says nothing
    assert refresh_credit_levels_now(engine, today=TODAY) == 0
    with session_scope(engine) as s:
        assert len(s.scalars(select(Event)).all()) == 1


def test_the_hourly_sweep_rates_last_year_and_this_year(engine: Engine) -> None:
    with session_scope(engine) as s:
        ent = enterprise(s)
        penalty(s, ent, dt.date(2025, 7, 1))
        ent_id = ent.id
    refresh_credit_levels_now(engine, today=TODAY)
    with session_scope(engine) as s:
        rows = s.execute(select(CreditRating.year, CreditRating.level).where(CreditRating.enterprise_id == ent_id)
                         .order_by(CreditRating.year)).all()
        assert [tuple(r) for r in rows] == [(2025, "B"), (2026, "A")]
        assert s.get_one(Enterprise, ent_id).credit_level == "A"  # the enterprise shows the latest year


# --- the deposit rate (人社部发〔2021〕65号) -------------------------------------------------------------------


def _history(s: Session, ent: Enterprise, years: dict[int, str]) -> None:
    """Evidence per year ("clean", "penalty", "arrears" = a clue closed with arrears found), rated."""
    for year, what in years.items():
        if what == "penalty":
            penalty(s, ent, dt.date(year, 5, 1))
        elif what == "arrears":
            clue(s, ent, at(dt.date(year, 5, 1)), headcount=3)
        elif what == "C":
            for m in (1, 2, 3):
                penalty(s, ent, dt.date(year, m, 1))
        rate_enterprises(s, year=year, today=TODAY, now=NOW)


DEPOSIT_CASES = [
    ("no rating on record", {}, None, ("0.0150", False, "standard", "standard rate: no rating on record for 2025", 0)),
    ("one clean year", {2025: "clean"}, None,
     ("0.0150", False, "standard", "standard rate: no rating on record for 2024", 1)),
    ("two clean years", {2024: "clean", 2025: "clean"}, None,
     ("0.0075", False, "two_clean_years", "no arrears in 2024–2025 nor this year", 2)),
    ("three clean years", {2023: "clean", 2024: "clean", 2025: "clean"}, None,
     ("0", True, "three_clean_years", "no arrears in 2023–2025 nor this year", 3)),
    ("small contract after a clean year", {2025: "clean"}, Decimal("2999999"),
     ("0", True, "small_contract", "contract of ¥2,999,999.00 under ¥3,000,000 and no arrears in 2025 nor this year", 1)),
    ("a contract of 3 million is not small", {2025: "clean"}, Decimal("3000000"),
     ("0.0150", False, "standard", "standard rate: no rating on record for 2024", 1)),
    ("small contract with no record is not exempt", {}, Decimal("1000000"),
     ("0.0150", False, "standard", "standard rate: no rating on record for 2025", 0)),
    ("arrears two years ago", {2023: "clean", 2024: "arrears", 2025: "clean"}, Decimal("1000000"),
     ("0.0225", False, "recent_arrears", "wage arrears in 2024", 1)),
    ("a penalty last year", {2025: "penalty"}, None, ("0.0225", False, "recent_arrears", "wage arrears in 2025", 0)),
    ("arrears three years ago no longer raise", {2023: "penalty", 2024: "clean", 2025: "clean"}, None,
     ("0.0075", False, "two_clean_years", "no arrears in 2024–2025 nor this year", 2)),
    ("level C last year", {2025: "C"}, None, ("0.0300", False, "level_c", "credit level C in 2025", 0)),
    ("level C this year", {2023: "clean", 2024: "clean", 2025: "clean", 2026: "C"}, None,
     ("0.0300", False, "level_c", "credit level C in 2026", 3)),
]


@pytest.mark.parametrize(("years", "contract", "expected"), [c[1:] for c in DEPOSIT_CASES], ids=[c[0] for c in DEPOSIT_CASES])
def test_the_deposit_rate_follows_the_record(engine: Engine, years: dict[int, str], contract: Decimal | None,
                                             expected: tuple[str, bool, str, str, int]) -> None:
    with session_scope(engine) as s:
        ent = enterprise(s)
        _history(s, ent, years)
        rate = deposit_rate(s, enterprise_id=ent.id, today=TODAY, contract_value=contract)
        assert (rate.rate, rate.exempt, rate.basis, rate.reason, rate.clean_years) == (
            Decimal(expected[0]), *expected[1:])


def test_arrears_this_year_raise_the_rate_of_a_clean_record(engine: Engine) -> None:
    with session_scope(engine) as s:
        ent = enterprise(s)
        _history(s, ent, {2023: "clean", 2024: "clean", 2025: "clean"})
        clue(s, ent, at(dt.date(2026, 3, 1)), headcount=2)  # this year, not yet rated: read live
        rate = deposit_rate(s, enterprise_id=ent.id, today=TODAY)
        assert (rate.rate, rate.basis, rate.reason) == (Decimal("0.0225"), "recent_arrears", "wage arrears in 2026")


def test_a_listed_enterprise_pays_the_highest_rate(engine: Engine) -> None:
    with session_scope(engine) as s:
        ent = enterprise(s)
        _history(s, ent, {2023: "clean", 2024: "clean", 2025: "clean"})
        s.add(BlacklistEntry(enterprise_id=ent.id, document_no="济任人社失信字〔2026〕第1号", decided_on=dt.date(2026, 1, 5),
                             reason="拖欠农民工工资", ends_on=dt.date(2029, 1, 5), status="listed", created_by="test",
                             region_code="370811"))
        s.flush()
        rate = deposit_rate(s, enterprise_id=ent.id, today=TODAY)
        assert (rate.rate, rate.basis, rate.reason) == (Decimal("0.0300"), "blacklisted", "on the arrears blacklist until 2029-01-05")


def test_a_negative_contract_value_is_refused(engine: Engine) -> None:
    from hub.errors import InvalidInput

    with session_scope(engine) as s:
        ent = enterprise(s)
        with pytest.raises(InvalidInput, match=r"^contractValue -1 is not an amount of yuan$"):
            deposit_rate(s, enterprise_id=ent.id, today=TODAY, contract_value=Decimal(-1))
