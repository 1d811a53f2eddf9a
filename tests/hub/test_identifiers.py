"""Tests for hub.identifiers: check characters, validators, generators, region helpers, masks."""
from __future__ import annotations

import datetime
import pickle
import random
import re
from collections.abc import Callable

import pytest

from hub.identifiers import (
    IdentifierError,
    id_check_char,
    luhn_check_digit,
    make_bank_card,
    make_id_number,
    make_permit_no,
    make_phone,
    make_uscc,
    mask_bank_card,
    mask_id_number,
    mask_name,
    mask_phone,
    normalise_phone,
    org_code_check_char,
    region_ancestors,
    region_level,
    region_prefix,
    uscc_check_char,
    validate_bank_card,
    validate_bank_code,
    validate_id_number,
    validate_permit_no,
    validate_region_code,
    validate_uscc,
)
import hub.identifiers as identifiers

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
VALID_USCC = "91350100M000100Y43"  # published GB 32100-2015 example
VALID_ID = "11010519491231002X"  # published GB 11643-1999 example
VALID_PERMIT = "370102202303150101"
VALID_CARD = "4111111111111111"


def exact(message: str) -> str:
    """Regex that matches ``message`` and nothing else."""
    return f"^{re.escape(message)}$"


def with_id_check(first17: str) -> str:
    return first17 + id_check_char(first17)


# --- check-character helpers -------------------------------------------------


def test_uscc_check_char_matches_published_example() -> None:
    # Given the published example code 91350100M000100Y43
    # When the check character of its first 17 characters is computed
    # Then it equals the published 18th character
    assert uscc_check_char(VALID_USCC[:17]) == "3"


def test_uscc_check_char_maps_31_to_zero() -> None:
    # GB 32100-2015: a weighted sum ≡ 0 (mod 31) gives 31 − 0 = 31 → '0'
    assert uscc_check_char("0" * 17) == "0"


@pytest.mark.parametrize(
    ("body", "check"),
    [("71526726", "X"), ("M000100Y", "4"), ("00000000", "0"), ("00000001", "9")],
    ids=["r10-is-X", "published-uscc-example", "r11-is-zero", "digit"],
)
def test_org_code_check_char(body: str, check: str) -> None:
    # GB 11714-1997: r = 11 − (Σ Ci·Wi mod 11), W = 3,7,9,10,5,8,4,2; 10 → 'X', 11 → '0'
    # ('9144030071526726XG' and '91350100M000100Y43' carry these bodies and check characters)
    assert org_code_check_char(body) == check


def test_org_code_check_char_values_letters_a_to_z() -> None:
    # Letters count A=10 … Z=35 over the whole alphabet (I, O, S, V, Z too, unlike GB 32100): 'Z'·2 = 70
    assert org_code_check_char("0000000Z") == str(11 - 70 % 11)


def test_id_check_char_matches_published_example() -> None:
    assert id_check_char(VALID_ID[:17]) == "X"


def test_luhn_check_digit_known_value() -> None:
    # 79927398713 is the textbook Luhn-valid number
    assert luhn_check_digit("7992739871") == "3"
    assert luhn_check_digit(VALID_CARD[:-1]) == VALID_CARD[-1]


@pytest.mark.parametrize(
    ("func", "arg", "message"),
    [
        (uscc_check_char, "91350100M000100Y", "invalid uscc '91350100M000100Y': expected 17 characters, got 16"),
        (uscc_check_char, "91350100M000100I4",
         "invalid uscc '91350100M000100I4': illegal character 'I' at position 16 (allowed: 0-9A-HJ-NPQRTUWXY)"),
        (org_code_check_char, "7152672", "invalid orgCode '7152672': expected 8 characters, got 7"),
        (org_code_check_char, "7152672a",
         "invalid orgCode '7152672a': illegal character 'a' at position 8 (allowed: 0-9A-Z)"),
        (id_check_char, "1101051949123100", "invalid idNumber: expected 17 characters, got 16"),
        (luhn_check_digit, "79927a", "invalid bankCard: illegal character 'a' at position 6 (expected a digit)"),
    ],
    ids=["uscc-short", "uscc-illegal-char", "org-short", "org-lower-case", "id-short", "luhn-non-digit"],
)
def test_check_char_helpers_reject_bad_input(func: Callable[[str], str], arg: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=exact(message)):
        func(arg)


# --- validators: accepted and normalised values ------------------------------


@pytest.mark.parametrize(
    ("validator", "raw", "expected"),
    [
        (validate_uscc, VALID_USCC, VALID_USCC),
        (validate_uscc, " 91350100m000100y43\n", VALID_USCC),
        (validate_uscc, "９１３５０１００Ｍ０００１００Ｙ４３", VALID_USCC),
        (validate_uscc, "9144030071526726XG", "9144030071526726XG"),
        (validate_id_number, VALID_ID, VALID_ID),
        (validate_id_number, "11010519491231002x", VALID_ID),
        (validate_region_code, "370102", "370102"),
        (validate_region_code, "370102001", "370102001"),
        (validate_region_code, "370102001002", "370102001002"),
        (validate_region_code, "820000", "820000"),
        (validate_permit_no, VALID_PERMIT, VALID_PERMIT),
        (validate_bank_card, VALID_CARD, VALID_CARD),
        (validate_bank_card, "4111 1111 1111 1111", VALID_CARD),
        (validate_bank_card, "4111-1111-1111-1111", VALID_CARD),
        (validate_bank_code, "102100099996", "102100099996"),
    ],
    ids=[
        "uscc", "uscc-lower-padded", "uscc-full-width", "uscc-org-check-x", "id", "id-lower-x",
        "region-county", "region-town", "region-village", "region-macao",
        "permit", "card", "card-spaces", "card-hyphens", "bank-code",
    ],
)
def test_validators_accept_and_normalise(validator: Callable[[str], str], raw: str, expected: str) -> None:
    assert validator(raw) == expected


# --- validators: rejected values with exact, actionable messages -------------

_INVALID = [
    # USCC
    ("uscc-length", validate_uscc, "9137010", "invalid uscc '9137010': expected 18 characters, got 7"),
    ("uscc-illegal-char", validate_uscc, "91350100M0O0100Y43",
     "invalid uscc '91350100M0O0100Y43': illegal character 'O' at position 11 (allowed: 0-9A-HJ-NPQRTUWXY)"),
    ("uscc-region-letter", validate_uscc, "9135A100M000100Y43",
     "invalid uscc '9135A100M000100Y43': "
     "illegal character 'A' at position 5 (region code positions 3-8 must be digits)"),
    ("uscc-region-prefix", validate_uscc, "91990100M000100Y43",
     "invalid uscc '91990100M000100Y43': bad region prefix '99': province code must be 10-82"),
    ("uscc-check", validate_uscc, "91370102MA3C000000",
     "invalid uscc '91370102MA3C000000': check character 18 (GB 32100-2015) should be 'B', got '0'"),
    # outer check (char 18) holds, the organisation code's (char 17) does not
    ("uscc-inner-check", validate_uscc, "914403007152672656",
     "invalid uscc '914403007152672656': organisation-code check character 17 (GB 11714-1997) should be 'X', got '5'"),
    # both fail: the outer check is reported (it covers the whole code)
    ("uscc-both-checks", validate_uscc, "914403007152672650",
     "invalid uscc '914403007152672650': check character 18 (GB 32100-2015) should be '6', got '0'"),
    ("uscc-empty", validate_uscc, "   ", "invalid uscc '   ': value is empty"),
    # ID number
    # ID number: the field and what is wrong, no part of the number (personal data)
    ("id-length-15", validate_id_number, "110105491231002", "invalid idNumber: expected 18 characters, got 15"),
    ("id-illegal-char", validate_id_number, "1101051949A231002X",
     "invalid idNumber: illegal character 'A' at position 11 (expected a digit)"),
    ("id-bad-last-char", validate_id_number, "11010519491231002Y",
     "invalid idNumber: illegal character 'Y' at position 18 (expected a digit or X)"),
    ("id-region-prefix", validate_id_number, with_id_check("99010519491231002"),
     "invalid idNumber: the region code in the ID number has no province code (11-82)"),
    ("id-date-not-real", validate_id_number, with_id_check("11010519900230002"),
     "invalid idNumber: the birth date in the ID number is not a real date"),
    ("id-date-future", validate_id_number, with_id_check("11010529991231002"),
     "invalid idNumber: the birth date in the ID number is in the future"),
    ("id-date-before-1900", validate_id_number, with_id_check("11010518991231002"),
     "invalid idNumber: the birth date in the ID number is before 1900-01-01"),
    ("id-check", validate_id_number, "110105194912310021",
     "invalid idNumber: the check character does not match the other 17 characters: one is mistyped"),
    ("id-empty", validate_id_number, " ", "invalid idNumber: value is empty"),
    # region code
    ("region-length", validate_region_code, "3701",
     "invalid regionCode '3701': expected 6, 9 or 12 characters, got 4"),
    ("region-char", validate_region_code, "37O102",
     "invalid regionCode '37O102': illegal character 'O' at position 3 (expected a digit)"),
    ("region-province-low", validate_region_code, "100000",
     "invalid regionCode '100000': bad region prefix '10': province code must be 11-82"),
    ("region-province-high", validate_region_code, "910000",
     "invalid regionCode '910000': bad region prefix '91': province code must be 11-82"),
    ("region-county-under-zero-city", validate_region_code, "370002",
     "invalid regionCode '370002': bad region prefix '370002': county part '02' under a zero city part"),
    ("region-town-under-zero-county", validate_region_code, "370100001",
     "invalid regionCode '370100001': bad region prefix '370100001': town part '001' under a zero county part"),
    ("region-village-under-zero-town-of-a-city-without-counties", validate_region_code, "441900000001",
     "invalid regionCode '441900000001': bad region prefix '441900000001': village part '001' under a zero town part"),
    # permit number
    ("permit-length", validate_permit_no, "3701022023031501",
     "invalid permitNo '3701022023031501': expected 18 characters, got 16"),
    ("permit-char", validate_permit_no, "37010220230315010A",
     "invalid permitNo '37010220230315010A': illegal character 'A' at position 18 (expected a digit)"),
    ("permit-region", validate_permit_no, "990102202303150101",
     "invalid permitNo '990102202303150101': bad region prefix '99': province code must be 11-82"),
    ("permit-date", validate_permit_no, "370102202302290101",
     "invalid permitNo '370102202302290101': bad issue date '20230229': not a real calendar date (YYYYMMDD)"),
    ("permit-sequence", validate_permit_no, "370102202303150001",
     "invalid permitNo '370102202303150001': bad sequence '00' at positions 15-16: must be 01-99"),
    # bank card and bank code
    ("card-length", validate_bank_card, "79927398713", "invalid bankCard: expected 16-19 digits, got 11"),
    ("card-char", validate_bank_card, "4111 1111 1111 111O",
     "invalid bankCard: illegal character 'O' at position 19 (expected a digit)"),
    ("card-luhn", validate_bank_card, "4111111111111112",
     "invalid bankCard: the check digit (Luhn) does not match the others: a digit is mistyped"),
    ("bank-code-length", validate_bank_code, "1021000999",
     "invalid bankCode '1021000999': expected 12 characters, got 10"),
    ("bank-code-char", validate_bank_code, "10210009999X",
     "invalid bankCode '10210009999X': illegal character 'X' at position 12 (expected a digit)"),
]


@pytest.mark.parametrize(("validator", "value", "message"), [c[1:] for c in _INVALID], ids=[c[0] for c in _INVALID])
def test_validators_reject_with_exact_message(validator: Callable[[str], str], value: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=exact(message)):
        validator(value)


def test_custom_field_name_and_error_attributes() -> None:
    # Given a bad USCC validated under the API field name "employerUscc"
    with pytest.raises(IdentifierError) as info:
        validate_uscc("91370102MA3C000000", field="employerUscc")
    # Then the structured attributes carry the parts of the message
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.field, err.value, err.reason) == (
        "employerUscc", "91370102MA3C000000", "check character 18 (GB 32100-2015) should be 'B', got '0'")
    assert str(err) == (
        "invalid employerUscc '91370102MA3C000000': check character 18 (GB 32100-2015) should be 'B', got '0'")


def test_error_survives_pickling() -> None:
    err = IdentifierError("phone", "123", "expected 11 digits, got 3")
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.field, clone.value, clone.reason, str(clone)) == (err.field, err.value, err.reason, str(err))


def test_non_string_input_of_a_personal_kind_is_rejected_without_the_value() -> None:
    with pytest.raises(IdentifierError, match=exact("invalid phone: expected a string, got int")):
        normalise_phone(13800138000)  # type: ignore[arg-type]
    with pytest.raises(IdentifierError, match=exact("invalid idNumber: expected a string, got int")):
        validate_id_number(110105194912310021)  # type: ignore[arg-type]


def test_a_personal_error_survives_pickling_without_a_value() -> None:
    # Given the error of a bad ID number, which carries no value
    with pytest.raises(IdentifierError) as info:
        validate_id_number(with_id_check("11010519900230002"), field="idCardNumber")
    # When it crosses a process boundary (a dramatiq worker), Then it reads the same
    clone = pickle.loads(pickle.dumps(info.value))
    assert (clone.field, clone.value, str(clone)) == (
        "idCardNumber", None, "invalid idCardNumber: the birth date in the ID number is not a real date")


# --- single-character corruption is detected ---------------------------------


@pytest.mark.parametrize(
    ("validator", "valid", "alphabet"),
    [
        (validate_uscc, VALID_USCC, USCC_CHARS),
        (validate_id_number, VALID_ID, "0123456789X"),
        (validate_bank_card, "6228480012345678903", "0123456789"),
    ],
    ids=["uscc", "id-number", "bank-card"],
)
def test_any_single_character_change_is_detected(
    validator: Callable[[str], str], valid: str, alphabet: str
) -> None:
    # Given a valid identifier
    assert validator(valid) == valid
    # When any one position is replaced by any other allowed character
    for pos in range(len(valid)):
        for ch in alphabet:
            if ch == valid[pos]:
                continue
            corrupted = valid[:pos] + ch + valid[pos + 1:]
            # Then validation fails
            with pytest.raises(IdentifierError):
                validator(corrupted)


# --- generators round-trip through the validators ----------------------------

DRAWS = 500
REGIONS = ["110101", "370102", "440305", "650102", "820000"]


def test_generated_uscc_validate() -> None:
    rng = random.Random(20240501)
    for _ in range(DRAWS):
        region = rng.choice(REGIONS)
        code = make_uscc(rng, region_code=region, registration=rng.choice("159Y"), org_type=rng.choice("123"))
        # Then both checks hold (validate_uscc checks GB 32100 and GB 11714)
        assert validate_uscc(code) == code
        assert code[2:8] == region
        assert org_code_check_char(code[8:16]) == code[16]


def test_generated_id_numbers_validate_and_encode_sex() -> None:
    rng = random.Random(11643)
    for _ in range(DRAWS):
        birth = datetime.date(1900, 1, 1) + datetime.timedelta(days=rng.randrange(45000))
        male = rng.choice([True, False, None])
        number = make_id_number(rng, region_code=rng.choice(REGIONS), birth=birth, male=male)
        assert validate_id_number(number) == number
        assert number[6:14] == birth.strftime("%Y%m%d")
        if male is not None:
            assert int(number[16]) % 2 == (1 if male else 0)


def test_generated_permit_numbers_validate() -> None:
    rng = random.Random(2015)
    issued = datetime.date(2023, 3, 15)
    for _ in range(DRAWS):
        permit = make_permit_no(rng, region_code=rng.choice(REGIONS), issued=issued, specialty="02")
        assert validate_permit_no(permit) == permit
        assert permit[6:14] == "20230315" and permit[-2:] == "02" and permit[14:16] != "00"


@pytest.mark.parametrize("length", [16, 17, 18, 19], ids=lambda n: f"len{n}")
def test_generated_bank_cards_validate(length: int) -> None:
    rng = random.Random(length)
    for _ in range(DRAWS):
        card = make_bank_card(rng, length=length)
        assert validate_bank_card(card) == card
        assert card.startswith("622848") and len(card) == length


def test_generated_phones_validate() -> None:
    rng = random.Random(86)
    for _ in range(DRAWS):
        phone = make_phone(rng)
        # 11 digits as upstream systems send them, stored as E.164
        assert len(phone) == 11 and normalise_phone(phone) == "+86" + phone


def test_generators_are_deterministic_for_a_seed() -> None:
    def draw(seed: int) -> list[str]:
        rng = random.Random(seed)
        return [
            make_uscc(rng, region_code="370102"),
            make_id_number(rng, region_code="370102", birth=datetime.date(1990, 1, 1)),
            make_permit_no(rng, region_code="370102", issued=datetime.date(2023, 3, 15)),
            make_bank_card(rng),
            make_phone(rng),
        ]

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


def test_generator_rejects_non_county_length_region() -> None:
    with pytest.raises(IdentifierError, match=exact("invalid region_code '370102001': expected 6 characters, got 9")):
        make_uscc(random.Random(0), region_code="370102001")


# --- region helpers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "prefix", "level", "ancestors"),
    [
        ("370000", "37", "province", []),
        ("370100", "3701", "city", ["370000"]),
        ("370102", "370102", "county", ["370000", "370100"]),
        ("110101", "110101", "county", ["110000", "110100"]),
        ("370102001", "370102001", "town", ["370000", "370100", "370102"]),
        ("370102001002", "370102001002", "village", ["370000", "370100", "370102", "370102001"]),
    ],
    ids=["province", "city", "county", "beijing-county", "town", "village"],
)
def test_region_helpers(code: str, prefix: str, level: str, ancestors: list[str]) -> None:
    assert region_prefix(code) == prefix
    assert region_level(code) == level
    assert region_ancestors(code) == ancestors


def test_region_helpers_validate_their_input() -> None:
    message = "invalid regionCode '3701': expected 6, 9 or 12 characters, got 4"
    with pytest.raises(IdentifierError, match=exact(message)):
        region_prefix("3701")


# --- phone normalisation -----------------------------------------------------

_PHONES = [
    # mobiles, in the writings callers and upstream systems use
    ("mobile", "13800138000", "+8613800138000"),
    ("mobile-plus86-dashes", "+86 138-0013-8000", "+8613800138000"),
    ("mobile-plus86-compact", "+8613800138000", "+8613800138000"),
    ("mobile-spaces", "138 0013 8000", "+8613800138000"),
    ("mobile-86-dash", "86-13800138000", "+8613800138000"),
    ("mobile-0086", "0086 138 0013 8000", "+8613800138000"),
    ("mobile-parenthesised-cc", "(+86) 138 0013 8000", "+8613800138000"),
    ("mobile-dots-padded", "  138.0013.8000 ", "+8613800138000"),
    ("mobile-full-width", "１３８００１３８０００", "+8613800138000"),
    ("mobile-full-width-plus86", "＋８６　１３８－００１３－８０００", "+8613800138000"),
    # landlines: area code 0xxx / 0xx + 7-8 digits
    ("landline-dash", "0593-7856234", "+865937856234"),
    ("landline-compact", "05937856234", "+865937856234"),
    ("landline-parenthesised", "(0593) 785 6234", "+865937856234"),
    ("landline-plus86-spaces", "+86 593 785 6234", "+865937856234"),
    ("landline-plus86-trunk-zero", "+86 (0)593 785 6234", "+865937856234"),
    ("landline-full-width", "０５９３－７８５６２３４", "+865937856234"),
    ("landline-beijing-8-digits", "010-62345678", "+861062345678"),
    ("landline-jinan-8-digits", "0531-88881234", "+8653188881234"),
    # an extension is dropped: the line identifies the complainant
    ("extension-zhuan", "0593-7856234转12", "+865937856234"),
    ("extension-fenji", "(0531) 8888 1234 分机 8001", "+8653188881234"),
    ("extension-ext", "0593-7856234 ext. 12", "+865937856234"),
    ("extension-hash", "0593-7856234#12", "+865937856234"),
    ("extension-last-dash", "0531-88881234-8001", "+8653188881234"),
]


@pytest.mark.parametrize(("raw", "e164"), [c[1:] for c in _PHONES], ids=[c[0] for c in _PHONES])
def test_phones_are_normalised_to_e164(raw: str, e164: str) -> None:
    # Given a mobile or landline as written, When normalised, Then it is E.164
    assert normalise_phone(raw) == e164
    # and normalising the stored form again changes nothing
    assert normalise_phone(e164) == e164


_BAD_PHONES = [
    ("letter", "138-0013-800O", "invalid phone: illegal character 'O' at position 13"),
    ("two-plus-signs", "++8613800138000", "invalid phone: illegal character '+' at position 2"),
    ("mobile-short", "1380013800", "invalid phone: a mobile number has 11 digits, got 10"),
    ("mobile-long", "138001380001", "invalid phone: a mobile number has 11 digits, got 12"),
    ("mobile-prefix-12", "12800138000", "invalid phone: mobile numbers start with 13-19, got '12'"),
    ("mobile-range-not-issued", "15400138000", "invalid phone: no mobile numbers are issued with the prefix '154'"),
    ("landline-without-area-code", "7856234",
     "invalid phone: a landline needs its area code (0xx or 0xxx) and 7-8 digits, got 7 digits"),
    ("landline-wrong-length", "021-6234567",
     "invalid phone: no landline has its area code with 7 digits "
     "(the area code is unknown, or its numbers have another length)"),
    ("mobile-with-dash-extension", "138-0013-8000-12", "invalid phone: a mobile number has 11 digits, got 13"),
    ("foreign", "+1 415 555 0100", "invalid phone: only China's numbers (+86) are accepted, got +1"),
    ("service-400", "400-800-8888",
     "invalid phone: a shared-cost (400) service number, not a mobile or a landline"),
    ("service-800", "800-820-8820",
     "invalid phone: a toll-free (800) service number, not a mobile or a landline"),
    ("empty", "   ", "invalid phone: value is empty"),
]


@pytest.mark.parametrize(("raw", "message"), [c[1:] for c in _BAD_PHONES], ids=[c[0] for c in _BAD_PHONES])
def test_bad_phones_are_rejected_naming_what_is_wrong(raw: str, message: str) -> None:
    # Given a number no complainant calls from, When normalised, Then the error says why, without the number
    with pytest.raises(IdentifierError, match=exact(message)):
        normalise_phone(raw)


# --- a personal identifier's error quotes no part of it ----------------------


def _bad_personal_values() -> list[tuple[str, Callable[..., str], str]]:
    """Bad ID numbers, cards and phones of every kind of fault, many drawn at random (seeded)."""
    rng = random.Random(20261130)
    cases: list[tuple[str, Callable[..., str], str]] = [
        (c[0], c[1], c[2]) for c in _INVALID if c[1] in (validate_id_number, validate_bank_card)
    ]
    cases += [(f"phone-{c[0]}", normalise_phone, c[1]) for c in _BAD_PHONES]
    cases += [("id-check-helper-short", id_check_char, "3701021990"), ("luhn-helper", luhn_check_digit, "62220X")]
    for n in range(40):
        born = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randrange(20000))
        idn = make_id_number(rng, region_code=rng.choice(["370102", "441900", "110105"]), birth=born)
        card = make_bank_card(rng, bin_prefix=rng.choice(["622848", "622202", "621700"]), length=rng.choice([16, 19]))
        phone = make_phone(rng)
        i = rng.randrange(17)
        typo = idn[:i] + str((int(idn[i]) + 1 + rng.randrange(9)) % 10) + idn[i + 1 :]
        month, day = rng.choice(["13", "00", "02"]), rng.choice(["30", "31", "32", "00"])
        cases += [
            (f"id-typo-{n}", validate_id_number, typo),
            (f"id-bad-date-{n}", validate_id_number, with_id_check(idn[:10] + month + day + idn[14:17])),
            (f"id-future-{n}", validate_id_number, with_id_check(idn[:6] + "2999" + idn[10:17])),
            (f"id-short-{n}", validate_id_number, idn[: rng.randrange(4, 18)]),
            (f"id-letter-{n}", validate_id_number, idn[:i] + "A" + idn[i + 1 :]),
            (f"id-province-{n}", validate_id_number, with_id_check("9" + idn[1:17])),
            (f"card-luhn-{n}", validate_bank_card, card[:-1] + str((int(card[-1]) + 1) % 10)),
            (f"card-grouped-luhn-{n}", validate_bank_card,
             " ".join(re.findall(".{1,4}", card[:-1] + str((int(card[-1]) + 5) % 10)))),
            (f"card-short-{n}", validate_bank_card, card[: rng.randrange(5, 16)]),
            (f"card-letter-{n}", validate_bank_card, card[:i] + "O" + card[i + 1 :]),
            (f"phone-short-{n}", normalise_phone, phone[:-1]),
            (f"phone-long-{n}", normalise_phone, phone + str(rng.randrange(10))),
            (f"phone-letter-{n}", normalise_phone, phone[:i % 11] + "x" + phone[i % 11 + 1 :]),
            (f"phone-landline-{n}", normalise_phone, "0" + rng.choice(["593", "21", "10"]) + "-" + phone[4:10]),
            (f"phone-foreign-{n}", normalise_phone, "+44 " + phone[1:]),
        ]
    return cases


_BAD_PERSONAL = _bad_personal_values()


@pytest.mark.parametrize(
    ("validator", "value"), [c[1:] for c in _BAD_PERSONAL], ids=[c[0] for c in _BAD_PERSONAL]
)
def test_a_personal_identifier_error_quotes_no_four_of_its_digits(validator: Callable[..., str], value: str) -> None:
    # Given a bad ID number, bank card or phone (a birth date, a typo, a wrong length …)
    # When it is validated under an upstream field name
    with pytest.raises(IdentifierError) as info:
        if validator in (id_check_char, luhn_check_digit):
            validator(value)
        else:
            validator(value, field="idCardNumber")
    # Then the message names the field and what is wrong, and no 4 digits in a row of the value appear in
    # it — not the birth date, not a masked number's last four — nor does the error keep the value
    message, err = str(info.value), info.value
    digits = "".join(c for c in value if c.isdigit())
    # (the rule's own bound, "before 1900-01-01", is no digit of the value even where the value holds 1900)
    runs = [r for r in re.findall(r"\d{4,}", message) if r != "1900"]
    assert not [digits[k : k + 4] for k in range(len(digits) - 3) if any(digits[k : k + 4] in r for r in runs)], message
    assert message.startswith(f"invalid {err.field}: ") and err.value is None


# --- masks -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("masker", "raw", "masked"),
    [
        (mask_id_number, "370102199001011234", "370102********1234"),
        (mask_id_number, VALID_ID, "110105********002X"),
        (mask_phone, "13800138000", "138****8000"),
        (mask_phone, "+8613800138000", "+86138****8000"),
        (mask_phone, "+865937856234", "+86593***6234"),
        (mask_phone, "+861062345678", "+8610****5678"),
        (mask_phone, "0593-7856234", "0593-***6234"),
        (mask_phone, "+86 593 785 6234", "+86 593 *** 6234"),
        (mask_bank_card, "6228480012345678901", "622848*********8901"),
        (mask_bank_card, VALID_CARD, "411111******1111"),
        (mask_bank_card, "6222 0212 3456 7890 123", "6222 02** **** ***0 123"),
        (mask_bank_card, "6222-0212-3456-7890", "6222-02**-****-7890"),
        (mask_bank_card, "6222 0212 34", "**** **** **"),
        (mask_name, "张三丰", "张**"),
        (mask_name, "李四", "李*"),
        (mask_name, "欧阳", "欧*"),
        (mask_name, "王", "*"),
        (mask_phone, "123", "***"),
        (mask_name, "", ""),
    ],
    ids=[
        "id", "id-with-x", "phone", "phone-e164-mobile", "phone-e164-landline", "phone-e164-beijing",
        "phone-landline-dash", "phone-landline-spaces", "card-19", "card-16", "card-in-groups",
        "card-with-dashes", "card-too-short-fully-masked", "name-3", "name-2",
        "name-compound-surname", "name-1", "too-short-fully-masked", "empty",
    ],
)
def test_masks(masker: Callable[[str], str], raw: str, masked: str) -> None:
    assert masker(raw) == masked


def test_a_card_in_groups_shows_its_first_6_and_last_4_digits() -> None:
    # Given a card written in groups of four, as printed on it
    card = "6222 0212 3456 7890 123"
    # When masked
    masked = mask_bank_card(card)
    # Then exactly its first 6 and last 4 digits show, as for the same card written without spaces
    assert [c for c in masked if c.isdigit()] == list("622202" + "0123")
    assert masked.replace(" ", "") == mask_bank_card(card.replace(" ", "")) == "622202*********0123"


def test_all_lists_public_api() -> None:
    public = {name for name in vars(identifiers) if not name.startswith("_")}
    public -= {"annotations", "datetime", "random", "re", "unicodedata", "Any", "phonenumbers"}
    assert set(identifiers.__all__) == public


def test_mask_personal_data_masks_by_shape_at_any_depth() -> None:
    # Given an upstream payload with personal data under names we never saw before
    payload = {"caller": {"tel": "13800138000", "cards": ["6228480012345678903"]}, "sfz": "11010519491231002X",
               "orderNum": "20261101000123", "amount": "42000", "sourceId": "6228480012345678903"}
    # Then ID numbers, phones and Luhn-valid card numbers are masked; other values are kept
    assert identifiers.mask_personal_data(payload) == {
        "caller": {"tel": "138****8000", "cards": ["622848*********8903"]},
        "sfz": "110105********002X",
        "orderNum": "20261101000123",
        "amount": "42000",
        "sourceId": "6228480012345678903",  # Luhn-valid, but not under a card key: an order number
    }


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+86 18743673634", "+86 187****3634"),
        ("来电+865937856234", "来电+86593***6234"),
        ("电话 +86 10 6234 5678 转 12", "电话 +86 10 ****5678 转 12"),
        ("座机0593-7856234", "座机0593-***6234"),
        ("来电人（电话138-0013-8000）反映", "来电人（电话138****8000）反映"),
        ("身份证11010519491231002X，欠薪", "身份证110105********002X，欠薪"),
        ("工单2026111400000127000", "工单2026111400000127000"),
        ("订单202611140000012700", "订单202611140000012700"),
    ],
    ids=["phone-with-country-code", "landline-e164", "landline-plus86-spaces", "landline-national", "phone-in-text", "id-in-text", "long-order-number", "18-digit-non-id"],
)
def test_mask_personal_data_in_free_text(text, masked) -> None:
    assert identifiers.mask_personal_data(text) == masked


def test_a_birth_date_is_in_the_future_by_chinas_today_which_is_injectable() -> None:
    # Given an ID number of someone born on 2026-11-20
    born = with_id_check("11010520261120002")
    # When China's today is that day, it is valid; the day before (a UTC server before 08:00), it is not
    assert validate_id_number(born, today=datetime.date(2026, 11, 20)) == born
    with pytest.raises(IdentifierError, match="the birth date in the ID number is in the future"):
        validate_id_number(born, today=datetime.date(2026, 11, 19))


@pytest.mark.parametrize(
    ("code", "level", "ancestors"),
    [
        ("441900003", "town", ["440000", "441900"]),  # 东莞市东城街道: no county between city and town
        ("442000001001", "village", ["440000", "442000", "442000001"]),  # a 社区 of 中山市石岐街道
        ("460400100", "town", ["460000", "460400"]),  # 儋州市那大镇
        ("370811002", "town", ["370000", "370800", "370811"]),  # 任城区许庄街道, for contrast
    ],
)
def test_a_town_of_a_city_without_counties_sits_directly_under_the_city(
    code: str, level: str, ancestors: list[str]
) -> None:
    # Given the statistical code of a town of 东莞, 中山 or 儋州 (不设区的地级市), whose county part is zero
    # Then it is a valid code of its level, with the city as its nearest ancestor
    assert validate_region_code(code) == code
    assert region_level(code) == level
    assert region_ancestors(code) == ancestors
    # And any other city's zero county part still refuses a town under it
    with pytest.raises(IdentifierError, match="town part '003' under a zero county part"):
        validate_region_code("441800003")
