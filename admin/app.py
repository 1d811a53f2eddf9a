"""The admin console (管理后台) at ``/admin``: one HTML page, its ES modules and the vendored libraries.

The console is a single-page app in plain ES modules (``admin/static/app/``) on Vue 3 + Element Plus +
ECharts, vendored under ``admin/static/vendor/`` by ``scripts/vendor_admin.py`` (no Node, no bundler, no
CDN). It talks to the hub only through the public GraphQL API (and the sign-in endpoints), so whatever
the console does, a system with an API key can do too.

Content-Security-Policy of ``/admin`` (stricter than nothing, looser than GraphiQL's, and why):

- ``script-src 'self' 'sha256-…' 'unsafe-eval'``: scripts come only from the hub. The one inline script
  is the import map (which tells the browser where ``vue`` is, since Element Plus imports it by bare
  name); browsers load no external import maps, so it is allowed by its hash, computed here from the
  very bytes served. ``'unsafe-eval'`` is for Vue's in-browser template compiler (``new Function``):
  the templates are strings in our own static modules, never data from the API (the API's text is only
  ever interpolated as text), so eval compiles nothing an attacker wrote; precompiling them would need
  Node at build time, which the project refuses (README, "Admin console").
- ``style-src 'self' 'unsafe-inline'``: Element Plus and ECharts set inline styles at run time.
- ``img-src 'self' data:`` (Element Plus's CSS icons), ``font-src 'self'`` (no web fonts: the system's
  Noto CJK), ``connect-src 'self'`` (GraphQL and sign-in, same origin), no framing.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

if TYPE_CHECKING:
    from starlette.routing import BaseRoute
    from starlette.types import Receive, Scope, Send

STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX_HTML = (Path(__file__).resolve().parent / "index.html").read_text(encoding="utf-8")


def _inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions (``'sha256-…'``) for each inline ``<script>`` of ``html``, as served."""
    bodies = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, flags=re.S)
    return [f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in bodies]


ADMIN_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' " + " ".join([*_inline_script_hashes(INDEX_HTML), "'unsafe-eval'"]),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


async def index(scope: Scope, receive: Receive, send: Send) -> None:
    """The console's only page (an ASGI app, so that gzip wraps it); navigation is a hash router
    (``/admin#/clues``), so there is no other page route."""
    await HTMLResponse(INDEX_HTML, headers={"cache-control": "no-cache"})(scope, receive, send)


def admin_routes() -> list[BaseRoute]:
    """``/admin`` (the page) and ``/admin/static`` (modules, vendored libraries), gzip-compressed.

    Only these two prefixes: the rest of ``/admin/…`` (the sign-in API under ``/admin/api``) is routed
    elsewhere in the app.
    """
    page = GZipMiddleware(index, minimum_size=500)
    return [
        Route("/admin", page, methods=["GET"]),
        Route("/admin/", page, methods=["GET"]),
        Mount(
            "/admin/static", GZipMiddleware(StaticFiles(directory=STATIC_DIR), minimum_size=500), name="admin-static"
        ),
    ]
