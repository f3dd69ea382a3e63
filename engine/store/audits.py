"""Fairness-audit results per model-set version: immutable evidence for the deployment gate.

An audit is written once and never changed; a new audit of the same version is a new row, and the
newest row (by `created_at`, then `id`) is the version's current verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from engine.errors import DataError, NotFoundError
from engine.store.records import AuditRecord
from engine.store.schema import AUDIT_STATUSES, ID_LENGTH, audits as T
from engine.store.states import chunks
from engine.store.types import utc_now


def _record(row: sa.Row[Any]) -> AuditRecord:
    return AuditRecord(int(row.id), row.model_set_version, row.status, row.report, row.created_at)


def save(conn: sa.Connection, model_set_version: str, status: str, report: Mapping[str, Any]) -> AuditRecord:
    """Append one audit result; `status` is PASS, FAIL or INSUFFICIENT_EVIDENCE, `report` a JSON object."""
    if not isinstance(model_set_version, str) or not model_set_version or len(model_set_version) > ID_LENGTH:
        raise DataError(f"model_set_version must be a non-empty string of at most {ID_LENGTH} characters, "
                        f"got {model_set_version!r}")
    if status not in AUDIT_STATUSES:
        raise DataError(f"audit status must be one of {', '.join(AUDIT_STATUSES)}, got {status!r}")
    if not isinstance(report, Mapping):
        raise DataError(f"audit report must be a JSON object (dict), got {type(report).__name__}")
    stmt = sa.insert(T).values(model_set_version=model_set_version, status=status, report=dict(report),
                               created_at=utc_now()).returning(*T.c)
    return _record(conn.execute(stmt).one())


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
