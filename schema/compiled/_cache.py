"""The process's compiled plans, by the SHA-256 of their document's text."""

from __future__ import annotations

import hashlib
import threading
from typing import TYPE_CHECKING

from schema.compiled._compile import compile_operation

if TYPE_CHECKING:
    from strawberry import Schema

    from schema.compiled._plan import Plan


class PlanCache:
    """Plans compiled so far (the operations registry compiles its operations here at registration and
    start-up); the HTTP view runs a request's plan when its document has one."""

    def __init__(self) -> None:
        self._plans: dict[str, Plan] = {}
        self._lock = threading.Lock()

    def add(
        self, schema: Schema, document_text: str, operation_name: str | None = None, *, max_depth: int = 12
    ) -> Plan:
        """Compile ``document_text`` (once) and keep its plan, compiled or not (``explain`` reads it)."""
        sha = hashlib.sha256(document_text.encode()).hexdigest()
        plan = self._plans.get(sha)
        if plan is None or plan.schema is not schema:
            plan = compile_operation(schema, document_text, operation_name, max_depth=max_depth)
            with self._lock:
                self._plans[sha] = plan
        return plan

    def get(self, document_text: str) -> Plan | None:
        """The plan of this exact text, if one was compiled."""
        if not self._plans:
            return None
        return self._plans.get(hashlib.sha256(document_text.encode()).hexdigest())

    def discard(self, document_text: str) -> None:
        with self._lock:
            self._plans.pop(hashlib.sha256(document_text.encode()).hexdigest(), None)

    def clear(self) -> None:
        with self._lock:
            self._plans.clear()

    def __len__(self) -> int:
        return len(self._plans)


#: The process-wide cache the HTTP view looks in.
PLANS = PlanCache()
