"""Teacher constraints per student: the assigned skills and the pinned and blocked resources that the
recommender applies (`engine.recommend.constraints.TeacherConstraints`). One JSON document per student,
replaced whole; who changed it last is kept (a key id)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from engine.errors import DataError
from engine.store.database import insert_or_update
from engine.store.schema import ID_LENGTH, teacher_constraints as T
from engine.store.states import chunks
from engine.store.types import nul_free, utc_now

FIELDS = ("assigned_skills", "pinned_resources", "blocked_resources")
MAX_IDS = 200

_BY_STUDENT = sa.select(T.c.constraints).where(T.c.student_id == sa.bindparam("student_id"))


def clean(document: Mapping[str, Any]) -> dict[str, list[str]]:
    """The document with every field present, ids deduplicated in order; `DataError` naming what is wrong."""
    unknown = sorted(set(document) - set(FIELDS))
    if unknown:
        raise DataError(f"unknown teacher constraint(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    out: dict[str, list[str]] = {}
    for name in FIELDS:
        values = document.get(name, [])
        if isinstance(values, str) or not isinstance(values, (list, tuple)) or len(values) > MAX_IDS or not all(
                isinstance(v, str) and 0 < len(v) <= ID_LENGTH and nul_free(v) for v in values):
            raise DataError(f"{name} must be a list of at most {MAX_IDS} ids (non-empty strings without NUL characters)")
        out[name] = list(dict.fromkeys(values))
    both = sorted(set(out["pinned_resources"]) & set(out["blocked_resources"]))
    if both:
        raise DataError(f"resource(s) both pinned and blocked: {', '.join(both)}; choose one")
    return out


def get(conn: sa.Connection, student_id: str) -> dict[str, list[str]] | None:
    row = conn.execute(_BY_STUDENT, {"student_id": student_id}).first()
    return None if row is None else dict(row.constraints)


def get_many(conn: sa.Connection, student_ids: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for part in chunks(sorted(set(student_ids))):
        for r in conn.execute(sa.select(T.c.student_id, T.c.constraints).where(T.c.student_id.in_(part))):
            out[r.student_id] = dict(r.constraints)
    return out


def put(conn: sa.Connection, student_id: str, document: Mapping[str, Any], by: str | None = None) -> dict[str, list[str]]:
    """Replace a student's constraints (an empty document removes the row); returns what is stored."""
    doc = clean(document)
    if not any(doc.values()):
        conn.execute(sa.delete(T).where(T.c.student_id == student_id))
        return doc
    ins = insert_or_update(conn, T)
    conn.execute(ins.on_conflict_do_update(index_elements=[T.c.student_id], set_={
        "constraints": ins.excluded.constraints, "updated_at": ins.excluded.updated_at, "updated_by": ins.excluded.updated_by}),
        {"student_id": student_id, "constraints": doc, "updated_at": utc_now(), "updated_by": by})
    return doc


def update(conn: sa.Connection, student_id: str, change: Any, by: str | None = None) -> dict[str, list[str]]:
    """Read-modify-write in one transaction: `change(current document) -> new document`."""
    current = get(conn, student_id) or {name: [] for name in FIELDS}
    return put(conn, student_id, change(clean(current)), by)
