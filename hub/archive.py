"""Sealing raw payloads: ID numbers and bank cards are encrypted inside the archive.

The raw archive keeps every upstream record as received so that quarantined records can be
replayed, but personal data must not lie there in clear (docs/architecture.md: ID numbers encrypted at rest).
A sealed value is replaced with ``{"$enc": <Fernet token>}`` — the form the demo seed uses too — and
``unseal`` restores the record exactly, for replay or an audited unmasked read. The payload hash is
taken before sealing, so the same upstream record always hashes the same.

Which values are sealed:

- a stream that declares its personal fields (``connectors.base.Stream.sensitive``) has exactly those
  sealed, whatever their shape (a malformed ID number is still someone's) — no walk over the rest of
  the payload; the conformance suite (``connectors.testing``) proves on the connector's sandbox that
  nothing the walk below would find is left outside the declaration;
- a stream that declares nothing (``None``, a third party's) has the whole payload walked: each ID
  number (recognised by shape and check character) and each bank card or personal account number
  (under a key naming one — ``bankCard``, ``acctNo``, ``账号`` … — whatever its check digit:
  :func:`hub.identifiers.is_personal_account`, the rule the masker follows).

A :class:`Sealer` encrypts each value once: a value seen again (a worker's ID number on every month's
pay detail) gets the token it got before, from a bounded cache. A token says no more than the keyed
lookup hash stored beside the worker already does (that two records name the same person).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from hub.crypto import Cipher
from hub.identifiers import IdentifierError, is_business_key, is_personal_account, validate_id_number

_ID = re.compile(r"^\d{17}[\dXx]$")
SEALED = "$enc"
#: Tokens a ``Sealer`` remembers before it starts over (flat memory on a long backfill).
CACHE_SIZE = 16_384


def _is_id(value: str) -> bool:
    if not _ID.match(value):
        return False
    try:
        validate_id_number(value)
    except IdentifierError:
        return False
    return True


def _is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {SEALED}


class Sealer:
    """Seals payloads with one cipher, encrypting each distinct value once (bounded cache)."""

    def __init__(self, cipher: Cipher, *, cache_size: int = CACHE_SIZE) -> None:
        self.cipher = cipher
        self._tokens: dict[str, str] = {}
        self._cache_size = cache_size

    def encrypt(self, value: str) -> str:
        token = self._tokens.get(value)
        if token is None:
            if len(self._tokens) >= self._cache_size:
                self._tokens.clear()
            token = self._tokens[value] = self.cipher.encrypt(value)
        return token

    def seal(self, payload: Any, fields: Sequence[str] | None = None) -> Any:
        """A copy of ``payload`` with ``fields`` (dotted paths, lists crossed) sealed, or, when ``None``,
        every ID number, bank card and personal account number the walk finds."""
        if fields is None:
            return self._walk(payload, "")
        if not fields or not isinstance(payload, dict):
            return payload
        out = dict(payload)
        for path in fields:
            head, _, rest = path.partition(".")
            if head in out:
                out[head] = self._at(out[head], rest)
        return out

    def _at(self, value: Any, rest: str) -> Any:
        if isinstance(value, list):
            return [self._at(v, rest) for v in value]
        if rest:
            return self.seal(value, [rest]) if isinstance(value, dict) else value
        if isinstance(value, str) and value:
            return {SEALED: self.encrypt(value)}
        return value  # null, a number, or already sealed: unseal gives it back as it is

    def _walk(self, payload: Any, key: str) -> Any:
        if isinstance(payload, dict):
            if _is_sealed(payload):
                return payload
            return {k: self._walk(v, str(k)) for k, v in payload.items()}
        if isinstance(payload, list):
            return [self._walk(v, key) for v in payload]
        if isinstance(payload, str) and (_is_id(payload) or is_personal_account(key, payload)):
            return {SEALED: self.encrypt(payload)}
        return payload


def seal(payload: Any, cipher: Cipher, fields: Sequence[str] | None = None) -> Any:
    """A copy of ``payload`` sealed by :meth:`Sealer.seal` (no cache kept between calls)."""
    return Sealer(cipher).seal(payload, fields)


def unseal(payload: Any, cipher: Cipher) -> Any:
    """The payload as the upstream sent it."""
    if isinstance(payload, dict):
        if _is_sealed(payload):
            return cipher.decrypt(payload[SEALED])
        return {k: unseal(v, cipher) for k, v in payload.items()}
    if isinstance(payload, list):
        return [unseal(v, cipher) for v in payload]
    return payload


def clear_personal_paths(payload: Any, _path: str = "") -> Iterator[str]:
    """Paths of the values in ``payload`` still in clear that are personal: an ID number or a card /
    personal account number as the walk recognises them, outside keys that hold business numbers
    (a permit number can pass an ID number's check). Empty for a properly sealed payload."""
    if isinstance(payload, dict):
        if _is_sealed(payload):
            return
        for k, v in payload.items():
            yield from clear_personal_paths(v, f"{_path}.{k}" if _path else str(k))
    elif isinstance(payload, list):
        for v in payload:
            yield from clear_personal_paths(v, _path)
    elif isinstance(payload, str):
        key = _path.rpartition(".")[2]
        if (_is_id(payload) and not is_business_key(key)) or is_personal_account(key, payload):
            yield _path
