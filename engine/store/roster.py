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
from engine.store.ids import path_id_problem
from engine.store.schema import ID_LENGTH, roster as T
from engine.store.states import chunks
from engine.store.types import MAX_SAFE_INTEGER, nul_free, utc_now

Scalar = str | int | float | bool | None

# attributes a roster record may hold, and distinct attribute names an upload may name (`upsert`)
MAX_ATTRIBUTES = 64


def _kind(value: Any) -> str:
    """What a refused attribute value is, in words: the value itself is never echoed (it is demographic data)."""
    if isinstance(value, float):
        return "NaN" if value != value else "an infinite number"
    if isinstance(value, int):
        return "a whole number beyond ±(2^53 - 1)"
    if isinstance(value, str):
        return "a string with a NUL character (U+0000)"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def _value_ok(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= MAX_SAFE_INTEGER
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return nul_free(value)
    return False


def _row_problems(row: int, record: Mapping[str, Any]) -> list[Problem]:
    """Problems of one record. They name the row and the attribute and say what is wrong and how to fix it,
    but never carry a value: roster values are demographics, and error texts end up in responses and logs."""
    found = []
    if (hint := path_id_problem(record.get("student_id"))) is not None:
        found.append(Problem(row, "student_id", None, f"student_id {hint}"))
    for position, (key, value) in enumerate(record.items(), start=1):
        if key == "student_id":
            continue
        if not isinstance(key, str) or not key or len(key) > ID_LENGTH or not nul_free(key):
            found.append(Problem(row, None, None, f"attribute {position}: attribute names must be non-empty strings of at most "
                                                  f"{ID_LENGTH} characters without NUL characters"))
        elif not _value_ok(value):
            found.append(Problem(row, key, None, f"got {_kind(value)}; attribute values must be a string (without NUL), "
                                                 f"a whole number within ±(2^53 - 1) (send larger ones as strings), "
                                                 "a finite number, true/false or null"))
    return found


def upsert(conn: sa.Connection, records: Iterable[Mapping[str, Any]]) -> int:
    """Store each record (`student_id` plus attribute columns), replacing a student's previous attributes
    entirely. Returns how many students were written; a bad record rejects them all (listing every problem).
    At most MAX_ATTRIBUTES attributes a record and distinct attribute names an upload: the roster is read back with
    every attribute on every record, so a few wide records would otherwise make every read of it huge."""
    rows = list(records)
    problems = [p for i, r in enumerate(rows, start=1)
                for p in (_row_problems(i, r) if isinstance(r, Mapping) else
                          [Problem(i, None, None, "a record must be an object: {\"student_id\": ..., attribute: value}")])]
    problems += _width_problems(rows)
    seen: dict[str, int] = {}
    for i, r in enumerate(rows, start=1):
        sid = r.get("student_id") if isinstance(r, Mapping) else None
        if not isinstance(sid, str) or not sid:
            continue  # already reported by _row_problems
        if sid in seen:
            problems.append(Problem(i, "student_id", None, f"the same student as row {seen[sid]}: list each student once"))
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


def _width_problems(rows: list[Any]) -> list[Problem]:
    """A record with more than MAX_ATTRIBUTES attributes, or an upload naming more than MAX_ATTRIBUTES in all."""
    widths = [(i, len(r) - ("student_id" in r)) for i, r in enumerate(rows, start=1) if isinstance(r, Mapping)]
    found = [Problem(i, None, None, f"{width} attributes; a record holds at most {MAX_ATTRIBUTES} (the roster is for the "
                                    "fairness audit's groups: gender, race/ethnicity, English learner, ...)")
             for i, width in widths if width > MAX_ATTRIBUTES]
    names = {k for r in rows if isinstance(r, Mapping) for k in r if k != "student_id"}
    if len(names) > MAX_ATTRIBUTES:
        found.append(Problem(None, None, None, f"{len(names)} distinct attribute names in one upload; at most "
                                               f"{MAX_ATTRIBUTES}: check for misspelt or per-student column names"))
    return found


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


def _rows(conn: sa.Connection, student_ids: Iterable[str] | None) -> list[Any]:
    if student_ids is None:
        return conn.execute(sa.select(T.c.student_id, T.c.attributes).order_by(T.c.student_id)).all()
    return sorted((r for part in chunks(sorted(set(student_ids)))
                   for r in conn.execute(sa.select(T.c.student_id, T.c.attributes).where(T.c.student_id.in_(part)))),
                  key=lambda r: r.student_id)


def records(conn: sa.Connection, student_ids: Iterable[str] | None = None) -> list[dict[str, Scalar]]:
    """The roster as records `{"student_id": ..., attribute: value}`, sorted by id, every value with the JSON
    type it was written with (true stays true, 3 stays 3, even where one attribute mixes kinds); like
    `read`, every record lists every attribute, null where a student lacks it."""
    rows = _rows(conn, student_ids)
    names = sorted({k for r in rows for k in r.attributes})
    return [{"student_id": r.student_id, **{name: r.attributes.get(name) for name in names}} for r in rows]


def read(conn: sa.Connection, student_ids: Iterable[str] | None = None) -> pl.DataFrame:
    """The roster (or the given students' rows) as `student_id` plus one column per attribute, sorted by id;
    a student without some attribute has null there."""
    rows = _rows(conn, student_ids)
    names = sorted({k for r in rows for k in r.attributes})
    data: dict[str, Any] = {"student_id": pl.Series("student_id", [r.student_id for r in rows], dtype=pl.Utf8)}
    for name in names:
        data[name] = pl.Series(name, _column([r.attributes.get(name) for r in rows]), strict=False)
    return pl.DataFrame(data)
