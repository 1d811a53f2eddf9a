"""劳动保障守法诚信等级 computed from the evidence, and the wage-deposit rate that follows from it.

A rating is per enterprise and evaluation year (a calendar year, China time), by 人社部规〔2016〕1号
(docs/domain.md, "Credit"):

- **C**: three or more labour-law penalties in the year; or a group incident — a clue closed against
  the enterprise, with arrears found, concerning 10 or more workers; or a refusal to carry out a
  rectification order or a penalty (a penalty of kind ``refused_rectification``);
- **B**: penalised in the year, but none of the above;
- **A**: no labour-law penalty in the year.

Each rating stores its evidence (``CreditRating.evidence``): the penalties, clues and warnings it
rests on, each with its id and a short reason, and whether it set the level (``decisive``), showed
arrears without a penalty (``arrears``: it makes the year unclean for the deposit rate) or only
supports it (``supporting``: a red warning is a suspicion, not a finding).

The evidence is read set-based — one query per kind of evidence for all the enterprises of a
year — and the ratings are written in bulk; an event goes out when an enterprise's level for a year
changes. :func:`rate_enterprises` is run by the credit sweep (``hub.credit_sweep``: the hourly
``refresh_credit_levels`` actor, sent for one enterprise too when a penalty about it is entered;
``hub penalties import`` runs it in process for the enterprises it touched), then
:func:`sync_enterprises` keeps ``Enterprise.credit_level`` and ``Enterprise.blacklisted`` in step.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Table, and_, exists, insert, or_, select, update

from hub.access import ALL_REGIONS
from hub.errors import InvalidInput
from hub.models import BlacklistEntry, Clue, CreditRating, Enterprise, Event, Penalty, Warning, utcnow
from hub.outbox import event_values
from hub.vocab import BlacklistStatus, ClueStatus, Colour, CreditLevel, PenaltyKind
from hub.workdays import CST

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "GROUP_HEADCOUNT",
    "PENALTIES_FOR_C",
    "Assessment",
    "DepositRate",
    "RatingReport",
    "assess",
    "deposit_rate",
    "rate_enterprises",
    "sync_enterprises",
]

#: 人社部规〔2016〕1号: penalised three times or more in the year → C.
PENALTIES_FOR_C = 3
#: A group incident (群体性事件): a closed clue with arrears found concerning this many workers or more
#: (the same threshold makes a clue red, docs/domain.md "Clues").
GROUP_HEADCOUNT = 10
#: Red warnings cited as supporting evidence, at most (the count is in the reason).
MAX_SUPPORTING_WARNINGS = 10
#: Clue states in which a clue has been closed with a conclusion.
CLOSED = (ClueStatus.CLOSED.value, ClueStatus.CALLED_BACK.value)

Evidence = dict[str, Any]
_S = TypeVar("_S")


@dataclass
class Assessment:
    """One enterprise's level for one year, as the evidence shows it (not yet stored)."""

    enterprise_id: int
    year: int
    level: str = CreditLevel.A.value
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def arrears(self) -> bool:
        """Whether the year shows wage arrears: a penalty or a clue closed with arrears found."""
        return self.level != CreditLevel.A or any(e["type"] in ("penalty", "clue") for e in self.evidence)


@dataclass
class RatingReport:
    """What :func:`rate_enterprises` did: ratings written new, changed in level, changed only in evidence."""

    year: int
    rated: int = 0
    created: int = 0
    level_changed: int = 0
    evidence_changed: int = 0


def _year_bounds(year: int) -> tuple[dt.date, dt.date, dt.datetime, dt.datetime]:
    """The evaluation year as dates ``[first, next first)`` and as instants on China time."""
    first, nxt = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    return first, nxt, dt.datetime(year, 1, 1, tzinfo=CST), dt.datetime(year + 1, 1, 1, tzinfo=CST)


def _scoped(stmt: _S, column: Any, enterprise_ids: Sequence[int] | None) -> _S:
    """``stmt`` limited to ``enterprise_ids`` (all when None), reading past any jurisdiction: a rating is
    public registry data and rests on every region's evidence."""
    select_: Any = stmt
    if enterprise_ids is not None:
        select_ = select_.where(column.in_(enterprise_ids))
    return cast(_S, select_.execution_options(**{ALL_REGIONS: True}))


def _check_year(year: int, today: dt.date) -> None:
    if not 2000 <= year <= today.year:
        raise InvalidInput(
            f"year {year} cannot be rated on {today}: from 2000 to {today.year}", field="year", value=year
        )


def assess(
    session: Session, *, year: int, today: dt.date, enterprise_ids: Sequence[int] | None = None
) -> dict[int, Assessment]:
    """The level of each enterprise with evidence in ``year`` (up to ``today``), keyed by enterprise id.

    Enterprises without evidence are absent: they are A. Nothing is written.
    """
    _check_year(year, today)
    first, nxt, start, end = _year_bounds(year)
    last = min(nxt - dt.timedelta(days=1), today)
    found: dict[int, Assessment] = {}

    def of(enterprise_id: int) -> Assessment:
        return found.setdefault(enterprise_id, Assessment(enterprise_id=enterprise_id, year=year))

    # 人社部规〔2016〕1号: penalties decided in the year (B; 3 or more, or a refusal → C).
    penalties = session.execute(
        _scoped(
            select(Penalty.id, Penalty.enterprise_id, Penalty.document_no, Penalty.decided_on, Penalty.kind)
            .where(Penalty.decided_on >= first, Penalty.decided_on <= last)
            .order_by(Penalty.enterprise_id, Penalty.decided_on, Penalty.id),
            Penalty.enterprise_id,
            enterprise_ids,
        )
    ).all()
    by_enterprise: dict[int, list[Any]] = defaultdict(list)
    for row in penalties:
        by_enterprise[row.enterprise_id].append(row)
    for enterprise_id, rows in by_enterprise.items():
        a = of(enterprise_id)
        many = len(rows) >= PENALTIES_FOR_C
        for n, row in enumerate(rows, 1):
            refused = row.kind == PenaltyKind.REFUSED_RECTIFICATION
            if refused:
                reason = "refused a rectification order or a penalty decision (C)"
            elif many:
                reason = f"labour-law penalty {n} of {len(rows)} in {year} (C: {PENALTIES_FOR_C} or more)"
            else:
                reason = f"labour-law penalty in {year} (B)"
            a.evidence.append(
                {
                    "type": "penalty",
                    "id": row.id,
                    "document_no": row.document_no,
                    "date": row.decided_on.isoformat(),
                    "kind": row.kind,
                    "weight": "decisive",
                    "reason": reason,
                }
            )
        refusals = any(r.kind == PenaltyKind.REFUSED_RECTIFICATION for r in rows)
        a.level = CreditLevel.C.value if many or refusals else CreditLevel.B.value

    # Clues closed against the enterprise with arrears found (wages recovered or workers paid).
    clues = session.execute(
        _scoped(
            select(Clue.id, Clue.enterprise_id, Clue.clue_no, Clue.closed_at, Clue.headcount, Clue.workers_paid)
            .where(
                Clue.enterprise_id.is_not(None),
                Clue.status.in_(CLOSED),
                Clue.closed_at >= start,
                Clue.closed_at < end,
                or_(Clue.recovered_amount > 0, Clue.workers_paid > 0),
            )
            .order_by(Clue.enterprise_id, Clue.closed_at, Clue.id),
            Clue.enterprise_id,
            enterprise_ids,
        )
    ).all()
    for clue in clues:
        a = of(clue.enterprise_id or 0)  # not None: the query asks for clues with an enterprise
        workers = max(clue.headcount or 0, clue.workers_paid or 0)
        group = workers >= GROUP_HEADCOUNT
        if group:
            a.level = CreditLevel.C.value
        a.evidence.append(
            {
                "type": "clue",
                "id": clue.id,
                "clue_no": clue.clue_no,
                "date": clue.closed_at.astimezone(CST).date().isoformat(),
                "weight": "decisive" if group else "arrears",
                "reason": f"group case: arrears of {workers} workers found (C)"
                if group
                else "closed with arrears found (not a penalty: does not set the level)",
            }
        )

    # Red warnings on the enterprise: a suspicion, cited but never deciding.
    warnings = session.execute(
        _scoped(
            select(Warning.id, Warning.enterprise_id, Warning.rule_code, Warning.detected_at)
            .where(
                Warning.enterprise_id.is_not(None),
                Warning.level == Colour.RED,
                Warning.detected_at >= start,
                Warning.detected_at < end,
            )
            .order_by(Warning.enterprise_id, Warning.detected_at, Warning.id),
            Warning.enterprise_id,
            enterprise_ids,
        )
    ).all()
    red: dict[int, list[Any]] = defaultdict(list)
    for warning in warnings:
        red[warning.enterprise_id or 0].append(warning)
    for enterprise_id, rows in red.items():
        a = of(enterprise_id)
        for row in rows[:MAX_SUPPORTING_WARNINGS]:
            a.evidence.append(
                {
                    "type": "warning",
                    "id": row.id,
                    "rule_code": row.rule_code,
                    "date": row.detected_at.astimezone(CST).date().isoformat(),
                    "weight": "supporting",
                    "reason": f"red warning {row.rule_code} ({len(rows)} red in {year}; supporting only)",
                }
            )
    return found


def _listed_on(session: Session, day: dt.date, enterprise_ids: Sequence[int] | None) -> dict[int, dt.date]:
    """Enterprise id → end of its listing, for the listings in force on ``day``."""
    rows = session.execute(
        _scoped(
            select(BlacklistEntry.enterprise_id, BlacklistEntry.ends_on).where(
                BlacklistEntry.decided_on <= day,
                or_(
                    and_(BlacklistEntry.status == BlacklistStatus.LISTED, BlacklistEntry.ends_on > day),
                    BlacklistEntry.ended_on > day,
                ),
            ),
            BlacklistEntry.enterprise_id,
            enterprise_ids,
        )
    ).all()
    return {r.enterprise_id: r.ends_on for r in rows}


def rate_enterprises(
    session: Session,
    *,
    year: int,
    today: dt.date,
    enterprise_ids: Iterable[int] | None = None,
    now: dt.datetime | None = None,
) -> RatingReport:
    """Compute and store the ratings of ``year`` for every enterprise (or ``enterprise_ids``).

    Idempotent: a rating whose level, evidence and listing are unchanged is left as it is (``rated_at``
    says when it last changed). A changed level writes a ``credit.level_changed`` event (a first
    rating too, unless it is A: a new enterprise with a clean record is no news).
    """
    ids = None if enterprise_ids is None else sorted(set(enterprise_ids))
    at = now or utcnow()
    found = assess(session, year=year, today=today, enterprise_ids=ids)
    reference = min(dt.date(year, 12, 31), today)
    listed = _listed_on(session, reference, ids)
    enterprises = session.execute(
        _scoped(
            select(Enterprise.id, Enterprise.region_code, Enterprise.uscc, Enterprise.name),
            Enterprise.id,
            ids,
        )
    ).all()
    existing = {
        r.enterprise_id: r
        for r in session.execute(
            _scoped(
                select(
                    CreditRating.id,
                    CreditRating.enterprise_id,
                    CreditRating.level,
                    CreditRating.evidence,
                    CreditRating.blacklisted,
                    CreditRating.blacklisted_until,
                ).where(CreditRating.year == year),
                CreditRating.enterprise_id,
                ids,
            )
        ).all()
    }
    report = RatingReport(year=year)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for ent in enterprises:
        a = found.get(ent.id) or Assessment(enterprise_id=ent.id, year=year)
        values = {
            "level": a.level,
            "evidence": a.evidence,
            "blacklisted": ent.id in listed,
            "blacklisted_until": listed.get(ent.id),
        }
        report.rated += 1
        old = existing.get(ent.id)
        if old is None:
            inserts.append(
                {"enterprise_id": ent.id, "year": year, "rated_at": at, "region_code": ent.region_code, **values}
            )
            report.created += 1
        elif (old.level, old.evidence, old.blacklisted, old.blacklisted_until) != tuple(values.values()):
            updates.append({"id": old.id, "rated_at": at, **values})
            if old.level == a.level:
                report.evidence_changed += 1
        previous = old.level if old is not None else None
        if previous != a.level and (previous is not None or a.level != CreditLevel.A):
            report.level_changed += 1
            events.append(
                event_values(
                    type_="credit.level_changed",
                    region_code=ent.region_code,
                    entity_type="enterprise",
                    entity_id=ent.id,
                    payload={
                        "uscc": ent.uscc,
                        "name": ent.name,
                        "year": year,
                        "level": a.level,
                        "previous": previous,
                        "evidence": [
                            {"type": e["type"], "id": e["id"]} for e in a.evidence if e["weight"] != "supporting"
                        ],
                    },
                    at=at,
                )
            )
    if inserts:
        session.execute(insert(CreditRating), inserts)
    if updates:
        session.execute(update(CreditRating), updates)
    if events:
        session.execute(insert(Event), events)
    return report


def sync_enterprises(session: Session, *, today: dt.date, enterprise_ids: Iterable[int] | None = None) -> int:
    """Copy each enterprise's latest rated level onto ``Enterprise.credit_level``, and whether a listing
    is in force on ``today`` onto ``Enterprise.blacklisted``; returns how many enterprises changed."""
    ids = None if enterprise_ids is None else sorted(set(enterprise_ids))
    table = cast("Table", Enterprise.__table__)
    e = table.c
    r = CreditRating.__table__.c
    b = BlacklistEntry.__table__.c
    latest = select(r.level).where(r.enterprise_id == e.id).order_by(r.year.desc()).limit(1).scalar_subquery()
    listed = exists().where(
        b.enterprise_id == e.id, b.status == BlacklistStatus.LISTED, b.decided_on <= today, b.ends_on > today
    )
    stmt = (
        update(table)
        .where(or_(e.credit_level.is_distinct_from(latest), e.blacklisted != listed))
        .values(credit_level=latest, blacklisted=listed)
    )
    if ids is not None:
        stmt = stmt.where(e.id.in_(ids))
    result = session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


# --- The wage deposit (工资保证金) ----------------------------------------------------------------------
# 《工程建设领域农民工工资保证金规定》(人社部发〔2021〕65号): 1%–3% of the contract value; a reduced rate
# never below 0.5%; a contract under ¥3M whose contractor had no arrears in the year before is exempt;
# 2 consecutive years without arrears → the rate falls by at least half; 3 years → exempt; arrears →
# the rate rises by at least half; on the blacklist → by at least 100% (docs/domain.md, "Credit").

#: The standard rate in this hub, the middle of the 1%–3% range (a province sets its own within it).
STANDARD_RATE = Decimal("0.0150")
#: Two clean years: half the standard rate (never below the 0.5% floor).
REDUCED_RATE = max(STANDARD_RATE / 2, Decimal("0.0050"))
#: Arrears in the prior two years: half as much again.
RAISED_RATE = STANDARD_RATE * Decimal("1.5")
#: Level C or on the blacklist: double, capped at the 3% ceiling.
HIGHEST_RATE = min(STANDARD_RATE * 2, Decimal("0.0300"))
#: Contracts under this value may be exempt after a clean year.
SMALL_CONTRACT = Decimal(3_000_000)


@dataclass(frozen=True)
class DepositRate:
    """The deposit rate for a new contract of an enterprise, and why."""

    rate: Decimal  # share of the contract value; 0 when exempt
    exempt: bool
    basis: (
        str  # blacklisted / level_c / recent_arrears / three_clean_years / small_contract / two_clean_years / standard
    )
    reason: str
    clean_years: int  # consecutive completed years without arrears, counting back from last year (at most 3)


def deposit_rate(
    session: Session, *, enterprise_id: int, today: dt.date, contract_value: Decimal | None = None
) -> DepositRate:
    """The 工资保证金 rate for a contract the enterprise signs on ``today`` (人社部发〔2021〕65号).

    A clean year is one the hub rated (a stored rating: the record, not the absence of one) with level A
    and no arrears in its evidence; the current year counts from the evidence so far. A reduction or an
    exemption needs such a record; without one the standard rate applies, and the reason says why.
    """
    if contract_value is not None and (not contract_value.is_finite() or contract_value < 0):
        raise InvalidInput(
            f"contractValue {contract_value} is not an amount of yuan", field="contractValue", value=str(contract_value)
        )
    this_year = today.year
    current = assess(session, year=this_year, today=today, enterprise_ids=[enterprise_id]).get(enterprise_id)
    current = current or Assessment(enterprise_id=enterprise_id, year=this_year)
    stored = {
        r.year: Assessment(enterprise_id=enterprise_id, year=r.year, level=r.level, evidence=list(r.evidence or []))
        for r in session.execute(
            _scoped(
                select(CreditRating.year, CreditRating.level, CreditRating.evidence).where(
                    CreditRating.year >= this_year - 3, CreditRating.year < this_year
                ),
                CreditRating.enterprise_id,
                [enterprise_id],
            )
        ).all()
    }
    listed = _listed_on(session, today, [enterprise_id])
    clean_years = 0
    missing: int | None = None
    for year in range(this_year - 1, this_year - 4, -1):
        rating = stored.get(year)
        if rating is None:
            missing = year
            break
        if rating.arrears:
            break
        clean_years += 1
    last_year = stored.get(this_year - 1)

    def outcome(rate: Decimal, basis: str, reason: str) -> DepositRate:
        return DepositRate(rate=rate, exempt=rate == 0, basis=basis, reason=reason, clean_years=clean_years)

    if enterprise_id in listed:
        return outcome(HIGHEST_RATE, "blacklisted", f"on the arrears blacklist until {listed[enterprise_id]}")
    if current.level == CreditLevel.C or (last_year is not None and last_year.level == CreditLevel.C):
        year = this_year if current.level == CreditLevel.C else this_year - 1
        return outcome(HIGHEST_RATE, "level_c", f"credit level C in {year}")
    recent = [y for y in (this_year - 2, this_year - 1) if y in stored and stored[y].arrears]
    if current.arrears:
        recent.append(this_year)
    if recent:
        return outcome(RAISED_RATE, "recent_arrears", f"wage arrears in {', '.join(map(str, recent))}")
    if clean_years >= 3:
        return outcome(Decimal(0), "three_clean_years", f"no arrears in {this_year - 3}–{this_year - 1} nor this year")
    if contract_value is not None and contract_value < SMALL_CONTRACT and clean_years >= 1:
        return outcome(
            Decimal(0),
            "small_contract",
            f"contract of ¥{contract_value:,.2f} under ¥3,000,000 and no arrears in {this_year - 1} nor this year",
        )
    if clean_years >= 2:
        return outcome(REDUCED_RATE, "two_clean_years", f"no arrears in {this_year - 2}–{this_year - 1} nor this year")
    why = (
        f"no rating on record for {missing}" if missing is not None and clean_years < 2 else "fewer than 2 clean years"
    )
    return outcome(STANDARD_RATE, "standard", f"standard rate: {why}")
