"""Finds connector plugins through the ``hub.connectors`` entry-point group."""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import entry_points

from connectors.base import Connector

GROUP = "hub.connectors"
log = logging.getLogger(__name__)


class UnknownConnector(LookupError):
    """No connector plugin of that kind is installed."""


@lru_cache(maxsize=1)
def available() -> dict[str, type[Connector]]:
    """Every installed connector class by kind (entry-point name). A plugin that fails to import is logged and skipped."""
    found: dict[str, type[Connector]] = {}
    for ep in entry_points(group=GROUP):
        try:
            cls = ep.load()
        except Exception:
            log.exception("connector plugin %s (%s) failed to load; skipped", ep.name, ep.value)
            continue
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            log.error("entry point %s = %s is not a Connector subclass; skipped", ep.name, ep.value)
            continue
        found[ep.name] = cls
    return found


def get(kind: str) -> Connector:
    """An instance of the connector plugin ``kind``."""
    classes = available()
    if kind not in classes:
        known = ", ".join(sorted(classes)) or "none"
        raise UnknownConnector(f"no connector plugin {kind!r} is installed (installed: {known})")
    return classes[kind]()
