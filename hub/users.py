"""People who sign in: their accounts, passwords, sign-in sessions and lockout, each step audited.

等保 2.0 (GB/T 22239-2019, 8.1.4.1 身份鉴别) expects each person identified, passwords of some
complexity, a lockout after repeated failures, a session timeout, and every sign-in, failure, lockout
and sign-out in the audit log. So:

- Passwords are hashed with argon2id (argon2-cffi); a new password needs ``min_length`` characters,
  three of the four kinds (lower, upper, digit, symbol), and must not be or contain the username.
  A refusal names the field (``password``) and why, never the password.
- A sign-in with a wrong password says nothing about whether the user exists, and takes as long for
  an unknown username (a dummy hash is verified). After ``max_failures`` wrong passwords in a row the
  account is locked for ``lockout``; the refusal names when it unlocks (ACCOUNT_LOCKED).
- A session is a random token in an HttpOnly cookie; only its SHA-256 is stored. It ends after
  ``idle`` without a request, ``absolute`` after sign-in, at sign-out, or when the user is disabled or
  their password reset. Its CSRF token is an HMAC of the session's id under the hub's secret key:
  nothing more to store, and it cannot be derived without the key.

The account services act for a principal the policy table lets manage users (``Action.MANAGE_USERS``),
within its jurisdiction: an administrator sees, creates and changes only users at or below its own
region, and grants no unmask permission it lacks itself (as for API keys). The CLI acts as its
national admin principal; the GraphQL API as the signed-in administrator or the admin key. Sign-in results are returned, not raised: the failure's audit
row and counter must be committed with the refusal (the caller commits, then answers the error).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.access import ALL_REGIONS, NATIONAL, ROLES, SECTORS, Action, Principal, Role, audit, require
from hub.errors import (
    AccountDisabled,
    AccountLocked,
    BadCredentials,
    Conflict,
    Forbidden,
    HubError,
    InvalidInput,
    NotFound,
    SessionExpired,
    UsernameTaken,
    WeakPassword,
)
from hub.identifiers import IdentifierError, region_level, validate_region_code
from hub.models import User, UserSession, utcnow
from hub.workdays import CST

if TYPE_CHECKING:
    from hub.settings import Settings

#: argon2id with the library's defaults (RFC 9106's second recommendation: 64 MiB, 3 passes).
HASHER = PasswordHasher()
#: Verified for an unknown username, so that its refusal takes as long as a wrong password's (one
#: per hasher: a test may install a cheaper one).
_DUMMY_HASHES: dict[int, str] = {}


def _dummy_hash() -> str:
    hasher = HASHER
    found = _DUMMY_HASHES.get(id(hasher))
    if found is None:
        found = _DUMMY_HASHES[id(hasher)] = hasher.hash("not-a-password-of-anyone")
    return found


USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
#: The audit log's name for a person: ``user:<username>``.
USER_PREFIX = "user:"


@dataclass(frozen=True, slots=True)
class SignInPolicy:
    """The numbers of 等保's identification rules, from the settings (``from_settings``)."""

    min_length: int = 10
    max_failures: int = 5
    lockout: dt.timedelta = dt.timedelta(minutes=15)
    idle: dt.timedelta = dt.timedelta(minutes=30)
    absolute: dt.timedelta = dt.timedelta(hours=12)

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInPolicy:
        """The policy of ``settings`` (``HUB_PASSWORD_MIN_LENGTH``, ``HUB_SIGN_IN_*``, ``HUB_SESSION_*``)."""
        return cls(
            min_length=settings.password_min_length,
            max_failures=settings.sign_in_max_failures,
            lockout=dt.timedelta(minutes=settings.sign_in_lockout_minutes),
            idle=dt.timedelta(minutes=settings.session_idle_minutes),
            absolute=dt.timedelta(hours=settings.session_absolute_hours),
        )


# ----------------------------------------------------------------------------------------------
# Passwords


def check_password(password: str, *, username: str, min_length: int = 10) -> None:
    """Refuse (``WeakPassword``, field ``password``) a password the policy does not accept."""
    if len(password) < min_length:
        raise WeakPassword(
            f"password is too short: {len(password)} characters, at least {min_length}",
            field="password",
            reason="TOO_SHORT",
        )
    kinds = sum(
        any(test(c) for c in password)
        for test in (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum() and not c.isspace())
    )
    if kinds < 3:
        raise WeakPassword(
            f"password uses {kinds} of the 4 kinds of character: use at least 3 of lower case, upper case, "
            "digits and symbols",
            field="password",
            reason="TOO_SIMPLE",
        )
    if username and username.lower() in password.lower():
        raise WeakPassword("password must not contain the username", field="password", reason="CONTAINS_USERNAME")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (with its own random salt)."""
    return HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches the ``stored`` hash."""
    try:
        return HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password(length: int = 16) -> str:
    """A random password the policy accepts (all four kinds; no look-alike characters)."""
    alphabet = "".join(c for c in string.ascii_letters + string.digits if c not in "Il1O0o") + "-_.+"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        kinds = [any(t(c) for c in candidate) for t in (str.islower, str.isupper, str.isdigit)]
        if all(kinds) and any(c in "-_.+" for c in candidate):
            return candidate


# ----------------------------------------------------------------------------------------------
# Accounts


def _username(value: str) -> str:
    name = (value or "").strip().lower()
    if not USERNAME_PATTERN.match(name):
        raise InvalidInput(
            f"username {value!r} is not valid: 3 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            field="username",
        )
    return name


def _jurisdiction(role: str, region_code: str, sector: str | None) -> tuple[str, str | None]:
    """The checked region code and sector of a user of ``role``."""
    if region_code != NATIONAL:
        try:
            region_code = validate_region_code(region_code, field="regionCode")
        except IdentifierError as exc:
            raise InvalidInput(str(exc), field="regionCode") from exc
    if role == Role.TOWN and (region_code == NATIONAL or region_level(region_code) != "town"):
        raise InvalidInput(
            f"a town handler's region must be a town (9 digits, e.g. 370811002), got {region_code!r}",
            field="regionCode",
        )
    if role == Role.SECTOR:
        if sector not in SECTORS:
            raise InvalidInput(
                f"a sector user needs a sector, one of {', '.join(SECTORS)}; got {sector!r}", field="sector"
            )
    elif sector is not None:
        article = "an" if role[:1] in "aeiou" else "a"
        raise InvalidInput(f"only sector users have a sector; {article} {role} user got {sector!r}", field="sector")
    return region_code, sector


def _display_name(value: str) -> str:
    shown = (value or "").strip()
    if not shown or len(shown) > 64:
        raise InvalidInput(f"displayName must be 1 to 64 characters, got {len(shown)}", field="displayName")
    return shown


def _role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}: use one of {', '.join(ROLES)}", field="role")


def _grantable(principal: Principal, *, region_code: str, can_unmask: bool) -> None:
    """Refuse a user reaching further than the administrator who makes or changes it."""
    if not principal.covers(region_code):
        raise Forbidden(
            f"cannot give a user region {region_code}: outside your jurisdiction {principal.region_code}",
            field="regionCode",
            suggestion="choose a region at or below your own",
        )
    if can_unmask and not principal.can_unmask:
        raise Forbidden(
            "cannot give a user the unmask permission: you may not unmask personal data yourself",
            field="canUnmask",
            suggestion="leave the unmask permission off",
        )


def create_user(
    session: Session,
    *,
    principal: Principal,
    username: str,
    display_name: str,
    role: str,
    region_code: str,
    password: str,
    sector: str | None = None,
    can_unmask: bool = False,
    min_length: int = 10,
    clock: Callable[[], dt.datetime] = utcnow,
) -> User:
    """Create a user who signs in with ``password`` (checked by the policy, stored as a hash).

    ``InvalidInput`` naming the field for a bad username, display name, role, region or sector;
    ``WeakPassword`` for a password the policy refuses; ``UsernameTaken`` for a username taken.
    """
    require(principal, Action.MANAGE_USERS, what="manage users")
    name = _username(username)
    shown = _display_name(display_name)
    _role(role)
    region_code, sector = _jurisdiction(role, region_code, sector)
    _grantable(principal, region_code=region_code, can_unmask=can_unmask)
    check_password(password, username=name, min_length=min_length)
    # Taken anywhere, not only within the jurisdiction: usernames are unique across the hub
    taken = select(User.id).where(User.username == name).execution_options(**{ALL_REGIONS: True})
    if session.execute(taken).first() is not None:
        raise UsernameTaken(
            f"username {name!r} is taken",
            field="username",
            suggestion="choose another, or reset that user's password",
        )
    now = clock()
    user = User(
        username=name,
        display_name=shown,
        password_hash=hash_password(password),
        role=role,
        region_code=region_code,
        sector=sector,
        can_unmask=can_unmask,
        disabled=False,
        failed_attempts=0,
        password_changed_at=now,
        created_at=now,
    )
    session.add(user)
    session.flush()
    audit(
        session,
        principal=principal,
        action="user.create",
        entity_type="user",
        entity_id=user.id,
        region_code=region_code,
        detail={"username": name, "role": role, "sector": sector, "canUnmask": can_unmask},
        at=now,
    )
    return user


def list_users(session: Session, *, principal: Principal) -> list[User]:
    """Every user, disabled ones included, by username (the rows hold hashes, never passwords)."""
    require(principal, Action.MANAGE_USERS, what="manage users")
    return list(session.execute(select(User).order_by(User.username)).scalars())


def _find(session: Session, *, principal: Principal, username: str | None, user_id: int | None) -> User:
    """The user named ``username`` (or with id ``user_id``) within ``principal``'s jurisdiction."""
    if user_id is not None:
        user = session.get(User, user_id)
        what = f"with id {user_id}"
    else:
        wanted = (username or "").strip().lower()
        user = session.execute(select(User).where(User.username == wanted)).scalar_one_or_none()
        what = f"named {username!r}"
    # The session event hides other regions' users from a bound session; the CLI's is not bound
    if user is None or not principal.covers(user.region_code):
        where = "" if principal.region_code == NATIONAL else " within your jurisdiction"
        raise NotFound(f"no user {what}{where}", suggestion="list them with `hub user list`")
    return user


def update_user(
    session: Session,
    *,
    principal: Principal,
    user_id: int | None = None,
    username: str | None = None,
    display_name: str | None = None,
    role: str | None = None,
    region_code: str | None = None,
    sector: str | None = None,
    can_unmask: bool | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> User:
    """Change a user's display name, role, region, sector or unmask permission (``None``: unchanged).

    The sector goes with the role: a user who becomes a sector user names one, one who stops being
    one loses it. Each request reads the user anew, so a change holds from the user's next request.
    Audited with the names of the fields changed (``user.update``); ``Conflict`` when nothing would change.
    """
    require(principal, Action.MANAGE_USERS, what="manage users")
    user = _find(session, principal=principal, username=username, user_id=user_id)
    new_role = user.role if role is None else role
    _role(new_role)
    if sector is None and new_role == Role.SECTOR:
        sector = user.sector
    new_region, new_sector = _jurisdiction(new_role, user.region_code if region_code is None else region_code, sector)
    new_unmask = user.can_unmask if can_unmask is None else can_unmask
    new_name = user.display_name if display_name is None else _display_name(display_name)
    _grantable(principal, region_code=new_region, can_unmask=new_unmask and not user.can_unmask)
    if user.id == principal.user_id and (new_role != user.role or new_region != user.region_code):
        raise Forbidden(
            "you may not change your own role or region",
            field="role" if new_role != user.role else "regionCode",
            suggestion="ask another administrator",
        )
    wanted = {
        "displayName": new_name,
        "role": new_role,
        "regionCode": new_region,
        "sector": new_sector,
        "canUnmask": new_unmask,
    }
    now_ = {
        "displayName": user.display_name,
        "role": user.role,
        "regionCode": user.region_code,
        "sector": user.sector,
        "canUnmask": user.can_unmask,
    }
    changed = [name for name in wanted if wanted[name] != now_[name]]
    if not changed:
        raise Conflict(f"user {user.username!r} has these values already", suggestion="nothing to do")
    user.display_name, user.role, user.region_code = new_name, new_role, new_region
    user.sector, user.can_unmask = new_sector, new_unmask
    # A person's name is personal data: the audit row says that it changed, not to what
    detail: dict[str, object] = {"username": user.username, "changed": changed}
    detail.update({k: wanted[k] for k in changed if k != "displayName"})
    audit(
        session,
        principal=principal,
        action="user.update",
        entity_type="user",
        entity_id=user.id,
        region_code=new_region,
        detail=detail,
        at=clock(),
    )
    return user


def _end_sessions(session: Session, user: User, *, at: dt.datetime) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=at)
        .execution_options(synchronize_session=False)
    )


def set_disabled(
    session: Session,
    *,
    principal: Principal,
    username: str | None = None,
    user_id: int | None = None,
    disabled: bool,
    clock: Callable[[], dt.datetime] = utcnow,
) -> User:
    """Disable a user (every open session ends; sign-in refused) or enable them again; audited.

    ``Conflict`` when the user is already so; ``Forbidden`` for disabling yourself."""
    require(principal, Action.MANAGE_USERS, what="manage users")
    user = _find(session, principal=principal, username=username, user_id=user_id)
    if disabled and user.id == principal.user_id:
        raise Forbidden("you may not disable yourself", suggestion="ask another administrator")
    if user.disabled == disabled:
        state = "disabled" if disabled else "enabled"
        raise Conflict(f"user {user.username!r} is {state} already", suggestion="nothing to do")
    now = clock()
    user.disabled = disabled
    if disabled:
        _end_sessions(session, user, at=now)
    else:
        user.failed_attempts = 0
        user.locked_until = None
    audit(
        session,
        principal=principal,
        action="user.disable" if disabled else "user.enable",
        entity_type="user",
        entity_id=user.id,
        region_code=user.region_code,
        detail={"username": user.username},
        at=now,
    )
    return user


def reset_password(
    session: Session,
    *,
    principal: Principal,
    username: str | None = None,
    user_id: int | None = None,
    password: str,
    min_length: int = 10,
    clock: Callable[[], dt.datetime] = utcnow,
) -> User:
    """Give a user a new password (checked by the policy); their sessions end and a lockout lifts. Audited."""
    require(principal, Action.MANAGE_USERS, what="manage users")
    user = _find(session, principal=principal, username=username, user_id=user_id)
    check_password(password, username=user.username, min_length=min_length)
    now = clock()
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    user.failed_attempts = 0
    user.locked_until = None
    _end_sessions(session, user, at=now)
    audit(
        session,
        principal=principal,
        action="user.reset_password",
        entity_type="user",
        entity_id=user.id,
        region_code=user.region_code,
        detail={"username": user.username},
        at=now,
    )
    return user


# ----------------------------------------------------------------------------------------------
# Sign-in sessions


def session_id_of(token: str) -> str:
    """The stored id of a session cookie's token (SHA-256: the token is random and long)."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(secret_key: str, session_id: str) -> str:
    """The CSRF token of a session: an HMAC of its id under the hub's secret key."""
    key = hashlib.sha256(b"csrf:" + secret_key.encode()).digest()
    return hmac.new(key, session_id.encode(), hashlib.sha256).hexdigest()


def csrf_matches(secret_key: str, session_id: str, presented: str | None) -> bool:
    """Whether ``presented`` is the session's CSRF token (compared in constant time)."""
    return bool(presented) and hmac.compare_digest(csrf_token(secret_key, session_id), presented or "")


def principal_of_user(user: User, *, session_id: str | None = None) -> Principal:
    """The principal a user acts as: named ``user:<username>`` in the audit log."""
    return Principal(
        name=USER_PREFIX + user.username,
        role=user.role,
        region_code=user.region_code,
        can_unmask=user.can_unmask,
        sector=user.sector,
        user_id=user.id,
        session_id=session_id,
    )


@dataclass(frozen=True)
class SignIn:
    """What a sign-in came to: the user and the new session's token, or the refusal to answer."""

    user: User | None = None
    token: str | None = None
    error: HubError | None = None


def _locked(until: dt.datetime, *, policy: SignInPolicy) -> AccountLocked:
    """The refusal of a locked account, naming when it unlocks (China's time) and carrying it (UTC)."""
    local = until.astimezone(CST)
    return AccountLocked(
        f"账户已锁定：连续 {policy.max_failures} 次密码错误，{local:%Y-%m-%d %H:%M} 解锁 / account locked after "
        f"{policy.max_failures} wrong passwords until {local:%Y-%m-%d %H:%M} (UTC+8)",
        suggestion="wait until then, or ask an administrator to reset the password",
        lockedUntil=until.isoformat(),
    )


BAD_CREDENTIALS = "用户名或密码错误 / wrong username or password"


def sign_in(
    session: Session,
    *,
    username: str,
    password: str,
    policy: SignInPolicy,
    now: dt.datetime,
    ip: str | None = None,
    user_agent: str | None = None,
) -> SignIn:
    """Check a username and password and open a session; every outcome is audited under the username.

    The caller commits the session whatever the outcome (the failure's count and audit row must
    stay), then answers ``error`` when there is one.
    """
    typed = (username or "").strip().lower()[:64]
    who = Principal(name=USER_PREFIX + typed, role=Role.VIEWER, region_code=NATIONAL)
    user = session.execute(select(User).where(User.username == typed)).scalar_one_or_none() if typed else None

    def record(action: str, **detail: object) -> None:
        audit(
            session,
            principal=who,
            action=action,
            entity_type="user",
            entity_id=user.id if user else None,
            region_code=user.region_code if user else None,
            detail={"ip": ip, **detail},
            at=now,
        )

    if user is None:
        verify_password(_dummy_hash(), password)  # as long as a known user's refusal
        record("user.sign_in_failed", reason="unknown username")
        return SignIn(error=BadCredentials(BAD_CREDENTIALS))
    matches = verify_password(user.password_hash, password)
    if user.locked_until is not None and user.locked_until > now:
        record("user.sign_in_refused", reason="locked", lockedUntil=user.locked_until.isoformat())
        return SignIn(error=_locked(user.locked_until, policy=policy))
    if not matches:
        # One UPDATE counts the failure, so that concurrent wrong passwords all count.
        failures = session.execute(
            update(User)
            .where(User.id == user.id)
            .values(failed_attempts=User.failed_attempts + 1)
            .returning(User.failed_attempts)
            .execution_options(synchronize_session=False)
        ).scalar_one()
        if failures >= policy.max_failures:
            until = user.locked_until = now + policy.lockout
            user.failed_attempts = 0
            record("user.lock", failures=failures, lockedUntil=until.isoformat())
            return SignIn(error=_locked(until, policy=policy))
        user.failed_attempts = failures
        record("user.sign_in_failed", reason="wrong password", failures=failures)
        return SignIn(error=BadCredentials(BAD_CREDENTIALS))
    if user.disabled:
        record("user.sign_in_refused", reason="disabled")
        return SignIn(
            error=AccountDisabled(
                "账户已停用 / this account is disabled", suggestion="ask an administrator to enable it"
            )
        )
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_attempts = 0
    user.locked_until = None
    user.last_sign_in_at = now
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            id=session_id_of(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + policy.absolute,
            ip=(ip or None) and ip[:45],
            user_agent=(user_agent or None) and (user_agent or "")[:300],
        )
    )
    record("user.sign_in")
    return SignIn(user=user, token=token)


SESSION_ENDED = "会话已结束，请重新登录 / the session has ended: sign in again"


def authenticate_session(
    session: Session, *, token: str, policy: SignInPolicy, now: dt.datetime
) -> tuple[Principal, UserSession]:
    """The principal of a session cookie's token, and its session; ``SessionExpired`` when it has ended.

    Only reads (``touch_session`` records the request, at most once a minute)."""
    sid = session_id_of(token)
    row = session.execute(
        select(UserSession, User).join(User, User.id == UserSession.user_id).where(UserSession.id == sid)
    ).first()
    if row is None:
        raise SessionExpired(SESSION_ENDED, reason="unknown")
    user_session, user = row
    reason = None
    if user_session.revoked_at is not None:
        reason = "signed out"
    elif now >= user_session.expires_at:
        reason = "absolute timeout"
    elif now - user_session.last_seen_at >= policy.idle:
        reason = "idle timeout"
    elif user.disabled:
        reason = "disabled"
    if reason is not None:
        raise SessionExpired(SESSION_ENDED, reason=reason)
    return principal_of_user(user, session_id=sid), user_session


#: A session's ``last_seen_at`` is written at most this often (a read must rarely become a write).
TOUCH_EVERY = dt.timedelta(minutes=1)


def touch_session(session: Session, *, user_session: UserSession, now: dt.datetime) -> bool:
    """Record a request on ``user_session`` when the last record is older than ``TOUCH_EVERY``."""
    if now - user_session.last_seen_at < TOUCH_EVERY:
        return False
    result = session.execute(
        update(UserSession)
        .where(UserSession.id == user_session.id, UserSession.last_seen_at < now - TOUCH_EVERY)
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def sign_out(session: Session, *, token: str, now: dt.datetime) -> bool:
    """End the session of ``token``; audited under its user. ``False`` when it had ended already."""
    sid = session_id_of(token)
    row = session.execute(
        select(UserSession, User).join(User, User.id == UserSession.user_id).where(UserSession.id == sid)
    ).first()
    if row is None or row[0].revoked_at is not None:
        return False
    user_session, user = row
    user_session.revoked_at = now
    audit(
        session,
        principal=principal_of_user(user),
        action="user.sign_out",
        entity_type="user",
        entity_id=user.id,
        region_code=user.region_code,
        detail={},
        at=now,
    )
    return True
