"""Signing in to the pages with an API key: a server-side session per sign-in.

`sign_in` checks the key as the API does (unknown, malformed or revoked: `AuthError`), lets in only keys made
for the pages (`teach`: a teacher; `audit`: an equity lead; others: `PermissionDeniedError`), and opens a
session: a random token for the browser's cookie, only its digest stored (`engine.store.sessions`).
`viewer` answers who holds a token (None: signed out, expired, or the key was revoked), reading the database
at most once per `EQUILEARN_KEY_CACHE_SECONDS` per token; `sign_out` ends the session at once.
"""

from __future__ import annotations

import secrets
import threading
import time

from engine.errors import PermissionDeniedError
from engine.runtime.classroom import Viewer
from engine.runtime.runtime import Runtime
from engine.store.types import utc_now

PAGE_SCOPES = ("teach", "audit")
SESSION_HOURS = 8.0

_cache: dict[str, tuple[float, Viewer | None]] = {}
_cache_lock = threading.Lock()


def sign_in(runtime: Runtime, key_text: str) -> tuple[str, Viewer]:
    """(session token, viewer) for a live key holding `teach` or `audit`."""
    record = runtime.store.verify_api_key((key_text or "").strip())
    if not any(s in record.scopes for s in PAGE_SCOPES):
        raise PermissionDeniedError("this key cannot sign in to the pages: they need a key with the teach scope "
                                    "(teachers) or the audit scope (equity leads)")
    token = secrets.token_urlsafe(32)
    expires = runtime.store.open_web_session(token, record.id, SESSION_HOURS * 3600)
    classes = tuple(runtime.store.key_classes([record.id]).get(record.id, []))
    return token, Viewer(record.id, record.name, record.scopes, classes, expires)


def viewer(runtime: Runtime, token: str | None) -> Viewer | None:
    """Who holds this session token now, or None."""
    if not token:
        return None
    ttl = runtime.settings.key_cache_seconds
    now = time.monotonic()
    if ttl > 0:
        with _cache_lock:
            hit = _cache.get(token)
        # a cached viewer past its session's end is looked up again (and found ended)
        if hit is not None and hit[0] > now and (hit[1] is None or hit[1].expires_at is None or hit[1].expires_at > utc_now()):
            return hit[1]
    found = runtime.store.web_session(token)
    who = None
    if found is not None and found.key.active:
        who = Viewer(found.key.id, found.key.name, found.key.scopes, found.classes, found.expires_at)
    if ttl > 0:
        with _cache_lock:
            if len(_cache) > 10_000:
                _cache.clear()
            _cache[token] = (now + ttl, who)
    return who


def sign_out(runtime: Runtime, token: str | None) -> None:
    if not token:
        return
    with _cache_lock:
        _cache.pop(token, None)
    runtime.store.end_web_session(token)
