"""Validate, generate and mask Chinese identifiers (USCC, 身份证号, 行政区划代码, 施工许可证, bank, phone).

The rules, with the standards they come from, are in docs/domain.md ("Identifiers").
"""

from __future__ import annotations

import datetime
import random
import re
import unicodedata
from typing import Any

import phonenumbers

from hub.workdays import china_today as _china_today  # private: not part of this module's API

__all__ = [
    "mask_personal_data",
    "is_personal_account",
    "is_business_key",
    "IdentifierError",
    "validate_uscc",
    "validate_id_number",
    "validate_region_code",
    "validate_permit_no",
    "validate_bank_card",
    "validate_bank_code",
    "normalise_phone",
    "uscc_check_char",
    "org_code_check_char",
    "id_check_char",
    "luhn_check_digit",
    "region_prefix",
    "region_ancestors",
    "region_level",
    "CITIES_WITHOUT_COUNTIES",
    "make_uscc",
    "make_id_number",
    "make_permit_no",
    "make_bank_card",
    "make_phone",
    "mask_id_number",
    "mask_phone",
    "mask_bank_card",
    "mask_name",
    "mask_text",
]

_DIGITS = "0123456789"
# GB 32100-2015: 31-char set, values 0..30 (no I, O, S, V, Z)
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB 11714-1997: the organisation code (USCC chars 9–17) has its own check over its 8 body characters,
# valued 0–9 then A=10 … Z=35 (the whole Latin alphabet, unlike GB 32100's 31 characters)
_ORG_VALUES = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# GB 11643-1999: ISO 7064 MOD 11-2 weights and check table
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# GB/T 2260 + statistical code: province(2) city(2) county(2) town(3) village(3)
_SEGMENTS = ((0, 2), (2, 4), (4, 6), (6, 9), (9, 12))
_LEVELS = ("province", "city", "county", "town", "village")
#: Prefecture-level cities without counties (不设区的地级市): the statistical codes (统计用区划代码) put
#: their towns straight under the city, with a zero county part — 东莞 441900003 (东城街道), 中山
#: 442000001 (石岐街道), 儋州 460400100 (那大镇).
CITIES_WITHOUT_COUNTIES = frozenset({"4419", "4420", "4604"})


class IdentifierError(ValueError):
    """Validation failure: ``invalid {field} {value!r}: {reason}``, or ``invalid {field}: {reason}`` for a
    personal identifier (ID number, bank card, phone), whose ``value`` is ``None``.

    个人信息保护法 第二十八条: a personal identifier's error quotes no part of it, not even masked (a
    masked ID number still shows ten of its digits, and a birth date identifies): the field and what is
    wrong are named instead. Business identifiers (USCC, region codes, permit numbers) are quoted.
    """

    def __init__(self, field: str, value: str | None, reason: str) -> None:
        super().__init__(f"invalid {field}: {reason}" if value is None else f"invalid {field} {value!r}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason

    def __reduce__(self) -> tuple[type[IdentifierError], tuple[str, str | None, str]]:
        return (type(self), (self.field, self.value, self.reason))


def _prep(value: object, field: str, *, personal: bool = False) -> str:
    # NFKC folds full-width input ('１３８…') to ASCII
    if not isinstance(value, str):
        shown = None if personal else str(value)
        raise IdentifierError(field, shown, f"expected a string, got {type(value).__name__}")
    s = unicodedata.normalize("NFKC", value).strip().upper()
    if not s:
        raise IdentifierError(field, None if personal else value, "value is empty")
    return s


def _length(s: str, value: str | None, field: str, *expected: int) -> None:
    if len(s) not in expected:
        *head, last = expected
        want = f"{', '.join(map(str, head))} or {last}" if head else str(last)
        raise IdentifierError(field, value, f"expected {want} characters, got {len(s)}")


def _chars(s: str, value: str | None, field: str, allowed: str, hint: str, start: int = 1) -> None:
    for i, ch in enumerate(s, start):
        if ch not in allowed:
            raise IdentifierError(field, value, f"illegal character {ch!r} at position {i} ({hint})")


def _date(s8: str, value: str, field: str, what: str) -> datetime.date:
    try:
        return datetime.date(int(s8[:4]), int(s8[4:6]), int(s8[6:]))
    except ValueError:
        raise IdentifierError(field, value, f"bad {what} {s8!r}: not a real calendar date (YYYYMMDD)") from None


def _birth_date(s8: str, field: str, today: datetime.date | None) -> datetime.date:
    """The birth date an ID number carries; the error names what is wrong, never the date (it identifies)."""
    try:
        d = datetime.date(int(s8[:4]), int(s8[4:6]), int(s8[6:]))
    except ValueError:
        raise IdentifierError(field, None, "the birth date in the ID number is not a real date") from None
    if d.year < 1900:
        raise IdentifierError(field, None, "the birth date in the ID number is before 1900-01-01")
    # Born in the future on China's calendar (a server's own date lags it until 08:00 China time).
    if d > (today if today is not None else _china_today()):
        raise IdentifierError(field, None, "the birth date in the ID number is in the future")
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
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def org_code_check_char(body8: str) -> str:
    """Return the GB 11714-1997 check character ('0'-'9' or 'X') of an 8-character organisation-code body.

    In a USCC the body is characters 9–16 and the check character is character 17.
    """
    _length(body8, body8, "orgCode", 8)
    _chars(body8, body8, "orgCode", _ORG_VALUES, "allowed: 0-9A-Z")
    # GB 11714-1997: r = 11 − (Σ Ci·Wi mod 11); 10 → 'X', 11 → '0'
    r = 11 - sum(_ORG_VALUES.index(c) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True)) % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)


def id_check_char(first17: str) -> str:
    """Return the GB 11643-1999 check character ('0'-'9' or 'X') for 17 digits."""
    _length(first17, None, "idNumber", 17)
    _chars(first17, None, "idNumber", _DIGITS, "expected a digit")
    # GB 11643-1999: Σ(ai·Wi) mod 11 indexes "10X98765432"
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def luhn_check_digit(partial: str) -> str:
    """Return the Luhn (ISO/IEC 7812-1) digit that makes ``partial + digit`` valid."""
    _chars(partial, None, "bankCard", _DIGITS, "expected a digit")
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch) * (2 if i % 2 == 0 else 1)  # doubled once the check digit is appended
        total += d - 9 if d > 9 else d
    return str(-total % 10)


def _check(value: str, field: str, expected: str, got: str, which: str = "check character") -> None:
    if expected != got:
        raise IdentifierError(field, value, f"{which} should be {expected!r}, got {got!r}")


def validate_uscc(value: str, *, field: str = "uscc") -> str:
    """Validate a 统一社会信用代码 and return it stripped and uppercased.

    Both checks must hold: the code's own (GB 32100-2015, character 18) and the one of the organisation
    code it embeds (GB 11714-1997, characters 9–17); the error names the one that failed.
    """
    s = _prep(value, field)
    _length(s, value, field, 18)
    _chars(s, value, field, _USCC_CHARS, "allowed: 0-9A-HJ-NPQRTUWXY")
    # GB 32100-2015: C1 registration authority, C2 org type, C3–C8 region code
    _chars(s[2:8], value, field, _DIGITS, "region code positions 3-8 must be digits", start=3)
    _province(s[2:8], value, field, low=10)
    _check(value, field, uscc_check_char(s[:17]), s[17], "check character 18 (GB 32100-2015)")
    # GB 32100-2015 C9–C17 = the GB 11714-1997 organisation code, whose check is character 17
    _check(value, field, org_code_check_char(s[8:16]), s[16], "organisation-code check character 17 (GB 11714-1997)")
    return s


def validate_id_number(value: str, *, field: str = "idNumber", today: datetime.date | None = None) -> str:
    """Validate an 18-character 居民身份证号 (lowercase 'x' → 'X').

    ``today`` (China's, :func:`hub.workdays.china_today` by default) bounds the birth date it carries.
    """
    s = _prep(value, field, personal=True)
    _length(s, None, field, 18)
    _chars(s[:17], None, field, _DIGITS, "expected a digit")
    _chars(s[17], None, field, _DIGITS + "X", "expected a digit or X", start=18)
    # GB 11643-1999: region(6) birth date(8) sequence(3) check(1)
    if not 11 <= int(s[:2]) <= 82:
        raise IdentifierError(field, None, "the region code in the ID number has no province code (11-82)")
    _birth_date(s[6:14], field, today)
    if id_check_char(s[:17]) != s[17]:
        raise IdentifierError(
            field, None, "the check character does not match the other 17 characters: one is mistyped"
        )
    return s


def validate_region_code(value: str, *, field: str = "regionCode") -> str:
    """Validate a 6-digit GB/T 2260 or 9/12-digit statistical (town/village) code."""
    s = _prep(value, field)
    _length(s, value, field, 6, 9, 12)
    _chars(s, value, field, _DIGITS, "expected a digit")
    _province(s, value, field)
    # a non-zero level may not sit under a zero level (e.g. '370002', '370100001'), except a town
    # directly under a city without counties (e.g. '441900003')
    segs = [s[a:b] for a, b in _SEGMENTS if b <= len(s)]
    skipped = 2 if _county_skipped(s) else None
    z = next((i for i, g in enumerate(segs) if int(g) == 0 and i != skipped), len(segs))
    for j in range(z + 1, len(segs)):
        if int(segs[j]) and j != skipped:
            raise IdentifierError(
                field,
                value,
                f"bad region prefix {s[: _SEGMENTS[j][1]]!r}: "
                f"{_LEVELS[j]} part {segs[j]!r} under a zero {_LEVELS[z]} part",
            )
    return s


def _county_skipped(code: str) -> bool:
    """A code below a city without counties, whose county part is zero by design ('441900003')."""
    return len(code) > 6 and code[:4] in CITIES_WITHOUT_COUNTIES and code[4:6] == "00"


def _depth(code: str) -> int:
    # number of significant segments: 1 = province … 5 = village
    n = {6: 3, 9: 4, 12: 5}[len(code)]
    while n > 1 and int(code[_SEGMENTS[n - 1][0] : _SEGMENTS[n - 1][1]]) == 0:
        n -= 1
    return n


def region_prefix(code: str) -> str:
    """Return the significant prefix: '370000' → '37', '370100' → '3701', '370102' → '370102'."""
    s = validate_region_code(code)
    return s[: _SEGMENTS[_depth(s) - 1][1]]


def region_level(code: str) -> str:
    """Return 'province', 'city', 'county', 'town' or 'village' for a region code."""
    return _LEVELS[_depth(validate_region_code(code)) - 1]


def region_ancestors(code: str) -> list[str]:
    """Return ancestor codes, top-down, as 6-digit (≤ county) or 9-digit (town) codes."""
    s = validate_region_code(code)
    ends = [_SEGMENTS[k][1] for k in range(_depth(s) - 1) if not (k == 2 and _county_skipped(s))]
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
    s = _prep(value, field, personal=True)
    _chars(s, None, field, _DIGITS + " -", "expected a digit")
    s = s.replace(" ", "").replace("-", "")
    if not 16 <= len(s) <= 19:
        raise IdentifierError(field, None, f"expected 16-19 digits, got {len(s)}")
    if luhn_check_digit(s[:-1]) != s[-1]:
        raise IdentifierError(field, None, "the check digit (Luhn) does not match the others: a digit is mistyped")
    return s


def validate_bank_code(value: str, *, field: str = "bankCode") -> str:
    """Validate a 12-digit 联行号 (CNAPS bank code)."""
    s = _prep(value, field)
    _length(s, value, field, 12)
    _chars(s, value, field, _DIGITS, "expected a digit")
    return s


#: What introduces an extension: 转 / 分机 (as written in China), ext, x, # (and RFC 3966's ;ext=).
_EXTENSION = re.compile(r"\s*(?:转|分机|;?ext\.?=?|x|#)\s*(?P<ext>\d{1,6})\s*$", re.IGNORECASE)
#: An extension after a last dash, as often written: 0531-88881234-8001 (landlines only: a mobile has none).
_DASH_EXTENSION = re.compile(r"^(?P<line>.*\d)\s*-\s*(?P<ext>\d{1,6})$")
#: Characters a number may be written with, besides digits and a leading '+'.
_PHONE_SEPARATORS = " -()./"
#: A stored number: E.164 within China.
_E164_CN = re.compile(r"\+86\d{9,11}")
#: Numbers a person calls from; service numbers (400, 800, 95xxx) are not a complainant's.
_KIND = phonenumbers.PhoneNumberType
_PERSONAL_LINES = {_KIND.MOBILE, _KIND.FIXED_LINE, _KIND.FIXED_LINE_OR_MOBILE}
_SERVICE_KINDS = {
    _KIND.TOLL_FREE: "a toll-free (800) service number",
    _KIND.SHARED_COST: "a shared-cost (400) service number",
    _KIND.PREMIUM_RATE: "a premium-rate service number",
    _KIND.UAN: "a company's universal access number",
    _KIND.VOIP: "a VoIP service number",
}


def _area_code_length(nsn: str) -> int:
    """The area code's length in a national number: 2 for 010 and 02x, 3 for the rest (a mobile's first 3)."""
    return 2 if nsn[:2] == "10" or nsn[:1] == "2" else 3


def _phone_problem(nsn: str) -> str:
    """Why a national number (no +86, no trunk 0) is not a number a complainant calls from."""
    if nsn[:1] == "1" and nsn[:2] != "10":
        if len(nsn) != 11:
            return f"a mobile number has 11 digits, got {len(nsn)}"
        if nsn[1] not in "3456789":
            return f"mobile numbers start with 13-19, got {nsn[:2]!r}"
        return f"no mobile numbers are issued with the prefix {nsn[:3]!r}"
    if len(nsn) < 9:
        return f"a landline needs its area code (0xx or 0xxx) and 7-8 digits, got {len(nsn)} digits"
    area = _area_code_length(nsn)
    return (
        f"no landline has its area code with {len(nsn) - area} digits "
        "(the area code is unknown, or its numbers have another length)"
    )


def normalise_phone(value: str, *, field: str = "phone") -> str:
    """A mobile or landline number, as written ('+86 138-0013-8000', '(0593) 785 6234 转 12', full-width …),
    in E.164: '+8613800138000', '+865937856234'.

    Parsed and checked with ``phonenumbers`` (China's numbering plan): mobiles 1[3-9]x with 11 digits,
    landlines with their area code (0xx / 0xxx) and 7–8 digits; +86, 0086, 86 and the trunk 0 are
    understood. An extension (转 / 分机 / ext / x / #, or a last '-' group after a complete landline) is
    dropped: E.164 has none, and the line is what identifies a complainant (the upstream's raw record
    keeps what was typed). Only China's numbers (+86) are accepted, and only personal lines — not
    400 / 800 / 95xxx service numbers. The error names the field and what is wrong, never the number
    (not even masked: its last four digits and area code narrow it down to a few callers); it may quote
    a mobile's first three digits, which name a carrier's range, not a person.
    """
    if not isinstance(value, str):
        raise IdentifierError(field, None, f"expected a string, got {type(value).__name__}")
    s = unicodedata.normalize("NFKC", value).strip()
    if not s:
        raise IdentifierError(field, None, "value is empty")
    if found := _EXTENSION.search(s):
        s = s[: found.start()]
    plus = False
    for i, ch in enumerate(s, 1):
        if ch == "+" and not plus and not any(c in _DIGITS for c in s[:i]):
            plus = True
        elif ch not in _DIGITS and ch not in _PHONE_SEPARATORS:
            raise IdentifierError(field, None, f"illegal character {ch!r} at position {i}")
    number = _parse_phone(s)
    if number is None or not phonenumbers.is_valid_number(number):
        dashed = _DASH_EXTENSION.match(s)
        line = _parse_phone(dashed["line"]) if dashed else None
        if line is not None and phonenumbers.is_valid_number(line) and _is_landline(line):
            number = line
        elif number is None:
            raise IdentifierError(field, None, _phone_problem("".join(c for c in s if c in _DIGITS)))
        elif number.country_code != 86:
            raise IdentifierError(field, None, f"only China's numbers (+86) are accepted, got +{number.country_code}")
        else:
            raise IdentifierError(field, None, _phone_problem(phonenumbers.national_significant_number(number)))
    if number.country_code != 86:
        raise IdentifierError(field, None, f"only China's numbers (+86) are accepted, got +{number.country_code}")
    kind = phonenumbers.number_type(number)
    if kind not in _PERSONAL_LINES:
        raise IdentifierError(
            field, None, f"{_SERVICE_KINDS.get(kind, 'a service number')}, not a mobile or a landline"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _is_landline(number: phonenumbers.PhoneNumber) -> bool:
    return phonenumbers.number_type(number) == _KIND.FIXED_LINE


def _parse_phone(s: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(s, "CN")
    except phonenumbers.NumberParseException:
        return None


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _region6(region_code: str) -> str:
    region = validate_region_code(region_code, field="region_code")
    _length(region, region_code, "region_code", 6)
    return region


def make_uscc(rng: random.Random, *, region_code: str, registration: str = "9", org_type: str = "1") -> str:
    """Generate a valid USCC for a 6-digit region code (both check characters hold)."""
    region = _region6(region_code)
    # Nine characters are drawn and the ninth replaced by the organisation code's check character, so a
    # seed draws what it drew before the GB 11714 check was added (the rest of a generated world stays).
    org = _rand(rng, _USCC_CHARS, 9)[:8]
    body = registration + org_type + region + org + org_code_check_char(org)
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
    """Generate a valid 11-digit mobile number, as upstream systems send it (:func:`normalise_phone` → E.164)."""
    phone = "1" + rng.choice("3456789") + _rand(rng, _DIGITS, 9)
    # A number of a range not issued (154…, 14x data-only …) becomes 13x: as many draws as ever, so a
    # seed's other values stay as they were.
    number = _parse_phone(phone)
    return phone if number is not None and phonenumbers.is_valid_number(number) else "13" + phone[2:]


def _mask(value: str, head: int, tail: int) -> str:
    s = value.strip()
    if len(s) <= head + tail:
        return "*" * len(s)
    return s[:head] + "*" * (len(s) - head - tail) + s[len(s) - tail :]


def mask_id_number(value: str) -> str:
    """Keep the first 6 and last 4 characters: '370102********1234'."""
    return _mask(value, 6, 4)


def mask_phone(value: str) -> str:
    """Hide the middle of a phone number, keeping how it is written: the prefix (+86, 0) with the area
    code — or a mobile's first three digits — and the last four digits.

    '13800138000' → '138****8000', '+8613800138000' → '+86138****8000', '+865937856234' → '+86593***6234',
    '0593-7856234' → '0593-***6234'. A value that is no phone number keeps its first 3 and last 4
    digits when it has more than 7, else every digit is hidden.
    """
    s = value.strip()
    digits = sum(c in _DIGITS for c in s)
    head, tail_end = 3, digits
    if _E164_CN.fullmatch(s):
        head = 2 + _area_code_length(s[3:])
    elif (number := _parse_phone(s)) is not None and number.country_code == 86:
        nsn = phonenumbers.national_significant_number(number)
        ext = len(number.extension or "")
        prefix = digits - ext - len(nsn)
        if 7 <= len(nsn) and prefix >= 0:
            head, tail_end = prefix + _area_code_length(nsn), digits - ext
    hide_all = tail_end - 4 - head < 1  # too short to show both ends and hide anything
    i = 0
    out = []
    for ch in s:
        if ch in _DIGITS:
            shown = not hide_all and (i < head or i >= tail_end - 4)  # digits past tail_end: the extension
            out.append(ch if shown else "*")
            i += 1
        else:
            out.append(ch)
    return "".join(out)


def mask_bank_card(value: str) -> str:
    """Keep the first 6 and last 4 digits, and how the number is written: '622848*********8901',
    '6222 02** **** ***0 123'. A value of 10 digits or fewer has every digit hidden."""
    s = value.strip()
    digits = sum(c in _DIGITS for c in s)
    hide_all = digits <= 6 + 4
    out = []
    i = 0
    for ch in s:  # by digits, not characters: a space or dash between groups is no digit to keep
        if ch in _DIGITS:
            out.append(ch if not hide_all and (i < 6 or i >= digits - 4) else "*")
            i += 1
        else:
            out.append(ch)
    return "".join(out)


def mask_name(value: str) -> str:
    """Keep the first character: '张三丰' → '张**', '李四' → '李*' (a 1-char name is fully masked)."""
    return _mask(value, 1, 0)


# --- Masking personal data in free text and in upstream payloads -------------------------------
# 个人信息保护法 第二十八条、第五十一条: ID numbers and bank accounts are sensitive personal information,
# so whatever leaves the hub (API answers, logs, stored error texts) shows them masked. One set of
# precompiled patterns serves free text (complaints, summaries, log lines) and payload values.

#: A run of 15–19 digits (an 18-character ID may end in X) that is not part of a longer one.
_RUN = re.compile(r"(?<!\d)(?:\d{17}[Xx]|\d{15,19})(?!\d)")
#: A card printed in groups of four ("6228 4800 1234 5678 903").
_GROUPED_CARD = re.compile(r"(?<!\d)\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?(?!\d)")
#: A mobile number in any writing: +86 / 0086 / 86 / (+86) prefixes, spaces or dashes between groups.
_MOBILE = re.compile(
    r"(?<![\d+])(?P<cc>(?:\+\s?|00)86[\s-]?|\(\+?86\)\s?|86[\s-]?)?"
    r"(?P<a>1[3-9]\d)[\s-]?(?P<b>\d{4})[\s-]?(?P<c>\d{4})(?!\d)"
)
#: A landline in international form (E.164 as the hub stores it, or written with spaces): +865937856234,
#: +86 10 6234 5678, 0086-531-88881234 → area code kept, local part masked. Area codes are 10, 2x or
#: three digits from 3 up, so a mobile (+86 1[3-9]…) is never taken for one.
_INTL_LANDLINE = re.compile(
    r"(?<![\d+])(?P<cc>(?:\+\s?|00)86[\s-]?(?:\(0\)\s?)?)(?P<area>10|2\d|[3-9]\d{2})(?P<sep>[\s-]?)"
    r"(?P<local>\d{3,4}[\s-]?\d{4})(?!\d)"
)
_SPACES = re.compile(r"[\s-]")
#: A landline with its area code: 010-12345678, (0531) 8888-1234 → local part masked; an extension stays.
_LANDLINE = re.compile(r"(?<!\d)(?P<area>\(0\d{2,3}\)\s?|0\d{2,3}[\s-]?)(?P<local>[1-9]\d{2,3}-?\d{4})(?!\d)")
#: Labels that make a long digit run a business number, not personal data ("工单2026…", "许可证号3701…").
_BUSINESS_LABEL = re.compile(
    r"(?:工单|订单|单号|流水号|受理号|案号|合同|许可证|编码|order|ticket|permit)(?:编?号|号码)?\s*[:：#]?\s*$",
    re.IGNORECASE,
)
#: Payload keys whose value is a bank card or personal account, whatever its shape or check digit.
_CARD_KEY = re.compile(r"card|acct|卡|账号|账户|account(?:no|num|number|id)?$", re.IGNORECASE)
#: 农民工工资专用账户 (保障农民工工资支付条例 第二十六条) is the contractor's account, not a person's: kept.
_COMPANY_ACCOUNT_KEY = re.compile(r"salaryaccount|专户|专用账户", re.IGNORECASE)
#: Payload keys that hold a business number, never personal data (a permit number looks like an ID).
_BUSINESS_KEY = re.compile(r"permit|许可|uscc|creditcode|信用代码|orderno|ordernum", re.IGNORECASE)
#: Full-width digits and the signs written with them in phone numbers, folded as NFKC would.
#: Anything worth masking has seven digits in a row, give or take a separator: a cheap first test.
_CANDIDATE = re.compile(r"\d(?:[\s\-()]{0,2}\d){6}")
_FULLWIDTH = str.maketrans("０１２３４５６７８９＋－（）", "0123456789+-()")


def _plausible_id(s: str) -> bool:
    """An 18- or 15-digit 居民身份证号 by its region and birth date (GB 11643-1999), whatever the check
    character: a mistyped check digit still identifies a person."""
    if not 11 <= int(s[:2]) <= 82:
        return False
    born = s[6:14] if len(s) == 18 else "19" + s[6:12]
    try:
        d = datetime.date(int(born[:4]), int(born[4:6]), int(born[6:]))
    except ValueError:
        return False
    return 1900 <= d.year <= 2099


def _labelled_business(text: str, start: int) -> bool:
    return bool(_BUSINESS_LABEL.search(text, max(0, start - 12), start))


def mask_text(text: str, *, bare_cards: bool = True) -> str:
    """``text`` with every ID number (18 or 15 digits, any check character), bank card (16–19 digits,
    also in groups of four), mobile (any writing) and landline (with area code, also in E.164) masked.

    A run of 16–19 digits is masked as a card whatever its Luhn digit: in prose nothing else of that
    length is common, and masking an order number costs a reader little while leaking a card cannot be
    undone. A run right after a business label (``工单``, ``订单号``, ``许可证号`` …) is kept. With
    ``bare_cards=False`` a value that is only such a run is kept (a payload field is classified by its
    key). Masking is idempotent: masked values contain ``*`` and no longer match.
    """
    if not text or not _CANDIDATE.search(text):
        return text
    if any("０" <= c <= "９" for c in text):
        text = text.translate(_FULLWIDTH)

    def run(mt: re.Match[str]) -> str:
        s = mt.group(0)
        if _labelled_business(text, mt.start()):
            return s
        if len(s) in (15, 18) and _plausible_id(s):
            return mask_id_number(s)
        if s.isdigit() and len(s) >= 16 and (bare_cards or len(s) != len(text)):
            return mask_bank_card(s)
        return s

    text = _RUN.sub(run, text)
    text = _GROUPED_CARD.sub(
        lambda mt: (
            mt.group(0) if _labelled_business(text, mt.start()) else mask_bank_card(re.sub(r"[ -]", "", mt.group(0)))
        ),
        text,
    )
    text = _MOBILE.sub(lambda mt: f"{mt.group('cc') or ''}{mt.group('a')}****{mt.group('c')}", text)
    text = _INTL_LANDLINE.sub(
        lambda mt: (
            mt.group("cc") + mt.group("area") + mt.group("sep") + _mask(_SPACES.sub("", mt.group("local")), 0, 4)
        ),
        text,
    )
    return _LANDLINE.sub(lambda mt: f"{mt.group('area')}{_mask(mt.group('local').replace('-', ''), 0, 4)}", text)


def is_business_key(key: str) -> bool:
    """Whether payload key ``key`` names a business number (permit, USCC, order), never personal data."""
    return bool(_BUSINESS_KEY.search(key.replace("_", "").replace("-", "")))


def is_personal_account(key: str, value: Any) -> bool:
    """Whether ``value`` under payload key ``key`` is a bank card or a person's account number: the key
    names a card or an account (not the contractor's 专户, not a business number) and the value is
    10–30 digits, spaces and dashes aside — whatever its check digit."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return False
    key = key.replace("_", "").replace("-", "")
    if _COMPANY_ACCOUNT_KEY.search(key) or _BUSINESS_KEY.search(key) or not _CARD_KEY.search(key):
        return False
    digits = re.sub(r"[\s-]", "", str(value))
    return digits.isdigit() and 10 <= len(digits) <= 30


def mask_personal_data(value: Any, *, _key: str = "") -> Any:
    """A copy of a JSON document with every ID number, phone and bank card masked (see ``mask_text``).

    Strings are masked as free text under any key, so that a new upstream field name cannot leak
    them; a value that is only a card-length number is masked when its key names a card or a
    personal account (``payRollBankCardNumber``, ``bankCard``, ``cardNo``, ``acctNo``, ``银行卡号``,
    ``账号``), whatever its length or check digit: under other keys one order number in ten would pass
    the Luhn check. ``salaryAccount`` (the contractor's 农民工工资专用账户) and business numbers
    (``permitNo``, ``uscc``, ``orderNum`` …) are kept as they are.
    """
    if isinstance(value, dict):
        return {k: mask_personal_data(v, _key=str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_personal_data(v, _key=_key) for v in value]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return value
    key = _key.replace("_", "").replace("-", "")
    if _COMPANY_ACCOUNT_KEY.search(key) or _BUSINESS_KEY.search(key):
        return value
    text = str(value)
    if is_personal_account(key, text):
        return mask_bank_card(re.sub(r"[\s-]", "", text))
    masked = mask_text(text, bare_cards=False)
    return value if masked == text else masked
