"""API keys: random secrets shown once, stored only as a SHA-256 digest, with scopes and revocation.

A key reads `eqk_<id>_<secret>`: `id` (16 hex characters) is public and names the stored row, `secret`
(32 random bytes, URL-safe base64) is known only to its holder. Verification looks the row up by id and
compares digests in constant time. A plain SHA-256 (not bcrypt/scrypt) is enough because the secret has
256 bits of entropy: slow hashes protect guessable passwords, and they would add milliseconds to every
request. Scopes are exact: no scope implies another (an `admin` key cannot read the roster; that needs
`audit`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from engine.errors import AuthError, ConfigError, NotFoundError, PermissionDeniedError
from engine.store.records import ApiKey
from engine.store.schema import ID_LENGTH, api_keys as T
from engine.store.types import utc_now

SCOPES = ("ingest", "recommend", "audit", "admin", "teach")  # teach: the teacher pages, bound to classes
PREFIX = "eqk"
_KEY_RE = re.compile(rf"^{PREFIX}_([0-9a-f]{{16}})_([A-Za-z0-9_-]{{43}})$")


def parse_scopes(scopes: str | Iterable[str]) -> frozenset[str]:
    """Scopes from `"ingest,recommend"` or a list; unknown or no scopes are a `ConfigError`."""
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    found = frozenset(s.strip().lower() for s in items if s and s.strip())
    unknown = sorted(found - set(SCOPES))
    if unknown:
        raise ConfigError(f"unknown scope(s) {', '.join(unknown)}; choose from {', '.join(SCOPES)}")
    if not found:
        raise ConfigError(f"a key needs at least one scope: {', '.join(SCOPES)}")
    return found


def check_classes(scopes: frozenset[str], class_ids: list[str]) -> None:
    """A `teach` key needs the classes its holder teaches; classes make sense only for a teach key."""
    if "teach" in scopes and not class_ids:
        raise ConfigError("a key with the teach scope needs the classes it may see (e.g. --classes 7A,7B)")
    if class_ids and "teach" not in scopes:
        raise ConfigError("classes are bound only to keys with the teach scope")


def digest(key_id: str, secret: str) -> str:
    """sha256 hex of `id:secret` (binding the secret to its id)."""
    return hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()


def _record(row: sa.Row[Any]) -> ApiKey:
    return ApiKey(row.id, row.name, frozenset(s for s in row.scopes.split(",") if s), row.created_at, row.revoked_at)


def create(conn: sa.Connection, scopes: str | Iterable[str], name: str = "") -> tuple[str, ApiKey]:
    """A new key: `(full_key_text, record)`. The text is returned only here and cannot be recovered."""
    wanted = parse_scopes(scopes)
    if not isinstance(name, str) or len(name) > ID_LENGTH:
        raise ConfigError(f"key name must be a string of at most {ID_LENGTH} characters")
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    stmt = sa.insert(T).values(id=key_id, name=name, secret_hash=digest(key_id, secret),
                               scopes=",".join(sorted(wanted)), created_at=utc_now(), revoked_at=None).returning(*T.c)
    record = _record(conn.execute(stmt).one())
    return f"{PREFIX}_{key_id}_{secret}", record


def parse_key(key: str | None) -> tuple[str, str]:
    """(id, secret) of a well-formed key text; `AuthError` when it is missing or malformed."""
    if not key:
        raise AuthError("missing API key: send it in the X-API-Key header")
    match = _KEY_RE.match(key.strip()) if isinstance(key, str) else None
    if match is None:
        raise AuthError("malformed API key: expected eqk_<id>_<secret> as printed by `equilearn keys create`")
    key_id, secret = match.groups()
    return key_id, secret


_BY_ID = sa.select(T).where(T.c.id == sa.bindparam("key_id"))


def lookup(conn: sa.Connection, key_id: str, secret: str) -> ApiKey:
    """The stored record of the key `key_id` whose secret is `secret` (revoked or not); `AuthError` otherwise."""
    row = conn.execute(_BY_ID, {"key_id": key_id}).first()
    # compare even when the id is unknown, so timing does not reveal which ids exist
    stored = row.secret_hash if row is not None else "0" * 64
    if not hmac.compare_digest(stored, digest(key_id, secret)) or row is None:
        raise AuthError("invalid API key")
    return _record(row)


def known_scope(scope: str | None) -> None:
    """`ConfigError` for a scope name this code does not define (a programming error, not a client's)."""
    if scope is not None and scope not in SCOPES:
        raise ConfigError(f"unknown scope {scope!r}; choose from {', '.join(SCOPES)}")


def check(record: ApiKey, scope: str | None) -> ApiKey:
    """`record` if it is live (else `AuthError`) and holds `scope` (else `PermissionDeniedError`)."""
    if not record.active:
        raise AuthError(f"API key {record.id} was revoked")
    if scope is not None and not record.allows(scope):
        raise PermissionDeniedError(f"API key {record.id} lacks the {scope!r} scope (it has: {', '.join(sorted(record.scopes))})")
    return record


def revoke(conn: sa.Connection, key_id: str) -> ApiKey:
    """Revoke a key by id (idempotent: revoking twice keeps the first time); `NotFoundError` if unknown."""
    key_id = key_id.split("_")[1] if key_id.startswith(f"{PREFIX}_") and key_id.count("_") >= 2 else key_id
    conn.execute(sa.update(T).where(T.c.id == key_id, T.c.revoked_at.is_(None)).values(revoked_at=utc_now()))
    row = conn.execute(sa.select(T).where(T.c.id == key_id)).first()
    if row is None:
        raise NotFoundError(f"no API key with id {key_id!r} (see `equilearn keys list`)")
    return _record(row)


def list_(conn: sa.Connection, include_revoked: bool = True) -> list[ApiKey]:
    """Every key's public record, oldest first."""
    query = sa.select(T).order_by(T.c.created_at, T.c.id)
    if not include_revoked:
        query = query.where(T.c.revoked_at.is_(None))
    return [_record(r) for r in conn.execute(query)]
