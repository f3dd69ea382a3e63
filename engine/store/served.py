"""Served recommendations: every list shown to a learner, with its reasons, propensities and versions.

This is the log an exposure/tracking audit and an off-policy evaluation read later, so each row keeps
what was decided at serving time (the items with their explanation and propensity, the model versions,
the audit status of the model set) rather than anything recomputed afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine.errors import DataError
from engine.store.records import ServedRecommendation
from engine.store.schema import ID_LENGTH, served_recommendations as T
from engine.store.types import as_utc, utc_now


def _record(row: sa.Row[Any]) -> ServedRecommendation:
    return _from_values(row.id, row._mapping)


def _from_values(served_id: int, r: Mapping[str, Any]) -> ServedRecommendation:
    audit_id = r["audit_id"]
    return ServedRecommendation(int(served_id), r["student_id"], r["served_at"], r["model_set_version"], r["model_versions"],
                                r["audit_status"], None if audit_id is None else int(audit_id), r["items"], r["context"])


def served_row(student_id: str, items: Sequence[Mapping[str, Any]], *, model_set_version: str,
               model_versions: Mapping[str, Any], audit_status: str | None = None, audit_id: int | None = None,
               context: Mapping[str, Any] | None = None, served_at: datetime | None = None) -> dict[str, Any]:
    """The checked row of one served list; `items` are JSON objects in rank order (id, score, reason,
    propensity, ...). `DataError` names what is wrong."""
    for name, value in (("student_id", student_id), ("model_set_version", model_set_version)):
        if not isinstance(value, str) or not value or len(value) > ID_LENGTH:
            raise DataError(f"{name} must be a non-empty string of at most {ID_LENGTH} characters, got {value!r}")
    if isinstance(items, (str, bytes, Mapping)) or not all(isinstance(i, Mapping) for i in items):
        raise DataError("items must be a list of JSON objects (one per recommended entry, in rank order)")
    if not isinstance(model_versions, Mapping):
        raise DataError("model_versions must be a JSON object, e.g. {\"mastery\": \"3\", \"recommender\": \"3\"}")
    return {"student_id": student_id, "served_at": utc_now() if served_at is None else as_utc(served_at),
            "model_set_version": model_set_version, "model_versions": dict(model_versions),
            "audit_status": audit_status, "audit_id": audit_id, "items": [dict(i) for i in items],
            "context": None if context is None else dict(context)}


def record(conn: sa.Connection, student_id: str, items: Sequence[Mapping[str, Any]], **fields: Any) -> ServedRecommendation:
    """Append one served list (see `served_row` for the fields)."""
    return record_many(conn, [served_row(student_id, items, **fields)])[0]


def record_many(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> list[ServedRecommendation]:
    """Append several `served_row` rows with one multi-row INSERT; records in the order given."""
    if not rows:
        return []
    ids = conn.execute(_INSERT, list(rows)).scalars().all()
    return [_from_values(i, r) for i, r in zip(ids, rows, strict=True)]


# prepared once (the service appends one row per recommendation); ids come back in the order of the rows
_INSERT = sa.insert(T).returning(T.c.id, sort_by_parameter_order=True)


def for_student(conn: sa.Connection, student_id: str, limit: int = 50) -> list[ServedRecommendation]:
    """A student's served lists, newest first."""
    query = (sa.select(T).where(T.c.student_id == student_id)
             .order_by(T.c.served_at.desc(), T.c.id.desc()).limit(int(limit)))
    return [_record(r) for r in conn.execute(query)]


def between(conn: sa.Connection, start: datetime | None = None, end: datetime | None = None) -> list[ServedRecommendation]:
    """Every served list with `start <= served_at < end` (either bound optional), oldest first."""
    query = sa.select(T).order_by(T.c.served_at, T.c.id)
    if start is not None:
        query = query.where(T.c.served_at >= as_utc(start))
    if end is not None:
        query = query.where(T.c.served_at < as_utc(end))
    return [_record(r) for r in conn.execute(query)]



def newest_id(conn: sa.Connection) -> int:
    """The id of the newest served list (0 when none)."""
    return int(conn.execute(sa.select(sa.func.max(T.c.id))).scalar() or 0)


def offers(conn: sa.Connection, student_ids: Iterable[str] | None = None, start: datetime | None = None,
           after_id: int = 0) -> list[dict[str, Any]]:
    """What was offered, one row per served item (of the given students, or all; served at or after `start`),
    in serving order: `served_id`, `student_id`, `served_at`, `rank`, `resource_id`, `level`, `kind`,
    `skill_id` (the resource's primary skill), `skill_mastery` (its estimate when served; None in rows
    logged before it was recorded), `placement` (a placement question, not a recommendation track), `item_id` (the
    item paired with the resource) and `item_p` (its predicted success when served; None in rows logged before it
    was recorded, and for placement questions)."""
    query = sa.select(T.c.id, T.c.student_id, T.c.served_at, T.c["items"], T.c.context).order_by(T.c.served_at, T.c.id)
    if start is not None:
        query = query.where(T.c.served_at >= as_utc(start))
    if after_id:
        query = query.where(T.c.id > int(after_id))
    if student_ids is None:
        rows = conn.execute(query).all()
    else:
        rows = [r for part in _chunks(sorted(set(student_ids))) for r in conn.execute(query.where(T.c.student_id.in_(part)))]
        rows.sort(key=lambda r: (r.served_at, r.id))
    out = []
    for r in rows:
        placement = bool((r.context or {}).get("placement", False))
        for item in r.items or []:
            skills = item.get("skill_ids") or [None]
            out.append({"served_id": int(r.id), "student_id": r.student_id, "served_at": r.served_at,
                        "rank": item.get("rank"), "resource_id": item.get("resource_id"), "level": item.get("level"),
                        "kind": item.get("kind"), "skill_id": skills[0], "skill_mastery": item.get("skill_mastery"),
                        "placement": placement, "item_id": item.get("item_id"), "item_p": item.get("item_p")})
    return out


def _chunks(values: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]
