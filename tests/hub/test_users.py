"""People who sign in (hub.users): the password policy, argon2 hashes, lockout on a clock the test
holds, session timeouts, and an audit row for every change, sign-in, failure, lockout and sign-out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.engine import Engine

import hub.users
from hub.access import NATIONAL, Action, Principal, Role, require
from hub.db import make_engine, session_scope
from hub.errors import Conflict, Forbidden, InvalidInput, NotFound, SessionExpired, WeakPassword
from hub.models import AuditLog, User, UserSession
from hub.users import (
    SignInPolicy,
    authenticate_session,
    check_password,
    create_user,
    csrf_matches,
    csrf_token,
    generate_password,
    principal_of_user,
    reset_password,
    session_id_of,
    set_disabled,
    sign_in,
    sign_out,
    touch_session,
    update_user,
)

ADMIN = Principal(name="cli:ops", role=Role.ADMIN, region_code=NATIONAL, can_unmask=True)  # as the CLI's
T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)  # 09:00 in 济宁
PASSWORD = "Qiansheng-2026"
POLICY = SignInPolicy(max_failures=3, lockout=dt.timedelta(minutes=15))
pytestmark = pytest.mark.usefixtures("fast_hashes")


@pytest.fixture
def engine(empty_db_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_db_url)
    yield engine
    engine.dispose()


def a_user(engine: Engine, username: str = "zhangsan", **kwargs: object) -> int:
    fields: dict[str, object] = {
        "display_name": "张三",
        "role": "inspector",
        "region_code": "370811",
        "password": PASSWORD,
        **kwargs,
    }
    with session_scope(engine) as session:
        return create_user(session, principal=ADMIN, username=username, clock=lambda: T0, **fields).id  # type: ignore[arg-type]


def try_sign_in(engine: Engine, password: str, *, at: dt.datetime, username: str = "zhangsan") -> object:
    with session_scope(engine) as session:
        outcome = sign_in(session, username=username, password=password, policy=POLICY, now=at, ip="10.0.0.7")
        return outcome.error or outcome.token


def audit_actions(engine: Engine) -> list[tuple[str, str, dict[str, object]]]:
    with session_scope(engine) as session:
        rows = session.execute(select(AuditLog).order_by(AuditLog.id)).scalars()
        return [(r.principal, r.action, dict(r.detail)) for r in rows]


# --- the password policy -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason", "message"),
    [
        ("Ab1-short", "TOO_SHORT", "password is too short: 9 characters, at least 10"),
        (
            "alllowercase1",
            "TOO_SIMPLE",
            "password uses 2 of the 4 kinds of character: use at least 3 of lower case, upper case, digits and symbols",
        ),
        ("Zhangsan-2026", "CONTAINS_USERNAME", "password must not contain the username"),
    ],
)
def test_a_weak_password_is_refused_naming_the_field_and_never_echoing_it(
    password: str, reason: str, message: str
) -> None:
    # When a password the policy refuses is checked for user zhangsan
    with pytest.raises(WeakPassword) as refused:
        check_password(password, username="zhangsan", min_length=10)
    # Then the refusal says why, names the field, and does not repeat the password
    assert refused.value.message == message
    assert refused.value.extensions() == {"code": "WEAK_PASSWORD", "field": "password", "reason": reason}
    assert password not in refused.value.message


def test_a_generated_password_passes_the_policy() -> None:
    for _ in range(20):
        check_password(generate_password(), username="zhangsan", min_length=16)


def test_a_password_is_stored_as_an_argon2id_hash(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the hub's own hasher (not the tests' cheap one)
    monkeypatch.setattr("hub.users.HASHER", PasswordHasher())
    # When a user is created
    user_id = a_user(engine)
    # Then only an argon2id hash is stored, and creating is audited under the admin
    with session_scope(engine) as session:
        stored = session.get(User, user_id)
        assert stored is not None
        assert stored.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert PASSWORD not in stored.password_hash
        assert stored.password_changed_at == T0
    assert audit_actions(engine) == [
        ("cli:ops", "user.create", {"username": "zhangsan", "role": "inspector", "sector": None, "canUnmask": False})
    ]


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        (
            {"role": "town", "region_code": "370811"},
            "regionCode",
            "a town handler's region must be a town (9 digits, e.g. 370811002), got '370811'",
        ),
        (
            {"role": "sector", "region_code": "370800"},
            "sector",
            "a sector user needs a sector, one of 住建, 交通, 水利; got None",
        ),
        (
            {"role": "inspector", "sector": "住建"},
            "sector",
            "only sector users have a sector; an inspector user got '住建'",
        ),
        (
            {"role": "boss"},
            "role",
            "unknown role 'boss': use one of admin, inspector, viewer, regional, town, leader, sector",
        ),
        (
            {"username": "张三"},
            "username",
            "username '张三' is not valid: 3 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        ),
    ],
)
def test_a_bad_account_field_is_refused_by_name(
    engine: Engine, kwargs: dict[str, object], field: str, message: str
) -> None:
    username = str(kwargs.pop("username", "zhangsan"))
    with pytest.raises(InvalidInput) as refused:
        a_user(engine, username, **kwargs)
    assert (refused.value.message, refused.value.extra["field"]) == (message, field)


def test_a_town_handler_takes_a_nine_digit_town_code_whether_or_not_the_region_is_loaded(engine: Engine) -> None:
    # Given no regions table rows at all (a fresh database), When a town handler of 任城区's 370811002 is made
    user_id = a_user(engine, "jiedao", role="town", region_code="370811002")
    # Then it stands
    with session_scope(engine) as session:
        assert session.get(User, user_id).region_code == "370811002"  # type: ignore[union-attr]


def test_a_taken_username_is_a_conflict_and_only_admins_manage_users(engine: Engine) -> None:
    a_user(engine)
    with pytest.raises(Conflict, match="^username 'zhangsan' is taken$"):
        a_user(engine, "ZhangSan")
    viewer = Principal(name="user:lisi", role=Role.VIEWER, region_code="370800", user_id=9)
    with session_scope(engine) as session, pytest.raises(Forbidden, match="^only administrators may manage users$"):
        create_user(
            session,
            principal=viewer,
            username="wangwu",
            display_name="王五",
            role="viewer",
            region_code="370800",
            password=PASSWORD,
        )


# --- sign-in and lockout -------------------------------------------------------------------------


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(engine: Engine) -> None:
    a_user(engine)
    wrong = try_sign_in(engine, "Wrong-password-1", at=T0)
    unknown = try_sign_in(engine, PASSWORD, at=T0, username="nobody")
    assert wrong.message == unknown.message == "用户名或密码错误 / wrong username or password"  # type: ignore[attr-defined]
    assert wrong.code == unknown.code == "BAD_CREDENTIALS"  # type: ignore[attr-defined]
    # And both are in the audit log under the name typed
    assert [a[:2] for a in audit_actions(engine)[1:]] == [
        ("user:zhangsan", "user.sign_in_failed"),
        ("user:nobody", "user.sign_in_failed"),
    ]


def test_after_n_wrong_passwords_the_account_is_locked_until_a_named_time_even_for_the_right_one(
    engine: Engine,
) -> None:
    # Given a user and a policy of 3 failures, 15 minutes
    a_user(engine)
    # When the password is wrong three times
    assert try_sign_in(engine, "Wrong-password-1", at=T0).code == "BAD_CREDENTIALS"  # type: ignore[attr-defined]
    assert try_sign_in(engine, "Wrong-password-2", at=T0 + dt.timedelta(seconds=5)).code == "BAD_CREDENTIALS"  # type: ignore[attr-defined]
    locked = try_sign_in(engine, "Wrong-password-3", at=T0 + dt.timedelta(seconds=10))
    # Then the account is locked, and the message names when it unlocks (in 济宁's time)
    assert locked.code == "ACCOUNT_LOCKED"  # type: ignore[attr-defined]
    assert locked.message == (  # type: ignore[attr-defined]
        "账户已锁定：连续 3 次密码错误，2026-11-20 09:15 解锁 / account locked after 3 wrong passwords until "
        "2026-11-20 09:15 (UTC+8)"
    )
    assert locked.extra["lockedUntil"] == "2026-11-20T01:15:10+00:00"  # type: ignore[attr-defined]
    # And the right password is refused until then, and accepted after
    assert try_sign_in(engine, PASSWORD, at=T0 + dt.timedelta(minutes=15)).code == "ACCOUNT_LOCKED"  # type: ignore[attr-defined]
    assert isinstance(try_sign_in(engine, PASSWORD, at=T0 + dt.timedelta(minutes=15, seconds=11)), str)
    # And the audit log tells the story under the username
    assert [a[1] for a in audit_actions(engine)] == [
        "user.create",
        "user.sign_in_failed",
        "user.sign_in_failed",
        "user.lock",
        "user.sign_in_refused",
        "user.sign_in",
    ]
    assert all(a[0] == "user:zhangsan" for a in audit_actions(engine)[1:])


def test_a_success_clears_the_failure_count(engine: Engine) -> None:
    a_user(engine)
    try_sign_in(engine, "Wrong-password-1", at=T0)
    try_sign_in(engine, "Wrong-password-2", at=T0)
    assert isinstance(try_sign_in(engine, PASSWORD, at=T0), str)
    # Two more wrong ones do not lock: the count started again
    try_sign_in(engine, "Wrong-password-3", at=T0)
    assert try_sign_in(engine, "Wrong-password-4", at=T0).code == "BAD_CREDENTIALS"  # type: ignore[attr-defined]


def test_a_disabled_user_is_refused_and_their_sessions_end(engine: Engine) -> None:
    a_user(engine)
    token = try_sign_in(engine, PASSWORD, at=T0)
    assert isinstance(token, str)
    with session_scope(engine) as session:
        set_disabled(session, principal=ADMIN, username="zhangsan", disabled=True, clock=lambda: T0)
    refused = try_sign_in(engine, PASSWORD, at=T0)
    assert (refused.code, refused.message) == ("ACCOUNT_DISABLED", "账户已停用 / this account is disabled")  # type: ignore[attr-defined]
    with session_scope(engine) as session, pytest.raises(SessionExpired) as ended:
        authenticate_session(session, token=token, policy=POLICY, now=T0)
    assert ended.value.extra["reason"] == "signed out"
    with session_scope(engine) as session, pytest.raises(Conflict, match="^user 'zhangsan' is disabled already$"):
        set_disabled(session, principal=ADMIN, username="zhangsan", disabled=True)


def test_a_password_reset_lifts_a_lockout_and_ends_sessions(engine: Engine) -> None:
    a_user(engine)
    token = try_sign_in(engine, PASSWORD, at=T0)
    for n in range(3):
        try_sign_in(engine, f"Wrong-password-{n}", at=T0)
    with session_scope(engine) as session:
        reset_password(session, principal=ADMIN, username="zhangsan", password="Xin-mima-2026!", clock=lambda: T0)
    assert isinstance(try_sign_in(engine, "Xin-mima-2026!", at=T0), str)
    with session_scope(engine) as session, pytest.raises(SessionExpired):
        authenticate_session(session, token=str(token), policy=POLICY, now=T0)
    assert ("cli:ops", "user.reset_password", {"username": "zhangsan"}) in audit_actions(engine)


# --- sessions ------------------------------------------------------------------------------------


def test_a_session_ends_after_the_idle_timeout_unless_used(engine: Engine) -> None:
    # Given a session opened at T0 (idle 30 minutes, absolute 12 hours)
    a_user(engine, can_unmask=True)
    token = str(try_sign_in(engine, PASSWORD, at=T0))
    # When it is used at 29 minutes, recorded, and used again 29 minutes later
    with session_scope(engine) as session:
        principal, user_session = authenticate_session(
            session, token=token, policy=POLICY, now=T0 + dt.timedelta(minutes=29)
        )
        assert touch_session(session, user_session=user_session, now=T0 + dt.timedelta(minutes=29))
    with session_scope(engine) as session:
        authenticate_session(session, token=token, policy=POLICY, now=T0 + dt.timedelta(minutes=58))
    # Then it stood, as the user's principal
    assert (principal.name, principal.role, principal.region_code, principal.can_unmask) == (
        "user:zhangsan",
        "inspector",
        "370811",
        True,
    )
    # And 30 minutes without a request end it
    with session_scope(engine) as session, pytest.raises(SessionExpired) as ended:
        authenticate_session(session, token=token, policy=POLICY, now=T0 + dt.timedelta(minutes=59))
    assert (ended.value.code, ended.value.extra["reason"]) == ("SESSION_EXPIRED", "idle timeout")


def test_a_session_ends_at_the_absolute_timeout_however_busy(engine: Engine) -> None:
    a_user(engine)
    token = str(try_sign_in(engine, PASSWORD, at=T0))
    at = T0
    while at < T0 + dt.timedelta(hours=12) - dt.timedelta(minutes=20):
        at += dt.timedelta(minutes=20)
        with session_scope(engine) as session:
            _, user_session = authenticate_session(session, token=token, policy=POLICY, now=at)
            touch_session(session, user_session=user_session, now=at)
    with session_scope(engine) as session, pytest.raises(SessionExpired) as ended:
        authenticate_session(session, token=token, policy=POLICY, now=T0 + dt.timedelta(hours=12))
    assert ended.value.extra["reason"] == "absolute timeout"


def test_sign_out_ends_the_session_and_is_audited(engine: Engine) -> None:
    a_user(engine)
    token = str(try_sign_in(engine, PASSWORD, at=T0))
    with session_scope(engine) as session:
        assert sign_out(session, token=token, now=T0 + dt.timedelta(minutes=1))
    with session_scope(engine) as session:
        assert not sign_out(session, token=token, now=T0 + dt.timedelta(minutes=2))
    with session_scope(engine) as session, pytest.raises(SessionExpired):
        authenticate_session(session, token=token, policy=POLICY, now=T0 + dt.timedelta(minutes=2))
    assert audit_actions(engine)[-1][:2] == ("user:zhangsan", "user.sign_out")


def test_the_token_is_stored_only_as_a_hash_and_the_csrf_token_needs_the_secret(engine: Engine) -> None:
    a_user(engine)
    token = str(try_sign_in(engine, PASSWORD, at=T0))
    sid = session_id_of(token)
    with session_scope(engine) as session:
        assert session.get(UserSession, sid) is not None and session.get(UserSession, token) is None
    assert csrf_matches("secret-a", sid, csrf_token("secret-a", sid))
    assert not csrf_matches("secret-b", sid, csrf_token("secret-a", sid))
    assert not csrf_matches("secret-a", sid, None)


def test_a_refusal_of_a_signed_in_person_names_a_user_not_a_key() -> None:
    leader = Principal(name="user:lingdao", role=Role.LEADER, region_code="370800", user_id=3)
    with pytest.raises(Forbidden) as refused:
        require(leader, Action.WORK_CLUES, what="accept clues")
    assert (refused.value.message, refused.value.suggestion) == (
        "a leader user may not accept clues",
        "use a town or inspector or admin user",
    )


def test_an_unknown_username_costs_a_password_verification_as_a_known_one_does(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a count of the argon2 verifications a sign-in makes
    a_user(engine)
    calls: list[str] = []
    real = hub.users.verify_password

    def counting(stored: str, password: str) -> bool:
        calls.append(stored[:9])
        return real(stored, password)

    monkeypatch.setattr(hub.users, "verify_password", counting)
    # When a known user and an unknown one sign in with a wrong password
    try_sign_in(engine, "Wrong-password-1", at=T0)
    try_sign_in(engine, "Wrong-password-1", at=T0, username="nobody")
    # Then each costs one argon2id verification (a dummy hash for the unknown one)
    assert calls == ["$argon2id", "$argon2id"]


# --- managing accounts within a jurisdiction ------------------------------------------------------


def test_an_admin_may_not_disable_itself_nor_change_its_own_role_or_region(engine: Engine) -> None:
    # Given an administrator of the city, signed in as itself
    admin_id = a_user(engine, "shiguan", role="admin", region_code="370800")
    with session_scope(engine) as session:
        me = principal_of_user(session.get(User, admin_id))  # type: ignore[arg-type]
        # When it disables itself, makes itself a leader, or moves itself to a county
        refusals = []
        for act in (
            lambda: set_disabled(session, principal=me, user_id=admin_id, disabled=True),
            lambda: update_user(session, principal=me, user_id=admin_id, role="leader"),
            lambda: update_user(session, principal=me, user_id=admin_id, region_code="370811"),
        ):
            with pytest.raises(Forbidden) as refused:
                act()
            refusals.append((refused.value.message, refused.value.extra.get("field")))
    # Then each is refused, naming the field; another administrator would do it
    assert refusals == [
        ("you may not disable yourself", None),
        ("you may not change your own role or region", "role"),
        ("you may not change your own role or region", "regionCode"),
    ]


def test_a_city_admin_finds_no_user_of_another_city_even_in_an_unbound_session(engine: Engine) -> None:
    # Given a user of 淄博 and an administrator of 济宁 (the CLI's sessions carry no principal)
    a_user(engine, "zibo", region_code="370300")
    city = Principal(name="apikey:city", role=Role.ADMIN, region_code="370800")
    with session_scope(engine) as session:
        # When the city's administrator asks for it, Then it is not found, and nothing says it exists
        with pytest.raises(NotFound, match=r"^no user named 'zibo' within your jurisdiction$"):
            reset_password(session, principal=city, username="zibo", password="Another-Pass-77")
        with pytest.raises(NotFound):
            update_user(session, principal=city, username="zibo", display_name="改名")
