"""Fairness-audit results per model-set version: immutable evidence for the deployment gate.

An audit is written once and never changed; a new audit of the same version is a new row, and the
newest row (by `created_at`, then `id`) is the version's current verdict.

Every audit is bound to the sha256 of the model set's content it audited (`content_sha256`, see
`engine.registry.model_set.content_sha256`) and, when known, to the fingerprint of the data it used
(`data_sha256`). The deployment gate asks `latest_for_content`: the newest audit of exactly this content,
whatever version name it was recorded under.

`record` is what the service uses: it is idempotent by content (a result equal to the newest audit of the
same content, or of the same version when no content is given, status and report, is a retry and records
nothing) and it guards the gate: a PASS or INSUFFICIENT_EVIDENCE over a newest FAIL lifts the FAIL, which
the caller must be allowed to do (`may_lift`, the service's admin scope) and must give a reason for; the
reason, the lifted audit's id and who lifted it are kept in the new audit's report under `lifted_fail`. A
PASS given with a reason by a caller who may lift, over content whose newest verdict is not a PASS (none or
INSUFFICIENT_EVIDENCE), is an admin's override: the reason and who gave it are kept under `override`.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from engine.errors import DataError, NotFoundError, PermissionDeniedError
from engine.store.records import AuditRecord
from engine.store.schema import AUDIT_STATUSES, ID_LENGTH, audits as T
from engine.store.states import chunks
from engine.store.types import dumps_json, json_problem, nul_free, utc_now

FAIL, PASS = "FAIL", "PASS"
LIFT_KEY = "lifted_fail"  # reserved report key: why (and by whom) a FAIL was lifted
OVERRIDE_KEY = "override"  # reserved report key: an admin's PASS (with its reason) over content without a PASS
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
MAX_REASON = 2000
_LOCK_CLASS = 0x6175  # PostgreSQL advisory lock class for "one audit write per version at a time"


def _record(row: sa.Row[Any]) -> AuditRecord:
    return AuditRecord(int(row.id), row.model_set_version, row.status, row.report, row.created_at,
                       row.content_sha256, row.data_sha256)


def _validate_hashes(content_sha256: str | None, data_sha256: str | None) -> None:
    if content_sha256 is not None and (not isinstance(content_sha256, str) or not SHA256_HEX.fullmatch(content_sha256)):
        raise DataError("content_sha256 must be the 64 lowercase hex digits of a model set's content hash "
                        "(`equilearn model audit` records it)")
    if data_sha256 is not None and (not isinstance(data_sha256, str) or not data_sha256 or len(data_sha256) > ID_LENGTH
                                    or not nul_free(data_sha256)):
        raise DataError(f"data_sha256 must be a non-empty text of at most {ID_LENGTH} characters without NUL characters")


def _validate(model_set_version: str, status: str, report: Mapping[str, Any]) -> None:
    if (not isinstance(model_set_version, str) or not model_set_version or len(model_set_version) > ID_LENGTH
            or not nul_free(model_set_version)):
        shown = repr(model_set_version) if isinstance(model_set_version, str) and nul_free(model_set_version) else "(not shown)"
        raise DataError(f"model_set_version must be a non-empty string of at most {ID_LENGTH} characters without NUL "
                        f"characters, got {shown[:80]}")
    if status not in AUDIT_STATUSES:
        raise DataError(f"audit status must be one of {', '.join(AUDIT_STATUSES)}, got {str(status)[:40]!r}")
    if not isinstance(report, Mapping):
        raise DataError(f"audit report must be a JSON object (dict), got {type(report).__name__}")
    if (why := json_problem(dict(report))) is not None:
        raise DataError(f"audit report: {why}; nothing was recorded")


def _insert(conn: sa.Connection, model_set_version: str, status: str, report: Mapping[str, Any],
            content_sha256: str | None = None, data_sha256: str | None = None) -> AuditRecord:
    stmt = sa.insert(T).values(model_set_version=model_set_version, status=status, report=dict(report),
                               created_at=utc_now(), content_sha256=content_sha256, data_sha256=data_sha256).returning(*T.c)
    return _record(conn.execute(stmt).one())


def save(conn: sa.Connection, model_set_version: str, status: str, report: Mapping[str, Any],
         content_sha256: str | None = None, data_sha256: str | None = None) -> AuditRecord:
    """Append one audit result; `status` is PASS, FAIL or INSUFFICIENT_EVIDENCE, `report` a JSON object
    (at most 64 levels deep, no NUL characters)."""
    _validate(model_set_version, status, report)
    _validate_hashes(content_sha256, data_sha256)
    return _insert(conn, model_set_version, status, report, content_sha256, data_sha256)


def _canonical(report: Mapping[str, Any]) -> Any:
    return json.loads(dumps_json(dict(report)))


def record(conn: sa.Connection, model_set_version: str, status: str, report: Mapping[str, Any], *,
           may_lift: bool = False, reason: str | None = None, by: str | None = None,
           content_sha256: str | None = None, data_sha256: str | None = None) -> tuple[AuditRecord, bool]:
    """`(audit, created)` as the module docstring says (a retry returns the newest audit with created False)."""
    _validate(model_set_version, status, report)
    _validate_hashes(content_sha256, data_sha256)
    for reserved in (LIFT_KEY, OVERRIDE_KEY):
        if reserved in report:
            raise DataError(f"audit report: the key {reserved!r} is reserved (the server records a lifted FAIL or an "
                            "override there); rename it")
    if reason is not None and (not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON
                               or not nul_free(reason)):
        raise DataError(f"reason must be a non-empty text of at most {MAX_REASON} characters without NUL characters")
    lock_on = content_sha256 or model_set_version
    if conn.dialect.name == "postgresql":  # SQLite's write lock already serializes every writer
        key = zlib.crc32(lock_on.encode()) - 2**31  # an int4
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_CLASS, key)))
    if content_sha256 is not None:
        newest = latest_for_content(conn, [content_sha256]).get(content_sha256)
        what = f"model set content sha256:{content_sha256[:12]} ({model_set_version})"
    else:
        newest = latest(conn, [model_set_version]).get(model_set_version)
        what = f"model set {model_set_version!r}"
    if newest is not None and newest.status == status:
        stored = {k: v for k, v in newest.report.items() if k not in (LIFT_KEY, OVERRIDE_KEY)}
        if stored == _canonical(report):
            return newest, False
    if newest is not None and newest.status == FAIL and status != FAIL:
        if not may_lift:
            raise PermissionDeniedError(
                f"{what} has a FAILED audit (#{newest.id}); lifting it with a {status} needs a key "
                "with the admin scope (as well as audit) and a reason")
        if reason is None:
            raise DataError(f"{what} has a FAILED audit (#{newest.id}); lifting it needs a "
                            "'reason' (recorded with the new audit)")
        report = {**report, LIFT_KEY: {"audit_id": newest.id, "reason": reason, "by": by}}
    elif status == PASS and may_lift and reason is not None and (newest is None or newest.status != PASS):
        report = {**report, OVERRIDE_KEY: {"audit_id": None if newest is None else newest.id,
                                           "over": None if newest is None else newest.status, "reason": reason, "by": by}}
    return _insert(conn, model_set_version, status, report, content_sha256, data_sha256), True


def get(conn: sa.Connection, audit_id: int) -> AuditRecord:
    """The audit with this id, or `NotFoundError`."""
    row = conn.execute(sa.select(T).where(T.c.id == int(audit_id))).first()
    if row is None:
        raise NotFoundError(f"no audit with id {audit_id}")
    return _record(row)


def _newest_by(conn: sa.Connection, column: sa.Column, keys: Iterable[str]) -> dict[str, AuditRecord]:
    """The newest audit for each value of `column` among `keys` that has one."""
    out: dict[str, AuditRecord] = {}
    for part in chunks(sorted(set(keys))):
        query = sa.select(T).where(column.in_(part)).order_by(T.c.created_at, T.c.id)
        for row in conn.execute(query):
            out[row._mapping[column]] = _record(row)  # later rows overwrite earlier ones
    return out


def latest(conn: sa.Connection, model_set_versions: Iterable[str]) -> dict[str, AuditRecord]:
    """The newest audit of each given version that has one."""
    return _newest_by(conn, T.c.model_set_version, model_set_versions)


def latest_for_content(conn: sa.Connection, content_hashes: Iterable[str]) -> dict[str, AuditRecord]:
    """The newest audit bound to each given content hash that has one (the deployment gate's verdict)."""
    return _newest_by(conn, T.c.content_sha256, content_hashes)


def list_(conn: sa.Connection, model_set_version: str | None = None, limit: int = 100) -> list[AuditRecord]:
    """Audits, newest first (optionally of one version)."""
    query = sa.select(T).order_by(T.c.created_at.desc(), T.c.id.desc()).limit(int(limit))
    if model_set_version is not None:
        query = query.where(T.c.model_set_version == model_set_version)
    return [_record(r) for r in conn.execute(query)]
