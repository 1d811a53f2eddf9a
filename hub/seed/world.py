"""The demo world, for whoever must speak it: the sandboxes that play the upstream systems.

The sandboxes (``connectors/*/sandbox.py``) serve the same enterprises, projects, workers and
complainants the demo database holds, and invent new ones over time in the same voice. This module
is what they may use of the generator; the rest of ``hub.seed`` is private and may change.

- ``Generation`` with ``SCALES``: run the generator (``Generation(plan=SCALES["tiny"], seed=…,
  today=…, cipher=…, region=…).rows()`` streams ``(table, row)``); ``SENSITIVE_PAYLOAD_FIELDS``
  names the raw-payload fields it encrypts.
- Names and texts: ``person_name``, ``trade_name``, ``builder_name``, ``short_name``, ``address``,
  ``road``, ``project_name``, ``complaint_text`` — each takes a ``random.Random``, so a sandbox that
  seeds it per record invents the same thing every time.
"""

from __future__ import annotations

from hub.seed._base import SCALES, SENSITIVE_PAYLOAD_FIELDS, ScalePlan
from hub.seed._generate import Generation
from hub.seed._names import (
    address,
    builder_name,
    complaint_text,
    person_name,
    project_name,
    road,
    short_name,
    trade_name,
)

__all__ = [
    "SCALES",
    "SENSITIVE_PAYLOAD_FIELDS",
    "Generation",
    "ScalePlan",
    "address",
    "builder_name",
    "complaint_text",
    "person_name",
    "project_name",
    "road",
    "short_name",
    "trade_name",
]
