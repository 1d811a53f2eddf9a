"""The admin console as the hub serves it: the page, its policy, gzip, and the vendored files' hashes."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from admin.app import ADMIN_CSP
from hub.app import create_app
from hub.security import CONTENT_SECURITY_POLICY

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "admin" / "static" / "vendor"


@pytest.fixture
async def client(empty_db_url, settings_for):  # type: ignore[no-untyped-def]
    app = create_app(settings_for(empty_db_url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as c:
        yield c
    await app.state.engine.dispose()


def test_every_vendored_file_matches_the_sha256_in_the_manifest() -> None:
    # Given the manifest scripts/vendor_admin.py wrote
    manifest = json.loads((VENDOR / "manifest.json").read_text())
    files = manifest["files"]
    # Then it names the builds the console loads, each from its pinned npm tarball …
    assert {
        "vue.esm-browser.prod.js",
        "element-plus.full.min.mjs",
        "element-plus.css",
        "element-plus-zh-cn.min.mjs",
        "element-plus-en.min.mjs",
        "echarts.esm.min.mjs",
    } <= set(files)
    assert all(
        f["integrity"].startswith("sha512-") and f["tarball"].startswith("https://registry.npmjs.org/")
        for f in files.values()
    )
    # … and every committed file is byte for byte what was extracted
    actual = {name: hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() for name in files}
    assert actual == {name: f["sha256"] for name, f in files.items()}
    # and nothing is served from the vendor directory that the manifest does not vouch for
    assert sorted(p.name for p in VENDOR.iterdir() if p.name != "manifest.json") == sorted(files)


def test_the_vendoring_script_check_mode_agrees_offline() -> None:
    # When the script verifies the committed files (no network in --check)
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "vendor_admin.py"), "--check"], capture_output=True, text=True
    )
    # Then it finds nothing to complain about
    assert (done.returncode, done.stderr) == (0, "")


def test_the_vendored_css_pulls_no_web_font_and_nothing_from_another_host() -> None:
    css = (VENDOR / "element-plus.css").read_text()
    assert "@font-face" not in css and "@import" not in css
    urls = re.findall(r"url\(([^)]*)\)", css)
    assert all(u.strip("'\"").startswith(("data:", "#")) for u in urls), urls


async def test_admin_serves_the_console_page_with_its_own_policy(client) -> None:
    # When a browser opens /admin
    resp = await client.get("/admin")
    # Then it gets the page, whose only inline script is the import map, allowed by its exact hash
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    csp = resp.headers["content-security-policy"]
    assert csp == ADMIN_CSP
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", resp.text, flags=re.S)
    assert (
        len(inline) == 1 and json.loads(inline[0])["imports"]["vue"] == "/admin/static/vendor/vue.esm-browser.prod.js"
    )
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}' 'unsafe-eval';" in csp
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "https:" not in csp
    # and every script and style it names is the hub's own
    for ref in re.findall(r'(?:src|href)="([^"]+)"', resp.text):
        assert ref.startswith("/admin/static/") or ref == "data:,", ref
        if ref.startswith("/admin/static/"):
            assert (await client.get(ref)).status_code == 200, ref


async def test_the_relaxed_policy_is_the_consoles_only(client) -> None:
    # GraphiQL keeps the strict policy: no eval anywhere but /admin
    resp = await client.get("/graphql", headers={"accept": "text/html"})
    assert resp.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY


async def test_the_console_assets_are_sent_gzipped(client) -> None:
    # When a browser that accepts gzip fetches the largest script
    path = "/admin/static/vendor/echarts.esm.min.mjs"
    resp = await client.get(path, headers={"accept-encoding": "gzip"})
    # Then it comes compressed (httpx decodes it: the body is the file)
    assert resp.headers["content-encoding"] == "gzip"
    assert resp.content == (VENDOR / "echarts.esm.min.mjs").read_bytes()
    raw = await client.get(path, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert len(gzip.compress(raw.content)) < len(raw.content) / 2


async def test_admin_paths_other_than_the_page_and_its_assets_are_left_to_other_routes(client) -> None:
    # /admin/api/… belongs to the sign-in API (admin/auth.py); the console does not swallow it
    session = await client.get("/admin/api/session")
    assert session.status_code == 401 and session.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await client.get("/admin/api/nowhere")).status_code == 404
    assert (await client.get("/admin/static/app/nowhere.js")).status_code == 404
    assert (await client.get("/admin/")).status_code == 200
