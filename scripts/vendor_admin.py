#!/usr/bin/env python3
"""Refresh the admin console's third-party assets (admin/static/vendor/) from the npm registry.

The console runs without Node and without a CDN: Vue, Element Plus and ECharts are committed as the
browser builds their packages publish, byte for byte. This script is the only way they change:

    python scripts/vendor_admin.py            # fetch the pinned versions, verify, extract, write the manifest
    python scripts/vendor_admin.py --check    # verify the committed files against the manifest (no network)

For each pinned package it asks ``https://registry.npmjs.org/<name>/<version>`` for ``dist.tarball`` and
``dist.integrity`` (Subresource-Integrity form, ``sha512-…``), downloads the tarball, refuses it unless the
digest matches, and extracts only the files listed below. ``manifest.json`` records, per file, the package,
version, tarball integrity and the file's own sha256 (tests/admin checks the committed files against it).
To move to a newer version: change ``PACKAGES``, run the script, look at the console, commit.
Only the standard library is used, so that it runs anywhere Python does.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
VENDOR_DIR = Path(__file__).resolve().parent.parent / "admin" / "static" / "vendor"
MANIFEST = VENDOR_DIR / "manifest.json"


@dataclass(frozen=True)
class Package:
    """A pinned npm package and the files of its tarball the console serves (tarball path → vendor name)."""

    name: str
    version: str
    files: dict[str, str]


PACKAGES = (
    # The ES-module browser build *with* the template compiler: the console's templates are strings in
    # plain ES modules, compiled in the browser (hence 'unsafe-eval' in /admin's CSP, see admin/app.py).
    Package(
        "vue",
        "3.5.45",
        {"package/dist/vue.esm-browser.prod.js": "vue.esm-browser.prod.js", "package/LICENSE": "vue.LICENSE.txt"},
    ),
    # The full build bundles everything but Vue (it imports "vue", resolved by the page's import map).
    Package(
        "element-plus",
        "2.14.8",
        {
            "package/dist/index.full.min.mjs": "element-plus.full.min.mjs",
            "package/dist/index.css": "element-plus.css",
            "package/dist/locale/zh-cn.min.mjs": "element-plus-zh-cn.min.mjs",
            "package/dist/locale/en.min.mjs": "element-plus-en.min.mjs",
            "package/LICENSE": "element-plus.LICENSE.txt",
        },
    ),
    # The complete ES-module build (pie, bar, line …); imported only by the dashboard.
    Package(
        "echarts",
        "6.1.0",
        {"package/dist/echarts.esm.min.mjs": "echarts.esm.min.mjs", "package/LICENSE": "echarts.LICENSE.txt"},
    ),
)


def _get(url: str) -> bytes:
    if not url.startswith("https://"):
        raise SystemExit(f"refusing a non-https URL: {url}")
    with urllib.request.urlopen(url, timeout=120) as resp:
        return resp.read()


def _verify_integrity(data: bytes, integrity: str, *, what: str) -> None:
    """Check ``data`` against an SRI string (``sha512-<base64>``; the strongest algorithm listed wins)."""
    by_algo = dict(part.split("-", 1) for part in integrity.split())
    for algo in ("sha512", "sha384", "sha256"):
        if algo in by_algo:
            got = base64.b64encode(hashlib.new(algo, data).digest()).decode()
            if got != by_algo[algo]:
                raise SystemExit(f"{what}: {algo} is {got}, the registry says {by_algo[algo]}: not extracting")
            return
    raise SystemExit(f"{what}: the registry gave no sha512/sha384/sha256 integrity ({integrity!r})")


def fetch(package: Package) -> dict[str, dict[str, str]]:
    """Download, verify and extract one package; return its manifest entries (vendor name → facts)."""
    meta = json.loads(_get(f"{REGISTRY}/{package.name}/{package.version}"))
    tarball, integrity = meta["dist"]["tarball"], meta["dist"]["integrity"]
    data = _get(tarball)
    _verify_integrity(data, integrity, what=f"{package.name}@{package.version}")
    entries: dict[str, dict[str, str]] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member_name, vendor_name in package.files.items():
            member = tar.getmember(member_name)
            extracted = tar.extractfile(member)
            if extracted is None:
                raise SystemExit(f"{package.name}@{package.version}: {member_name} is not a file")
            content = extracted.read()
            (VENDOR_DIR / vendor_name).write_bytes(content)
            entries[vendor_name] = {
                "package": package.name,
                "version": package.version,
                "source": member_name.removeprefix("package/"),
                "tarball": tarball,
                "integrity": integrity,
                "sha256": hashlib.sha256(content).hexdigest(),
                "bytes": str(len(content)),
            }
            print(f"  {vendor_name:32} {len(content):>9,} bytes  {package.name}@{package.version}")
    return entries


def check() -> list[str]:
    """The vendored files that are missing or differ from the manifest (empty when all match)."""
    manifest = json.loads(MANIFEST.read_text())
    problems = []
    for name, facts in sorted(manifest["files"].items()):
        path = VENDOR_DIR / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif (digest := hashlib.sha256(path.read_bytes()).hexdigest()) != facts["sha256"]:
            problems.append(f"{name}: sha256 {digest}, the manifest says {facts['sha256']}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify the committed files against the manifest")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, str]] = {}
    for package in PACKAGES:
        print(f"{package.name}@{package.version}")
        files.update(fetch(package))
    MANIFEST.write_text(
        json.dumps({"registry": REGISTRY, "files": files}, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    )
    print(f"wrote {MANIFEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
