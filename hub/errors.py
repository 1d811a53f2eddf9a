"""The hub's errors. Every error a user can see has a stable ``code`` and says what to do.

HubError
 ├── NotAuthenticated      no or unknown API key               UNAUTHENTICATED
 │    ├── BadCredentials    a sign-in's username or password is wrong  BAD_CREDENTIALS
 │    ├── AccountLocked     too many wrong passwords: locked until …  ACCOUNT_LOCKED
 │    ├── AccountDisabled   an administrator disabled the account  ACCOUNT_DISABLED
 │    └── SessionExpired    the sign-in session ended (timeout, sign-out)  SESSION_EXPIRED
 ├── Forbidden             the principal may not do or see it   FORBIDDEN
 │    ├── CsrfRefused       a cookie request without its CSRF token, or cross-site  CSRF_REFUSED
 │    └── OperationNotRegistered  an allow-listed role ran an unregistered operation  OPERATION_NOT_REGISTERED
 ├── NotFound              no such object (or not in your jurisdiction)  NOT_FOUND
 ├── InvalidInput          a bad argument: field, value, why    BAD_USER_INPUT
 │    ├── InvalidIdentifier  a malformed USCC / ID / permit …   INVALID_IDENTIFIER
 │    ├── WeakPassword      a new password the policy refuses    WEAK_PASSWORD
 │    ├── PersistedQueryHashMismatch  a query whose SHA-256 is not the hash sent  PERSISTED_QUERY_HASH_MISMATCH
 │    └── PersistedQueryVersionUnsupported  persistedQuery.version other than 1  PERSISTED_QUERY_VERSION_UNSUPPORTED
 ├── PersistedQueryNotFound  a hash the hub does not know: resend with the query  PERSISTED_QUERY_NOT_FOUND
 ├── InvalidCursor         a cursor this connection did not issue  INVALID_CURSOR
 ├── IllegalTransition     the clue's state does not allow the action  ILLEGAL_TRANSITION
 ├── Conflict              another action changed it first (a lost race)  CONFLICT
 │    ├── DuplicateSource   a register number (channel + sourceId) entered twice  DUPLICATE_SOURCE
 │    ├── UsernameTaken     a new user's username is someone's already  USERNAME_TAKEN
 │    ├── DuplicateDocument  a decision's document number (文号) already recorded  DUPLICATE_DOCUMENT
 │    └── DuplicateOperation  an operation name already registered with another document  DUPLICATE_OPERATION
 ├── TooEarly              a rule's waiting period has not passed (blacklist removal)  TOO_EARLY
 ├── QueryTooComplex       over a depth / page-size / alias / token limit  QUERY_TOO_COMPLEX
 ├── QueryTooCostly        more rows than the role's cost budget   QUERY_TOO_COSTLY
 ├── QueryTimeout          a request's SQL ran past the time limit  QUERY_TIMEOUT
 ├── RateLimited           too many requests for this key / address  RATE_LIMITED
 └── TooManySubscriptions  a key's concurrent subscriptions at the cap  TOO_MANY_SUBSCRIPTIONS
"""

from __future__ import annotations

from typing import Any, ClassVar


class HubError(Exception):
    """Root of the hub's errors; carries a stable code and an optional suggestion."""

    code: ClassVar[str] = "INTERNAL"

    def __init__(self, message: str, *, suggestion: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.suggestion = suggestion
        self.extra = extra

    def extensions(self) -> dict[str, Any]:
        ext: dict[str, Any] = {"code": self.code, **self.extra}
        if self.suggestion:
            ext["suggestion"] = self.suggestion
        return ext


class NotAuthenticated(HubError):
    """No API key, or one the hub does not know or has revoked."""

    code = "UNAUTHENTICATED"


class Forbidden(HubError):
    """The principal's role or jurisdiction does not allow this."""

    code = "FORBIDDEN"


class NotFound(HubError):
    """No such object within the principal's jurisdiction."""

    code = "NOT_FOUND"


class InvalidInput(HubError):
    """An argument is malformed or out of range."""

    code = "BAD_USER_INPUT"


class InvalidIdentifier(InvalidInput):
    """An identifier (USCC, ID number, region code, permit number, bank card) failed validation."""

    code = "INVALID_IDENTIFIER"


class InvalidCursor(InvalidInput):
    """A pagination cursor that this connection did not issue."""

    code = "INVALID_CURSOR"


class IllegalTransition(HubError):
    """A workflow action the clue's current state does not allow (the message names the state)."""

    code = "ILLEGAL_TRANSITION"


class Conflict(HubError):
    """Another action changed the object between this one's read and its write: nothing was done.

    The message names the object and its state now, so the user can reload and decide again.
    """

    code = "CONFLICT"


class DuplicateSource(Conflict):
    """A register number (channel + sourceId) that is already in the pool, wherever it is."""

    code = "DUPLICATE_SOURCE"


class DuplicateDocument(Conflict):
    """A decision (penalty, blacklist listing) whose document number (文号) the hub already holds."""

    code = "DUPLICATE_DOCUMENT"


class TooEarly(HubError):
    """An action a rule allows only after a waiting period that has not passed (the message names the day)."""

    code = "TOO_EARLY"


class QueryTooComplex(HubError):
    """The operation exceeds a limit (page size, depth, aliases, tokens)."""

    code = "QUERY_TOO_COMPLEX"


class QueryTooCostly(HubError):
    """The operation's static cost (rows it may return, nested connections multiplied) exceeds the
    principal's budget; ``extensions`` carry ``cost``, ``budget`` and ``role``."""

    code = "QUERY_TOO_COSTLY"


class RateLimited(HubError):
    """Too many requests from one API key (or, without a key, one client address) in the window."""

    code = "RATE_LIMITED"


class TooManySubscriptions(HubError):
    """An API key already holds as many concurrent subscriptions as one hub process allows."""

    code = "TOO_MANY_SUBSCRIPTIONS"


class QueryTimeout(HubError):
    """A GraphQL request's SQL ran past ``HUB_REQUEST_TIMEOUT_SECONDS`` and was stopped."""

    code = "QUERY_TIMEOUT"


class WeakPassword(InvalidInput):
    """A new password the policy refuses (too short, too few kinds of character, the username);
    ``extensions.field`` names the field, the password itself is never repeated."""

    code = "WEAK_PASSWORD"


class BadCredentials(NotAuthenticated):
    """A sign-in with an unknown username or a wrong password: which of the two is not said."""

    code = "BAD_CREDENTIALS"


class AccountLocked(NotAuthenticated):
    """A sign-in to an account locked after too many wrong passwords; ``extensions.lockedUntil`` says until when."""

    code = "ACCOUNT_LOCKED"


class AccountDisabled(NotAuthenticated):
    """A sign-in, with the right password, to an account an administrator has disabled."""

    code = "ACCOUNT_DISABLED"


class SessionExpired(NotAuthenticated):
    """A session cookie whose session has ended (idle or absolute timeout, sign-out, account disabled)."""

    code = "SESSION_EXPIRED"


class UsernameTaken(Conflict):
    """A new user's username belongs to another user (in whichever region): choose another."""

    code = "USERNAME_TAKEN"


class CsrfRefused(Forbidden):
    """A cookie-authenticated request without the session's CSRF token, or from another site."""

    code = "CSRF_REFUSED"


class OperationNotRegistered(Forbidden):
    """A principal whose role runs in allow-list mode (``HUB_OPERATIONS_ALLOWLIST_ROLES``) sent an
    operation that is not in the registry of named operations, or one that was retired."""

    code = "OPERATION_NOT_REGISTERED"


class DuplicateOperation(Conflict):
    """A registered operation's name already stands for another document: replace it explicitly."""

    code = "DUPLICATE_OPERATION"


class PersistedQueryNotFound(HubError):
    """An automatic persisted query's hash that the hub neither registered nor remembers: the client
    sends the query again with its hash (Apollo clients do so by themselves)."""

    code = "PERSISTED_QUERY_NOT_FOUND"


class PersistedQueryHashMismatch(InvalidInput):
    """A persisted query sent with its text, whose SHA-256 is not the hash sent with it."""

    code = "PERSISTED_QUERY_HASH_MISMATCH"


class PersistedQueryVersionUnsupported(InvalidInput):
    """``extensions.persistedQuery.version`` other than 1, the one version of the protocol."""

    code = "PERSISTED_QUERY_VERSION_UNSUPPORTED"
