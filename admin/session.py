"""The session cookie and the checks a cookie-authenticated request passes (CSRF, same origin).

A browser signed in to the console carries its session in a cookie, which it would also send with a
request another site makes it send. So a cookie-authenticated request that could change anything —
every POST, to ``/graphql`` and to ``/admin/api`` alike (queries too: simpler, and no less safe) —
must carry the session's CSRF token in ``X-CSRF-Token``, which another site cannot read; and a
request whose ``Sec-Fetch-Site`` or ``Origin`` says it comes from another site is refused outright,
token or not. API keys travel in a header no other site can make a browser send: they need neither.

The cookie is HttpOnly (no script reads it), ``SameSite=Strict`` (never sent on a request another
site starts; the console is one page that fetches its data, so a link from elsewhere loses
nothing), ``Path=/``, and ``Secure`` with the ``__Host-`` prefix when ``HUB_PUBLIC_URL`` is https.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from hub.errors import CsrfRefused
from hub.settings import Settings
from hub.users import csrf_matches

COOKIE = "hub_session"
#: The name over https: the browser then insists on Secure, Path=/ and no Domain.
SECURE_COOKIE = "__Host-hub_session"
CSRF_HEADER = "x-csrf-token"
#: Sec-Fetch-Site values of a request the hub's own pages (or the address bar) started.
_OWN_SITE = {"same-origin", "none"}


def secure(settings: Settings) -> bool:
    """Whether browsers reach the hub over https (``HUB_PUBLIC_URL``): the cookie is then Secure."""
    return (settings.public_url or "").lower().startswith("https://")


def cookie_name(settings: Settings) -> str:
    """The session cookie's name under ``settings``."""
    return SECURE_COOKIE if secure(settings) else COOKIE


def session_token(cookies: Mapping[str, str], settings: Settings) -> str | None:
    """The session token a request's cookies carry, if any."""
    return cookies.get(cookie_name(settings)) or None


def cookie_header(settings: Settings, token: str, *, max_age: int) -> str:
    """The ``Set-Cookie`` value that stores ``token`` (``max_age`` 0 deletes the cookie)."""
    parts = [f"{cookie_name(settings)}={token}", "Path=/", "HttpOnly", "SameSite=Strict", f"Max-Age={max_age}"]
    if secure(settings):
        parts.append("Secure")
    return "; ".join(parts)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def expected_origin(settings: Settings, *, scheme: str, host: str | None) -> str | None:
    """The origin the hub's own pages have: ``HUB_PUBLIC_URL``'s, else the request's own."""
    if settings.public_url:
        return _origin(settings.public_url)
    if not host:
        return None
    return f"{'https' if scheme in ('https', 'wss') else 'http'}://{host}".lower()


def check_same_site(headers: Mapping[str, str], settings: Settings, *, scheme: str) -> None:
    """Refuse (``CsrfRefused``) a request that says it comes from another site.

    ``Sec-Fetch-Site`` (sent by every current browser) must be ``same-origin`` or ``none``; an
    ``Origin``, when sent, must be the hub's own. A client that sends neither is not a browser
    acting for another site (the CSRF token is still asked of it)."""
    site = headers.get("sec-fetch-site")
    if site is not None and site.lower() not in _OWN_SITE:
        raise CsrfRefused(
            f"a signed-in request from another site is refused (Sec-Fetch-Site: {site})",
            suggestion="use the hub's own pages, or an API key in the X-API-Key header",
        )
    origin = headers.get("origin")
    if origin is not None:
        expected = expected_origin(settings, scheme=scheme, host=headers.get("host"))
        if origin.lower() == "null" or _origin(origin) != expected:
            raise CsrfRefused(
                f"a signed-in request from another origin is refused (Origin: {origin[:100]})",
                suggestion="use the hub's own pages, or set HUB_PUBLIC_URL to the address browsers use",
            )


def check_csrf(headers: Mapping[str, str], *, secret_key: str, session_id: str) -> None:
    """Refuse (``CsrfRefused``) a cookie-authenticated POST without the session's CSRF token."""
    presented = headers.get(CSRF_HEADER)
    if not csrf_matches(secret_key, session_id, presented):
        what = "without" if not presented else "with a wrong"
        raise CsrfRefused(
            f"a signed-in POST {what} CSRF token is refused: send the X-CSRF-Token header",
            suggestion="take the token from the sign-in answer or GET /admin/api/session",
        )
