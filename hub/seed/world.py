"""The demo world, for whoever must speak it: the sandboxes that play the upstream systems.

The sandboxes (``connectors/*/sandbox.py``) serve the same enterprises, projects, workers and
complainants the demo database holds, and invent new ones over time in the same voice. This module
is what they may use of the generator; the rest of ``hub.seed`` is private and may change.

- ``Generation`` with ``SCALES``: run the generator (``Generation(plan=SCALES["tiny"], seed=…,
  today=…, cipher=…, region=…).rows()`` streams ``(table, row)``); ``SENSITIVE_PAYLOAD_FIELDS``
  names the raw-payload fields it encrypts.
- Names and texts: ``person_name``, ``trade_name``, ``builder_name``, ``contractor_name``,
  ``subcontractor_name``, ``labour_name``, ``short_name``, ``address``, ``road``, ``project_name``,
  ``complaint_text`` (and the vocabularies ``WORK_TYPES``, ``NON_CONSTRUCTION_KINDS``) — each takes a ``random.Random``, so a sandbox that
  seeds it per record invents the same thing every time.
"""

from __future__ import annotations

from hub.seed._base import SCALES, SENSITIVE_PAYLOAD_FIELDS, ScalePlan
from hub.seed._generate import Generation
from hub.seed._names import (
    NON_CONSTRUCTION_KINDS,
    WORK_TYPES,
    address,
    builder_name,
    complaint_text,
    contractor_name,
    labour_name,
    person_name,
    project_name,
    road,
    short_name,
    subcontractor_name,
    trade_name,
)

__all__ = [
    "NON_CONSTRUCTION_KINDS",
    "SCALES",
    "SENSITIVE_PAYLOAD_FIELDS",
    "WORK_TYPES",
    "Generation",
    "ScalePlan",
    "address",
    "builder_name",
    "complaint_text",
    "contractor_name",
    "labour_name",
    "person_name",
    "project_name",
    "road",
    "short_name",
    "subcontractor_name",
    "trade_name",
]
