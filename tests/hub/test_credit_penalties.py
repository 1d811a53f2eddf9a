"""Administrative penalties: entered by an inspector, imported from CSV (`hub penalties import`), checked once."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from hub.cli import app
from hub.db import make_engine, session_scope
from hub.errors import DuplicateDocument, Forbidden, HubError, InvalidIdentifier, InvalidInput
from hub.identifiers import make_uscc
from hub.models import AuditLog, CreditRating, Enterprise, Penalty
from hub.penalties import PenaltyIn, Rejected, import_penalties, record_penalty
from hub.settings import get_settings
from tests.hub.credit_fixtures import INSPECTOR, VIEWER

TODAY = dt.date(2026, 6, 15)
USCC = make_uscc(random.Random(1), region_code="370811")
OTHER = make_uscc(random.Random(2), region_code="370811")
UNKNOWN = make_uscc(random.Random(3), region_code="370811")
BAD_USCC = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")


@pytest.fixture
def engine(empty_db_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_db_url)
    with session_scope(engine) as s:
        for n, code in enumerate((USCC, OTHER), 1):
            s.add(Enterprise(uscc=code, name=f"济宁市第{n}建筑劳务有限公司", region_code="370811", kind="labour_service"))
    yield engine
    engine.dispose()


def entry(**changes: object) -> PenaltyIn:
    values: dict[str, object] = {"uscc": USCC, "document_no": "济任人社监罚字〔2026〕第21号", "decided_on": dt.date(2026, 4, 2),
                                 "kind": "fine", "violation": "拖欠农民工工资", "region_code": "370811", "amount": Decimal(20000)}
    values.update(changes)
    return PenaltyIn(**values)  # type: ignore[arg-type]


def test_an_inspector_records_a_penalty_and_it_is_audited(engine: Engine) -> None:
    with session_scope(engine) as s:
        row = record_penalty(s, principal=INSPECTOR, penalty=entry(), today=TODAY)
        assert (row.document_no, row.kind, row.amount, row.source, row.created_by) == (
            "济任人社监罚字〔2026〕第21号", "fine", Decimal(20000), "entered", "apikey:county-inspector")
        audit = s.execute(select(AuditLog)).scalar_one()
        assert (audit.action, audit.entity_id, audit.detail["document_no"]) == ("penalty.record", row.id, row.document_no)


ENTRY_ERRORS = [
    ("a USCC failing its check", {"uscc": BAD_USCC}, InvalidIdentifier, rf"^invalid uscc '{BAD_USCC}': check character 18 \(GB 32100-2015\) should be '{USCC[-1]}', got '{BAD_USCC[-1]}'$"),
    ("an enterprise unknown to the hub", {"uscc": UNKNOWN}, InvalidInput, rf"^uscc '{UNKNOWN}': no enterprise with this 统一社会信用代码 in the hub$"),
    ("a decision in the future", {"decided_on": dt.date(2026, 6, 16)}, InvalidInput,
     r"^decidedOn '2026-06-16': out of range: from 2000-01-01 to today, 2026-06-15$"),
    ("an unknown kind", {"kind": "jail"}, InvalidInput,
     r"^kind 'jail': not a kind of penalty: one of fine, warning, order, refused_rectification$"),
    ("a fine without its amount", {"amount": None}, InvalidInput, r"^amount '': a fine needs its amount \(yuan\)$"),
    ("an amount in fractions of a fen", {"amount": Decimal("1.005")}, InvalidInput,
     r"^amount '1.005': more than 2 decimal places \(yuan and fen\)$"),
    ("no document number", {"document_no": "  "}, InvalidInput, r"^documentNo '  ': is required$"),
    ("another county", {"region_code": "370812"}, Forbidden, r"^regionCode 370812 is outside your jurisdiction 370811$"),
]


@pytest.mark.parametrize(("changes", "error", "message"), [c[1:] for c in ENTRY_ERRORS], ids=[c[0] for c in ENTRY_ERRORS])
def test_a_bad_penalty_is_refused_naming_the_field(engine: Engine, changes: dict[str, object], error: type[HubError], message: str) -> None:
    with session_scope(engine) as s, pytest.raises(error, match=message) as caught:
        record_penalty(s, principal=INSPECTOR, penalty=entry(**changes), today=TODAY)
    assert type(caught.value) is error
    with session_scope(engine) as s:
        assert s.scalars(select(Penalty)).all() == []


def test_a_document_number_is_recorded_once(engine: Engine) -> None:
    with session_scope(engine) as s:
        record_penalty(s, principal=INSPECTOR, penalty=entry(), today=TODAY)
    with session_scope(engine) as s, pytest.raises(DuplicateDocument, match=r"^penalty 济任人社监罚字〔2026〕第21号 is already recorded$"):
        record_penalty(s, principal=INSPECTOR, penalty=entry(uscc=OTHER), today=TODAY)


def test_a_viewer_may_not_record_penalties(engine: Engine) -> None:
    with session_scope(engine) as s, pytest.raises(Forbidden, match=r"^a viewer key may not record penalties$"):
        record_penalty(s, principal=VIEWER, penalty=entry(), today=TODAY)


# --- import from CSV --------------------------------------------------------------------------------------

HEADER = "uscc,document_no,decided_on,kind,amount,violation,region_code"
ROWS = [
    f"{USCC},济任人社监罚字〔2025〕第1号,2025-03-02,fine,5000,未按月足额支付工资,370811",
    f"{BAD_USCC},济任人社监罚字〔2025〕第2号,2025-03-03,fine,5000,拖欠农民工工资,370811",
    f"{OTHER},济任人社监罚字〔2025〕第3号,2025-13-01,fine,5000,拖欠农民工工资,370811",
    f"{OTHER},济任人社监罚字〔2025〕第4号,2025-04-01,order,,未按规定开设专户,370811",
    f"{OTHER},济任人社监罚字〔2025〕第5号,2025-04-02,罚款,abc,拖欠农民工工资,370811",
    f"{USCC},济任人社监罚字〔2025〕第1号,2025-03-02,fine,5000,未按月足额支付工资,370811",
]


def _rows(lines: list[str]) -> list[dict[str, str]]:
    keys = HEADER.split(",")
    return [dict(zip(keys, line.split(","), strict=True)) for line in lines]


def test_an_import_keeps_the_good_rows_names_the_bad_ones_and_is_idempotent(engine: Engine) -> None:
    # When the file is imported
    with session_scope(engine) as s:
        report = import_penalties(s, principal=INSPECTOR, rows=_rows(ROWS), today=TODAY)
    # Then the good rows are added and each bad one is named by its row (the header is row 1), field and value
    assert (report.added, report.unchanged) == (2, 0)
    assert report.rejected == [
        Rejected(3, "uscc", BAD_USCC, f"check character 18 (GB 32100-2015) should be '{USCC[-1]}', got '{BAD_USCC[-1]}'"),
        Rejected(4, "decided_on", "2025-13-01", "not a date (YYYY-MM-DD)"),
        Rejected(6, "amount", "abc", "not an amount of yuan"),
        Rejected(7, "document_no", "济任人社监罚字〔2025〕第1号", "repeats row 2 of the file"),
    ]
    assert str(report.rejected[1]) == "row 4: decided_on '2025-13-01': not a date (YYYY-MM-DD)"
    with session_scope(engine) as s:
        rows = s.execute(select(Penalty.document_no, Penalty.kind, Penalty.amount, Penalty.source).order_by(Penalty.id)).all()
        assert [tuple(r) for r in rows] == [("济任人社监罚字〔2025〕第1号", "fine", Decimal(5000), "imported"),
                                            ("济任人社监罚字〔2025〕第4号", "order", None, "imported")]
    # When the same good rows are imported again, nothing is added
    with session_scope(engine) as s:
        again = import_penalties(s, principal=INSPECTOR, rows=_rows([ROWS[0], ROWS[3]]), today=TODAY)
    assert (again.added, again.unchanged, again.rejected) == (0, 2, [])
    # And a changed row under a recorded number is refused, not silently overwritten
    with session_scope(engine) as s:
        changed = import_penalties(s, principal=INSPECTOR, rows=_rows([ROWS[0].replace(",5000,", ",6000,")]), today=TODAY)
        assert changed.rejected == [Rejected(2, "document_no", "济任人社监罚字〔2025〕第1号",
                                             "already recorded with other content: a correction needs its own number")]
        assert len(s.scalars(select(Penalty)).all()) == 2


@pytest.fixture
def hub_env(engine: Engine, empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("HUB_DATABASE_URL", empty_db_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_SECRET_KEY", "credit-test-secret")
    get_settings.cache_clear()
    yield empty_db_url
    get_settings.cache_clear()


def test_hub_penalties_import_reports_rejected_rows_and_rates_the_enterprises(hub_env: str, engine: Engine, tmp_path: Path) -> None:
    # Given a CSV file from a spreadsheet (with its byte-order mark)
    path = tmp_path / "penalties.csv"
    path.write_text("\ufeff" + "\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    # When it is imported from the shell
    result = CliRunner().invoke(app, ["penalties", "import", str(path)])
    out = " ".join(result.output.split())
    # Then it exits 1 and says what it kept and what it refused, row by row
    assert result.exit_code == 1, result.output
    assert "2 added, 0 already recorded, 4 rejected; credit of 2 enterprises recomputed" in out
    assert "4 │ decided_on │ 2025-13-01 │ not a date (YYYY-MM-DD)" in out
    # And the enterprises' 2025 ratings rest on the imported penalties
    with session_scope(engine) as s:
        levels = s.execute(select(Enterprise.uscc, CreditRating.level).join(CreditRating, CreditRating.enterprise_id == Enterprise.id)
                           .where(CreditRating.year == 2025)).all()
        assert sorted(tuple(r) for r in levels) == sorted([(USCC, "B"), (OTHER, "B")])
    # When imported again, nothing is added
    again = CliRunner().invoke(app, ["penalties", "import", str(path)])
    assert "0 added, 2 already recorded, 4 rejected" in " ".join(again.output.split())


def test_hub_penalties_import_refuses_a_file_without_the_columns(hub_env: str, tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("name,amount\n某公司,5000\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["penalties", "import", str(path)])
    assert result.exit_code == 2
    assert (f"{path} has no column uscc, document_no, decided_on, kind, violation, region_code: the header row names "
            "the columns uscc, document_no, decided_on, kind, amount, violation, region_code") in " ".join(result.output.split())


def test_hub_credit_rate_rates_every_enterprise_and_is_audited(hub_env: str, engine: Engine) -> None:
    # Given a penalty of 2025 on one of the two enterprises
    with session_scope(engine) as s:
        record_penalty(s, principal=INSPECTOR, penalty=entry(decided_on=dt.date(2025, 5, 1)), today=TODAY)
    # When an operator rates 2025 from the shell
    result = CliRunner().invoke(app, ["credit", "rate", "--year", "2025"])
    # Then both are rated (one B: a level other than A is news), and the run is in the audit log
    assert result.exit_code == 0, result.output
    assert "2025 │ 2 │ 2 │ 1" in " ".join(result.output.split())
    with session_scope(engine) as s:
        levels = s.execute(select(Enterprise.uscc, CreditRating.level).join(CreditRating, CreditRating.enterprise_id == Enterprise.id)).all()
        assert sorted(tuple(r) for r in levels) == sorted([(USCC, "B"), (OTHER, "A")])
        assert s.scalars(select(AuditLog.action).order_by(AuditLog.id)).all() == ["penalty.record", "credit.rate"]
