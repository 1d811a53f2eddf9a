"""Raw payloads are sealed in the archive: ID numbers and bank cards encrypted, restorable exactly."""

from __future__ import annotations

import pytest

from hub.archive import Sealer, clear_personal_paths, seal, unseal
from hub.crypto import Cipher

CIPHER = Cipher("archive-test")
PAYLOAD = {
    "clueId": "GZQX2026111300000113",
    "complainantIdNumber": "11010519491231002X",
    "complainantBankCard": "6228480012345678903",
    "complainantPhone": "13800138000",
    "workers": [{"idCardNumber": "11010519491231002X", "payRollBankCardNumber": "6228480012345678903"}],
    "orderNum": "6228480012345678903",  # Luhn-valid but not under a card key: an order number, kept
    "permitNo": "370811202502105301",  # 18 digits but not an ID number (bad check / date): kept
}


def test_seal_encrypts_id_numbers_and_cards_and_keeps_the_rest() -> None:
    sealed = seal(PAYLOAD, CIPHER)
    assert set(sealed["complainantIdNumber"]) == {"$enc"}
    assert set(sealed["complainantBankCard"]) == {"$enc"}
    assert set(sealed["workers"][0]["idCardNumber"]) == {"$enc"} and set(
        sealed["workers"][0]["payRollBankCardNumber"]
    ) == {"$enc"}
    assert sealed["orderNum"] == PAYLOAD["orderNum"] and sealed["permitNo"] == PAYLOAD["permitNo"]
    assert sealed["complainantPhone"] == "13800138000"  # phones stay: masked on output, needed for matching
    assert "11010519491231002X" not in str(sealed) and "6228480012345678903" not in str(
        {k: v for k, v in sealed.items() if k != "orderNum"}
    )


def test_unseal_restores_the_payload_exactly_and_seal_is_idempotent() -> None:
    sealed = seal(PAYLOAD, CIPHER)
    assert unseal(sealed, CIPHER) == PAYLOAD
    assert unseal(seal(sealed, CIPHER), CIPHER) == PAYLOAD


def test_personal_account_numbers_are_sealed_whatever_their_check_digit() -> None:
    # Given account numbers under keys naming a personal account, and the contractor's 专户
    payload = {
        "acctNo": "6217000010012345670",
        "账号": "6222 0210 0112 3456 789",
        "payee": {"bankCardNo": "6228480012345678900"},
        "salaryAccount": "37050166610800000345",
        "orderNo": "6228480012345678903",
    }
    # When the payload is sealed
    sealed = seal(payload, CIPHER)
    # Then the personal ones are encrypted (a wrong Luhn digit is still someone's card), the 专户 and
    # the order number are kept, and unsealing gives the payload back exactly
    assert set(sealed["acctNo"]) == set(sealed["账号"]) == set(sealed["payee"]["bankCardNo"]) == {"$enc"}
    assert (sealed["salaryAccount"], sealed["orderNo"]) == (payload["salaryAccount"], payload["orderNo"])
    assert unseal(sealed, CIPHER) == payload


def test_declared_fields_are_sealed_whatever_their_shape_and_nothing_else_is_walked() -> None:
    # Given a stream declaring a top-level field and one inside a list
    fields = ("complainantIdNumber", "workers.idCardNumber")
    payload = {**PAYLOAD, "complainantIdNumber": "not-an-id-but-personal"}
    # When the payload is sealed by the declaration
    sealed = seal(payload, CIPHER, fields)
    # Then exactly the declared values are sealed, a malformed one too, and the rest is as sent
    assert set(sealed["complainantIdNumber"]) == {"$enc"}
    assert set(sealed["workers"][0]["idCardNumber"]) == {"$enc"}
    assert sealed["complainantBankCard"] == PAYLOAD["complainantBankCard"]  # not declared: not walked
    assert sealed["workers"][0]["payRollBankCardNumber"] == "6228480012345678903"
    assert sealed["permitNo"] == PAYLOAD["permitNo"]
    assert unseal(sealed, CIPHER) == payload
    # And the walk's check names what the declaration missed (the conformance suite's test)
    assert sorted(clear_personal_paths(sealed)) == ["complainantBankCard", "workers.payRollBankCardNumber"]
    assert list(clear_personal_paths(seal(PAYLOAD, CIPHER))) == []


def test_a_sealer_encrypts_each_value_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a sealer, and a count of the cipher's encryptions
    sealer = Sealer(CIPHER, cache_size=2)
    calls: list[str] = []
    real = CIPHER.encrypt
    monkeypatch.setattr(CIPHER, "encrypt", lambda value: calls.append(value) or real(value))
    # When three pay details of one worker are sealed
    records = [
        {"idCardNumber": "11010519491231002X", "bankCardNumber": "6228480012345678903", "m": i} for i in range(3)
    ]
    sealed = [sealer.seal(r, ("idCardNumber", "bankCardNumber")) for r in records]
    # Then each value was encrypted once and each record unseals exactly
    assert calls == ["11010519491231002X", "6228480012345678903"]
    assert len({s["idCardNumber"]["$enc"] for s in sealed}) == 1
    assert [unseal(s, CIPHER) for s in sealed] == records
    # And the cache is bounded: a third value starts it over
    sealer.seal({"idCardNumber": "110105194912310029"}, ("idCardNumber",))
    sealer.seal(records[0], ("idCardNumber",))
    assert calls[-1] == "11010519491231002X"
