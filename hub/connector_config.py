"""A connector instance's config as its plugin reads it: the stored config with its secrets decrypted.

Its own small module because the sync engine, the write-back worker and the connector admin all read
it, and none of them should import another for it (docs/architecture.md, "The rooms and the arrows").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from connectors.base import Connector
    from hub import models as m
    from hub.crypto import Cipher

__all__ = ["load_config"]


def load_config(connector: Connector, instance: m.ConnectorInstance, cipher: Cipher) -> Any:
    """The instance's config with its secrets decrypted, validated by the connector's model."""
    raw = dict(instance.config)
    if instance.secrets_enc:
        raw.update(orjson.loads(cipher.decrypt(instance.secrets_enc)))
    return connector.parse_config(raw)
