"""Encryption at rest for personal data and connector secrets, and keyed hashes for lookups.

Personal data (ID numbers, bank cards) is stored as a Fernet token, a keyed HMAC-SHA256 hash (so the
same person can be found without decrypting) and a masked form for display.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken


class Cipher:
    """Encrypts, decrypts and hashes with keys derived from the hub's secret key."""

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("secret_key must not be empty")
        root = hashlib.sha256(secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(hmac.new(root, b"encrypt", hashlib.sha256).digest()))
        self._hash_key = hmac.new(root, b"lookup-hash", hashlib.sha256).digest()

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        """The plaintext; ``ValueError`` when the token was not made with this key."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("cannot decrypt: the data was encrypted with another HUB_SECRET_KEY") from exc

    def lookup_hash(self, value: str) -> str:
        """A keyed hash of ``value`` for equality lookups (same value, same hash; not reversible)."""
        return hmac.new(self._hash_key, value.encode(), hashlib.sha256).hexdigest()


def api_key_hash(key: str) -> str:
    """API keys are random and long, so a plain SHA-256 is enough to store them."""
    return hashlib.sha256(key.encode()).hexdigest()
