"""The response log: validate, deduplicate, append and fold into mastery states, all in one transaction.

`ingest` runs inside a write transaction (`engine.store.database.run_write`):

1. lock the state rows of every student in the batch (`states.lock_states`); on PostgreSQL this
   serializes transactions per student, on SQLite the whole write already is;
2. look up the batch's event ids in the log: an id stored with the same content hash is a duplicate
   (nothing written), with a different hash a conflict: the whole batch is rejected (`ConflictError`
   naming every such id) and the transaction rolls back, so nothing partial is stored;
3. append the new events (their `seq`, assigned while the students' locks are held, is therefore the
   order in which each student's events are folded);
4. call the apply function with each student's state and new events, in batch order, and write the
   returned states. Any exception in it rolls everything back.

Because locks are taken before the log is read, a retry racing its original (same student) waits and
then sees the original as a duplicate; the same id arriving for another student concurrently makes the
unique index fail, and `run_write` re-runs the transaction, which then reports the conflict.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from numbers import Real
from typing import Any

import polars as pl
import sqlalchemy as sa

from engine.errors import ConflictError, DataError, DataValidationError, Problem
from engine.store import states
from engine.store.database import in_values
from engine.store.ids import path_id_problem
from engine.store.records import Event, EventResult, IngestResult, LoggedEvent
from engine.store.schema import EVENT_SOURCES, ID_LENGTH, events as T
from engine.store.types import as_utc, json_problem, utc_now

State = dict[str, Any]
ApplyFn = Callable[[str, State | None, list[Event]], State]
ApplyBatchFn = Callable[[dict[str, State | None], dict[str, list[Event]]], Mapping[str, State]]

MAX_LISTED_CONFLICTS = 20


def per_student(apply_fn: ApplyFn) -> ApplyBatchFn:
    """A batch apply function that calls `apply_fn(student_id, state_or_None, new_events)` per student."""
    def apply_batch(current: dict[str, State | None], new: dict[str, list[Event]]) -> dict[str, State]:
        return {sid: apply_fn(sid, current[sid], evs) for sid, evs in new.items()}
    return apply_batch


def payload_hash(event: Event) -> str:
    """sha256 (hex) of the event's identity: id, student, item, score, answer time (UTC, microseconds) and, when
    given, the resource used before it (an event without one hashes as before migration 6, so old retries still match)."""
    ts = None if event.timestamp is None else as_utc(event.timestamp).isoformat(timespec="microseconds")
    identity = [event.event_id, event.student_id, event.item_id, float(event.correct), ts]
    if event.resource_id is not None:
        identity.append(event.resource_id)
    text = json.dumps(identity, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _id_problem(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > ID_LENGTH:
        return f"is longer than {ID_LENGTH} characters"
    if "\x00" in value:
        return "must not contain NUL characters"
    return None


def _utc(value: datetime) -> datetime | None:
    """`value` in UTC, or None when the conversion leaves the datetime range (9999-12-31T23:59:59-12:00)."""
    try:
        return as_utc(value)
    except OverflowError:
        return None


def _event_problems(row: int, e: Event) -> list[Problem]:
    found = []
    for column in ("event_id", "student_id", "item_id"):
        value = getattr(e, column)
        hint = path_id_problem(value) if column == "student_id" else _id_problem(value)
        if hint is not None:
            found.append(Problem(row, column, value, f"{column} {hint}"))
    if e.resource_id is not None and (hint := _id_problem(e.resource_id)) is not None:
        found.append(Problem(row, "resource_id", e.resource_id, f"resource_id {hint} (or absent: no resource)"))
    c = e.correct
    if not isinstance(c, Real) or not math.isfinite(float(c)) or not 0.0 <= float(c) <= 1.0:
        found.append(Problem(row, "correct", c, "correct must be a number in [0, 1] (1 = correct, 0 = wrong, or a partial score)"))
    if e.timestamp is not None and not isinstance(e.timestamp, datetime):
        found.append(Problem(row, "timestamp", e.timestamp, "timestamp must be a datetime (UTC) or absent"))
    elif e.timestamp is not None and _utc(e.timestamp) is None:
        found.append(Problem(row, "timestamp", e.timestamp.isoformat(), "timestamp is outside 0001-01-01 to 9999-12-31 once "
                                                                       "converted to UTC; send the time in UTC (Z) or fix its offset"))
    if e.source not in EVENT_SOURCES:
        found.append(Problem(row, "source", e.source, f"source must be one of {', '.join(EVENT_SOURCES)}"))
    if e.raw is not None and not isinstance(e.raw, Mapping):
        found.append(Problem(row, "raw", type(e.raw).__name__, "raw must be a JSON object (the original statement) or absent"))
    elif e.raw is not None and (why := json_problem(e.raw)) is not None:
        found.append(Problem(row, "statement" if e.source == "xapi" else "raw", None, f"{why}; remove it and resend"))
    return found


def validate(batch: Sequence[Event]) -> list[Event]:
    """The batch with scores as floats and times in UTC; every problem at once as a `DataValidationError`
    (rows are 1-based positions in the batch)."""
    problems = [p for i, e in enumerate(batch, start=1) for p in _event_problems(i, e)]
    if problems:
        raise DataValidationError(problems, source="event batch")
    return [replace(e, correct=float(e.correct), timestamp=None if e.timestamp is None else as_utc(e.timestamp))
            for e in batch]


def _stored_by_id(conn: sa.Connection, event_ids: Sequence[str]) -> dict[str, tuple[str, int, datetime]]:
    """{event_id: (payload_hash, seq, received_at)} of the given ids already in the log."""
    found: dict[str, tuple[str, int, datetime]] = {}
    for part in states.chunks(sorted(set(event_ids))):
        query = sa.select(T.c.event_id, T.c.payload_hash, T.c.seq, T.c.received_at).where(in_values(conn, T.c.event_id, part))
        for event_id, digest, seq, received in conn.execute(query):
            found[event_id] = (digest, int(seq), received)
    return found


def _conflict(conflicts: list[tuple[int, str]]) -> ConflictError:
    """The batch's refusal, naming each conflicting event by its 1-based row in the batch and its id."""
    shown = ", ".join(f"row {pos + 1} ({event_id!r})" for pos, event_id in conflicts[:MAX_LISTED_CONFLICTS])
    more = f" and {len(conflicts) - MAX_LISTED_CONFLICTS} more" if len(conflicts) > MAX_LISTED_CONFLICTS else ""
    return ConflictError(
        f"event id(s) already used with different content (student, item, correct, timestamp or resource): {shown}{more}; "
        "the whole batch was rejected and nothing was stored: resend the original event or give the new one a new id")


def ingest(conn: sa.Connection, batch: Sequence[Event], apply_batch: ApplyBatchFn) -> IngestResult:
    """Store a validated batch and fold its new events into the students' states (module docstring)."""
    if not batch:
        return IngestResult([])
    locked = states.lock_states(conn, (e.student_id for e in batch))
    stored = _stored_by_id(conn, [e.event_id for e in batch])
    hashes = [payload_hash(e) for e in batch]
    first_in_batch: dict[str, int] = {}  # event_id -> position of its first new occurrence
    new_positions: list[int] = []
    conflicts: list[tuple[int, str]] = []  # (position in the batch, event id)
    for pos, (e, digest) in enumerate(zip(batch, hashes, strict=True)):
        if e.event_id in stored:
            if stored[e.event_id][0] != digest:
                conflicts.append((pos, e.event_id))
        elif e.event_id in first_in_batch:
            if hashes[first_in_batch[e.event_id]] != digest:
                conflicts.append((pos, e.event_id))
        else:
            first_in_batch[e.event_id] = pos
            new_positions.append(pos)
    if conflicts:
        raise _conflict(conflicts)

    received_at = utc_now()
    seq_of: dict[str, int] = {}
    if new_positions:
        rows = [{"event_id": batch[p].event_id, "student_id": batch[p].student_id, "item_id": batch[p].item_id,
                 "correct": batch[p].correct, "timestamp": batch[p].timestamp, "received_at": received_at,
                 "source": batch[p].source, "payload_hash": hashes[p], "raw": batch[p].raw} for p in new_positions]
        if any(batch[p].resource_id is not None for p in new_positions):  # else the column keeps its NULL default
            rows = [{**row, "resource_id": batch[p].resource_id} for row, p in zip(rows, new_positions, strict=True)]
        returned = conn.execute(sa.insert(T).returning(T.c.seq, sort_by_parameter_order=True), rows).scalars().all()
        seq_of = {batch[p].event_id: int(s) for p, s in zip(new_positions, returned, strict=True)}

    new_by_student: dict[str, list[Event]] = {}
    last_seq: dict[str, int] = {}
    for p in new_positions:
        e = batch[p]
        new_by_student.setdefault(e.student_id, []).append(e)
        last_seq[e.student_id] = seq_of[e.event_id]
    current = {sid: locked[sid].state if sid in locked else None for sid in new_by_student}
    updated = dict(apply_batch(current, new_by_student)) if new_by_student else {}
    _check_states(updated, new_by_student)
    states.write_states(conn, {sid: (updated[sid], last_seq[sid]) for sid in new_by_student})
    states.drop_placeholders(conn, [sid for sid, row in locked.items() if row.state is None and sid not in new_by_student])

    results = []
    for pos, e in enumerate(batch):
        if e.event_id in seq_of:  # new in this batch: stored at its first occurrence, duplicate after
            status = "stored" if first_in_batch[e.event_id] == pos else "duplicate"
            results.append(EventResult(e.event_id, status, seq_of[e.event_id], received_at))
        else:
            _, seq, received = stored[e.event_id]
            results.append(EventResult(e.event_id, "duplicate", seq, received))
    return IngestResult(results, {sid: updated[sid] for sid in new_by_student})


def _check_states(updated: Mapping[str, Any], expected: Mapping[str, list[Event]]) -> None:
    missing = sorted(set(expected) - set(updated))
    if missing:
        raise DataError(f"the apply function returned no state for student(s) {', '.join(map(repr, missing[:10]))}")
    bad = sorted(sid for sid in expected if not isinstance(updated[sid], Mapping))
    if bad:
        raise DataError(f"the apply function must return a JSON object (dict) per student; got "
                        f"{type(updated[bad[0]]).__name__} for {bad[0]!r}")


def _event(row: sa.Row[Any]) -> Event:
    return Event(row.event_id, row.student_id, row.item_id, float(row.correct), row.timestamp, row.source, row.raw,
                 row.resource_id)


def student_log(conn: sa.Connection, student_id: str) -> list[LoggedEvent]:
    """Every stored event of one student in log order."""
    query = sa.select(T).where(T.c.student_id == student_id).order_by(T.c.seq)
    return [LoggedEvent(int(r.seq), r.received_at, _event(r)) for r in conn.execute(query)]


CHUNK_STUDENTS = 2_000  # students read at a time when a whole log is read into a frame (`Store.events_frame_chunked`)
FRAME_SCHEMA = {
    "seq": pl.Int64, "event_id": pl.Utf8, "student_id": pl.Utf8, "item_id": pl.Utf8, "correct": pl.Float64,
    "timestamp": pl.Datetime("us", "UTC"), "received_at": pl.Datetime("us", "UTC"), "source": pl.Utf8,
    "resource_id": pl.Utf8,
}


def events_frame(conn: sa.Connection, student_ids: Iterable[str] | None = None, after_seq: int = 0) -> pl.DataFrame:
    """The log (or the given students' part; only events with `seq > after_seq`) as a canonical response table
    ordered by `seq`.

    `seq` is the global append order, so it also orders each student's responses as the canonical
    schema requires; `skill_ids` is not stored here (join the catalog's Q-matrix on `item_id`); `resource_id`
    is null where the event named no resource.
    """
    columns = [T.c[name] for name in FRAME_SCHEMA]
    if student_ids is None:
        rows = conn.execute(sa.select(*columns).where(T.c.seq > int(after_seq)).order_by(T.c.seq)).all()
    else:
        rows = [r for part in states.chunks(sorted(set(student_ids)))
                for r in conn.execute(sa.select(*columns).where(T.c.student_id.in_(part), T.c.seq > int(after_seq)))]
        rows.sort(key=lambda r: r.seq)
    data = {name: [r[i] for r in rows] for i, name in enumerate(FRAME_SCHEMA)}
    return pl.DataFrame(data, schema=FRAME_SCHEMA)


def newest_seq(conn: sa.Connection) -> int:
    """The `seq` of the newest event (0 when the log is empty)."""
    return int(conn.execute(sa.select(sa.func.max(T.c.seq))).scalar() or 0)


def count(conn: sa.Connection) -> int:
    """Number of events in the log."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(T)).scalar_one())
