"""The same complaint through 12345 and the national platform: one clue, two channel records, and the
outcome written back to both. Also the helpers the clue-channel connector tests share (table counts
and snapshots of what a sync left)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.clue_channel.client import CST
from connectors.clue_channel.sandbox import live_complaint, live_epoch
from connectors.hotline12345 import sign_headers
from connectors.hotline12345.sandbox import DEMO_CREDENTIALS as HOTLINE
from connectors.hotline12345.sandbox import create_app as hotline_app
from connectors.national_platform.sandbox import DEMO_CREDENTIALS as PLATFORM
from connectors.national_platform.sandbox import create_app as platform_app
from connectors.sandbox.world import World
from connectors.testing import Clock, serve_asgi
from hub import models as m
from tests.connectors.conftest import SECRET, create_instance

INTERVAL = 20.0


# -- shared helpers ----------------------------------------------------------------------------------


def table_counts(url: str) -> dict[str, int]:
    from hub.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        out = {
            t.__tablename__: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (m.Clue, m.ChannelRecord, m.Quarantine)
        }
    engine.dispose()
    return out


def snapshot(url: str) -> tuple[list[tuple], dict[str, int]]:
    """Every channel record with its clue, rule and text, and the table counts: what a run leaves."""
    from hub.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                m.ChannelRecord.channel,
                m.ChannelRecord.source_id,
                m.Clue.clue_no,
                m.ChannelRecord.match_rule,
                m.ChannelRecord.respondent_name,
                m.ChannelRecord.summary,
            )
            .join(m.Clue, m.Clue.id == m.ChannelRecord.clue_id)
            .order_by(m.ChannelRecord.channel, m.ChannelRecord.source_id)
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows], table_counts(url)


def read_back_hotline(url: str, order: str, kind: str) -> list[dict[str, Any]]:
    resp = httpx.get(
        f"{url}/api/orders/{order}/{kind}", headers=sign_headers(HOTLINE["app_key"], HOTLINE["app_secret"])
    )
    resp.raise_for_status()
    return resp.json()["data"]


def read_back_platform(url: str, clue_id: str) -> list[dict[str, Any]]:
    token = httpx.post(f"{url}/auth/token", json=PLATFORM).json()["data"]["accessToken"]
    resp = httpx.get(f"{url}/api/clues/{clue_id}/feedback", headers={"Authorization": f"Bearer {token}"})
    resp.raise_for_status()
    return resp.json()["data"]


@pytest.mark.parametrize(
    "order",
    [("hotline12345", "national_platform"), ("national_platform", "hotline12345")],
    ids=["hotline-first", "platform-first"],
)
def test_one_complaint_through_two_channels_becomes_one_clue(
    world: World, seeded_db_url: str, sync_engine: Any, order: tuple[str, str]
) -> None:
    from hub.db import make_engine

    clock = Clock(live_epoch(world))
    apps = {
        "hotline12345": hotline_app(world=world, clock=clock, live_interval_seconds=INTERVAL, **HOTLINE),
        "national_platform": platform_app(world=world, clock=clock, live_interval_seconds=INTERVAL, **PLATFORM),
    }
    with serve_asgi(apps["hotline12345"]) as hotline_url, serve_asgi(apps["national_platform"]) as platform_url:
        configs = {
            "hotline12345": {"base_url": hotline_url, "app_key": HOTLINE["app_key"]},
            "national_platform": {"base_url": platform_url, "account": PLATFORM["account"]},
        }
        secrets = {
            "hotline12345": {"app_secret": HOTLINE["app_secret"]},
            "national_platform": {"password": PLATFORM["password"]},
        }
        instances = {
            kind: create_instance(
                seeded_db_url, kind=kind, config={**configs[kind], "page_size": 50}, secrets=secrets[kind]
            )
            for kind in order
        }
        engine = sync_engine(seeded_db_url)
        db = make_engine(seeded_db_url)
        with Session(db) as session:
            before = set(session.scalars(select(m.Clue.id)))

        # Given one new complaint from the same worker on both channels, within the same minute
        clock.advance(INTERVAL)
        at = live_epoch(world) + dt.timedelta(seconds=INTERVAL)
        by_phone, on_platform = (live_complaint(world, 1, at, channel=c) for c in ("hotline12345", "national_platform"))
        assert by_phone.phone == on_platform.phone and by_phone.respondent == on_platform.respondent

        # When both connectors sync
        for kind in order:
            result = engine.run(instances[kind])
            stream = "work_orders" if kind == "hotline12345" else "clues"
            assert (result.status, result.stats[stream].created) == ("succeeded", 1)

        # Then they are one new clue with one channel record per source; the second joined by phone
        with Session(db) as session:
            new = [c for c in session.scalars(select(m.Clue)) if c.id not in before]
            assert len(new) == 1
            clue = new[0]
            records = session.scalars(
                select(m.ChannelRecord).where(m.ChannelRecord.clue_id == clue.id).order_by(m.ChannelRecord.id)
            ).all()
            source_ids = {
                "hotline12345": f"{at.astimezone(CST):%Y%m%d}90000001",
                "national_platform": f"GZQX{at.astimezone(CST):%Y%m%d}90000001",
            }
            assert [(r.channel, r.source_id, r.match_rule) for r in records] == [
                (order[0], source_ids[order[0]], "new"),
                (order[1], source_ids[order[1]], "phone"),
            ]
            assert records[0].match_score is None and records[1].match_score >= 0.9
            assert (clue.complainant_phone, clue.respondent_name, clue.region_code) == (
                "+86" + by_phone.phone,  # stored in E.164
                by_phone.respondent["name"],
                by_phone.county,
            )
            # The channels name the project; the clue is linked to it (so it walks on to the payroll)
            assert session.get(m.Project, clue.project_id).name == by_phone.project["name"]
            clue_no, respondent = clue.clue_no, clue.respondent_name
        db.dispose()

        # When the county closes the clue through the workflow, Then the write-back to both channels is queued …
        from hub import workflow
        from hub.access import Principal
        from hub.crypto import Cipher
        from hub.db import session_scope
        from hub.writeback import deliver_due

        county = Principal(name="劳动监察大队", role="inspector", region_code=by_phone.county)
        conclusion = f"经查，{respondent}拖欠工资属实，已全部支付到位。"
        with session_scope(db) as session:
            clue = workflow.get_clue(session, clue_no=clue_no)
            workflow.accept(session, clue=clue, principal=county)
            workflow.close(
                session,
                clue=clue,
                principal=county,
                conclusion=conclusion,
                recovered_amount=on_platform.amount,
                workers_paid=on_platform.headcount,
            )
            closed = clue.closed_at
            assert {
                r.writeback_status
                for r in session.scalars(select(m.ChannelRecord).where(m.ChannelRecord.clue_id == clue.id))
            } == {"pending"}
        # … and delivered: both channels acknowledge
        report = deliver_due(db, cipher=Cipher(SECRET))
        assert (report.acknowledged, report.failed) == (2, 0)
        # When the complainant is called back, Then 12345 gets the visit and the platform 已回访
        with session_scope(db) as session:
            workflow.record_callback(
                session, clue=workflow.get_clue(session, clue_no=clue_no), principal=county, satisfaction="满意"
            )
        assert deliver_due(db, cipher=Cipher(SECRET)).acknowledged == 2
        with session_scope(db) as session:
            stored = session.scalars(select(m.ChannelRecord).where(m.ChannelRecord.clue_id == clue.id)).all()
            assert {(r.writeback_status, r.writeback_error) for r in stored} == {("acknowledged", None)}
            events = session.scalars(
                select(m.Event.type)
                .where(m.Event.entity_id == clue.id, m.Event.type.like("clue.writeback%"))
                .order_by(m.Event.id)
            ).all()
            assert events == ["clue.writeback_acknowledged"] * 4
        db.dispose()

        result = read_back_hotline(hotline_url, source_ids["hotline12345"], "result")[-1]
        [visit] = read_back_hotline(hotline_url, source_ids["hotline12345"], "visit")
        feedback = read_back_platform(platform_url, source_ids["national_platform"])
        assert [f["handleStatus"] for f in feedback] == ["已办结", "已回访"]
        feedback = feedback[-1]
    local = closed.astimezone(CST)
    amount = f"{on_platform.amount:.2f}"
    assert (result["hubClueNo"], result["handleResult"], result["recoveredAmount"], result["completeTime"]) == (
        clue_no,
        conclusion,
        amount,
        f"{local:%Y-%m-%d %H:%M:%S}",
    )
    assert (visit["satisfaction"], visit["visitIsSolved"]) == ("满意", "1")
    assert (
        feedback["localClueNo"],
        feedback["handleStatus"],
        feedback["recoverAmount"],
        feedback["paidNumber"],
        feedback["finishTime"],
    ) == (clue_no, "已回访", amount, on_platform.headcount, f"{local:%Y-%m-%d %H:%M:%S}")
