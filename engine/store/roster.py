"""The roster: students' demographic attributes, for fairness audits only.

Kept in its own table and reachable only through the `audit_scope_*` functions of `Store`, so that code
serving learners cannot read it by accident and every read site is easy to find. No mastery or
recommendation function takes these attributes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl
import sqlalchemy as sa

from engine.errors import DataValidationError, Problem
from engine.store.database import insert_or_update
from engine.store.schema import ID_LENGTH, roster as T
from engine.store.states import chunks
from engine.store.types import utc_now

Scalar = str | int | float | bool | None


def _row_problems(row: int, record: Mapping[str, Any]) -> list[Problem]:
    found = []
    sid = record.get("student_id")
    if not isinstance(sid, str) or not sid or len(sid) > ID_LENGTH:
        found.append(Problem(row, "student_id", sid, f"student_id must be a non-empty string of at most {ID_LENGTH} characters"))
    for key, value in record.items():
        if key == "student_id":
            continue
        if not isinstance(key, str) or not key:
            found.append(Problem(row, None, key, "attribute names must be non-empty strings"))
        elif not (value is None or isinstance(value, (str, int, bool)) or (isinstance(value, float) and math.isfinite(value))):
            found.append(Problem(row, key, value, "attribute values must be a string, a whole number, a finite number, true/false or null"))
    return found


def upsert(conn: sa.Connection, records: Iterable[Mapping[str, Any]]) -> int:
    """Store each record (`student_id` plus attribute columns), replacing a student's previous attributes
    entirely. Returns how many students were written; a bad record rejects them all (listing every problem)."""
    rows = list(records)
    problems = [p for i, r in enumerate(rows, start=1) for p in _row_problems(i, r)]
    seen: dict[str, int] = {}
    for i, r in enumerate(rows, start=1):
        sid = r.get("student_id")
        if not isinstance(sid, str) or not sid:
            continue  # already reported by _row_problems
        if sid in seen:
            problems.append(Problem(i, "student_id", sid, f"student listed twice (also row {seen[sid]})"))
        seen.setdefault(sid, i)
    if problems:
        raise DataValidationError(problems, source="roster")
    if not rows:
        return 0
    now = utc_now()
    values = [{"student_id": r["student_id"], "attributes": {k: v for k, v in r.items() if k != "student_id"},
               "updated_at": now} for r in rows]
    ins = insert_or_update(conn, T)
    stmt = ins.on_conflict_do_update(index_elements=[T.c.student_id],
                                     set_={"attributes": ins.excluded.attributes, "updated_at": ins.excluded.updated_at})
    conn.execute(stmt, values)
    return len(values)


def delete(conn: sa.Connection, student_ids: Iterable[str]) -> int:
    """Remove students from the roster; returns how many were there."""
    removed = 0
    for part in chunks(sorted(set(student_ids))):
        removed += conn.execute(sa.delete(T).where(T.c.student_id.in_(part))).rowcount
    return removed


def _column(values: list[Scalar]) -> list[Scalar]:
    """Values of one attribute; mixed kinds (e.g. 1 and "1") are all written as text rather than dropped."""
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int, float} or len(kinds) <= 1:
        return values
    return [None if v is None else str(v) for v in values]


def read(conn: sa.Connection, student_ids: Iterable[str] | None = None) -> pl.DataFrame:
    """The roster (or the given students' rows) as `student_id` plus one column per attribute, sorted by id;
    a student without some attribute has null there."""
    if student_ids is None:
        rows = conn.execute(sa.select(T.c.student_id, T.c.attributes).order_by(T.c.student_id)).all()
    else:
        rows = sorted((r for part in chunks(sorted(set(student_ids)))
                       for r in conn.execute(sa.select(T.c.student_id, T.c.attributes).where(T.c.student_id.in_(part)))),
                      key=lambda r: r.student_id)
    names = sorted({k for r in rows for k in r.attributes})
    data: dict[str, Any] = {"student_id": pl.Series("student_id", [r.student_id for r in rows], dtype=pl.Utf8)}
    for name in names:
        data[name] = pl.Series(name, _column([r.attributes.get(name) for r in rows]), strict=False)
    return pl.DataFrame(data)
