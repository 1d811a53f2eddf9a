"""Raw payloads are sealed in the archive: ID numbers and bank cards encrypted, restorable exactly."""

from __future__ import annotations

from hub.archive import seal, unseal
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
