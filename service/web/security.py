"""Cookies and CSRF for the pages.

- The session cookie holds a random token (the server keeps only its digest, `engine.store.sessions`) with an
  HMAC-SHA256 signature, so a forged or altered cookie is refused before any database read; it is HttpOnly
  (no script can read it), SameSite=Lax (not sent with another site's form posts) and Secure over HTTPS.
- Every form carries a CSRF token: HMAC(secret, "csrf" + session token) when signed in; before sign-in,
  HMAC(secret, "signin" + nonce) where the nonce sits in a short-lived cookie of its own (so another site
  cannot sign a browser in with the attacker's key either). A POST without the right token gets 403, and so
  does one whose Origin header names another site.

The secret: `EQUILEARN_SESSION_SECRET`, else a random one kept in `$EQUILEARN_HOME/session_secret` (created
with mode 0600 on first use and shared by every server process of the same home).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "eq_session"
SIGNIN_COOKIE = "eq_signin"
CSRF_FIELD = "csrf_token"
SIGNIN_COOKIE_SECONDS = 3600

_secrets: dict[str, bytes] = {}


def secret(home: Path) -> bytes:
    env = os.environ.get("EQUILEARN_SESSION_SECRET")
    if env:
        return hashlib.sha256(env.encode()).digest()
    key = str(home)
    if key not in _secrets:
        path = home / "session_secret"
        if not path.exists():
            home.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(32))
            except FileExistsError:
                pass  # another process wrote it first
        _secrets[key] = bytes.fromhex(path.read_text().strip())
    return _secrets[key]


def _mac(key: bytes, purpose: str, value: str) -> str:
    digest = hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(key: bytes, token: str) -> str:
    return f"{token}.{_mac(key, 'cookie', token)}"


def unsign(key: bytes, value: str | None) -> str | None:
    """The token of a correctly signed cookie value, else None."""
    if not value or value.count(".") != 1:
        return None
    token, mac = value.split(".")
    return token if token and _same(mac, _mac(key, "cookie", token)) else None


def csrf_for_session(key: bytes, token: str) -> str:
    return _mac(key, "csrf", token)


def csrf_for_signin(key: bytes, nonce: str) -> str:
    return _mac(key, "signin", nonce)


def valid(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and _same(expected, given)  # type: ignore[arg-type]


def _same(a: str, b: str) -> bool:
    """Constant-time equality of two texts; compared as UTF-8 bytes, since `hmac.compare_digest` raises on non-ASCII
    text (a forged cookie or form field would otherwise answer 500)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def same_origin(request: Request) -> bool:
    """False when the request names an Origin (or, lacking one, a Referer) of another host."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin != "null"
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https")


def delete_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https")
