"""The demo's users (hub.demo.demo_users): one per role at sensible places, passwords shown once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from hub.db import make_engine, session_scope
from hub.demo import demo_users
from hub.models import Region, User
from hub.users import SignInPolicy, sign_in

pytestmark = pytest.mark.usefixtures("fast_hashes")
NOW = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)


def test_the_first_start_makes_one_user_per_role_whose_printed_password_signs_in(writable_demo) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(writable_demo.url)
    # Given the seeded city of 济宁 (370800), whose first county is 任城区 (370811), first town 许庄街道
    with session_scope(engine) as session:
        assert session.get(Region, "370811") is not None
        assert session.get(Region, "370811002") is not None
    # When the demo makes its users on the first start
    made = demo_users(engine, region="370800", create=True)
    # Then there is one per role of the console, where each belongs
    assert [(u.username, u.role, u.region_code) for u in made] == [
        ("demo-admin", "admin", "370800"),
        ("demo-inspector", "inspector", "370811"),
        ("demo-town", "town", "370811002"),
        ("demo-leader", "leader", "370800"),
        ("demo-zhujian", "sector", "370800"),
        ("demo-viewer", "viewer", "370800"),
    ]
    # And each printed password signs in, and is stored nowhere in plain text
    with session_scope(engine) as session:
        for u in made:
            assert u.password is not None
            outcome = sign_in(session, username=u.username, password=u.password, policy=SignInPolicy(), now=NOW)
            assert outcome.error is None, (u.username, outcome.error)
        hashes = list(session.execute(select(User.password_hash)).scalars())
        assert not any(u.password in h for u in made for h in hashes if u.password)
        assert session.execute(select(User.sector).where(User.username == "demo-zhujian")).scalar_one() == "住建"
    # And a later start lists them without passwords, making none
    again = demo_users(engine, region="370800", create=False)
    assert [(u.username, u.password) for u in again] == [(u.username, None) for u in made]
    engine.dispose()
