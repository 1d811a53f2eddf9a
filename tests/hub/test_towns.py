"""Towns (乡级, 9-digit 统计用区划代码) in the region list (hub.regions), dispatch down to a town and a town's
jurisdiction (hub.workflow, hub.access), and ``hub regions load`` (hub.cli_regions); SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from hub import models as m
from hub import workflow
from hub.access import Principal, bind_principal
from hub.cli import app
from hub.db import make_engine, session_scope
from hub.errors import Forbidden, InvalidInput, NotFound
from hub.fanout.base import principal_sees
from hub.regions import TownFileError, TownProblem, bundled_towns, load_towns, read_town_file
from hub.seed import load_regions
from hub.settings import get_settings
from hub.webhooks import event_region_condition
from tests.hub.test_workflow import COUNTY, complaint, intake

ADMIN = Principal(name="cli:tester", role="admin", region_code="000000")
XUZHUANG, LIYING = "370811002", "370811005"  # 许庄街道 and 李营街道 of 任城区 (370811)
TOWN = Principal(name="许庄街道劳动保障所", role="inspector", region_code=XUZHUANG)
SIBLING_TOWN = Principal(name="李营街道劳动保障所", role="inspector", region_code=LIYING)

runner = CliRunner()


@pytest.fixture
def engine(empty_db_url):  # type: ignore[no-untyped-def]
    engine = make_engine(empty_db_url)
    load_regions(engine)
    yield engine
    engine.dispose()


def rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    return read_town_file(io.StringIO(text))


def test_the_seed_loads_the_demo_citys_towns_from_the_checked_in_file(engine) -> None:  # type: ignore[no-untyped-def]
    # Given the region list as the seed loads it
    with session_scope(engine) as s:
        towns = s.execute(
            select(m.Region.code, m.Region.name, m.Region.kind, m.Region.parent_code, m.Region.full_name)
            .where(m.Region.level == "town")
            .order_by(m.Region.code)
        ).all()
    # Then every town of 济宁 in the file is there, below its county, with its kind and full name
    assert len(towns) == len(list(bundled_towns())) == 153
    assert all(t.code.startswith("3708") and t.parent_code == t.code[:6] for t in towns)
    assert towns[0] == (XUZHUANG, "许庄街道", "街道", "370811", "山东省济宁市任城区许庄街道")
    assert {t.kind for t in towns} >= {"街道", "镇", "乡"}
    # And none of 370871 (济宁高新区: a statistical code only, not in GB/T 2260)
    assert not [t for t in towns if t.code.startswith("370871")]
    # And loading again adds nothing
    assert load_regions(engine) == 0


def test_loading_a_town_file_keeps_good_rows_and_reports_bad_ones_by_line_and_field(engine) -> None:  # type: ignore[no-untyped-def]
    # Given a file with a comment, a header, two new towns and one bad row of each kind
    text = (
        "# source: 测试\n"
        "code,name,parent\n"
        "371526001,鱼邱湖街道,371526\n"  # line 3: good (高唐县)
        "371526002,人和街道,\n"  # line 4: good, parent left out
        "37152600,短码,371526\n"  # line 5: 8 digits
        "371526000,县本级,371526\n"  # line 6: the county's own code
        "371526003,,371526\n"  # line 7: no name
        "371526004,汇鑫街道,371525\n"  # line 8: parent is another county
        "379926001,无此县,\n"  # line 9: county unknown
        "371526001,鱼邱湖街道,371526\n"  # line 10: twice
        "3715260AB,字母,371526\n"  # line 11: letters
    )
    with session_scope(engine) as s:
        bind_principal(s, ADMIN)
        report = load_towns(s, principal=ADMIN, rows=rows(text), source="t.csv")
    # Then the good rows are added and each bad one is named with its line, field, value and reason
    assert (report.added, report.updated, report.unchanged) == (2, 0, 0)
    assert report.rejected == [
        TownProblem(5, "code", "37152600", "expected 6, 9 or 12 characters, got 8"),
        TownProblem(6, "code", "371526000", "town part '000' is zero: that is the county's code"),
        TownProblem(7, "name", "", "the name is empty"),
        TownProblem(8, "parent", "371525", "town 371526004 lies in county 371526 (its first 6 digits)"),
        TownProblem(9, "parent", "379926", "no county 379926 in the region list (load the county first)"),
        TownProblem(10, "code", "371526001", "repeats line 3 of the file"),
        TownProblem(11, "code", "3715260AB", "illegal character 'A' at position 8 (expected a digit)"),
    ]
    assert str(report.rejected[0]) == "line 5: code '37152600': expected 6, 9 or 12 characters, got 8"
    with session_scope(engine) as s:
        town = s.get(m.Region, "371526002")
        assert (town.name, town.level, town.kind, town.parent_code, town.full_name) == (
            "人和街道",
            "town",
            "街道",
            "371526",
            "山东省聊城市高唐县人和街道",
        )
        # And the load is in the audit log
        entry = s.execute(select(m.AuditLog).where(m.AuditLog.action == "region.load")).scalar_one()
        assert (entry.principal, entry.detail) == (
            "cli:tester",
            {"source": "t.csv", "added": 2, "updated": 0, "unchanged": 0, "rejected": 7},
        )


def test_loading_the_same_file_twice_changes_nothing_and_a_renamed_town_is_updated(engine) -> None:  # type: ignore[no-untyped-def]
    text = "code,name\n371526001,鱼邱湖街道\n371526002,人和街道\n"
    with session_scope(engine) as s:
        load_towns(s, principal=ADMIN, rows=rows(text), source="a.csv")
    # When the same file is loaded again
    with session_scope(engine) as s:
        again = load_towns(s, principal=ADMIN, rows=rows(text), source="a.csv")
    # Then nothing is added
    assert (again.added, again.updated, again.unchanged, again.rejected) == (0, 0, 2, [])
    # And a town renamed in a later edition is updated in place
    with session_scope(engine) as s:
        renamed = load_towns(s, principal=ADMIN, rows=rows("code,name\n371526002,人和镇\n"), source="b.csv")
    assert (renamed.added, renamed.updated, renamed.unchanged) == (0, 1, 0)
    with session_scope(engine) as s:
        assert (s.get(m.Region, "371526002").name, s.get(m.Region, "371526002").kind) == ("人和镇", "镇")


def test_towns_of_a_city_without_counties_load_under_the_city(engine) -> None:  # type: ignore[no-untyped-def]
    # Given 东莞's towns, whose codes have a zero county part (不设区的地级市), and one town of a city that
    # has counties written with a zero county part
    text = "code,name\n441900003,东城街道\n441900101,石碣镇\n441800003,某镇\n"
    # When they are loaded
    with session_scope(engine) as s:
        report = load_towns(s, principal=ADMIN, rows=rows(text), source="dongguan.csv")
    # Then 东莞's towns sit directly under the city, and the other is refused naming its code
    assert (report.added, [(p.line, p.field) for p in report.rejected]) == (2, [(4, "code")])
    assert "under a zero county part" in report.rejected[0].reason
    with session_scope(engine) as s:
        town = s.get(m.Region, "441900101")
        assert (town.parent_code, town.full_name, town.kind) == ("441900", "广东省东莞市石碣镇", "镇")


def test_a_town_file_without_a_header_naming_code_and_name_is_refused() -> None:
    with pytest.raises(TownFileError) as exc:
        list(rows("# 说明\n代码,名称\n371526001,鱼邱湖街道\n"))
    assert (
        str(exc.value) == "line 2: the header names no column code, name (expected code,name,parent, parent optional)"
    )


def test_only_an_administrator_loads_towns(engine) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s, pytest.raises(Forbidden) as exc:
        load_towns(s, principal=COUNTY, rows=rows("code,name\n371526001,鱼邱湖街道\n"), source="x.csv")
    assert exc.value.message == "only administrators may load regions"


# --- dispatch and jurisdiction ---------------------------------------------------------------------------


def test_a_county_dispatches_to_its_town_which_alone_sees_and_works_the_clue(engine) -> None:  # type: ignore[no-untyped-def]
    # Given a clue of 任城区, received and handled by the county
    [clue_id] = intake(engine, complaint("2026110200501"))
    # When the county dispatches it to 许庄街道
    with session_scope(engine) as s:
        bind_principal(s, COUNTY)
        clue = workflow.get_clue(s, clue_id=clue_id)
        workflow.dispatch(s, clue=clue, to_region=XUZHUANG, principal=COUNTY, note="请许庄街道核实")
        no = clue.clue_no
    # Then the town sees it, with its history, and accepts it
    with session_scope(engine) as s:
        bind_principal(s, TOWN)
        clue = workflow.get_clue(s, clue_no=no)
        assert clue.handling_region_code == XUZHUANG
        actions = s.execute(
            select(m.CaseAction.action, m.CaseAction.to_region_code)
            .where(m.CaseAction.clue_id == clue_id)
            .order_by(m.CaseAction.id)
        ).all()
        assert actions[-1] == ("dispatch", XUZHUANG)
        workflow.accept(s, clue=clue, principal=TOWN)
        assert clue.status == "in_progress"
    # And the sibling town 李营街道 sees neither the clue, its records nor its events
    with session_scope(engine) as s:
        bind_principal(s, SIBLING_TOWN)
        assert s.execute(select(m.Clue).where(m.Clue.id == clue_id)).scalar_one_or_none() is None
        assert s.execute(select(m.CaseAction).where(m.CaseAction.clue_id == clue_id)).first() is None
        assert s.execute(select(m.ChannelRecord).where(m.ChannelRecord.clue_id == clue_id)).first() is None
        assert (
            s.execute(select(m.Event).where(m.Event.entity_id == clue_id, m.Event.entity_type == "clue")).first()
            is None
        )
    # And the live paths agree: the fan-out and a webhook endpoint of each town
    with session_scope(engine) as s:
        dispatched = s.execute(
            select(m.Event).where(m.Event.entity_id == clue_id, m.Event.type == "clue.dispatch")
        ).scalar_one()
        assert dispatched.handling_region_code == XUZHUANG
        assert (principal_sees(TOWN, dispatched), principal_sees(SIBLING_TOWN, dispatched)) == (True, False)
        for code, found in ((XUZHUANG, [dispatched.id]), (LIYING, [])):
            ids = s.execute(
                select(m.Event.id).where(m.Event.id == dispatched.id, event_region_condition(code))
            ).scalars()
            assert list(ids) == found
    # And the town sees only its own clues: none of the county's others
    with session_scope(engine) as s:
        bind_principal(s, TOWN)
        assert s.execute(select(m.Clue.id)).scalars().all() == [clue_id]


def test_dispatch_to_a_town_needs_the_town_in_the_region_list_and_in_the_jurisdiction(engine) -> None:  # type: ignore[no-untyped-def]
    [clue_id] = intake(engine, complaint("2026110200502"))
    with session_scope(engine) as s:
        bind_principal(s, COUNTY)
        clue = workflow.get_clue(s, clue_id=clue_id)
        # Given a town code the region list lacks: refused, naming it and what to do
        with pytest.raises(InvalidInput) as exc:
            workflow.dispatch(s, clue=clue, to_region="370811001", principal=COUNTY)
        assert (exc.value.message, exc.value.suggestion) == (
            "toRegion: no region 370811001",
            "load the county's towns with `hub regions load FILE`",
        )
        # And a town of another county (兖州区 鼓楼街道): outside the county's jurisdiction
        with pytest.raises(Forbidden) as refused:
            workflow.dispatch(s, clue=clue, to_region="370812001", principal=COUNTY)
        assert refused.value.message == "cannot dispatch to 370812001: outside your jurisdiction 370811"
    # And a town cannot reach a clue its county still handles
    with session_scope(engine) as s:
        bind_principal(s, TOWN)
        with pytest.raises(NotFound) as missing:
            workflow.get_clue(s, clue_id=clue_id)
        assert missing.value.message == f"no clue {clue_id} in your jurisdiction"


# --- the command ----------------------------------------------------------------------------------------


def said(result: Result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture
def hub_env(empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    engine = make_engine(empty_db_url)
    load_regions(engine)
    engine.dispose()
    monkeypatch.setenv("HUB_DATABASE_URL", empty_db_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_SECRET_KEY", "cli-test-secret")
    get_settings.cache_clear()
    yield empty_db_url
    get_settings.cache_clear()


def test_hub_regions_load_reports_counts_and_bad_lines_and_is_idempotent(hub_env: str, tmp_path: Path) -> None:
    # Given a town file of 高唐县 with one bad line
    file = tmp_path / "371526.csv"
    file.write_text(
        "# source: 测试 2023\ncode,name,parent\n371526001,鱼邱湖街道,371526\n371526002,人和街道,371526\n"
        "371526003,,371526\n",
        encoding="utf-8",
    )
    # When it is loaded
    result = runner.invoke(app, ["regions", "load", str(file)])
    # Then the good towns are added, the bad line is listed, and the command exits 1
    assert result.exit_code == 1, result.output
    assert "2 added, 0 updated, 0 unchanged, 1 rejected" in said(result)
    assert "│ 5 │ name │ │ the name is empty │" in said(result)
    # And loading it again adds nothing
    again = runner.invoke(app, ["regions", "load", str(file)])
    assert "0 added, 0 updated, 2 unchanged, 1 rejected" in said(again)
    engine = make_engine(hub_env)
    with session_scope(engine) as s:
        assert s.get(m.Region, "371526001").full_name == "山东省聊城市高唐县鱼邱湖街道"
    engine.dispose()


def test_hub_regions_load_refuses_a_missing_file_and_a_file_without_header(hub_env: str, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["regions", "load", str(tmp_path / "none.csv")])
    assert (missing.exit_code, said(missing)) == (2, f"no file {tmp_path / 'none.csv'}: give the path of a CSV file")
    bad = tmp_path / "bad.csv"
    bad.write_text("371526001,鱼邱湖街道\n", encoding="utf-8")
    result = runner.invoke(app, ["regions", "load", str(bad)])
    assert result.exit_code == 2
    assert "line 1: the header names no column code, name" in said(result)
