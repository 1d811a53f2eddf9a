"""The real-name platform's field encryption: ID numbers and bank cards travel encrypted.

The platform encrypts each personal field on its own with a data key it shares with each consumer
(issued with the app id; the connector's ``data_key``): AES-128-CBC with PKCS#7 padding and a fresh
16-byte IV per value, sent as Base64 of IV ‖ ciphertext — the shape of the 实名制 platforms' open
interfaces (some use SM4 in the same mode; the key, IV and block sizes are the same). The key is
written as 32 hexadecimal characters.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

#: Fields the platform sends encrypted (docs/domain.md, "Field names of the upstream interfaces").
ENCRYPTED_FIELDS = ("idCardNumber", "payRollBankCardNumber")
_BLOCK = 16


class UndecryptableField(ValueError):
    """A value the data key does not open: a wrong key, or a value damaged on the way."""


def parse_key(hex_key: str) -> bytes:
    """The 16-byte key of its 32-hex-character form (``ValueError`` naming what is wrong)."""
    try:
        key = bytes.fromhex(hex_key.strip())
    except ValueError:
        raise ValueError("data_key must be 32 hexadecimal characters (a 128-bit AES key)") from None
    if len(key) != _BLOCK:
        raise ValueError(f"data_key must be 32 hexadecimal characters (a 128-bit AES key), got {len(key) * 2}")
    return key


def encrypt_field(key: bytes, plain: str, *, iv: bytes | None = None) -> str:
    """``plain`` as the platform sends it (the sandbox's side)."""
    iv = iv or os.urandom(_BLOCK)
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain.encode()) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + enc.update(data) + enc.finalize()).decode()


def decrypt_field(key: bytes, token: str) -> str:
    """The plain value of an encrypted field (``UndecryptableField`` with the reason, never the value)."""
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        raise UndecryptableField("not Base64") from None
    if len(raw) < 2 * _BLOCK or len(raw) % _BLOCK:
        raise UndecryptableField("not IV + whole AES blocks")
    dec = Cipher(algorithms.AES(key), modes.CBC(raw[:_BLOCK])).decryptor()
    data = dec.update(raw[_BLOCK:]) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(data) + unpadder.finalize()
        return plain.decode("ascii")
    except (ValueError, UnicodeDecodeError):
        raise UndecryptableField("bad padding or text after decryption: wrong data_key?") from None
