"""One way for every connector's ``check`` to turn a probe's failure into a message for a person."""

from __future__ import annotations

from collections.abc import Callable

from connectors.base._connector import CheckResult
from connectors.errors import CredentialsRefused, Unreachable, UpstreamError

UNREACHABLE = "cannot reach {system} at {where}: {message}"
REFUSED = "{message}"
FAILED = "{system} at {where} answered an error: {message}"


def check_connection(
    probe: Callable[[], str],
    *,
    system: str,
    where: str,
    unreachable: str = UNREACHABLE,
    refused: str = REFUSED,
    failed: str = FAILED,
) -> CheckResult:
    """Run ``probe`` (which calls the upstream as a sync would and returns the success message).

    A failure is classified by its type, never by its text: ``Unreachable`` (check the URL and the
    network), ``CredentialsRefused`` (check the credentials), any other ``UpstreamError`` (the
    upstream answered, but with an error). Each message is a template with ``{system}`` (e.g. "the
    12345 platform"), ``{where}`` (usually the base URL) and ``{message}`` (the error's own message,
    which never holds a secret). Exceptions that are not upstream errors propagate: they are bugs.
    """
    fields = {"system": system, "where": where}
    try:
        return CheckResult(True, probe())
    except Unreachable as exc:
        return CheckResult(False, unreachable.format(message=exc.message, **fields))
    except CredentialsRefused as exc:
        return CheckResult(False, refused.format(message=exc.message, **fields))
    except UpstreamError as exc:
        return CheckResult(False, failed.format(message=exc.message, **fields))
