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
    assert set(sealed["workers"][0]["idCardNumber"]) == {"$enc"} and set(sealed["workers"][0]["payRollBankCardNumber"]) == {"$enc"}
    assert sealed["orderNum"] == PAYLOAD["orderNum"] and sealed["permitNo"] == PAYLOAD["permitNo"]
    assert sealed["complainantPhone"] == "13800138000"  # phones stay: masked on output, needed for matching
    assert "11010519491231002X" not in str(sealed) and "6228480012345678903" not in str({k: v for k, v in sealed.items() if k != "orderNum"})


def test_unseal_restores_the_payload_exactly_and_seal_is_idempotent() -> None:
    sealed = seal(PAYLOAD, CIPHER)
    assert unseal(sealed, CIPHER) == PAYLOAD
    assert unseal(seal(sealed, CIPHER), CIPHER) == PAYLOAD
