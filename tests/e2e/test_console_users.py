"""The console's users (系统 › 用户) and signing in, in Debian's chromium against a real ``hub serve``.

An administrator creates a user in the console, who then signs in and sees its role's pages; a run of
wrong passwords locks an account with the clear 已锁定 message and the unlock time, and the audit log
has it; a session that has ended (its idle timeout crossed) brings the sign-in form over the page at
the next action, and a form half filled in survives it, its request sent once the user is back;
sign-out ends the session for good. The idle timeout is crossed honestly but fast: the session's last
request is moved back in the server's own database (the setting's minimum is a minute), and the
server's own check refuses it. Each test saves screenshots under its tmp dir.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from hub.db import make_engine, session_scope
from hub.models import User, UserSession
from hub.workdays import CST
from tests.e2e.conftest import DATA_DIRS, DATABASE_URLS, sign_in, unavailable
from tests.e2e.test_admin_console import Console, graphql

pytestmark = pytest.mark.e2e

CITY = "370800"  # 济宁市, the demo's city
PASSWORD = "Zhongshu-e2e-2026"
#: The demo hub's settings (HUB_SIGN_IN_MAX_FAILURES): wrong passwords before a lockout.
MAX_FAILURES = 5
CREATE_USER = """mutation($i: CreateUserInput!) { createUser(input: $i) { id username } }"""
USER_LOCK = """query($text: String) { users(text: $text, first: 1) { nodes { username lockedUntil } } }"""


@pytest.fixture
def console(browser, hub_server, tmp_path: Path) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """``console()``: a new browser context on the running hub, without a key (people sign in)."""
    base_url, _ = hub_server
    if httpx.get(f"{base_url}/admin/api/session", timeout=10).status_code == 404:
        unavailable("sign-in API not present")
    made: list[Console] = []

    def make() -> Console:
        made.append(Console(browser, base_url, None, tmp_path))
        return made[-1]

    yield make
    for c in made:
        c.close()


def make_user(base_url: str, key: str, username: str, role: str, region: str = CITY) -> None:
    """A user made through the API with the demo's admin key, as a system would."""
    resp = httpx.post(
        f"{base_url}/graphql",
        json={
            "query": CREATE_USER,
            "variables": {
                "i": {
                    "username": username,
                    "displayName": f"测试{username[-4:]}",
                    "role": role,
                    "regionCode": region,
                    "password": PASSWORD,
                }
            },
        },
        headers={"X-API-Key": key},
        timeout=30,
    )
    body = resp.json()
    assert not body.get("errors"), body


def signed_in(page: Any) -> None:
    page.wait_for_selector('[data-test="sign-out"]')
    page.locator(".hub-overlay").wait_for(state="detached")


def expire_sessions(base_url: str, username: str) -> int:
    """Move the last request of ``username``'s open sessions back past the idle timeout, in the
    running server's database; the number of sessions moved."""
    # The server's own database: its embedded SQLite file, or the PostgreSQL database the fixture gave it
    url = DATABASE_URLS.get(base_url) or f"sqlite:///{(DATA_DIRS[base_url] / 'hub.db').resolve()}"
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            user_id = s.execute(select(User.id).where(User.username == username)).scalar_one()
            long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
            moved = s.execute(
                update(UserSession)
                .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
                .values(last_seen_at=long_ago)
            ).rowcount
    finally:
        engine.dispose()
    return int(moved)


def refused_resources(errors: list[str]) -> list[str]:
    """The console errors that are not the browser's own note of a refused request (401 / 400)."""
    return [e for e in errors if not re.search(r"status of 40[01]", e)]


def admin_on_the_users(console: Any, demo_password: Any) -> tuple[Any, Any]:
    """The demo admin signed in, on the 系统 page with its users listed; its Console and page."""
    admin = console()
    page = admin.open()
    sign_in(page, "demo-admin", demo_password("demo-admin"))
    signed_in(page)
    page.click('[data-nav="system"]')
    page.wait_for_selector('[data-test="user-table"] .el-table__row')
    return admin, page


def test_an_admin_creates_a_user_in_the_console_who_signs_in_and_sees_its_roles_pages(
    hub_server, console, demo_password
) -> None:
    base_url, _ = hub_server
    admin, page = admin_on_the_users(console, demo_password)
    assert "demo-inspector" in page.inner_text('[data-test="user-table"]')

    # When the admin fills in the new user's form with a password the policy refuses
    page.click('[data-test="add-user"]')
    form = page.locator('.el-dialog:visible[data-test="user-form"]')
    form.wait_for()
    form.locator('[data-input="username"]').fill("demo-inspector")
    form.locator('[data-input="displayName"]').fill("赵六")
    form.locator('[data-input="role"]').click()
    page.locator(".el-select-dropdown__item:visible", has_text="领导 leader").click()
    form.locator('[data-input="regionCode"]').fill(CITY)
    form.locator('[data-input="password"]').fill("simplepassword")
    form.locator('[data-test="user-submit"]').click()
    # Then the form says why beside the password, before anything is sent
    password_error = form.locator('[data-field="password"] .el-form-item__error')
    password_error.wait_for()
    assert password_error.inner_text() == "密码：须含大写字母、小写字母、数字、符号中的至少三类，现为 1 类"
    # When the password is fixed but the username is taken
    form.locator('[data-input="password"]').fill(PASSWORD)
    form.locator('[data-input="confirm"]').fill(PASSWORD)
    form.locator('[data-test="user-submit"]').click()
    # Then the API's refusal shows beside the username
    username_error = form.locator('[data-field="username"] .el-form-item__error')
    username_error.wait_for()
    assert username_error.inner_text() == "用户名已被使用：username 'demo-inspector' is taken"
    # When the username is changed, the user is created
    form.locator('[data-input="username"]').fill("e2e-leader")
    form.locator('[data-test="user-submit"]').click()
    page.locator('[data-test="users-message"]', has_text="已创建用户 e2e-leader").wait_for()
    row = page.locator('[data-test="user-table"] .el-table__row', has_text="e2e-leader")
    assert re.search(r"e2e-leader\s+赵六\s+领导\s+370800", row.inner_text())
    admin.shot("users-page")
    # And the audit log names the admin who did it
    page.fill('[data-filter="action"]', "user.create")
    page.click('[data-test="audit-search"]')
    page.locator('[data-test="audit-table"] .el-table__row', has_text="e2e-leader").wait_for()
    assert "user:demo-admin" in page.locator('[data-test="audit-table"] .el-table__row').first.inner_text()

    # When the new user signs in, in another browser
    leader = console()
    page2 = leader.open()
    sign_in(page2, "e2e-leader", PASSWORD)
    signed_in(page2)
    # Then it is itself, on the dashboard, with a leader's pages and not an administrator's
    assert page2.inner_text('[data-test="user"]').startswith("赵六 · 领导 · 370800")
    assert page2.locator('[data-test="nav"] a').evaluate_all("as => as.map(a => a.dataset.nav)") == [
        "dashboard",
        "clues",
        "warnings",
    ]
    page2.wait_for_function("document.body.dataset.dashboardDrawn === '6'", timeout=60_000)
    leader.shot("new-leader-dashboard")
    # and the 系统 page, asked for by address, is refused by the API, said in Chinese
    page2.goto(f"{base_url}/admin#/system")
    assert page2.locator('[data-test="error"]').inner_text().startswith("无权执行此操作")
    assert admin.errors == [] and refused_resources(leader.errors) == []


def test_wrong_passwords_lock_the_account_with_its_unlock_time_and_the_audit_log_has_it(
    hub_server, console, demo_password
) -> None:
    base_url, key = hub_server
    make_user(base_url, key, "e2e-locked", "inspector", "370811")
    browser = console()
    page = browser.open()
    # When someone types wrong passwords, up to the limit
    for attempt in range(1, MAX_FAILURES + 1):
        status = sign_in(page, "e2e-locked", f"Wrong-password-{attempt}")
        assert status == 401
        if attempt < MAX_FAILURES:
            assert page.inner_text('[data-test="signin-error"]').startswith("用户名或密码错误：")
    # Then the last says the account is locked, and until when, in China time, as the hub has it
    text = page.inner_text('[data-test="signin-error"]')
    unlock = re.fullmatch(
        r"账号已锁定：连续多次密码错误，(\d{4}/\d{2}/\d{2} \d{2}:\d{2}) 解锁（北京时间）。如需提前解锁，请联系管理员重置密码。",
        text,
    )
    assert unlock, text
    locked_until = graphql(base_url, key, USER_LOCK, {"text": "e2e-locked"})["users"]["nodes"][0]["lockedUntil"]
    in_china = dt.datetime.fromisoformat(locked_until).astimezone(CST)
    assert unlock.group(1) == f"{in_china:%Y/%m/%d %H:%M}"
    browser.shot("sign-in-locked")
    # and the right password is refused too, until then
    assert sign_in(page, "e2e-locked", PASSWORD) == 401
    assert page.inner_text('[data-test="signin-error"]') == text

    # When the admin looks at the audit log and the users
    admin = console()
    page2 = admin.open()
    sign_in(page2, "demo-admin", demo_password("demo-admin"))
    signed_in(page2)
    page2.goto(f"{base_url}/admin#/system")
    page2.fill('[data-filter="principal"]', "user:e2e-locked")
    page2.click('[data-test="audit-search"]')
    page2.wait_for_function(
        """() => {
          const rows = [...document.querySelectorAll('[data-test="audit-table"] .el-table__row')];
          return rows.length > 0 && rows.every(r => r.innerText.includes('user:e2e-locked'));
        }"""
    )
    actions = page2.locator('[data-test="audit-table"] .el-table__row').evaluate_all(
        "rows => rows.map(r => r.children[2].innerText.trim())"
    )
    # Then the lockout is there under the user's name, after the failures, and the refusal after it
    assert actions == ["user.sign_in_refused", "user.lock"] + ["user.sign_in_failed"] * (MAX_FAILURES - 1)
    page2.fill('[data-filter="user-text"]', "e2e-locked")
    page2.click('[data-test="users-search"]')
    row = page2.locator('[data-test="user-table"] .el-table__row', has_text="e2e-locked")
    row.filter(has_text="已锁定至").wait_for()
    admin.shot("users-locked")
    # When the admin resets the password, the lock lifts and the user signs in with the new one
    page2.click('[data-reset="e2e-locked"]')
    reset = page2.locator('.el-dialog:visible[data-test="reset-form"]')
    reset.locator('[data-input="password"]').fill("Another-e2e-Pass-9")
    reset.locator('[data-input="confirm"]').fill("Another-e2e-Pass-9")
    reset.locator('[data-test="reset-submit"]').click()
    page2.locator('[data-test="users-message"]', has_text="已重置 e2e-locked 的密码").wait_for()
    sign_in(page, "e2e-locked", "Another-e2e-Pass-9")
    signed_in(page)


def test_a_session_past_its_idle_timeout_shows_the_sign_in_at_the_next_action(hub_server, console) -> None:
    base_url, key = hub_server
    make_user(base_url, key, "e2e-idle", "inspector", "370811")
    browser = console()
    page = browser.open("#/clues")
    sign_in(page, "e2e-idle", PASSWORD)
    signed_in(page)
    page.wait_for_selector('[data-test="clue-table"] .el-table__row')
    # Given the session idle for longer than the hub allows
    assert expire_sessions(base_url, "e2e-idle") == 1
    # When the user does the next thing
    page.click('[data-nav="warnings"]')
    # Then the sign-in form shows, saying the session expired, over the page
    overlay = page.locator('.hub-overlay [data-test="signin"]')
    overlay.wait_for()
    assert "会话已过期，请重新登录" in overlay.inner_text()
    browser.shot("session-expired")
    # and the server says why, to the cookie it still holds
    cookies = {c["name"]: c["value"] for c in browser.context.cookies()}
    resp = httpx.get(f"{base_url}/admin/api/session", cookies=cookies, timeout=10)
    assert (resp.status_code, resp.json()["errors"][0]["extensions"]["code"]) == (401, "SESSION_EXPIRED")
    # When the user signs in again, the page it asked for loads
    sign_in(page, "e2e-idle", PASSWORD)
    signed_in(page)
    page.wait_for_selector('[data-test="warning-table"]')
    assert refused_resources(browser.errors) == []


def test_a_session_that_ends_mid_form_keeps_the_form_and_sends_it_after_signing_in_again(hub_server, console) -> None:
    base_url, key = hub_server
    make_user(base_url, key, "e2e-formadmin", "admin")
    browser = console()
    page = browser.open("#/system")
    sign_in(page, "e2e-formadmin", PASSWORD)
    signed_in(page)
    page.wait_for_selector('[data-test="user-table"]')
    # Given a new user's form filled in
    page.click('[data-test="add-user"]')
    form = page.locator('.el-dialog:visible[data-test="user-form"]')
    typed = {"username": "e2e-midform", "displayName": "钱七", "regionCode": "370811"}
    for name, value in typed.items():
        form.locator(f'[data-input="{name}"]').fill(value)
    form.locator('[data-input="password"]').fill(PASSWORD)
    form.locator('[data-input="confirm"]').fill(PASSWORD)
    # and the session ended meanwhile (idle past the timeout)
    assert expire_sessions(base_url, "e2e-formadmin") == 1
    # When the admin submits it
    form.locator('[data-test="user-submit"]').click()
    # Then the sign-in shows over the page, and the form is still there, as typed
    page.locator('.hub-overlay [data-test="signin"]').wait_for()
    assert {name: form.locator(f'[data-input="{name}"]').input_value() for name in typed} == typed
    browser.shot("session-expired-mid-form")
    # When the admin signs in again
    sign_in(page, "e2e-formadmin", PASSWORD)
    # Then the form's request is sent, once, and the user exists with what was typed
    page.locator('[data-test="users-message"]', has_text="已创建用户 e2e-midform").wait_for()
    row = page.locator('[data-test="user-table"] .el-table__row', has_text="e2e-midform")
    assert re.search(r"e2e-midform\s+钱七\s+督查员\s+370811", row.inner_text())
    browser.shot("mid-form-sent-after-sign-in")
    assert refused_resources(browser.errors) == []


def test_sign_out_ends_the_session_and_its_old_cookie_is_refused(hub_server, console) -> None:
    base_url, key = hub_server
    make_user(base_url, key, "e2e-signout", "inspector", "370811")
    browser = console()
    page = browser.open("#/clues")
    sign_in(page, "e2e-signout", PASSWORD)
    signed_in(page)
    page.wait_for_selector('[data-test="clue-table"] .el-table__row')
    cookies = {c["name"]: c["value"] for c in browser.context.cookies()}
    csrf = page.evaluate("sessionStorage.getItem('hub.console.csrf')")
    assert cookies.get("hub_session") and csrf
    # When the user signs out
    page.click('[data-test="sign-out"]')
    page.wait_for_selector('[data-test="signin"]')
    # Then the browser has no session cookie, and the old one, replayed with its CSRF token, is refused
    assert "hub_session" not in {c["name"] for c in browser.context.cookies()}
    session = httpx.get(f"{base_url}/admin/api/session", cookies=cookies, timeout=10)
    assert session.status_code == 401
    resp = httpx.post(
        f"{base_url}/graphql",
        json={"query": "{ clues(first: 1) { totalCount } }"},
        cookies=cookies,
        headers={"X-CSRF-Token": csrf},
        timeout=10,
    )
    error = resp.json()["errors"][0]
    assert error["extensions"]["code"] == "SESSION_EXPIRED", error
    assert not (resp.json().get("data") or {}).get("clues")
    assert refused_resources(browser.errors) == []


def refused_as_too_short(dialog: Any, submit: str, rule: str, password: str, minimum: int) -> None:
    """Type ``password`` (one character short of ``minimum``) twice into a password dialog and submit it;
    assert the refusal beside the field and the rule under it both name ``minimum``."""
    dialog.locator('[data-input="password"]').fill(password)
    dialog.locator('[data-input="confirm"]').fill(password)
    dialog.locator(f'[data-test="{submit}"]').click()
    error = dialog.locator('[data-field="password"] .el-form-item__error')
    error.wait_for()
    assert error.inner_text() == f"密码：至少 {minimum} 位，现为 {minimum - 1} 位"
    assert dialog.locator(f'[data-test="{rule}"]').inner_text().startswith(f"密码至少 {minimum} 位，")


def test_a_password_shorter_than_the_hubs_minimum_is_refused_beside_the_field_with_the_hubs_number(
    hub_server, console, demo_password
) -> None:
    base_url, key = hub_server
    # Given the hub's password minimum as the API tells it, above the setting's floor of 8
    minimum = graphql(base_url, key, "{ me { passwordMinLength } }")["me"]["passwordMinLength"]
    assert minimum > 8
    admin, page = admin_on_the_users(console, demo_password)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.post_data or "") if r.url.endswith("/graphql") else None)

    # When the admin submits a new user whose password is one character short of it, good by every other rule
    page.click('[data-test="add-user"]')
    form = page.locator('.el-dialog:visible[data-test="user-form"]')
    form.wait_for()
    short = "Ab3-" + "x" * (minimum - 5)
    form.locator('[data-input="username"]').fill("e2e-short")
    form.locator('[data-input="displayName"]').fill("钱七")
    form.locator('[data-input="regionCode"]').fill(CITY)
    # Then the form refuses it beside the password, with the hub's number, before anything is sent
    refused_as_too_short(form, "user-submit", "password-rule", short, minimum)
    assert not [body for body in sent if "createUser" in body]
    admin.shot("users-password-too-short")
    # And the reset dialog holds to the same number
    form.locator(".el-dialog__footer button").first.click()  # 取消
    form.wait_for(state="hidden")
    page.click('[data-reset="demo-inspector"]')
    reset = page.locator('.el-dialog:visible[data-test="reset-form"]')
    refused_as_too_short(reset, "reset-submit", "reset-rule", short, minimum)
    assert not [body for body in sent if "resetUserPassword" in body]
    admin.shot("users-reset-too-short")
    assert admin.errors == []
