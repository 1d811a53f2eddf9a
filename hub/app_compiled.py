"""Compiled operations over HTTP: a key's POST of a compiled query, answered without strawberry's view.

The view (``hub.app.HubGraphQL``) asks ``CompiledAnswers.answer`` first. It answers a request only when
everything about it is already known in this process, and returns ``None`` otherwise, so the usual path
(strawberry's view, which authenticates, parses, validates and may run the same plan) answers instead:

- a ``POST`` with ``application/json`` body ``{"query"?, "variables"?, "operationName"?, "extensions"?}``
  (not a batch), sent with an API key (a signed-in console's cookie takes the usual path);
- a key this process has authenticated before (``KnownKeys``), whose principal runs the operation;
- an operation with a compiled plan (``schema.compiled``), allowed to that principal (allow-list mode).

Nothing is trusted from the memory of the key: in the plan's one worker-thread hop the key is read again
on the same connection as the rows, before any row, and when it no longer stands for the same principal
(revoked, another role, region, sector or right to unmask) the usual path answers instead — and finds
out. One thread hop for authentication and every statement, and the body serialised once with orjson,
is what this path saves; the answer is the usual path's (``tests/schema/test_compiled.py``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import Response
from strawberry.http.parse_content_type import parse_content_type

from hub.crypto import api_key_hash
from hub.errors import HubError
from hub.operations import check_allowed, resolve_operation
from schema.compiled import answer_body, execute_plan

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.access import Principal
    from hub.app import HubGraphQL


class KnownKeys:
    """The principal each API key was last authenticated as in this process, by the key's hash.

    A hint, not a credential: ``CompiledAnswers`` reads the key again before it answers. Bounded: when
    full, it starts again empty (a key's next request authenticates the usual way)."""

    def __init__(self, *, size: int = 4096) -> None:
        self.size = size
        self._principals: dict[str, Principal] = {}
        self._lock = threading.Lock()

    def remember(self, key: str, principal: Principal) -> None:
        with self._lock:
            if len(self._principals) >= self.size:
                self._principals.clear()
            self._principals[api_key_hash(key)] = principal

    def forget(self, key: str) -> None:
        with self._lock:
            self._principals.pop(api_key_hash(key), None)

    def get(self, key: str) -> Principal | None:
        return self._principals.get(api_key_hash(key))


class CompiledAnswers:
    """Answers the requests described in the module docstring, for ``view``."""

    def __init__(self, view: HubGraphQL) -> None:
        self.view = view
        self.keys = KnownKeys()

    async def answer(self, request: Request, key: str) -> Response | None:
        """The response to ``request`` (sent with API key ``key``), or ``None``: the usual path answers."""
        view = self.view
        principal = self.keys.get(key)
        if principal is None or not view.settings.compiled_operations:
            return None
        content_type, _ = parse_content_type(request.headers.get("content-type", ""))
        if content_type != "application/json":
            return None
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None
        request_data = _request_data(data)
        if request_data is None:
            return None
        query, variables, operation_name, extensions = request_data
        try:
            resolved = await resolve_operation(
                query=query,
                extensions=extensions,
                registry=view.operations,
                cache=view.persisted_queries,
                remember=False,  # the usual path remembers a text, once the key is read again
            )
            check_allowed(
                resolved,
                principal=principal,
                allowlist_roles=view.settings.allowlist_role_set(),
                operation_name=operation_name,
            )
        except HubError:
            return None  # refusals are the usual path's to say
        plan = view.plan_for(resolved)
        if plan is None or operation_name not in (None, plan.operation_name):
            return None
        context = view.make_context(request, principal=principal, lazy=True)  # a plan reads on its own
        result = await execute_plan(plan, variables, context, key=key)
        if result is None:
            self.keys.forget(key)
            return None
        if view.key_usage is not None:
            view.key_usage.touch_soon(principal)
        return Response(view.encode_json(answer_body(result)), media_type="application/json")


def _request_data(data: Any) -> tuple[str | None, dict[str, Any] | None, str | None, dict[str, Any] | None] | None:
    """``(query, variables, operationName, extensions)`` of a well-formed single request, else ``None``."""
    if not isinstance(data, dict):
        return None
    query, variables = data.get("query"), data.get("variables")
    operation_name, extensions = data.get("operationName"), data.get("extensions")
    if not isinstance(query, (str, type(None))) or not isinstance(variables, (dict, type(None))):
        return None
    if not isinstance(operation_name, (str, type(None))) or not isinstance(extensions, (dict, type(None))):
        return None
    return query, variables, operation_name, extensions
