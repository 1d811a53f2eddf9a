"""Administrative penalties (行政处罚): entered by inspectors, imported from CSV — evidence of credit.

One check serves both ways in: the enterprise by its 统一社会信用代码 (validated, GB 32100-2015, and
known to the hub), the 处罚决定书文号 (unique), the date (not in the future), the kind
(``hub.vocab.PenaltyKind``), the amount (yuan, at most 2 decimals; a fine has one), the violation
(free text) and the issuing region (in the principal's jurisdiction). An entered penalty that fails
raises the error naming the field; an imported row that fails is reported with its row number,
field and value, and the good rows are kept. A document number already recorded is taken as the same
decision: importing a file twice adds nothing.

After the commit the caller has the credit of the enterprises concerned recomputed (the GraphQL
mutation sends ``refresh_credit_levels`` for them; ``hub penalties import`` rates them in process).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from hub.access import ALL_REGIONS, Action, require
from hub.access import audit as audit_row
from hub.errors import DuplicateDocument, Forbidden, HubError, InvalidIdentifier, InvalidInput
from hub.identifiers import IdentifierError, validate_region_code, validate_uscc
from hub.models import Enterprise, Penalty, utcnow
from hub.vocab import PenaltyKind, PenaltySource

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.access import Principal

__all__ = ["CSV_COLUMNS", "ImportReport", "PenaltyIn", "Rejected", "import_penalties", "record_penalty"]

#: The columns of a penalty CSV file (a header row names them; their order is free).
CSV_COLUMNS = ("uscc", "document_no", "decided_on", "kind", "amount", "violation", "region_code")
#: The same fields as the GraphQL input names them.
INPUT_NAMES = {
    "uscc": "uscc",
    "document_no": "documentNo",
    "decided_on": "decidedOn",
    "kind": "kind",
    "amount": "amount",
    "violation": "violation",
    "region_code": "regionCode",
}
#: No penalty on record predates this day; an earlier one is a typing error.
EARLIEST_DATE = dt.date(2000, 1, 1)
MAX_DOCUMENT_NO = 100
MAX_VIOLATION_CHARS = 2_000
#: Numeric(16, 2), kept exact on SQLite too (see hub.clue_entry).
MAX_AMOUNT = Decimal("9999999999999.99")
#: Rows written per statement by an import.
BATCH = 500


@dataclass(frozen=True, kw_only=True)
class PenaltyIn:
    """A penalty as typed or read from a file: strings unchecked (dates and amounts may be text)."""

    uscc: str
    document_no: str
    decided_on: dt.date | str
    kind: str
    violation: str
    region_code: str
    amount: Decimal | str | None = None


@dataclass(frozen=True)
class Rejected:
    """One rejected row of an import: its number in the file (the header is row 1), the field, the value, why."""

    row: int
    field: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field} {self.value!r}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did: rows added, rows already recorded, rows rejected, and the enterprises concerned."""

    added: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    enterprise_ids: set[int] = field(default_factory=set)
    years: set[int] = field(default_factory=set)  # evaluation years the rows concern (to rate again)


def _bad(name: str, value: Any, reason: str, *, identifier: bool = False) -> InvalidInput:
    cls = InvalidIdentifier if identifier else InvalidInput
    return cls(f"{name} {str(value)!r}: {reason}", field=name, value=str(value))


def _text(value: Any, name: str, limit: int) -> str:
    text = str(value or "").strip()
    if not text:
        raise _bad(name, value or "", "is required")
    if len(text) > limit:
        raise _bad(name, text[:20] + "…", f"is {len(text):,} characters long: at most {limit:,}")
    return text


def _date(value: dt.date | str, name: str, today: dt.date) -> dt.date:
    if isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise _bad(name, value, "not a date (YYYY-MM-DD)") from None
    if not EARLIEST_DATE <= day <= today:
        raise _bad(name, value, f"out of range: from {EARLIEST_DATE} to today, {today}")
    return day


def _kind(value: str, name: str) -> str:
    text = str(value or "").strip()
    for kind in PenaltyKind:
        if text in (kind.value, kind.label, kind.name):
            return kind.value
    raise _bad(name, value, f"not a kind of penalty: one of {', '.join(k.value for k in PenaltyKind)}")


def _amount(value: Decimal | str | None, name: str, kind: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if kind == PenaltyKind.FINE:
            raise _bad(name, "", "a fine needs its amount (yuan)")
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise _bad(name, value, "not an amount of yuan") from None
    if not amount.is_finite() or not 0 <= amount <= MAX_AMOUNT:
        raise _bad(name, value, f"out of range: from 0 to {MAX_AMOUNT:,} yuan")
    if amount != amount.quantize(Decimal("0.01")):
        raise _bad(name, value, "more than 2 decimal places (yuan and fen)")
    return amount.quantize(Decimal("0.01"))  # as the money column stores it


def _identifier(check: Callable[..., str], value: str, name: str) -> str:
    try:
        return check(value, field=name)
    except IdentifierError as exc:
        raise InvalidIdentifier(str(exc), field=name, value=str(value)) from exc


def _check(
    session: Session,
    penalty: PenaltyIn,
    *,
    principal: Principal,
    today: dt.date,
    names: Mapping[str, str],
    enterprises: dict[str, int],
) -> dict[str, Any]:
    """The column values of a valid penalty; ``InvalidInput`` / ``Forbidden`` naming the field otherwise."""
    uscc = _identifier(validate_uscc, penalty.uscc, names["uscc"])
    if uscc not in enterprises:
        found = session.execute(select(Enterprise.id).where(Enterprise.uscc == uscc)).scalar_one_or_none()
        if found is None:
            raise InvalidInput(
                f"{names['uscc']} {uscc!r}: no enterprise with this 统一社会信用代码 in the hub",
                field=names["uscc"],
                value=uscc,
                suggestion="check the code, or let the permit system's sync bring the enterprise in first",
            )
        enterprises[uscc] = found
    region = _identifier(validate_region_code, penalty.region_code, names["region_code"])
    if not principal.covers(region):
        raise Forbidden(
            f"{names['region_code']} {region} is outside your jurisdiction {principal.region_code}",
            suggestion="record penalties issued within your jurisdiction",
            field=names["region_code"],
            value=region,
        )
    kind = _kind(penalty.kind, names["kind"])
    return {
        "enterprise_id": enterprises[uscc],
        "document_no": _text(penalty.document_no, names["document_no"], MAX_DOCUMENT_NO),
        "decided_on": _date(penalty.decided_on, names["decided_on"], today),
        "kind": kind,
        "amount": _amount(penalty.amount, names["amount"], kind),
        "violation": _text(penalty.violation, names["violation"], MAX_VIOLATION_CHARS),
        "region_code": region,
    }


def _recorded(session: Session, document_nos: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The penalties already recorded under these document numbers, wherever they were issued."""
    nos = sorted(set(document_nos))
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(nos), BATCH):
        rows = session.execute(
            select(
                Penalty.document_no,
                Penalty.enterprise_id,
                Penalty.decided_on,
                Penalty.kind,
                Penalty.amount,
                Penalty.violation,
                Penalty.region_code,
            )
            .where(Penalty.document_no.in_(nos[i : i + BATCH]))
            .execution_options(**{ALL_REGIONS: True})
        ).all()
        out.update({r.document_no: dict(r._mapping) for r in rows})
    return out


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    keys = ("enterprise_id", "decided_on", "kind", "violation", "region_code")
    amounts = [None if x is None else Decimal(x).quantize(Decimal("0.01")) for x in (a["amount"], b["amount"])]
    return all(a[k] == b[k] for k in keys) and amounts[0] == amounts[1]


def record_penalty(
    session: Session, *, principal: Principal, penalty: PenaltyIn, today: dt.date, now: dt.datetime | None = None
) -> Penalty:
    """Record a penalty an inspector entered (audited); ``DUPLICATE_DOCUMENT`` when its number is taken."""
    require(principal, Action.RECORD_PENALTIES, what="record penalties")
    values = _check(session, penalty, principal=principal, today=today, names=INPUT_NAMES, enterprises={})
    if _recorded(session, [values["document_no"]]):
        # Answered alike whoever issued it: the number is public on the decision itself.
        raise DuplicateDocument(
            f"penalty {values['document_no']} is already recorded",
            suggestion="look it up instead of entering it again; a correction is a new decision with its own number",
        )
    at = now or utcnow()
    row = Penalty(**values, source=PenaltySource.ENTERED.value, created_by=principal.name, created_at=at)
    session.add(row)
    session.flush()
    audit_row(
        session,
        principal=principal,
        action="penalty.record",
        entity_type="penalty",
        entity_id=row.id,
        region_code=row.region_code,
        detail={"document_no": row.document_no, "enterprise_id": row.enterprise_id, "kind": row.kind},
        at=at,
    )
    return row


def import_penalties(
    session: Session,
    *,
    principal: Principal,
    rows: Iterable[Mapping[str, str | None]],
    today: dt.date,
    now: dt.datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import penalties from CSV rows (dicts by ``CSV_COLUMNS``; data rows numbered from 2, after the header).

    Every good row is added, every bad one reported (``ImportReport.rejected``), a row whose document
    number is already recorded with the same content counted as unchanged; one audit row for the import.
    ``progress(n)`` is called after each row read.
    """
    require(principal, Action.RECORD_PENALTIES, what="import penalties")
    at = now or utcnow()
    names = {c: c for c in CSV_COLUMNS}
    report = ImportReport()
    enterprises: dict[str, int] = {}
    pending: dict[str, tuple[int, dict[str, Any]]] = {}

    def flush() -> None:
        if not pending:
            return
        recorded = _recorded(session, pending)
        fresh = []
        for no, (line, values) in pending.items():
            old = recorded.get(no)
            if old is None:
                fresh.append(values)
            elif _same(old, values):
                report.unchanged += 1
                report.enterprise_ids.add(values["enterprise_id"])
                report.years.add(values["decided_on"].year)
            else:
                report.rejected.append(
                    Rejected(
                        line,
                        "document_no",
                        no,
                        "already recorded with other content: a correction needs its own number",
                    )
                )
        if fresh:
            session.execute(
                insert(Penalty),
                [
                    {**v, "source": PenaltySource.IMPORTED.value, "created_by": principal.name, "created_at": at}
                    for v in fresh
                ],
            )
            report.added += len(fresh)
            report.enterprise_ids.update(v["enterprise_id"] for v in fresh)
            report.years.update(v["decided_on"].year for v in fresh)
        pending.clear()

    for line, raw in enumerate(rows, 2):
        try:
            values = _check(
                session,
                PenaltyIn(
                    uscc=raw.get("uscc") or "",
                    document_no=raw.get("document_no") or "",
                    decided_on=raw.get("decided_on") or "",
                    kind=raw.get("kind") or "",
                    violation=raw.get("violation") or "",
                    region_code=raw.get("region_code") or "",
                    amount=raw.get("amount"),
                ),
                principal=principal,
                today=today,
                names=names,
                enterprises=enterprises,
            )
        except HubError as exc:
            name = str(exc.extra.get("field") or "region_code")
            value = str(exc.extra.get("value", raw.get(name) or ""))
            report.rejected.append(Rejected(line, name, value, _reason(exc.message, name, value)))
        else:
            no = values["document_no"]
            if no in pending:
                report.rejected.append(Rejected(line, "document_no", no, f"repeats row {pending[no][0]} of the file"))
            else:
                pending[no] = (line, values)
                if len(pending) >= BATCH:
                    flush()
        if progress:
            progress(line - 1)
    flush()
    audit_row(
        session,
        principal=principal,
        action="penalty.import",
        entity_type="penalty",
        entity_id=None,
        detail={"added": report.added, "unchanged": report.unchanged, "rejected": len(report.rejected)},
        at=at,
    )
    return report


def _reason(message: str, name: str, value: str) -> str:
    """The reason alone, without the ``field 'value':`` the report already shows."""
    for prefix in (f"{name} {value!r}: ", f"invalid {name} {value!r}: "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message
