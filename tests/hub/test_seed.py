"""Tests for hub.seed: valid identifiers, determinism, the special situations, region scoping, loaders."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine, make_url

from hub import deadlines
from hub.crypto import Cipher
from hub.db import make_engine
from hub.identifiers import (
    mask_bank_card,
    mask_id_number,
    normalise_phone,
    org_code_check_char,
    validate_bank_card,
    validate_bank_code,
    validate_id_number,
    validate_permit_no,
    validate_uscc,
)
from hub.migrate import upgrade
from hub.models import (
    AccountExpense,
    Attendance,
    BlacklistEntry,
    CaseAction,
    ChannelRecord,
    Clue,
    CreditRating,
    Enterprise,
    Event,
    GuaranteeDeposit,
    LaborCostAllocation,
    OutputValue,
    PayrollRecord,
    Penalty,
    ProgressPayment,
    Project,
    ProjectContract,
    RawRecord,
    Region,
    SiteMovement,
    Team,
    WageAccount,
    Warning,
    Worker,
)
from hub.seed import (
    SeedError,
    SeedSummary,
    canonical_json,
    load_regions,
    seed_database,
    table_counts,
)
from hub.seed._base import HOTLINE_FIELDS, PLATFORM_FIELDS, SENSITIVE_PAYLOAD_FIELDS
from hub.settings import get_settings
from hub.workdays import add_working_days

TODAY = dt.date(2026, 11, 21)
SEED = 20261121
CIPHER = Cipher("seed-test-secret")
REGION_SCOPED = (Project, Worker, PayrollRecord, WageAccount, LaborCostAllocation, GuaranteeDeposit, Clue,
                 ChannelRecord, CaseAction, Warning, RawRecord, Event, Penalty, BlacklistEntry, ProjectContract,
                 ProgressPayment, AccountExpense, OutputValue,
                 Team, SiteMovement, Attendance)


def _seed_sqlite(
    path: Path, *, seed: int = SEED, progress: Any = None, batch_size: int = 20_000
) -> tuple[Engine, SeedSummary]:
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    summary = seed_database(
        engine, scale="tiny", seed=seed, today=TODAY, cipher=CIPHER, progress=progress, batch_size=batch_size
    )
    return engine, summary


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, SeedSummary]]:
    calls: list[tuple[str, int, int]] = []
    engine, summary = _seed_sqlite(tmp_path_factory.mktemp("seed") / "hub.db", progress=lambda *a: calls.append(a))
    summary.progress_calls = calls  # type: ignore[attr-defined]
    yield engine, summary
    engine.dispose()


def _all(engine: Engine, stmt: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(stmt))


def _norm(v: Any) -> Any:
    if isinstance(v, (Decimal, float)):
        return round(float(v), 2)
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.UTC).replace(tzinfo=None) if v.tzinfo else v
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items()}
    return v


def _decrypt_payload(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: CIPHER.decrypt(v["$enc"]) if isinstance(v, dict) and "$enc" in v else v for k, v in payload.items()}


def fingerprint(engine: Engine) -> dict[str, Any]:
    """Every seeded table, row by row, with ciphertexts replaced by their plaintext."""
    out: dict[str, Any] = {}
    for model in (
        Enterprise,
        Project,
        WageAccount,
        LaborCostAllocation,
        Worker,
        PayrollRecord,
        ProjectContract,
        ProgressPayment,
        AccountExpense,
        OutputValue,
        Team,
        SiteMovement,
        Attendance,
        GuaranteeDeposit,
        RawRecord,
        Clue,
        ChannelRecord,
        CaseAction,
        Warning,
        CreditRating,
        Event,
    ):
        table = model.__table__
        rows = []
        for row in _all(engine, select(table).order_by(table.c.id)):
            d = {k: _norm(v) for k, v in row._mapping.items()}
            for k in [k for k in d if k.endswith("_enc")]:
                d[k] = CIPHER.decrypt(d[k]) if d[k] else None
            if "payload" in d and model is RawRecord:
                d["payload"] = _decrypt_payload(d["payload"])
            rows.append(d)
        out[table.name] = rows
    return out


# --- identifiers ------------------------------------------------------------------------------------


def test_every_identifier_validates(seeded: tuple[Engine, SeedSummary]) -> None:
    engine, _ = seeded
    for uscc, region in _all(engine, select(Enterprise.uscc, Enterprise.region_code)):
        assert validate_uscc(uscc) == uscc  # both checks: GB 32100-2015 and the GB 11714-1997 organisation code
        assert org_code_check_char(uscc[8:16]) == uscc[16]
        assert uscc[2:8] == region
    for permit, region, issued in _all(engine, select(Project.permit_no, Project.region_code, Project.permit_date)):
        if permit:
            assert validate_permit_no(permit) == permit
            assert permit[:6] == region and permit[6:14] == f"{issued:%Y%m%d}"
    workers = _all(engine, select(Worker))
    assert workers
    for w in workers:
        id_number = CIPHER.decrypt(w.id_number_enc)
        assert validate_id_number(id_number) == id_number
        assert id_number[6:14] == f"{w.birth_date:%Y%m%d}"
        assert 1960 <= w.birth_date.year <= 2004
        assert w.id_number_hash == CIPHER.lookup_hash(id_number)
        assert w.id_number_masked == mask_id_number(id_number)
        card = CIPHER.decrypt(w.bank_card_enc)
        assert validate_bank_card(card) == card
        assert w.bank_card_masked == mask_bank_card(card)
        assert validate_bank_code(w.bank_code) == w.bank_code
        assert normalise_phone(w.phone) == w.phone
    for acc in _all(engine, select(WageAccount)):
        assert validate_bank_code(acc.bank_code)
        assert acc.salary_account_name.endswith("农民工工资专用账户")
    for enc, h, masked, phone in _all(
        engine,
        select(Clue.complainant_id_enc, Clue.complainant_id_hash, Clue.complainant_id_masked, Clue.complainant_phone),
    ):
        if enc:
            plain = CIPHER.decrypt(enc)
            assert validate_id_number(plain) and h == CIPHER.lookup_hash(plain) and masked == mask_id_number(plain)
        if phone:
            assert normalise_phone(phone) == phone


def test_payroll_amounts_and_pay_status(seeded: tuple[Engine, SeedSummary]) -> None:
    engine, summary = seeded
    # (the project paying below the minimum wage and too much to one worker is the W07 / W08 situation)
    odd = summary.highlights["warning_situations"]["low_wages"]["project_id"]
    rows = _all(engine, select(PayrollRecord.total_pay_amount, PayrollRecord.actual_amount, PayrollRecord.pay_status,
                               PayrollRecord.balance_date).where(PayrollRecord.project_id != odd))
    assert len(rows) > 3000
    for total, actual, status, balance_date in rows:
        assert 3000 <= total <= 12000 and 0 < actual <= total
        assert status in (0, 20, 30, 40)
        assert (balance_date is None) == (status == 0)
    statuses = [r[2] for r in rows]
    assert statuses.count(20) / len(statuses) > 0.9


# --- determinism --------------------------------------------------------------------------------------


def test_same_seed_same_rows_other_seed_other_rows(seeded: tuple[Engine, SeedSummary], tmp_path: Path) -> None:
    engine, summary = seeded
    # small batches: many transactions through the writer thread must give the same rows
    again, again_summary = _seed_sqlite(tmp_path / "again.db", batch_size=700)
    other, _ = _seed_sqlite(tmp_path / "other.db", seed=SEED + 1)
    try:
        first, second = fingerprint(engine), fingerprint(again)
        for table in first:
            assert first[table] == second[table], table
        assert again_summary.highlights == summary.highlights
        assert again_summary.counts == summary.counts
        third = fingerprint(other)
        assert [p["project_code"] for p in third["projects"]] != [p["project_code"] for p in first["projects"]]
        assert sum(p["actual_amount"] for p in third["payroll_records"]) != sum(
            p["actual_amount"] for p in first["payroll_records"]
        )
    finally:
        again.dispose()
        other.dispose()


# --- the special situations -----------------------------------------------------------------------------


def _months_before(d: dt.date, n: int) -> dt.date:
    m = d.year * 12 + d.month - 1 - n
    return dt.date(m // 12, m % 12 + 1, min(d.day, 28))


def test_stopped_labour_cost_project(seeded: tuple[Engine, SeedSummary]) -> None:
    engine, summary = seeded
    h = summary.highlights["stopped_allocation_project"]
    pid = h["project_id"]
    three_months_ago = _months_before(TODAY, 3)
    bills = [
        r[0] for r in _all(engine, select(LaborCostAllocation.bill_date).where(LaborCostAllocation.project_id == pid))
    ]
    assert bills and max(bills) < three_months_ago
    assert _all(engine, select(func.count()).select_from(Worker).where(Worker.project_id == pid))[0][0] >= 10
    recent = _all(
        engine,
        select(PayrollRecord.pay_status, func.count())
        .where(PayrollRecord.project_id == pid, PayrollRecord.pay_month >= f"{three_months_ago:%Y-%m}")
        .group_by(PayrollRecord.pay_status),
    )
    assert dict(recent).get(0, 0) > 0 and set(dict(recent)) == {0}
    # The engine (not the generator) raised W03 on it, red for the second month running, and W05 and W10
    warnings = _all(engine, select(Warning).where(Warning.project_id == pid))
    assert {w.rule_code for w in warnings} == {"W03", "W05", "W10"}
    assert any(w.level == "red" for w in warnings if w.rule_code == "W03")
    # its red warnings, raised a week earlier and left unhandled, escalated through the matcher: they joined
    # the complaint its workers brought to the window (same project), one channel record each
    escalated = [w for w in warnings if w.status == "escalated"]
    clue_id = summary.highlights["escalated_warning_clue"]["clue_id"]
    assert clue_id == summary.highlights["stopped_project_complaint"]["clue_id"]
    assert {w.rule_code for w in escalated} == {"W03", "W05"} and {w.clue_id for w in escalated} == {clue_id}
    records = _all(engine, select(ChannelRecord.channel, ChannelRecord.source_id, ChannelRecord.match_rule)
                   .where(ChannelRecord.clue_id == clue_id).order_by(ChannelRecord.id))
    assert records[0][0] == "walk_in" and records[0][2] == "new"
    assert sorted(r[:2] for r in records[1:]) == sorted(("warning", f"YJ-{w.rule_code}-{w.id}") for w in escalated)
    assert all(r[2] != "new" for r in records[1:])


def test_two_channel_clue(seeded: tuple[Engine, SeedSummary]) -> None:
    engine, summary = seeded
    h = summary.highlights["multi_channel_clue"]
    records = _all(
        engine, select(ChannelRecord).where(ChannelRecord.clue_id == h["clue_id"]).order_by(ChannelRecord.id)
    )
    assert len(records) == 2
    assert {r.channel for r in records} == {"hotline12345", "national_platform"}
    assert len({r.source_id for r in records}) == 2
    assert records[0].complainant_phone == records[1].complainant_phone == h["complainant_phone"]
    assert records[0].respondent_name != records[1].respondent_name
    assert records[1].respondent_name in records[0].respondent_name  # abbreviation of the full name
    assert records[0].match_rule == "new" and records[1].match_rule == "phone" and 0 < records[1].match_score <= 1
    expected = {"hotline12345": set(HOTLINE_FIELDS), "national_platform": set(PLATFORM_FIELDS)}
    for r in records:
        raw = _all(engine, select(RawRecord).where(RawRecord.id == r.raw_record_id))[0]
        assert set(raw.payload) == expected[r.channel]
        assert raw.source == r.channel and raw.source_key == r.source_id
        plain = _decrypt_payload(raw.payload)
        assert raw.payload_hash == hashlib.sha256(canonical_json(plain).encode()).hexdigest()
        for key in SENSITIVE_PAYLOAD_FIELDS:
            if raw.payload.get(key):
                assert isinstance(raw.payload[key], dict)  # personal data encrypted at rest
        phone = plain.get("callerPhone") or plain.get("complainantPhone")
        assert normalise_phone(phone) == h["complainant_phone"]
    clue = _all(engine, select(Clue).where(Clue.id == h["clue_id"]))[0]
    assert clue.project_id == h["project_id"]
    paid = _all(
        engine,
        select(func.count())
        .select_from(PayrollRecord)
        .where(PayrollRecord.project_id == clue.project_id, PayrollRecord.pay_status == 20),
    )[0][0]
    assert paid > 0


def test_repeat_enterprise_is_c_with_many_recent_clues(seeded: tuple[Engine, SeedSummary]) -> None:
    engine, summary = seeded
    h = summary.highlights["repeat_enterprise"]
    ent = _all(engine, select(Enterprise).where(Enterprise.id == h["enterprise_id"]))[0]
    assert ent.credit_level == "C" and ent.uscc == h["uscc"]
    cst = dt.timezone(dt.timedelta(hours=8))  # "the last 90 days" are local (China Standard Time) days
    since = dt.datetime.combine(TODAY - dt.timedelta(days=89), dt.time(), cst).astimezone(dt.UTC)
    # the generated clues (a warning the engine escalated after seeding may name the enterprise too)
    escalated = select(ChannelRecord.clue_id).where(ChannelRecord.channel == "warning")
    nos = {r[0] for r in _all(engine, select(Clue.clue_no).where(Clue.enterprise_id == ent.id, Clue.received_at >= since,
                                                                 Clue.id.not_in(escalated)))}
    assert len(nos) >= 10
    # The rating is computed from the seeded evidence (hub.credit), not written by the generator: this
    # year's three penalties make it C, and it cites the clues closed against it this year with arrears found.
    rating = _all(engine, select(CreditRating).where(CreditRating.enterprise_id == ent.id).order_by(CreditRating.year.desc()))[0]
    assert (rating.year, rating.level) == (TODAY.year, "C")
    penalties = [e for e in rating.evidence if e["type"] == "penalty"]
    assert len(penalties) == 3 and {e["weight"] for e in penalties} == {"decisive"}
    year_start = dt.datetime(TODAY.year, 1, 1, tzinfo=cst)
    found = {r[0] for r in _all(engine, select(Clue.clue_no).where(
        Clue.enterprise_id == ent.id, Clue.status.in_(["closed", "called_back"]), Clue.closed_at >= year_start,
        (Clue.recovered_amount > 0) | (Clue.workers_paid > 0)))}
    assert found and {e["clue_no"] for e in rating.evidence if e["type"] == "clue"} == found
    assert h["clues_last_90_days"] == len(nos) and set(h["clue_nos"]) == nos
    assert _all(engine, select(Warning.level).where(Warning.rule_code == "W15", Warning.enterprise_id == ent.id)) == [("red",)]


def test_group_and_large_cases_are_red(seeded: tuple[Engine, SeedSummary]) -> None:
    engine, summary = seeded
    group = _all(engine, select(Clue).where(Clue.id == summary.highlights["group_case_clue"]["clue_id"]))[0]
    large = _all(engine, select(Clue).where(Clue.id == summary.highlights["large_amount_clue"]["clue_id"]))[0]
    assert group.headcount >= 10 and group.colour == "red"
    assert large.amount >= 500000 and large.colour == "red"
    for clue in (group, large):
        actions = [
            a.action
            for a in _all(engine, select(CaseAction).where(CaseAction.clue_id == clue.id).order_by(CaseAction.id))
        ]
        assert actions[:3] == ["receive", "dispatch", "accept"] and "supervise" in actions


def test_guarantee_letters_expired_and_expiring(seeded: tuple[Engine, SeedSummary]) -> None:
    engine, summary = seeded
    h = summary.highlights
    expired = _all(engine, select(GuaranteeDeposit).where(GuaranteeDeposit.id == h["expired_guarantee"]["deposit_id"]))[
        0
    ]
    expiring = _all(
        engine, select(GuaranteeDeposit).where(GuaranteeDeposit.id == h["expiring_guarantee"]["deposit_id"])
    )[0]
    assert expired.kind == expiring.kind == "bank_guarantee"
    assert expired.valid_to < TODAY <= expiring.valid_to <= TODAY + dt.timedelta(days=30)
    levels = dict(_all(engine, select(Warning.subject_id, Warning.level).where(Warning.rule_code == "W12")))
    assert levels[expired.id] == "red" and levels[expiring.id] == "blue"


# --- coherence ----------------------------------------------------------------------------------------------


def test_rows_stay_in_the_region(seeded: tuple[Engine, SeedSummary]) -> None:
    engine, _ = seeded
    counties = {r[0] for r in _all(engine, select(Project.region_code).distinct())}
    assert len(counties) == 3
    assert all(c.startswith("3708") for c in counties)
    allowed = counties | {"370800"}
    for model in REGION_SCOPED:
        stmt = select(model.region_code).distinct()
        if model is Event:  # credit events are about an enterprise, in its region (checked below)
            stmt = stmt.where(Event.entity_type != "enterprise")
        codes = {r[0] for r in _all(engine, stmt)}
        assert codes and codes <= allowed, (model.__tablename__, codes - allowed)
    # Ratings (computed by hub.credit, not seeded) and their events follow the enterprise, which may be
    # registered outside the seeded region, as Enterprise rows may.
    assert _all(engine, select(CreditRating.id).join(Enterprise, Enterprise.id == CreditRating.enterprise_id).where(
        CreditRating.region_code != Enterprise.region_code)) == []
    assert _all(engine, select(Event.id).join(Enterprise, Enterprise.id == Event.entity_id).where(
        Event.entity_type == "enterprise", Event.region_code != Enterprise.region_code)) == []
    regions = {r[0] for r in _all(engine, select(Region.code))}
    assert {r[0] for r in _all(engine, select(Enterprise.region_code))} <= regions


def test_clue_workflow_coherence(seeded: tuple[Engine, SeedSummary]) -> None:
    engine, summary = seeded
    clues = _all(engine, select(Clue).order_by(Clue.id))
    # the generated clues, and those the warnings engine opened when it escalated after seeding (channel 预警)
    from_warnings = {r[0] for r in _all(engine, select(ChannelRecord.clue_id).where(
        ChannelRecord.channel == "warning", ChannelRecord.match_rule == "new"))}
    assert len(clues) == summary.counts["clues"] + len(from_warnings) >= 100
    received = [c.received_at for c in clues]
    assert received == sorted(received)  # ids follow the time of receipt
    events = _all(engine, select(Event).where(Event.entity_type == "clue", Event.type == "clue.created").order_by(Event.id))
    assert [e.entity_id for e in events] == [c.id for c in clues]
    # The rest come from judging the seeded world at the end: the credit ratings (hub.credit) and the warnings
    # (hub.rules).
    others = {e.type for e in _all(engine, select(Event).where(Event.entity_type != "clue"))}
    assert "credit.level_changed" in others
    assert all(t.startswith(("credit.", "warning.")) for t in others), others
    assert {c.status for c in clues} >= {"dispatched", "in_progress", "closed", "called_back", "returned"}
    complaint_days = get_settings().close_within_working_days  # 12345 投诉: "about 13" working days
    for c in clues:
        local_day = c.received_at.replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
        # Every clue's deadline is the statute table's (hub.deadlines) for its channel, request type and stage
        clue = Clue(**{k: getattr(c, k) for k in (
            "channel", "request_type", "status", "received_at", "accepted_at", "upstream_deadline", "extended_days",
            "reopened_at")})
        assert (c.deadline, c.deadline_provisional) == deadlines.current(clue), c.clue_no
        assert (c.accepted_at is not None) == (c.status in ("in_progress", "closed", "called_back")), c.clue_no
        if c.channel == "hotline12345":
            # 12345: 签收 within 1 working day, then the order's own deadlineDate: 5 (求助) or ~13 (投诉) days
            assert c.request_type in ("complaint", "help")
            assert c.upstream_deadline == add_working_days(local_day, 5 if c.request_type == "help" else complaint_days)
            if c.accepted_at is None:
                assert c.deadline == add_working_days(local_day, 1)
        else:
            # every other channel (and a clue the engine escalated, channel 预警): 受理 within 5, 调查 within 60
            assert c.request_type is None and c.upstream_deadline is None
            accepted_day = c.accepted_at and c.accepted_at.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
            assert c.deadline == (add_working_days(accepted_day, 60) if accepted_day else add_working_days(local_day, 5))
        if c.status in ("closed", "called_back"):
            assert c.closed_at and c.conclusion and c.recovered_amount is not None and c.workers_paid is not None
    # The demo's supervision colours on those deadlines: some of each among the open clues
    assert {c.colour for c in clues if c.status in ("received", "dispatched", "in_progress", "returned")} >= {
        "blue", "yellow", "red"}
    counts = dict(_all(engine, select(ChannelRecord.clue_id, func.count()).group_by(ChannelRecord.clue_id)))
    assert set(counts) == {c.id for c in clues}
    actions = _all(engine, select(CaseAction.clue_id, CaseAction.to_status).order_by(CaseAction.id))
    last = {cid: status for cid, status in actions}
    assert all(last[c.id] == c.status for c in clues)


def test_the_first_countys_towns_work_part_of_its_clues(seeded: tuple[Engine, SeedSummary]) -> None:
    engine, summary = seeded
    # Given the clues the county 任城区 (370811) handed down to its towns (分办至镇街)
    handed = _all(engine, select(CaseAction.clue_id, CaseAction.to_region_code).where(
        CaseAction.action == "dispatch", CaseAction.from_region_code == "370811"))
    towns = {r[0] for r in _all(engine, select(Region.code).where(Region.parent_code == "370811", Region.level == "town"))}
    # Then there are some, each to a town of the county in the region list
    assert len(handed) >= 10 and {t for _, t in handed} <= towns
    clues = {c.id: c for c in _all(engine, select(Clue).where(Clue.id.in_([cid for cid, _ in handed])))}
    by_clue = dict(handed)
    # And the towns accept, close and get called back, or return the clue to the county
    for cid, c in clues.items():
        town = by_clue[cid]
        assert c.region_code == "370811"
        assert c.handling_region_code == ("370811" if c.status == "returned" else town)
    assert {c.status for c in clues.values()} >= {"closed", "called_back", "returned"}
    returns = _all(engine, select(CaseAction.clue_id, CaseAction.from_region_code, CaseAction.to_region_code).where(
        CaseAction.action == "return", CaseAction.clue_id.in_(list(clues))))
    assert returns and all((frm, to) == (by_clue[cid], "370811") for cid, frm, to in returns)
    assert {c.satisfaction for c in clues.values() if c.status == "called_back"} - {None}
    # And the highlight names one of them
    assert summary.highlights["town_clue"]["clue_id"] in clues


def test_money_coherence(seeded: tuple[Engine, SeedSummary]) -> None:
    engine, summary = seeded
    accounts = {a.id: a for a in _all(engine, select(WageAccount))}
    projects = {p.id: p for p in _all(engine, select(Project))}
    for acc in accounts.values():
        p = projects[acc.project_id]
        assert acc.enterprise_id == p.contractor_id
        assert acc.account_balance >= 0
    for bill in _all(engine, select(LaborCostAllocation)):
        assert accounts[bill.account_id].project_id == bill.project_id
        assert bill.amount > 0 and bill.account_balance >= 0
    # W01 (by the engine): every project not completed whose contract is over 30 days old and has no
    # account is red; one whose account opened since was red and is resolved; 19 days is not yet a warning
    without = {p.id for p in projects.values() if p.status != "completed" and p.id not in {a.project_id for a in accounts.values()}
               and p.contract_signed_on < TODAY - dt.timedelta(days=30)}
    w01 = {(r.project_id, r.level, r.status) for r in _all(engine, select(Warning).where(Warning.rule_code == "W01"))}
    assert without and {(pid, "red", "active") for pid in without} <= w01
    situations = summary.highlights["warning_situations"]
    assert (situations["account_opened_late"]["project_id"], "red", "resolved") in w01
    assert situations["no_account_boundary"]["project_id"] not in {pid for pid, _, _ in w01}


def test_project_money_coherence(seeded: tuple[Engine, SeedSummary]) -> None:
    engine, summary = seeded
    projects = {p.id: p for p in _all(engine, select(Project))}
    # The chain (条例 第三十条): one 总包 contract per project, from the builder, held by the contractor;
    # every 分包 held from the 总包
    chain = _all(engine, select(ProjectContract))
    general = {c.project_id: c for c in chain if c.role == "general"}
    assert set(general) == set(projects)
    assert all(
        (c.enterprise_id, c.parent_enterprise_id)
        == (projects[c.project_id].contractor_id, projects[c.project_id].builder_id)
        for c in general.values()
    )
    subs = [c for c in chain if c.role != "general"]
    assert subs and all(c.parent_enterprise_id == projects[c.project_id].contractor_id for c in subs)
    # Every employer of a worker but the 总包 holds a 分包 contract on that project
    employers = {
        (r.project_id, r.enterprise_id)
        for r in _all(engine, select(Worker.project_id, Worker.enterprise_id).distinct())
    }
    holders = {(c.project_id, c.enterprise_id) for c in chain}
    assert employers <= holders
    # Progress payments are those the labour-cost bills came with: same project, day and amount (W04 agrees)
    bills = sorted((a.project_id, a.bill_date, a.progress_payment) for a in _all(engine, select(LaborCostAllocation)))
    payments = sorted((p.project_id, p.paid_on, p.amount) for p in _all(engine, select(ProgressPayment)))
    assert bills and payments == bills
    # Wage expense bills are the paid 代发 batches: one per batch, the batch's total, on pay day
    paid = _all(
        engine,
        select(
            PayrollRecord.account_id,
            PayrollRecord.batch_number,
            func.sum(PayrollRecord.actual_amount),
            func.max(PayrollRecord.balance_date),
        )
        .where(PayrollRecord.pay_status == 20, PayrollRecord.account_id.is_not(None))
        .group_by(PayrollRecord.account_id, PayrollRecord.batch_number),
    )
    expenses = _all(engine, select(AccountExpense))
    wages = {(e.account_id, e.batch_number): (e.amount, e.bill_date) for e in expenses if e.action == "wages"}
    assert paid and wages == {(a, b): (Decimal(str(t)), d) for a, b, t, d in paid}
    # Transfers go to a leaver's own card (退场结算, 人社部发〔2021〕53号: only the project's workers), or
    # are a closed 专户's remainder back to the 总包, leaving nothing
    accounts = {a.id: a for a in _all(engine, select(WageAccount))}
    transfers = [e for e in expenses if e.action == "transfer"]
    assert transfers
    leavers = {
        (w.project_id, w.name, CIPHER.decrypt(w.bank_card_enc))
        for w in _all(engine, select(Worker).where(Worker.exit_date.is_not(None), Worker.bank_card_enc.is_not(None)))
    }
    for e in transfers:
        card = CIPHER.decrypt(e.counterparty_account_enc)
        assert e.counterparty_account_masked == mask_bank_card(card)
        if e.purpose == "退场结算":
            assert (e.project_id, e.counterparty_name, card) in leavers and accounts[e.account_id].status == "open"
        else:
            assert (
                e.purpose,
                accounts[e.account_id].status,
                accounts[e.account_id].account_balance,
                e.account_balance,
            ) == ("销户余额转出", "closed", 0, 0)
    # Output value: the month's wages over the labour-cost share, ±3 %
    wages_by_month = {
        (p, mo): Decimal(str(t))
        for p, mo, t in _all(
            engine,
            select(
                PayrollRecord.project_id, PayrollRecord.pay_month, func.sum(PayrollRecord.total_pay_amount)
            ).group_by(PayrollRecord.project_id, PayrollRecord.pay_month),
        )
    }
    situations = {v["project_id"] for v in summary.highlights["warning_situations"].values() if "project_id" in v}
    outputs = [o for o in _all(engine, select(OutputValue)) if o.project_id not in situations]
    assert outputs
    for o in outputs:
        share = o.amount * projects[o.project_id].labour_cost_ratio / wages_by_month[(o.project_id, o.month)]
        assert Decimal("0.969") <= share <= Decimal("1.031"), (o.project_id, o.month, share)


def test_output_never_grows_20_percent_while_wages_fall_20_percent_by_accident(
    seeded: tuple[Engine, SeedSummary],
) -> None:
    # W14 (工程量产值 up, wages paid down beyond a ratio) belongs to its dedicated situations only: the rest
    # of the world must not fire it. Wages here: the month's paid pay (实发, 已发放).
    engine, summary = seeded
    situations = {v["project_id"] for v in summary.highlights["warning_situations"].values() if "project_id" in v}
    paid = {
        (p, mo): Decimal(str(t))
        for p, mo, t in _all(
            engine,
            select(PayrollRecord.project_id, PayrollRecord.pay_month, func.sum(PayrollRecord.actual_amount)).group_by(
                PayrollRecord.project_id, PayrollRecord.pay_month
            ),
        )
    }
    series: dict[int, list[tuple[str, Decimal]]] = {}
    for o in _all(engine, select(OutputValue).order_by(OutputValue.project_id, OutputValue.month)):
        if o.project_id in situations:  # W14's own situations fire (or stop short) by design
            continue
        series.setdefault(o.project_id, []).append((o.month, o.amount))
    fired = [
        (pid, m1)
        for pid, values in series.items()
        for (m0, v0), (m1, v1) in zip(values, values[1:], strict=False)
        if v1 >= v0 * Decimal("1.2")
        and paid.get((pid, m1), Decimal(0)) <= paid.get((pid, m0), Decimal(0)) * Decimal("0.8")
    ]
    assert series and fired == []
def test_real_name_records_follow_the_roster_and_the_payroll(seeded: tuple[Engine, SeedSummary]) -> None:
    engine, summary = seeded
    # The projects of the warning situations that write their own movements and attendance (they carry
    # the rule they stage) are theirs to check; the bulk of the world is checked here.
    staged = {s["project_id"] for s in summary.highlights.get("warning_situations", {}).values() if "rule" in s}
    workers = {w.id: w for w in _all(engine, select(Worker)) if w.project_id not in staged}
    projects = {p.id: p for p in _all(engine, select(Project))}
    teams = {(t.project_id, t.team_sys_no): t for t in _all(engine, select(Team)) if t.project_id not in staged}
    pay: dict[int, dict[str, Any]] = {}
    for row in _all(engine, select(PayrollRecord)):
        pay.setdefault(row.worker_id, {})[row.pay_month] = row
    # A team per teamSysNo of the roster, named after the worker the roster flags as its leader
    leaders = {(w.project_id, w.team_sys_no): w for w in workers.values() if w.is_team_leader}
    assert teams and set(teams) == {(w.project_id, w.team_sys_no) for w in workers.values() if w.team_sys_no}
    assert all(t.leader_name == leaders[k].name and t.enterprise_id == leaders[k].enterprise_id
               for k, t in teams.items())
    # An entry on every worker's entry date; an exit on every past exit date, settled with the last month's pay
    moves = [v for v in _all(engine, select(SiteMovement)) if v.project_id not in staged]
    entries = {v.worker_id: v.moved_on for v in moves if v.kind == "entry"}
    assert entries == {w.id: w.entry_date for w in workers.values()}
    exits = {v.worker_id: v for v in moves if v.kind == "exit"}
    assert set(exits) == {w.id for w in workers.values() if w.exit_date and w.exit_date < TODAY}
    for wid, v in exits.items():
        assert v.moved_on == workers[wid].exit_date and v.settled is True
        assert 0 <= (v.settlement_date - v.moved_on).days <= 3
        if pay.get(wid):
            assert v.settlement_amount == pay[wid][max(pay[wid])].actual_amount
    # Attendance: October (the last full month) on as many days as its pay record says — never without one
    # (W06) — and November up to yesterday, always while the worker was on site
    days: dict[tuple[int, str], int] = {}
    last: dict[int, dt.date] = {}
    for a in _all(engine, select(Attendance).where(Attendance.project_id.not_in(staged))):
        w = workers[a.worker_id]
        assert a.project_id == w.project_id and a.region_code == w.region_code
        assert dt.date(2026, 10, 1) <= a.day < TODAY and w.entry_date <= a.day
        assert w.exit_date is None or a.day <= w.exit_date
        assert a.time_in < a.time_out
        days[(a.worker_id, a.day.strftime("%Y-%m"))] = days.get((a.worker_id, a.day.strftime("%Y-%m")), 0) + 1
        last[a.project_id] = max(last.get(a.project_id, a.day), a.day)
    october = {wid: n for (wid, month), n in days.items() if month == "2026-10"}
    assert october and all(pay[wid]["2026-10"].days >= n for wid, n in october.items())
    assert sum(n == pay[wid]["2026-10"].days for wid, n in october.items()) > 0.8 * len(october)
    # Every project in progress with workers on site clocked in within the last days (W13 stays quiet)
    on_site = {w.project_id for w in workers.values()
               if w.exit_date is None and w.entry_date < TODAY - dt.timedelta(days=7)}
    in_progress = {pid for pid in on_site if projects[pid].status == "in_progress"}
    assert in_progress and all(TODAY - last[pid] <= dt.timedelta(days=3) for pid in in_progress)


# --- loading --------------------------------------------------------------------------------------------------


def test_progress_reports_every_table(seeded: tuple[Engine, SeedSummary]) -> None:
    _, summary = seeded
    calls = summary.progress_calls  # type: ignore[attr-defined]
    final = {t: (d, n) for t, d, n in calls}
    assert all(done == total == summary.counts[t] for t, (done, total) in final.items())
    assert set(final) == set(summary.counts)


def test_seeding_a_non_empty_database_raises(seeded: tuple[Engine, SeedSummary]) -> None:
    engine, _ = seeded
    with pytest.raises(SeedError, match="already has projects"):
        seed_database(engine, scale="tiny", today=TODAY, cipher=CIPHER)
    assert load_regions(engine) == 0  # idempotent


def test_unknown_scale_and_region(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with pytest.raises(SeedError, match="unknown scale"):
            seed_database(engine, scale="country", cipher=CIPHER)
        with pytest.raises(SeedError, match="county"):
            seed_database(engine, scale="tiny", region="370811", today=TODAY, cipher=CIPHER)
    finally:
        engine.dispose()


# --- PostgreSQL (COPY) gives the same data --------------------------------------------------------------------


@pytest.fixture
def postgres_url() -> Iterator[str]:
    base = os.environ.get("HUB_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail("HUB_TEST_POSTGRES_URL is not set, and CI must run the PostgreSQL tests")
        pytest.skip("HUB_TEST_POSTGRES_URL is not set")
    import psycopg

    name = f"hub_seed_{uuid.uuid4().hex[:12]}"
    admin_url = make_url(base).set(drivername="postgresql")
    dsn = admin_url.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_postgres_copy_matches_sqlite(seeded: tuple[Engine, SeedSummary], postgres_url: str) -> None:
    sqlite_engine, sqlite_summary = seeded
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        summary = seed_database(engine, scale="tiny", seed=SEED, today=TODAY, cipher=CIPHER)
        assert summary.counts == sqlite_summary.counts
        assert table_counts(engine) == table_counts(sqlite_engine)
        assert summary.highlights == sqlite_summary.highlights
        pg, lite = fingerprint(engine), fingerprint(sqlite_engine)
        for table in lite:
            assert pg[table] == lite[table], table
        rows = table_counts(engine)  # the seed's rows, and the clues and events the warnings engine added after
        with engine.connect() as conn:  # sequences were moved past the explicit ids
            for table in ("projects", "workers", "payroll_records", "clues", "events"):
                nxt = conn.exec_driver_sql(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))").scalar()
                assert nxt == rows[table] + 1
    finally:
        engine.dispose()


def test_writer_errors_reach_the_caller(tmp_path: Path) -> None:
    from sqlalchemy.exc import IntegrityError

    from hub.seed._load import Loader

    url = f"sqlite:///{tmp_path / 'err.db'}"
    upgrade(url)
    engine = make_engine(url)
    bad = {
        "id": 1,
        "uscc": "91370811MA3C000000",
        "name": "x",
        "region_code": "370811",
        "kind": "builder",
        "created_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    }
    try:
        with pytest.raises(IntegrityError):  # the second batch repeats id 1: the writer thread fails
            Loader(engine, batch_size=1).load(iter([("enterprises", bad)] * 5))
    finally:
        engine.dispose()
