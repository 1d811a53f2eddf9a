"""Strawberry extensions: authentication, the request's session and audits, and error shaping.

Errors leave the API with a stable ``extensions.code`` and a message a user can act on; an
unexpected exception is logged with its traceback and reaches the client only as ``INTERNAL``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from graphql import GraphQLError
from graphql.execution import ExecutionResult
from strawberry.extensions import SchemaExtension

from hub.access import audit
from hub.errors import HubError
from hub.identifiers import mask_text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger("hub.graphql")

_LIMIT_MARKERS = ("exceeds maximum operation depth", "maximum number of aliases", "token limit", "maximum token")


def shape_error(error: GraphQLError) -> GraphQLError:
    """The error as the client sees it: a code, a message, and never a stack trace nor personal data
    (a message may echo the input: an ID number given where a cursor was expected is masked)."""
    shaped = _shape(error)
    masked = mask_text(shaped.message)
    ext = {k: mask_text(v) if isinstance(v, str) else v for k, v in (shaped.extensions or {}).items()}
    if masked == shaped.message and ext == (shaped.extensions or {}):
        return shaped
    return GraphQLError(masked, nodes=shaped.nodes, path=shaped.path, extensions=ext)


def _shape(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, HubError):
        return GraphQLError(original.message, nodes=error.nodes, path=error.path, extensions=original.extensions())
    if original is None:
        if error.message.startswith("Syntax Error"):
            code = "GRAPHQL_PARSE_FAILED"
        elif any(s in error.message.lower() for s in _LIMIT_MARKERS):
            code = "QUERY_TOO_COMPLEX"
        else:
            code = "GRAPHQL_VALIDATION_FAILED"
        if error.extensions and "code" in error.extensions:
            return error
        return GraphQLError(error.message, nodes=error.nodes, path=error.path, extensions={"code": code})
    if isinstance(original, GraphQLError):
        return _shape(original)
    incident = uuid.uuid4().hex[:12]
    log.error("unexpected error in %s (incident %s)", ".".join(map(str, error.path or [])), incident, exc_info=original)
    return GraphQLError(
        f"internal error (incident {incident}); the server log has the details",
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL", "incident": incident},
    )


class HubRequest(SchemaExtension):
    """Refuses unauthenticated operations, writes pending audits, closes the session.

    Errors are shaped where the response is made (``hub.app.HubGraphQL.process_result``), the one
    place every error passes: parse, validation and execution errors alike.
    """

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context.context
        if ctx.principal is None:
            err = ctx.auth_error or HubError("no principal")
            self.execution_context.result = ExecutionResult(
                data=None, errors=[GraphQLError(getattr(err, "message", str(err)), original_error=err)]
            )
        yield

    async def on_operation(self) -> AsyncIterator[None]:
        ctx = self.execution_context.context
        try:
            yield
            if ctx.audits and ctx.principal is not None:
                principal = ctx.principal
                pending = list(ctx.audits)

                def write(session: Session) -> None:
                    for a in pending:
                        audit(session, principal=principal, **a)

                await ctx.session.run_sync(write)
                await ctx.session.commit()
        finally:
            await ctx.session.close()
