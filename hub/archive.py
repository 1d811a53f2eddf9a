"""Sealing raw payloads: ID numbers and bank cards are encrypted inside the archive.

The raw archive keeps every upstream record as received so that quarantined records can be
replayed, but personal data must not lie there in clear (docs/architecture.md: ID numbers encrypted at rest).
``seal`` replaces each ID number (recognised by shape and check character) and each bank card or
personal account number (under a key naming one — ``bankCard``, ``acctNo``, ``账号`` … — whatever its
check digit: :func:`hub.identifiers.is_personal_account`, the rule the masker follows) with
``{"$enc": <Fernet token>}`` — the form the demo seed uses too — and ``unseal`` restores the record exactly, for replay or an audited unmasked read.
The payload hash is taken before sealing, so the same upstream record always hashes the same.
"""

from __future__ import annotations

import re
from typing import Any

from hub.crypto import Cipher
from hub.identifiers import IdentifierError, is_personal_account, validate_id_number

_ID = re.compile(r"^\d{17}[\dXx]$")
SEALED = "$enc"


def _is_id(value: str) -> bool:
    if not _ID.match(value):
        return False
    try:
        validate_id_number(value)
    except IdentifierError:
        return False
    return True


def seal(payload: Any, cipher: Cipher, *, _key: str = "") -> Any:
    """A copy of ``payload`` with ID numbers, bank cards and personal account numbers encrypted."""
    if isinstance(payload, dict):
        if set(payload) == {SEALED}:
            return payload
        return {k: seal(v, cipher, _key=str(k)) for k, v in payload.items()}
    if isinstance(payload, list):
        return [seal(v, cipher, _key=_key) for v in payload]
    if isinstance(payload, str) and (_is_id(payload) or is_personal_account(_key, payload)):
        return {SEALED: cipher.encrypt(payload)}
    return payload


def unseal(payload: Any, cipher: Cipher) -> Any:
    """The payload as the upstream sent it."""
    if isinstance(payload, dict):
        if set(payload) == {SEALED}:
            return cipher.decrypt(payload[SEALED])
        return {k: unseal(v, cipher) for k, v in payload.items()}
    if isinstance(payload, list):
        return [unseal(v, cipher) for v in payload]
    return payload
