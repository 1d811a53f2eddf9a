"""Compiled operations: an operation's answer built from rows without a resolver per field.

``compile_operation`` validates a document once and plans it; ``execute_plan`` answers it with the
same data, errors and codes as the interpreter (``tests/schema/test_compiled.py`` compares them on
hundreds of generated operations; ``answer_body`` shapes them as the view does), or hands it to the
interpreter when the plan cannot; ``explain``
says which fields forced that. ``PLANS`` is the process's cache, which ``hub.app.HubGraphQL`` looks in.
"""

from schema.compiled._cache import PLANS, PlanCache
from schema.compiled._compile import PURE_FIELDS, compile_operation, explain
from schema.compiled._plan import Fallback, Plan
from schema.compiled._run import answer_body, execute_plan

__all__ = [
    "PLANS",
    "PURE_FIELDS",
    "Fallback",
    "Plan",
    "PlanCache",
    "answer_body",
    "compile_operation",
    "execute_plan",
    "explain",
]
