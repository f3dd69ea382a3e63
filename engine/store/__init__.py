"""The store: events, mastery states, roster, served recommendations, audits and API keys in one database.

`Store` is the only thing the service (and the CLI) should need: open it from the settings or a URL,
then call its methods; each method is one transaction. SQLite (a file under `EQUILEARN_HOME`) by
default, PostgreSQL when `EQUILEARN_DATABASE_URL` says so. See docs/store.md for the guarantees.

    store = Store.open()                    # settings; migrates to the latest schema
    result = store.ingest(events, apply_batch)
    state = store.get_state("s1")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
import sqlalchemy as sa

from engine.config import Settings, load_settings
from engine.errors import DataError, EquilearnError
from engine.store import audits as _audits
from engine.store import classes as _classes
from engine.store import constraints as _constraints
from engine.store import sessions as _sessions
from engine.store import events as _events
from engine.store import generations as _generations
from engine.store import keys as _keys
from engine.store import migrations as _migrations
from engine.store import roster as _roster
from engine.store import served as _served
from engine.store import states as _states
from engine.store.database import create_db_engine, read_statement, read_tx, run_write
from engine.store.events import ApplyBatchFn, ApplyFn, payload_hash, per_student
from engine.store.keycache import KeyCache
from engine.store.keys import SCOPES, parse_scopes
from engine.store.records import (
    ApiKey,
    AuditRecord,
    Event,
    EventResult,
    IngestResult,
    LoggedEvent,
    ServedRecommendation,
    StoredState,
)
from engine.store.schema import AUDIT_STATUSES

__all__ = [
    "AUDIT_STATUSES", "ApiKey", "ApplyBatchFn", "ApplyFn", "AuditRecord", "Event", "EventResult", "Health",
    "IngestResult", "LoggedEvent", "SCOPES", "ServedRecommendation", "Store", "StoredState", "parse_scopes",
    "payload_hash", "per_student",
]


@dataclass(frozen=True)
class Health:
    """Result of `Store.health()`: `ok` when the database answers and its schema is the one this code needs."""

    ok: bool
    backend: str
    schema_version: int | None
    latest_version: int
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "backend": self.backend, "schema_version": self.schema_version,
                "latest_version": self.latest_version, "detail": self.detail}


class Store:
    """One database of equilearn state. Thread-safe (a connection pool); share one per process.

    Every method runs in its own transaction and returns plain records (`engine.store.records`);
    errors: `DataValidationError`/`DataError` (bad input, nothing written), `ConflictError`,
    `NotFoundError`, `AuthError`, `PermissionDeniedError`, `UnavailableError` (database busy or
    unreachable: retry later).
    """

    def __init__(self, engine: sa.Engine, key_cache_s: float = 0.0) -> None:
        self.engine = engine
        self.key_cache = KeyCache(key_cache_s)

    # -- lifecycle -------------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None = None, *, settings: Settings | None = None, migrate: bool = True,
             busy_timeout_s: float = 30.0, pool_size: int = 5, max_overflow: int = 10, key_cache_s: float = 0.0) -> Store:
        """Connect to `url` (default: `settings.database_url`, i.e. `EQUILEARN_DATABASE_URL` or
        `sqlite:///$EQUILEARN_HOME/equilearn.db`) and, unless `migrate=False`, bring the schema up to date.
        `key_cache_s`: how long a verified API key is trusted without reading the database again (0 = never)."""
        if url is None:
            url = (settings or load_settings()).database_url
        store = cls(create_db_engine(url, busy_timeout_s=busy_timeout_s, pool_size=pool_size, max_overflow=max_overflow),
                    key_cache_s)
        if migrate:
            store.migrate()
        return store

    def close(self) -> None:
        """Close every pooled connection (the store may be used again: connections reopen on demand)."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL with any password hidden (safe to log)."""
        return self.engine.url.render_as_string(hide_password=True)

    def migrate(self) -> list[int]:
        """Apply pending schema migrations (safe to call from several processes at once); returns those applied."""
        return _migrations.upgrade(self.engine)

    def schema_version(self) -> int:
        with read_tx(self.engine) as conn:
            return _migrations.current_version(conn)

    def health(self) -> Health:
        """Whether the database answers and is migrated; never raises (for `/readyz`)."""
        latest = _migrations.LATEST_VERSION
        try:
            with read_tx(self.engine) as conn:
                conn.execute(sa.text("SELECT 1"))
                version = _migrations.current_version(conn)
        except Exception as error:  # noqa: BLE001 - a health check reports, it does not fail
            reason = str(error) if isinstance(error, EquilearnError) else type(error).__name__  # never a URL
            return Health(False, self.backend, None, latest, f"database unreachable: {reason}")
        if version != latest:
            return Health(False, self.backend, version, latest,
                          f"schema at version {version}, this code needs {latest}: run the migrations")
        return Health(True, self.backend, version, latest, "ok")

    # -- events and mastery states ---------------------------------------------------------------

    def ingest(self, batch: Sequence[Event], apply_batch: ApplyBatchFn) -> IngestResult:
        """Append a batch of events and fold the new ones into mastery states, all or nothing.

        `apply_batch(current, new)` gets `{student_id: state dict or None}` and `{student_id: [new Event, ...]}`
        (only students with new events, events in batch order) and returns `{student_id: new state dict}`;
        it may run more than once (on a retried transaction), so it must have no side effects.
        Duplicates (same id, same content) are reported, not stored; a reused id with other content
        raises `ConflictError` and nothing of the batch is stored.
        """
        valid = _events.validate(batch)
        return run_write(self.engine, lambda conn: _events.ingest(conn, valid, apply_batch))

    def get_state(self, student_id: str) -> StoredState | None:
        with read_statement(self.engine) as conn:
            return _states.get_state(conn, student_id)

    def get_state_and_constraints(self, student_id: str) -> tuple[StoredState | None, dict[str, list[str]] | None]:
        """`get_state` and `get_teacher_constraints` on one connection (what a recommendation reads, once per request)."""
        with read_statement(self.engine) as conn:
            return _states.get_state(conn, student_id), _constraints.get(conn, student_id)

    def get_states(self, student_ids: Iterable[str]) -> dict[str, StoredState]:
        with read_tx(self.engine) as conn:
            return _states.get_states(conn, student_ids)

    def put_state(self, student_id: str, state: Mapping[str, Any], expected_version: int | None = None) -> StoredState:
        """Write a state outside ingestion; `expected_version` as in `engine.store.states.put_state`."""
        return run_write(self.engine, lambda conn: _states.put_state(conn, student_id, dict(state), expected_version))

    def update_state(self, student_id: str, fn: Callable[[dict[str, Any] | None], Mapping[str, Any]]) -> StoredState:
        """Read-modify-write under the student's row lock: `fn(state or None) -> new state` (no lost update)."""
        def work(conn: sa.Connection) -> StoredState:
            locked = _states.lock_states(conn, [student_id]).get(student_id)
            new = fn(None if locked is None or locked.state is None else dict(locked.state))
            if not isinstance(new, Mapping):
                raise DataError(f"update_state: the function must return a JSON object (dict), got {type(new).__name__}")
            new = dict(new)
            _states.write_states(conn, {student_id: (new, None if locked is None else locked.last_seq)})
            return _states.get_states(conn, [student_id])[student_id]
        return run_write(self.engine, work)

    def student_ids(self) -> list[str]:
        """Students with a stored mastery state, sorted."""
        with read_tx(self.engine) as conn:
            return _states.student_ids(conn)

    def student_log(self, student_id: str) -> list[LoggedEvent]:
        with read_tx(self.engine) as conn:
            return _events.student_log(conn, student_id)

    def events_frame(self, student_ids: Iterable[str] | None = None) -> pl.DataFrame:
        """The event log as a canonical response table (polars), in append order."""
        with read_tx(self.engine) as conn:
            return _events.events_frame(conn, student_ids)

    def events_frame_after(self, after_seq: int, columns: Sequence[str]) -> pl.DataFrame:
        """The events appended after `after_seq` (their `columns` only), in append order."""
        with read_tx(self.engine) as conn:
            return _events.events_frame(conn, after_seq=after_seq).select(*columns)

    def newest_event_seq(self) -> int:
        with read_tx(self.engine) as conn:
            return _events.newest_seq(conn)

    def events_frame_chunked(self, student_ids: Sequence[str], columns: Sequence[str], chunk_students: int) -> pl.DataFrame:
        """`events_frame` of `student_ids` (their `columns` only), read `chunk_students` students at a time: at most one
        chunk's rows are Python objects at once; what is kept is the columnar frame."""
        parts = [self.events_frame(student_ids[start:start + chunk_students]).select(*columns)
                 for start in range(0, len(student_ids), chunk_students)]
        if not parts:
            return pl.DataFrame(schema={c: _events.FRAME_SCHEMA[c] for c in columns})
        return pl.concat(parts, how="vertical", rechunk=True)

    def count_events(self) -> int:
        with read_tx(self.engine) as conn:
            return _events.count(conn)

    # -- roster (demographics: audit scope only) -------------------------------------------------

    def audit_scope_upsert_roster(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Replace the attributes of each listed student (audit scope only); returns how many were written."""
        rows = list(records)
        return run_write(self.engine, lambda conn: _roster.upsert(conn, rows))

    def audit_scope_read_roster(self, student_ids: Iterable[str] | None = None) -> pl.DataFrame:
        """The roster as `student_id` plus one column per attribute (audit scope only)."""
        with read_tx(self.engine) as conn:
            return _roster.read(conn, student_ids)

    def audit_scope_roster_records(self, student_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The roster as records, each value with the JSON type it was written with (audit scope only)."""
        with read_tx(self.engine) as conn:
            return _roster.records(conn, student_ids)

    def audit_scope_delete_roster(self, student_ids: Iterable[str]) -> int:
        ids = list(student_ids)
        return run_write(self.engine, lambda conn: _roster.delete(conn, ids))

    # -- served recommendations ------------------------------------------------------------------

    def record_served(self, student_id: str, items: Sequence[Mapping[str, Any]], *, model_set_version: str,
                      model_versions: Mapping[str, Any], audit_status: str | None = None,
                      audit_id: int | None = None, context: Mapping[str, Any] | None = None,
                      served_at: datetime | None = None) -> ServedRecommendation:
        """Log one served list (items in rank order, each with its reason and propensity)."""
        return run_write(self.engine, lambda conn: _served.record(
            conn, student_id, items, model_set_version=model_set_version, model_versions=model_versions,
            audit_status=audit_status, audit_id=audit_id, context=context, served_at=served_at))

    def served_for(self, student_id: str, limit: int = 50) -> list[ServedRecommendation]:
        with read_tx(self.engine) as conn:
            return _served.for_student(conn, student_id, limit)

    def served_between(self, start: datetime | None = None, end: datetime | None = None) -> list[ServedRecommendation]:
        with read_tx(self.engine) as conn:
            return _served.between(conn, start, end)

    # -- audits ----------------------------------------------------------------------------------

    def save_audit(self, model_set_version: str, status: str, report: Mapping[str, Any], *,
                   content_sha256: str | None = None, data_sha256: str | None = None) -> AuditRecord:
        """Append an audit result, unconditionally (the service records through `record_audit`)."""
        return run_write(self.engine, lambda conn: _audits.save(conn, model_set_version, status, report,
                                                                content_sha256, data_sha256))

    def record_audit(self, model_set_version: str, status: str, report: Mapping[str, Any], *, may_lift: bool = False,
                     reason: str | None = None, by: str | None = None, content_sha256: str | None = None,
                     data_sha256: str | None = None) -> tuple[AuditRecord, bool]:
        """`(audit, created)`: append an audit result, bound to the audited set's `content_sha256` (and the data's
        fingerprint), unless it repeats the newest audit of that content (of the version when no content is
        given; same status and report: a retry), which is returned with `created` False. A non-FAIL result over
        a newest FAIL lifts the FAIL: it needs `may_lift` (else `PermissionDeniedError`) and a `reason` (else
        `DataError`), both recorded in the report under `lifted_fail`; a PASS with `may_lift` and a reason over
        content without a PASS is recorded as an override (`override`). One transaction, serialized per content."""
        return run_write(self.engine, lambda conn: _audits.record(conn, model_set_version, status, report,
                                                                  may_lift=may_lift, reason=reason, by=by,
                                                                  content_sha256=content_sha256, data_sha256=data_sha256))

    def content_verdict(self, content_sha256: str) -> AuditRecord | None:
        """The newest audit bound to this model-set content (what the deployment gate decides on), or None."""
        with read_tx(self.engine) as conn:
            return _audits.latest_for_content(conn, [content_sha256]).get(content_sha256)

    def get_audit(self, audit_id: int) -> AuditRecord:
        """`NotFoundError` when there is no such audit."""
        with read_tx(self.engine) as conn:
            return _audits.get(conn, audit_id)

    def latest_audits(self, model_set_versions: Iterable[str]) -> dict[str, AuditRecord]:
        """The newest audit of each given model-set version that has one."""
        with read_tx(self.engine) as conn:
            return _audits.latest(conn, model_set_versions)

    def latest_audit(self, model_set_version: str) -> AuditRecord | None:
        return self.latest_audits([model_set_version]).get(model_set_version)

    def list_audits(self, model_set_version: str | None = None, limit: int = 100) -> list[AuditRecord]:
        with read_tx(self.engine) as conn:
            return _audits.list_(conn, model_set_version, limit)

    # -- generations (what service processes sharing the database must reload) -------------------

    def bump_policy_generation(self) -> int:
        """Tell every service process on this database to load its policy again (see `generations`)."""
        return run_write(self.engine, lambda conn: _generations.bump(conn, _generations.POLICY))

    def policy_signature(self) -> tuple[int, int]:
        """(policy generation, newest audit id): changes when another process reloaded or audited."""
        with read_statement(self.engine) as conn:
            return _generations.policy_signature(conn)

    # -- API keys --------------------------------------------------------------------------------

    def create_api_key(self, scopes: str | Iterable[str], name: str = "", classes: Iterable[str] = ()) -> tuple[str, ApiKey]:
        """A new key: `(key_text, record)`; show `key_text` once, it is stored only hashed. A `teach` key must be
        bound to `classes` (its holder's classes: the pages show a teacher only these), and only a teach key may be."""
        wanted, class_ids = _keys.parse_scopes(scopes), _classes.check_class_ids(classes, "key classes")
        _keys.check_classes(wanted, class_ids)

        def work(conn: sa.Connection) -> tuple[str, ApiKey]:
            text, record = _keys.create(conn, wanted, name)
            _classes.bind_key(conn, record.id, class_ids)
            return text, record
        return run_write(self.engine, work)

    def verify_api_key(self, key: str | None, scope: str | None = None) -> ApiKey:
        """The live key's record; `AuthError` (missing/malformed/unknown/revoked, HTTP 401) or
        `PermissionDeniedError` (lacks `scope`, HTTP 403). With `key_cache_s` > 0 a verified key's record is
        reused for that long (see `KeyCache`)."""
        _keys.known_scope(scope)
        key_id, secret = _keys.parse_key(key)
        record = self.key_cache.get(key_id, secret)
        if record is None:
            with read_tx(self.engine) as conn:
                record = _keys.lookup(conn, key_id, secret)
            self.key_cache.put(key_id, secret, record)
        return _keys.check(record, scope)

    def cached_api_key(self, key: str | None, scope: str | None = None) -> ApiKey | None:
        """`verify_api_key` without touching the database: the record if the key cache holds it, None if it
        does not (then call `verify_api_key`); raises as `verify_api_key` for a malformed, revoked or
        out-of-scope key. Lets an event loop authenticate without blocking."""
        _keys.known_scope(scope)
        record = self.key_cache.get(*_keys.parse_key(key))
        return None if record is None else _keys.check(record, scope)

    def revoke_api_key(self, key_id: str) -> ApiKey:
        record = run_write(self.engine, lambda conn: _keys.revoke(conn, key_id))
        self.key_cache.clear()
        return record

    def list_api_keys(self, include_revoked: bool = True) -> list[ApiKey]:
        with read_tx(self.engine) as conn:
            return _keys.list_(conn, include_revoked)

    def key_classes(self, key_ids: Iterable[str]) -> dict[str, list[str]]:
        """{key id: the classes a teach key is bound to}."""
        with read_tx(self.engine) as conn:
            return _classes.key_classes(conn, key_ids)

    # -- classes and enrolments (OneRoster), teacher constraints, page sessions ------------------

    def upsert_classes(self, classes: Sequence[Mapping[str, Any]], enrolments: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Create or retitle classes and replace their enrolments (see `engine.store.classes`); all or nothing."""
        return run_write(self.engine, lambda conn: _classes.upsert(conn, list(classes), list(enrolments)))

    def list_classes(self, class_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        with read_tx(self.engine) as conn:
            return _classes.list_classes(conn, class_ids)

    def class_students(self, class_ids: Iterable[str]) -> dict[str, list[str]]:
        """{class id: its enrolled students, sorted}."""
        with read_tx(self.engine) as conn:
            return _classes.students_of(conn, class_ids)

    def student_classes(self, student_id: str) -> list[str]:
        with read_tx(self.engine) as conn:
            return _classes.classes_of_student(conn, student_id)

    def get_teacher_constraints(self, student_id: str) -> dict[str, list[str]] | None:
        """A student's stored teacher constraints (assigned_skills, pinned_resources, blocked_resources) or None."""
        with read_statement(self.engine) as conn:
            return _constraints.get(conn, student_id)

    def teacher_constraints_of(self, student_ids: Iterable[str]) -> dict[str, dict[str, list[str]]]:
        with read_tx(self.engine) as conn:
            return _constraints.get_many(conn, student_ids)

    def update_teacher_constraints(self, student_id: str, change: Callable[[dict[str, list[str]]], Mapping[str, Any]],
                                   by: str | None = None) -> dict[str, list[str]]:
        """Read-modify-write of a student's constraints in one transaction; returns what is stored."""
        return run_write(self.engine, lambda conn: _constraints.update(conn, student_id, change, by))

    def open_web_session(self, token: str, key_id: str, lifetime_s: float) -> datetime:
        return run_write(self.engine, lambda conn: _sessions.open_(conn, token, key_id, lifetime_s))

    def web_session(self, token: str) -> _sessions.SessionRecord | None:
        with read_tx(self.engine) as conn:
            return _sessions.lookup(conn, token)

    def end_web_session(self, token: str) -> bool:
        return run_write(self.engine, lambda conn: _sessions.end(conn, token))

    def served_offers(self, student_ids: Iterable[str] | None = None, start: datetime | None = None,
                      after_id: int = 0) -> list[dict[str, Any]]:
        """One row per served item (see `engine.store.served.offers`), oldest first; only lists with an id above
        `after_id` when given."""
        with read_tx(self.engine) as conn:
            return _served.offers(conn, student_ids, start, after_id)

    def newest_served_id(self) -> int:
        with read_tx(self.engine) as conn:
            return _served.newest_id(conn)

    def school_signature(self) -> tuple[Any, ...]:
        """Changes when events, served lists, the roster, enrolments or audits change: (newest event seq, newest
        served id, roster size and newest roster write, newest enrolment write, newest audit id)."""
        from engine.store import schema as _schema  # noqa: PLC0415

        with read_tx(self.engine) as conn:
            return tuple(conn.execute(sa.select(
                sa.select(sa.func.max(_schema.events.c.seq)).scalar_subquery(),
                sa.select(sa.func.max(_schema.served_recommendations.c.id)).scalar_subquery(),
                sa.select(sa.func.count()).select_from(_schema.roster).scalar_subquery(),
                sa.select(sa.func.max(_schema.roster.c.updated_at)).scalar_subquery(),
                sa.select(sa.func.max(_schema.enrolments.c.updated_at)).scalar_subquery(),
                sa.select(sa.func.max(_schema.audits.c.id)).scalar_subquery())).one())

    def answers_since(self, after_seq: int = 0) -> pl.DataFrame:
        """The log's answers newer than `after_seq` (seq, student_id, item_id, correct, resource_id, ts) as one frame."""
        from engine.store import answers as _answers  # noqa: PLC0415

        with read_tx(self.engine) as conn:
            return _answers.since(conn, after_seq)
