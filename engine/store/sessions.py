"""Sessions of the signed-in pages: a random token in the browser's cookie, only its SHA-256 digest here,
the key it was opened with, an expiry and the time it was ended (sign-out). A session is live while its key
is live (not revoked), it has not expired and it was not ended."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from engine.store.records import ApiKey
from engine.store.schema import api_keys as K, key_classes as KC, web_sessions as W
from engine.store.types import utc_now


@dataclass(frozen=True)
class SessionRecord:
    key: ApiKey
    classes: tuple[str, ...]
    expires_at: datetime


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_(conn: sa.Connection, token: str, key_id: str, lifetime_s: float) -> datetime:
    now = utc_now()
    expires = now + timedelta(seconds=lifetime_s)
    conn.execute(sa.insert(W).values(token_hash=digest(token), key_id=key_id, created_at=now, expires_at=expires,
                                     ended_at=None))
    conn.execute(sa.delete(W).where(W.c.expires_at < now - timedelta(days=7)))  # keep the table small
    return expires


_LOOKUP = (sa.select(W.c.expires_at, W.c.ended_at, K.c.id, K.c.name, K.c.scopes, K.c.created_at, K.c.revoked_at)
           .select_from(W.join(K, K.c.id == W.c.key_id)).where(W.c.token_hash == sa.bindparam("token_hash")))


def lookup(conn: sa.Connection, token: str) -> SessionRecord | None:
    """The live session of `token` with its key and the key's classes; None when unknown, expired or ended
    (a revoked key is returned: the caller refuses it, as for API requests)."""
    row = conn.execute(_LOOKUP, {"token_hash": digest(token)}).first()
    if row is None or row.ended_at is not None or row.expires_at <= utc_now():
        return None
    key = ApiKey(row.id, row.name, frozenset(s for s in row.scopes.split(",") if s), row.created_at, row.revoked_at)
    classes = tuple(r.class_id for r in conn.execute(sa.select(KC.c.class_id).where(KC.c.key_id == row.id)
                                                     .order_by(KC.c.class_id)))
    return SessionRecord(key, classes, row.expires_at)


def end(conn: sa.Connection, token: str) -> bool:
    result: Any = conn.execute(sa.update(W).where(W.c.token_hash == digest(token), W.c.ended_at.is_(None))
                               .values(ended_at=utc_now()))
    return bool(result.rowcount)
