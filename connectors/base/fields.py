"""Field converters: one value of an upstream record → the typed value a canonical record holds.

Every converter reads ``record[field]`` and either returns the value or raises ``Rejection`` naming
the field and the value, so that the record goes to quarantine and the page goes on (cf. Airbyte's
``TypeTransformer``: one place decides what a field of each type accepts). The rules are the same
for every connector:

==========  ======================================================================================
converter   accepts
==========  ======================================================================================
text        anything but blank, stripped (``None``, ``""`` and spaces are *absent*)
integer     an int, integral float or a string of digits with an optional sign; not a bool
amount      a finite decimal number as a string or a number (a float through ``str``, so 0.1 stays
            0.1); ``allow_negative`` has no default: every call site says which kind of amount it reads
date        ``YYYY-MM-DD``, optionally followed by a time (``T…`` or `` …``), which is dropped
month       ``YYYY-MM``
local_time  ``YYYY-MM-DD HH:MM:SS`` in China time (UTC+8, no daylight saving), as an aware datetime
flag        ``1`` / ``0`` / ``true`` / ``false`` (any case) and the booleans themselves
choice      one of the codes of a vocabulary (compared as text: ``1`` and ``"1"`` are one code)
==========  ======================================================================================

``required=True`` (the default) rejects an absent value; ``required=False`` returns ``None`` for it.

**Negative amounts.** An amount paid, owed, contracted or guaranteed (a wage, a bill, arrears, a
contract value, a 保函) cannot be negative: a negative one is an upstream error, quarantined. A
balance may be (an overdrawn account is a fact worth storing), and so may a flow an upstream
reverses. ``allow_negative`` is keyword-only and required, so a connector cannot treat a negative
amount one way by accident.

**Personal values.** A reason is stored in quarantine and shown to operators, so it must not carry
an ID number, phone or bank card in clear. ``text`` only ever rejects an *absent* value, so it never
echoes one; identifiers are validated by the hub, whose reasons mask them. A connector that rejects
a personal value itself writes it with ``mask``.

**Wording.** How a reason reads is a ``Wording``; a connector may pass its own (e.g. to name the
upstream's documented format, ``yyyy-MM-dd``), the rules stay the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, overload

from connectors.base._connector import Rejection

__all__ = [
    "CHINA",
    "LOCAL_TIME_FORMAT",
    "Wording",
    "amount",
    "choice",
    "date",
    "flag",
    "integer",
    "local_time",
    "mask",
    "month",
    "text",
]

#: China Standard Time: every upstream in scope writes local times in it (no daylight saving).
CHINA = dt.timezone(dt.timedelta(hours=8))
LOCAL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_TRUE, _FALSE = frozenset({"1", "true"}), frozenset({"0", "false"})


@dataclass(frozen=True, slots=True)
class Wording:
    """The reasons a rejection gives, as ``str.format`` templates.

    Placeholders: ``{field}``; ``{value}`` (the value's ``repr``); for
    ``not_choice`` also ``{allowed}``, the vocabulary written item by item with ``choice_item``
    (``{code}``, ``{meaning}``) and joined by ", ".
    """

    missing: str = "required field {field} is missing"
    not_int: str = "{field} is not an integer: {value}"
    not_number: str = "{field} is not a number: {value}"
    negative: str = "{field} must not be negative: {value}"
    not_date: str = "{field} is not a date (YYYY-MM-DD): {value}"
    not_month: str = "{field} is not a month (YYYY-MM): {value}"
    not_time: str = "{field} is not a time (YYYY-MM-DD HH:MM:SS): {value}"
    not_flag: str = "{field} is not 1/0 or true/false: {value}"
    not_choice: str = "{field} must be one of {allowed}, got {value}"
    choice_item: str = "{code} ({meaning})"


DEFAULT = Wording()


def mask(value: Any) -> str:
    """A personal value as a reason may show it: the first 3 and last 4 characters of 12 or more."""
    text_value = str(value)
    if len(text_value) >= 12:
        return text_value[:3] + "*" * (len(text_value) - 7) + text_value[-4:]
    return "*" * len(text_value)


def _reject(template: str, *, field: str, value: Any, **more: str) -> Rejection:
    return Rejection(template.format(field=field, value=repr(value), **more), field=field, value=value)


def _raw(record: Mapping[str, Any], field: str) -> Any:
    """The field's value, ``None`` when absent or blank text."""
    value = record.get(field)
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _absent(record: Mapping[str, Any], field: str, *, required: bool, wording: Wording) -> Any:
    value = _raw(record, field)
    if value is None and required:
        raise _reject(wording.missing, field=field, value=record.get(field))
    return value


@overload
def text(record: Mapping[str, Any], field: str, *, required: Literal[True] = ..., wording: Wording = ...) -> str: ...
@overload
def text(record: Mapping[str, Any], field: str, *, required: bool, wording: Wording = ...) -> str | None: ...
def text(record: Mapping[str, Any], field: str, *, required: bool = True, wording: Wording = DEFAULT) -> str | None:
    """The field as stripped text."""
    value = _absent(record, field, required=required, wording=wording)
    return None if value is None else str(value).strip()


@overload
def integer(
    record: Mapping[str, Any],
    field: str,
    *,
    allow_negative: bool,
    required: Literal[True] = ...,
    wording: Wording = ...,
) -> int: ...
@overload
def integer(
    record: Mapping[str, Any], field: str, *, allow_negative: bool, required: bool, wording: Wording = ...
) -> int | None: ...
def integer(
    record: Mapping[str, Any], field: str, *, allow_negative: bool, required: bool = True, wording: Wording = DEFAULT
) -> int | None:
    """The field as a whole number (a count, a code); negative only with ``allow_negative``."""
    value = _absent(record, field, required=required, wording=wording)
    if value is None:
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        number = int(value.strip())
    if number is None:
        raise _reject(wording.not_int, field=field, value=value)
    if number < 0 and not allow_negative:
        raise _reject(wording.negative, field=field, value=value)
    return number


@overload
def amount(
    record: Mapping[str, Any],
    field: str,
    *,
    allow_negative: bool,
    required: Literal[True] = ...,
    wording: Wording = ...,
) -> Decimal: ...
@overload
def amount(
    record: Mapping[str, Any], field: str, *, allow_negative: bool, required: bool, wording: Wording = ...
) -> Decimal | None: ...
def amount(
    record: Mapping[str, Any], field: str, *, allow_negative: bool, required: bool = True, wording: Wording = DEFAULT
) -> Decimal | None:
    """The field as a finite ``Decimal``: money, a rate, hours. See the module's rule on negatives."""
    value = _absent(record, field, required=required, wording=wording)
    if value is None:
        return None
    try:
        # str() first: upstreams send "5619.00"; a float's str() is its shortest form (0.1, not 0.1000000000000000055…)
        number = None if isinstance(value, bool) else Decimal(str(value).strip())
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise _reject(wording.not_number, field=field, value=value)
    if number < 0 and not allow_negative:
        raise _reject(wording.negative, field=field, value=value)
    return number


@overload
def date(
    record: Mapping[str, Any], field: str, *, required: Literal[True] = ..., wording: Wording = ...
) -> dt.date: ...
@overload
def date(record: Mapping[str, Any], field: str, *, required: bool, wording: Wording = ...) -> dt.date | None: ...
def date(record: Mapping[str, Any], field: str, *, required: bool = True, wording: Wording = DEFAULT) -> dt.date | None:
    """The field as a calendar date; a time after the date (``2026-01-05T10:00:00``) is dropped."""
    value = _absent(record, field, required=required, wording=wording)
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raw = str(value).strip()
    day = raw[:10] if len(raw) > 10 and raw[10] in "T " else raw
    try:
        if len(day) != 10:  # fromisoformat also takes 20260105; upstreams in scope write the dashes
            raise ValueError(day)
        return dt.date.fromisoformat(day)
    except ValueError:
        raise _reject(wording.not_date, field=field, value=value) from None


@overload
def month(record: Mapping[str, Any], field: str, *, required: Literal[True] = ..., wording: Wording = ...) -> str: ...
@overload
def month(record: Mapping[str, Any], field: str, *, required: bool, wording: Wording = ...) -> str | None: ...
def month(record: Mapping[str, Any], field: str, *, required: bool = True, wording: Wording = DEFAULT) -> str | None:
    """The field as a month ``YYYY-MM`` (a pay month, an allocation period)."""
    value = text(record, field, required=required, wording=wording)
    if value is None:
        return None
    try:
        if len(value) != 7:
            raise ValueError(value)
        dt.date.fromisoformat(f"{value}-01")
    except ValueError:
        raise _reject(wording.not_month, field=field, value=value) from None
    return value


@overload
def local_time(
    record: Mapping[str, Any], field: str, *, required: Literal[True] = ..., wording: Wording = ...
) -> dt.datetime: ...
@overload
def local_time(
    record: Mapping[str, Any], field: str, *, required: bool, wording: Wording = ...
) -> dt.datetime | None: ...
def local_time(
    record: Mapping[str, Any], field: str, *, required: bool = True, wording: Wording = DEFAULT
) -> dt.datetime | None:
    """The field, a China-time ``YYYY-MM-DD HH:MM:SS``, as an aware datetime in UTC+8."""
    value = _absent(record, field, required=required, wording=wording)
    if value is None:
        return None
    try:
        return dt.datetime.strptime(str(value).strip(), LOCAL_TIME_FORMAT).replace(tzinfo=CHINA)
    except ValueError:
        raise _reject(wording.not_time, field=field, value=value) from None


def flag(record: Mapping[str, Any], field: str, *, default: bool = False, wording: Wording = DEFAULT) -> bool:
    """The field as a boolean; ``default`` when absent."""
    value = _raw(record, field)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _reject(wording.not_flag, field=field, value=value)


def choice(
    record: Mapping[str, Any], field: str, codes: Mapping[Any, str], *, default: Any = None, wording: Wording = DEFAULT
) -> str:
    """The meaning of the field's code in ``codes``; ``default`` (a code) when absent, else it is required."""
    value = _raw(record, field)
    if value is None:
        if default is None:
            raise _reject(wording.missing, field=field, value=record.get(field))
        value = default
    by_text = {str(code): meaning for code, meaning in codes.items()}
    key = str(value).strip()
    if key not in by_text:
        allowed = ", ".join(wording.choice_item.format(code=code, meaning=meaning) for code, meaning in codes.items())
        raise _reject(wording.not_choice, field=field, value=value, allowed=allowed)
    return by_text[key]
