"""Arrears warnings (预警) computed from the data: declarative rules and the engine that runs them.

- ``hub.rules.base``: what a rule is (``Rule``, ``Context``, ``Subject``) and the SQL helpers rules share;
- ``hub.rules.w01_…`` … ``w16_…``: one rule per module (docs/domain.md, "Warnings");
- ``hub.rules.catalogue``: the rules the engine evaluates (``RULES``);
- ``hub.rules.engine``: ``evaluate`` — upsert, level changes, resolution, events, escalation —, and
  ``evaluate_committed``, which runs an evaluation that lost a race to another again;
- ``hub.rules.handling``: what people do with a warning — acknowledge, note, resolve, false positive.

Adding a rule (say W17; ``w16_paid_not_on_roster.py`` was added so): copy the module of a rule like it (``w12_guarantee_expiring.py`` is short),
set ``code``, ``name``, ``cite``, ``inputs`` (the models its SELECT reads: a sync page re-evaluates the
rules reading what it wrote), ``subject``, ``period``, ``thresholds`` and ``cleared``, write its one
SELECT (the standard columns of ``hub.rules.base``, then what it measured; narrow its inputs with
``ctx.narrow_projects`` before aggregating) and its ``describe``; list
it in ``catalogue.RULES``; give it a firing / not-firing / clearing case in
``tests/hub/test_warnings_rules.py`` and a row in docs/domain.md. The engine needs no change.
"""

from __future__ import annotations

from hub.rules.base import Context, Rule, Subject
from hub.rules.catalogue import RULES, rule
from hub.rules.engine import Report, Scope, evaluate, evaluate_committed
from hub.rules.handling import acknowledge, add_note, mark_false_positive, resolve

__all__ = [
    "RULES",
    "Context",
    "Report",
    "Rule",
    "Scope",
    "Subject",
    "acknowledge",
    "add_note",
    "evaluate",
    "evaluate_committed",
    "mark_false_positive",
    "resolve",
    "rule",
]
