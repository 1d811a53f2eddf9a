"""Manual clue entry (来访, 信访, 上级转办 …): check what the operator typed, then hand it to the pool.

The GraphQL ``createClue`` resolver passes the input as typed; this service decides. Every text is
checked against the column that stores it, the amount against the money column (``Numeric(16, 2)``),
the dates against a plausible range on China time (an injected clock), the headcount against a
range — each refusal a ``BAD_USER_INPUT`` naming the field and the limit, never a database error.
A register number (``channel`` + ``sourceId``) is entered once: reusing one answers
``DUPLICATE_SOURCE`` with the same message whether the record it collides with lies inside the
caller's jurisdiction or not, so the answer reveals nothing about other counties.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, String, select
from sqlalchemy.exc import IntegrityError

from connectors.base import ClueIn
from hub import models as m
from hub.access import ALL_REGIONS, Action, require
from hub.cluepool import ClueIntake, Invalid, SourceTaken
from hub.errors import DuplicateSource, Forbidden, InvalidIdentifier, InvalidInput
from hub.identifiers import IdentifierError, validate_region_code
from hub.workdays import CST, china_today, local_date

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.access import Principal
    from hub.crypto import Cipher

#: No wage-arrears record of the pool predates this day; a date before it is a typing error.
EARLIEST_DATE = dt.date(2000, 1, 1)
#: Arrears may run up to an agreed pay day ahead, but not beyond a year from today.
LATEST_ARREARS_AHEAD = dt.timedelta(days=366)
#: ``content`` is TEXT; a page of the complaint is plenty (longer material goes in the file).
MAX_CONTENT_CHARS = 10_000
#: Workers concerned: at least one; more than this is a typing error, not a case.
MAX_HEADCOUNT = 100_000
#: ``Money`` is Numeric(16, 2), but SQLite keeps a Numeric as a REAL, exact to 15 significant digits:
#: 13 before the point and the fen keep every amount exact on both databases (¥10 trillion is no clue).
MAX_AMOUNT = Decimal("9999999999999.99")
#: Personal identifiers: an error names the field and the reason, never the value typed.
PERSONAL_FIELDS = frozenset({"complainantPhone", "complainantIdNumber"})


@dataclass(frozen=True, kw_only=True)
class ManualEntry:
    """A clue as an operator typed it (strings untrimmed, dates and amounts unchecked)."""

    channel: str
    source_id: str
    region_code: str
    title: str
    content: str
    respondent_name: str
    received_at: dt.datetime | None = None
    complainant_name: str | None = None
    complainant_phone: str | None = None
    complainant_id_number: str | None = None
    respondent_uscc: str | None = None
    respondent_address: str | None = None
    project_code: str | None = None
    project_name: str | None = None
    amount: Decimal | None = None
    headcount: int | None = None
    arrears_from: dt.date | None = None
    arrears_to: dt.date | None = None
    public_opinion: bool = False


def _column_limit(column: ColumnElement[Any]) -> int:
    """The length of a ``String(n)`` column."""
    if not isinstance(column.type, String) or column.type.length is None:
        raise TypeError(f"{column} is not a string column of fixed length")
    return column.type.length


#: (input field, attribute, longest allowed, required): each limit is that of the column storing it.
TEXT_FIELDS: tuple[tuple[str, str, int, bool], ...] = (
    ("sourceId", "source_id", _column_limit(m.ChannelRecord.__table__.c.source_id), True),
    ("title", "title", _column_limit(m.Clue.__table__.c.title), True),
    ("content", "content", MAX_CONTENT_CHARS, True),
    ("respondentName", "respondent_name", _column_limit(m.Clue.__table__.c.respondent_name), True),
    ("complainantName", "complainant_name", _column_limit(m.Clue.__table__.c.complainant_name), False),
    ("respondentAddress", "respondent_address", _column_limit(m.Clue.__table__.c.respondent_address), False),
    ("projectCode", "project_code", _column_limit(m.Project.__table__.c.project_code), False),
    ("projectName", "project_name", _column_limit(m.Clue.__table__.c.project_name), False),
)


def _text(entry: ManualEntry) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for field, attr, limit, required in TEXT_FIELDS:
        value = (getattr(entry, attr) or "").strip() or None
        if value is None and required:
            raise InvalidInput(f"{field} is required", field=field)
        if value is not None and len(value) > limit:
            raise InvalidInput(
                f"{field} is {len(value):,} characters long: at most {limit:,}",
                field=field,
                suggestion=f"shorten {field}",
            )
        out[attr] = value
    return out


def _given(text: dict[str, str | None], attr: str) -> str:
    """A required text (``_text`` refused it when missing)."""
    value = text[attr]
    if value is None:
        raise ValueError(f"{attr} is required but was not checked")
    return value


def _amount(amount: Decimal | None) -> Decimal | None:
    if amount is None:
        return None
    if not amount.is_finite():
        raise InvalidInput(f"amount {amount} is not a number of yuan", field="amount", value=str(amount))
    if amount < 0 or amount > MAX_AMOUNT:
        raise InvalidInput(
            f"amount {amount} is out of range: from 0 to {MAX_AMOUNT:,} yuan", field="amount", value=str(amount)
        )
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput(
            f"amount {amount} has more than 2 decimal places (yuan and fen)", field="amount", value=str(amount)
        )
    return amount


def _headcount(headcount: int | None) -> int | None:
    if headcount is not None and not 1 <= headcount <= MAX_HEADCOUNT:
        raise InvalidInput(
            f"headcount {headcount} is out of range: from 1 to {MAX_HEADCOUNT:,} workers",
            field="headcount",
            value=headcount,
        )
    return headcount


def _dates(entry: ManualEntry, *, now: dt.datetime) -> dt.datetime:
    today = china_today(now)
    latest = today + LATEST_ARREARS_AHEAD
    for field, value in (("arrearsFrom", entry.arrears_from), ("arrearsTo", entry.arrears_to)):
        if value is not None and not EARLIEST_DATE <= value <= latest:
            raise InvalidInput(
                f"{field} {value} is out of range: from {EARLIEST_DATE} to {latest}", field=field, value=str(value)
            )
    if entry.arrears_from and entry.arrears_to and entry.arrears_from > entry.arrears_to:
        raise InvalidInput(
            f"arrearsFrom {entry.arrears_from} is after arrearsTo {entry.arrears_to}",
            field="arrearsFrom",
            value=str(entry.arrears_from),
        )
    received = entry.received_at or now
    if received.tzinfo is None:  # a local time without offset: China Standard Time
        received = received.replace(tzinfo=CST)
    if not EARLIEST_DATE <= local_date(received) <= today:
        raise InvalidInput(
            f"receivedAt {received.isoformat()} is out of range: from {EARLIEST_DATE} to today ({today}, China time)",
            field="receivedAt",
            value=received.isoformat(),
        )
    return received


def _source_taken(session: Session, *, channel: str, source_id: str) -> bool:
    """Whether the register number is in the pool anywhere (past the jurisdiction: the answer is only yes/no)."""
    r = m.ChannelRecord
    stmt = select(r.id).where(r.channel == channel, r.source_id == source_id).limit(1)
    return session.execute(stmt.execution_options(**{ALL_REGIONS: True})).first() is not None


def _duplicate(channel: str, source_id: str) -> DuplicateSource:
    return DuplicateSource(
        f"{m.CHANNELS.get(channel, channel)} register number {source_id} is already in the clue pool: a source record "
        "is entered once",
        field="sourceId",
        value=source_id,
        suggestion="check the register number; to add to a clue, find it (clues / similarClues) instead",
    )


def enter_clue(
    session: Session, *, entry: ManualEntry, principal: Principal, cipher: Cipher, now: dt.datetime
) -> m.Clue:
    """Check a hand-entered clue and put it through the matcher; returns the new or matched clue.

    ``now`` is the clock (UTC): a missing ``receivedAt`` is now, and dates are checked against today
    on China time. Raises ``Forbidden`` (role, region outside the jurisdiction), ``InvalidInput`` /
    ``InvalidIdentifier`` (field and limit), :class:`DuplicateSource`.
    """
    require(principal, Action.ENTER_CLUES, what="enter clues")
    try:
        region = validate_region_code(entry.region_code, field="regionCode")
    except IdentifierError as exc:
        raise InvalidIdentifier(str(exc), field="regionCode", value=entry.region_code) from exc
    if not principal.covers(region):
        raise Forbidden(f"regionCode {region} is outside your jurisdiction {principal.region_code}")
    text = _text(entry)
    clue_in = ClueIn(
        channel=entry.channel,
        source_id=_given(text, "source_id"),
        received_at=_dates(entry, now=now),
        title=_given(text, "title"),
        content=_given(text, "content"),
        region_code=region,
        respondent_name=_given(text, "respondent_name"),
        complainant_name=text["complainant_name"],
        complainant_phone=entry.complainant_phone,
        complainant_id_number=entry.complainant_id_number,
        respondent_uscc=entry.respondent_uscc,
        respondent_address=text["respondent_address"],
        project_code=text["project_code"],
        project_name=text["project_name"],
        amount=_amount(entry.amount),
        headcount=_headcount(entry.headcount),
        arrears_from=entry.arrears_from,
        arrears_to=entry.arrears_to,
        public_opinion=entry.public_opinion,
        sector="工程建设" if text["project_code"] or text["project_name"] else "非工程",
    )
    if _source_taken(session, channel=clue_in.channel, source_id=clue_in.source_id):
        raise _duplicate(clue_in.channel, clue_in.source_id)
    try:
        record = ClueIntake(session, cipher=cipher, actor=principal.name).intake(clue_in, new_only=True)
    except Invalid as exc:
        if exc.field in PERSONAL_FIELDS:
            raise InvalidIdentifier(f"invalid {exc.field}: {exc.detail or 'malformed'}", field=exc.field) from None
        raise InvalidIdentifier(exc.reason, field=exc.field) from exc
    except SourceTaken as exc:  # entered by someone else since the check above
        raise _duplicate(clue_in.channel, clue_in.source_id) from exc
    except IntegrityError as exc:  # … the same, committed by a transaction this one cannot see yet
        if "uq_channel_records_source" in str(exc.orig) or "channel_records.channel, channel_records.source_id" in str(
            exc.orig
        ):
            raise _duplicate(clue_in.channel, clue_in.source_id) from exc
        raise
    clue = session.get(m.Clue, record.clue_id)
    if clue is None:  # matched to a clue the principal cannot see: say so rather than answer null
        raise Forbidden(
            f"the entry joined a clue outside your jurisdiction {principal.region_code}",
            suggestion="ask the level above to look at it",
        )
    return clue
