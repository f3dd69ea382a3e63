"""Fairness-audit results per model-set version: immutable evidence for the deployment gate.

An audit is written once and never changed; a new audit of the same version is a new row, and the
newest row (by `created_at`, then `id`) is the version's current verdict.

`record` is what the service uses: it is idempotent by content (a result equal to the version's newest
audit, status and report, is a retry and records nothing) and it guards the gate: a PASS or
INSUFFICIENT_EVIDENCE over a newest FAIL lifts the FAIL, which the caller must be allowed to do
(`may_lift`, the service's admin scope) and must give a reason for; the reason, the lifted audit's id and
who lifted it are kept in the new audit's report under `lifted_fail`.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from engine.errors import DataError, NotFoundError, PermissionDeniedError
from engine.store.records import AuditRecord
from engine.store.schema import AUDIT_STATUSES, ID_LENGTH, audits as T
from engine.store.states import chunks
from engine.store.types import dumps_json, json_problem, nul_free, utc_now

FAIL = "FAIL"
LIFT_KEY = "lifted_fail"  # reserved report key: why (and by whom) a FAIL was lifted
MAX_REASON = 2000
_LOCK_CLASS = 0x6175  # PostgreSQL advisory lock class for "one audit write per version at a time"


def _record(row: sa.Row[Any]) -> AuditRecord:
    return AuditRecord(int(row.id), row.model_set_version, row.status, row.report, row.created_at)


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


def _insert(conn: sa.Connection, model_set_version: str, status: str, report: Mapping[str, Any]) -> AuditRecord:
    stmt = sa.insert(T).values(model_set_version=model_set_version, status=status, report=dict(report),
                               created_at=utc_now()).returning(*T.c)
    return _record(conn.execute(stmt).one())


def save(conn: sa.Connection, model_set_version: str, status: str, report: Mapping[str, Any]) -> AuditRecord:
    """Append one audit result; `status` is PASS, FAIL or INSUFFICIENT_EVIDENCE, `report` a JSON object
    (at most 64 levels deep, no NUL characters)."""
    _validate(model_set_version, status, report)
    return _insert(conn, model_set_version, status, report)


def _canonical(report: Mapping[str, Any]) -> Any:
    return json.loads(dumps_json(dict(report)))


def record(conn: sa.Connection, model_set_version: str, status: str, report: Mapping[str, Any], *,
           may_lift: bool = False, reason: str | None = None, by: str | None = None) -> tuple[AuditRecord, bool]:
    """`(audit, created)` as the module docstring says (a retry returns the newest audit with created False)."""
    _validate(model_set_version, status, report)
    if LIFT_KEY in report:
        raise DataError(f"audit report: the key {LIFT_KEY!r} is reserved (the server records a lifted FAIL there); rename it")
    if reason is not None and (not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON
                               or not nul_free(reason)):
        raise DataError(f"reason must be a non-empty text of at most {MAX_REASON} characters without NUL characters")
    if conn.dialect.name == "postgresql":  # SQLite's write lock already serializes every writer
        key = zlib.crc32(model_set_version.encode()) - 2**31  # an int4
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_CLASS, key)))
    newest = latest(conn, [model_set_version]).get(model_set_version)
    if newest is not None and newest.status == status:
        stored = {k: v for k, v in newest.report.items() if k != LIFT_KEY}
        if stored == _canonical(report):
            return newest, False
    if newest is not None and newest.status == FAIL and status != FAIL:
        if not may_lift:
            raise PermissionDeniedError(
                f"model set {model_set_version!r} has a FAILED audit (#{newest.id}); lifting it with a {status} needs a key "
                "with the admin scope (as well as audit) and a reason")
        if reason is None:
            raise DataError(f"model set {model_set_version!r} has a FAILED audit (#{newest.id}); lifting it needs a "
                            "'reason' (recorded with the new audit)")
        report = {**report, LIFT_KEY: {"audit_id": newest.id, "reason": reason, "by": by}}
    return _insert(conn, model_set_version, status, report), True


def get(conn: sa.Connection, audit_id: int) -> AuditRecord:
    """The audit with this id, or `NotFoundError`."""
    row = conn.execute(sa.select(T).where(T.c.id == int(audit_id))).first()
    if row is None:
        raise NotFoundError(f"no audit with id {audit_id}")
    return _record(row)


def latest(conn: sa.Connection, model_set_versions: Iterable[str]) -> dict[str, AuditRecord]:
    """The newest audit of each given version that has one."""
    out: dict[str, AuditRecord] = {}
    for part in chunks(sorted(set(model_set_versions))):
        query = sa.select(T).where(T.c.model_set_version.in_(part)).order_by(T.c.created_at, T.c.id)
        for row in conn.execute(query):
            out[row.model_set_version] = _record(row)  # later rows overwrite earlier ones
    return out


def list_(conn: sa.Connection, model_set_version: str | None = None, limit: int = 100) -> list[AuditRecord]:
    """Audits, newest first (optionally of one version)."""
    query = sa.select(T).order_by(T.c.created_at.desc(), T.c.id.desc()).limit(int(limit))
    if model_set_version is not None:
        query = query.where(T.c.model_set_version == model_set_version)
    return [_record(r) for r in conn.execute(query)]
