"""Mastery states: one opaque JSON document per student, with a write counter for optimistic concurrency.

Locking for the ingest path (`lock_states`): on PostgreSQL each affected student gets a row first (a
placeholder with SQL NULL state if new, via INSERT ... ON CONFLICT DO NOTHING, which waits for a
concurrent insert of the same key), then all rows are read with SELECT ... FOR UPDATE in student-id
order, so two transactions touching the same student run one after the other and transactions over
several students cannot deadlock on each other's rows. Placeholders never outlive their transaction:
they are filled or deleted before commit. On SQLite the write transaction already holds the database's
single write lock (BEGIN IMMEDIATE), so the rows are simply read and new students get no placeholder.
`write_states` is an upsert, so it serves both cases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.errors import ConflictError, DataError
from engine.store.database import in_values, insert_or_update
from engine.store.records import StoredState
from engine.store.schema import mastery_states as T
from engine.store.types import utc_now

CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class LockedState:
    """A locked row: the state (None for a new student), its write version and newest folded event."""

    state: dict[str, Any] | None
    version: int
    last_seq: int | None


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


# PostgreSQL: the placeholders of a whole batch in one statement over an array of ids.
_PG_PLACEHOLDERS = sa.text(
    "INSERT INTO mastery_states (student_id, state, version, last_seq, updated_at) "
    "SELECT s, NULL, 0, NULL, :now FROM unnest(CAST(:ids AS varchar[])) AS s "
    "ON CONFLICT (student_id) DO NOTHING")


def lock_states(conn: sa.Connection, student_ids: Iterable[str]) -> dict[str, LockedState]:
    """Lock the state rows of `student_ids` for this transaction and return them (see the module docstring);
    a student absent from the result (SQLite) or with `state=None` (a PostgreSQL placeholder) has no state yet."""
    ids = sorted(set(student_ids))
    row_locks = conn.dialect.name == "postgresql"  # SQLite: the transaction holds the database write lock
    if row_locks:
        conn.execute(_PG_PLACEHOLDERS, {"ids": ids, "now": utc_now()})
    locked: dict[str, LockedState] = {}
    for part in chunks(ids):
        query = (sa.select(T.c.student_id, T.c.state, T.c.version, T.c.last_seq)
                 .where(in_values(conn, T.c.student_id, part)).order_by(T.c.student_id))
        if row_locks:
            query = query.with_for_update()
        for sid, state, version, last_seq in conn.execute(query):
            locked[sid] = LockedState(state, int(version), last_seq)
    return locked


def write_states(conn: sa.Connection, new: Mapping[str, tuple[dict[str, Any], int | None]]) -> None:
    """Write `{student_id: (state, last_seq)}` for students locked by `lock_states`: a new row at version 1,
    or the existing row (or placeholder) with its version bumped by one."""
    if not new:
        return
    now = utc_now()
    rows = [{"student_id": s, "state": st, "version": 1, "last_seq": seq, "updated_at": now} for s, (st, seq) in new.items()]
    ins = insert_or_update(conn, T)
    stmt = ins.on_conflict_do_update(index_elements=[T.c.student_id], set_={
        "state": ins.excluded.state, "version": T.c.version + 1, "last_seq": ins.excluded.last_seq,
        "updated_at": ins.excluded.updated_at})
    conn.execute(stmt, rows)


def drop_placeholders(conn: sa.Connection, student_ids: Iterable[str]) -> None:
    """Delete rows of `student_ids` that are still placeholders (no state was written for them)."""
    for part in chunks(sorted(set(student_ids))):
        conn.execute(sa.delete(T).where(in_values(conn, T.c.student_id, part), T.c.state.is_(None)))


def _record(row: sa.Row[Any]) -> StoredState:
    return StoredState(row.student_id, row.state, int(row.version), row.last_seq, row.updated_at)


_ONE = sa.select(T).where(T.c.student_id == sa.bindparam("student_id"), T.c.state.is_not(None))


def get_state(conn: sa.Connection, student_id: str) -> StoredState | None:
    """One student's stored state (a prepared statement: the service reads one per request)."""
    row = conn.execute(_ONE, {"student_id": student_id}).first()
    return None if row is None else _record(row)


def get_states(conn: sa.Connection, student_ids: Iterable[str]) -> dict[str, StoredState]:
    """Stored states of those of `student_ids` that have one."""
    out: dict[str, StoredState] = {}
    for part in chunks(sorted(set(student_ids))):
        for row in conn.execute(sa.select(T).where(in_values(conn, T.c.student_id, part), T.c.state.is_not(None))):
            out[row.student_id] = _record(row)
    return out


def student_ids(conn: sa.Connection) -> list[str]:
    """Every student with a stored state, sorted."""
    return list(conn.execute(sa.select(T.c.student_id).where(T.c.state.is_not(None)).order_by(T.c.student_id)).scalars())


def put_state(conn: sa.Connection, student_id: str, state: dict[str, Any], expected_version: int | None) -> StoredState:
    """Write one state outside the ingest path (admin repairs, imports); `last_seq` is kept as it was.

    `expected_version=None` overwrites whatever is stored; 0 means "only if the student has no state";
    n > 0 means "only if the stored version is still n" (compare-and-set). A failed condition raises
    `ConflictError` and writes nothing.
    """
    if not isinstance(state, Mapping):
        raise DataError(f"state of student {student_id!r} must be a JSON object (dict), got {type(state).__name__}")
    now = utc_now()
    values = {"student_id": student_id, "state": dict(state), "version": 1, "last_seq": None, "updated_at": now}
    if expected_version is None:
        ins = insert_or_update(conn, T).values(**values)
        stmt = ins.on_conflict_do_update(index_elements=[T.c.student_id],
                                         set_={"state": ins.excluded.state, "version": T.c.version + 1, "updated_at": now})
    elif expected_version == 0:
        stmt = insert_or_update(conn, T).values(**values).on_conflict_do_nothing(index_elements=[T.c.student_id])
    else:
        stmt = (sa.update(T).where(T.c.student_id == student_id, T.c.version == expected_version)
                .values(state=dict(state), version=T.c.version + 1, updated_at=now))
    row = conn.execute(stmt.returning(*T.c)).first()
    if row is None:
        raise ConflictError(f"state of student {student_id!r} is not at version {expected_version} any more "
                            "(another writer changed it): read it again and retry")
    return _record(row)

