"""Validate, generate and mask Chinese identifiers (USCC, 身份证号, 行政区划代码, 施工许可证, bank, phone)."""
from __future__ import annotations

import datetime
import random
import re
import unicodedata
from typing import Any

__all__ = [
    "mask_personal_data",
    "IdentifierError", "validate_uscc", "validate_id_number", "validate_region_code",
    "validate_permit_no", "validate_bank_card", "validate_bank_code", "normalise_phone",
    "uscc_check_char", "id_check_char", "luhn_check_digit",
    "region_prefix", "region_ancestors", "region_level",
    "make_uscc", "make_id_number", "make_permit_no", "make_bank_card", "make_phone",
    "mask_id_number", "mask_phone", "mask_bank_card", "mask_name",
]

_DIGITS = "0123456789"
# GB 32100-2015: 31-char set, values 0..30 (no I, O, S, V, Z)
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB 11643-1999: ISO 7064 MOD 11-2 weights and check table
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# GB/T 2260 + statistical code: province(2) city(2) county(2) town(3) village(3)
_SEGMENTS = ((0, 2), (2, 4), (4, 6), (6, 9), (9, 12))
_LEVELS = ("province", "city", "county", "town", "village")


class IdentifierError(ValueError):
    """Validation failure: ``invalid {field} {value!r}: {reason}``."""

    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(f"invalid {field} {value!r}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason

    def __reduce__(self) -> tuple[type[IdentifierError], tuple[str, str, str]]:
        return (type(self), (self.field, self.value, self.reason))


def _prep(value: object, field: str) -> str:
    # NFKC folds full-width input ('１３８…') to ASCII
    if not isinstance(value, str):
        raise IdentifierError(field, str(value), f"expected a string, got {type(value).__name__}")
    s = unicodedata.normalize("NFKC", value).strip().upper()
    if not s:
        raise IdentifierError(field, value, "value is empty")
    return s


def _length(s: str, value: str, field: str, *expected: int) -> None:
    if len(s) not in expected:
        *head, last = expected
        want = f"{', '.join(map(str, head))} or {last}" if head else str(last)
        raise IdentifierError(field, value, f"expected {want} characters, got {len(s)}")


def _chars(s: str, value: str, field: str, allowed: str, hint: str, start: int = 1) -> None:
    for i, ch in enumerate(s, start):
        if ch not in allowed:
            raise IdentifierError(field, value, f"illegal character {ch!r} at position {i} ({hint})")


def _date(s8: str, value: str, field: str, what: str, *, birth: bool = False) -> datetime.date:
    try:
        d = datetime.date(int(s8[:4]), int(s8[4:6]), int(s8[6:]))
    except ValueError:
        raise IdentifierError(field, value, f"bad {what} {s8!r}: not a real calendar date (YYYYMMDD)") from None
    if birth and d.year < 1900:
        raise IdentifierError(field, value, f"bad {what} {s8!r}: before 1900-01-01")
    if birth and d > datetime.date.today():
        raise IdentifierError(field, value, f"bad {what} {s8!r}: in the future")
    return d


def _province(s: str, value: str, field: str, low: int = 11) -> None:
    # GB/T 2260: province codes 11 (北京) … 82 (澳门); 10 = central-level (USCC only)
    if not low <= int(s[:2]) <= 82:
        raise IdentifierError(field, value, f"bad region prefix {s[:2]!r}: province code must be {low}-82")


def uscc_check_char(first17: str) -> str:
    """Return the GB 32100-2015 check character for the first 17 USCC characters."""
    _length(first17, first17, "uscc", 17)
    _chars(first17, first17, "uscc", _USCC_CHARS, "allowed: 0-9A-HJ-NPQRTUWXY")
    # GB 32100-2015: check char C18 = 31 − (Σ Ci·Wi mod 31); 31 → '0'
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS))
    return _USCC_CHARS[(31 - total % 31) % 31]


def id_check_char(first17: str) -> str:
    """Return the GB 11643-1999 check character ('0'-'9' or 'X') for 17 digits."""
    _length(first17, first17, "idNumber", 17)
    _chars(first17, first17, "idNumber", _DIGITS, "expected a digit")
    # GB 11643-1999: Σ(ai·Wi) mod 11 indexes "10X98765432"
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


def luhn_check_digit(partial: str) -> str:
    """Return the Luhn (ISO/IEC 7812-1) digit that makes ``partial + digit`` valid."""
    _chars(partial, partial, "bankCard", _DIGITS, "expected a digit")
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch) * (2 if i % 2 == 0 else 1)  # doubled once the check digit is appended
        total += d - 9 if d > 9 else d
    return str(-total % 10)


def _check(value: str, field: str, expected: str, got: str) -> None:
    if expected != got:
        raise IdentifierError(field, value, f"check character should be {expected!r}, got {got!r}")


def validate_uscc(value: str, *, field: str = "uscc") -> str:
    """Validate a 统一社会信用代码 and return it stripped and uppercased."""
    s = _prep(value, field)
    _length(s, value, field, 18)
    _chars(s, value, field, _USCC_CHARS, "allowed: 0-9A-HJ-NPQRTUWXY")
    # GB 32100-2015: C1 registration authority, C2 org type, C3–C8 region code
    _chars(s[2:8], value, field, _DIGITS, "region code positions 3-8 must be digits", start=3)
    _province(s[2:8], value, field, low=10)
    _check(value, field, uscc_check_char(s[:17]), s[17])
    return s


def validate_id_number(value: str, *, field: str = "idNumber") -> str:
    """Validate an 18-character 居民身份证号 (lowercase 'x' → 'X')."""
    s = _prep(value, field)
    _length(s, value, field, 18)
    _chars(s[:17], value, field, _DIGITS, "expected a digit")
    _chars(s[17], value, field, _DIGITS + "X", "expected a digit or X", start=18)
    # GB 11643-1999: region(6) birth date(8) sequence(3) check(1)
    _province(s, value, field)
    _date(s[6:14], value, field, "birth date", birth=True)
    _check(value, field, id_check_char(s[:17]), s[17])
    return s


def validate_region_code(value: str, *, field: str = "regionCode") -> str:
    """Validate a 6-digit GB/T 2260 or 9/12-digit statistical (town/village) code."""
    s = _prep(value, field)
    _length(s, value, field, 6, 9, 12)
    _chars(s, value, field, _DIGITS, "expected a digit")
    _province(s, value, field)
    # a non-zero level may not sit under a zero level (e.g. '370002', '370100001')
    segs = [s[a:b] for a, b in _SEGMENTS if b <= len(s)]
    z = next((i for i, g in enumerate(segs) if int(g) == 0), len(segs))
    for j in range(z + 1, len(segs)):
        if int(segs[j]):
            raise IdentifierError(field, value, f"bad region prefix {s[:_SEGMENTS[j][1]]!r}: "
                                  f"{_LEVELS[j]} part {segs[j]!r} under a zero {_LEVELS[z]} part")
    return s


def _depth(code: str) -> int:
    # number of significant segments: 1 = province … 5 = village
    n = {6: 3, 9: 4, 12: 5}[len(code)]
    while n > 1 and int(code[_SEGMENTS[n - 1][0]:_SEGMENTS[n - 1][1]]) == 0:
        n -= 1
    return n


def region_prefix(code: str) -> str:
    """Return the significant prefix: '370000' → '37', '370100' → '3701', '370102' → '370102'."""
    s = validate_region_code(code)
    return s[:_SEGMENTS[_depth(s) - 1][1]]


def region_level(code: str) -> str:
    """Return 'province', 'city', 'county', 'town' or 'village' for a region code."""
    return _LEVELS[_depth(validate_region_code(code)) - 1]


def region_ancestors(code: str) -> list[str]:
    """Return ancestor codes, top-down, as 6-digit (≤ county) or 9-digit (town) codes."""
    s = validate_region_code(code)
    ends = [_SEGMENTS[k][1] for k in range(_depth(s) - 1)]
    return [s[:e].ljust(6 if e <= 6 else 9, "0") for e in ends]


def validate_permit_no(value: str, *, field: str = "permitNo") -> str:
    """Validate an 18-digit 施工许可证编号: region(6) date(8) sequence(2, 01-99) specialty(2)."""
    s = _prep(value, field)
    _length(s, value, field, 18)
    _chars(s, value, field, _DIGITS, "expected a digit")
    try:
        validate_region_code(s[:6], field=field)
    except IdentifierError as exc:
        raise IdentifierError(field, value, exc.reason) from None
    _date(s[6:14], value, field, "issue date")
    if s[14:16] == "00":
        raise IdentifierError(field, value, "bad sequence '00' at positions 15-16: must be 01-99")
    return s


def validate_bank_card(value: str, *, field: str = "bankCard") -> str:
    """Validate a 16–19 digit Luhn-checked card number (spaces/hyphens dropped)."""
    s = _prep(value, field)
    _chars(s, value, field, _DIGITS + " -", "expected a digit")
    s = s.replace(" ", "").replace("-", "")
    if not 16 <= len(s) <= 19:
        raise IdentifierError(field, value, f"expected 16-19 digits, got {len(s)}")
    _check(value, field, luhn_check_digit(s[:-1]), s[-1])
    return s


def validate_bank_code(value: str, *, field: str = "bankCode") -> str:
    """Validate a 12-digit 联行号 (CNAPS bank code)."""
    s = _prep(value, field)
    _length(s, value, field, 12)
    _chars(s, value, field, _DIGITS, "expected a digit")
    return s


def normalise_phone(value: str, *, field: str = "phone") -> str:
    """Normalise a mobile number ('+86 138-0013-8000', full-width …) to 11 digits."""
    s = _prep(value, field)
    digits: list[str] = []
    plus = False
    for i, ch in enumerate(s, 1):
        if ch in _DIGITS:
            digits.append(ch)
        elif ch == "+" and not digits and not plus:
            plus = True
        elif ch not in " -().":
            raise IdentifierError(field, value, f"illegal character {ch!r} at position {i}")
    d = "".join(digits)
    if d.startswith("0086") and len(d) == 15:
        d = d[4:]
    elif d.startswith("86") and (plus or len(d) == 13):
        d = d[2:]
    elif plus:
        raise IdentifierError(field, value, "only the +86 (China) country code is supported")
    if len(d) != 11:
        raise IdentifierError(field, value, f"expected 11 digits, got {len(d)}")
    if d[0] != "1" or d[1] not in "3456789":
        raise IdentifierError(field, value, f"mobile numbers start with 13-19, got {d[:2]!r}")
    return d


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _region6(region_code: str) -> str:
    region = validate_region_code(region_code, field="region_code")
    _length(region, region_code, "region_code", 6)
    return region


def make_uscc(rng: random.Random, *, region_code: str, registration: str = "9", org_type: str = "1") -> str:
    """Generate a valid USCC for a 6-digit region code."""
    region = _region6(region_code)
    body = registration + org_type + region + _rand(rng, _USCC_CHARS, 9)
    return body + uscc_check_char(body)


def make_id_number(rng: random.Random, *, region_code: str, birth: datetime.date, male: bool | None = None) -> str:
    """Generate a valid ID number; the sequence's last digit is odd for men, even for women."""
    region = _region6(region_code)
    if male is None:
        male = rng.random() < 0.5
    seq = rng.randrange(1 if male else 2, 1000, 2)
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return validate_id_number(body + id_check_char(body))


def make_permit_no(rng: random.Random, *, region_code: str, issued: datetime.date, specialty: str = "01") -> str:
    """Generate a valid 施工许可证编号."""
    region = _region6(region_code)
    _length(specialty, specialty, "specialty", 2)
    return validate_permit_no(f"{region}{issued:%Y%m%d}{rng.randint(1, 99):02d}{specialty}")


def make_bank_card(rng: random.Random, *, bin_prefix: str = "622848", length: int = 19) -> str:
    """Generate a Luhn-valid card number starting with ``bin_prefix``."""
    if not 16 <= length <= 19 or len(bin_prefix) >= length:
        raise ValueError(f"bad card length {length}")
    body = bin_prefix + _rand(rng, _DIGITS, length - len(bin_prefix) - 1)
    return validate_bank_card(body + luhn_check_digit(body))


def make_phone(rng: random.Random) -> str:
    """Generate a valid 11-digit mobile number."""
    return "1" + rng.choice("3456789") + _rand(rng, _DIGITS, 9)


def _mask(value: str, head: int, tail: int) -> str:
    s = value.strip()
    if len(s) <= head + tail:
        return "*" * len(s)
    return s[:head] + "*" * (len(s) - head - tail) + s[len(s) - tail:]


def mask_id_number(value: str) -> str:
    """Keep the first 6 and last 4 characters: '370102********1234'."""
    return _mask(value, 6, 4)


def mask_phone(value: str) -> str:
    """Keep the first 3 and last 4 digits: '138****8000'."""
    return _mask(value, 3, 4)


def mask_bank_card(value: str) -> str:
    """Keep the first 6 and last 4 digits: '622848*********8901'."""
    return _mask(value, 6, 4)


def mask_name(value: str) -> str:
    """Keep the first character: '张三丰' → '张**', '李四' → '李*' (a 1-char name is fully masked)."""
    return _mask(value, 1, 0)


_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_PHONE_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")
_CARD_RE = re.compile(r"^\d{16,19}$")


def mask_personal_data(value: Any, *, _key: str = "") -> Any:
    """A copy of a JSON document with every ID number, mobile phone and bank card masked.

    ID numbers (valid check character and birth date) and mobile phones (also "+86 138-0013-8000"
    and inside free text) are recognised by shape under any key, so that a new upstream field name
    cannot leak them. Bank cards are recognised by shape and the Luhn check under a key that names a
    card (``payRollBankCardNumber``, ``bankCard``, ``银行卡号``): by shape alone, one order number in ten
    would pass for a card.
    """
    if isinstance(value, dict):
        return {k: mask_personal_data(v, _key=str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_personal_data(v, _key=_key) for v in value]
    if isinstance(value, str):
        key = _key.lower()
        if ("card" in key or "卡" in key) and _CARD_RE.match(value) and _luhn_ok(value):
            return mask_bank_card(value)
        text = _ID_IN_TEXT.sub(lambda mt: mask_id_number(mt.group(0)) if _is_id(mt.group(0)) else mt.group(0), value)
        return _PHONE_IN_TEXT.sub(lambda mt: f"{mt.group(1)}****{mt.group(3)}", text)
    return value


def _is_id(text: str) -> bool:
    try:
        validate_id_number(text)
    except IdentifierError:
        return False
    return True


def _luhn_ok(digits: str) -> bool:
    return luhn_check_digit(digits[:-1]) == digits[-1]
