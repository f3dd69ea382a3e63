"""Connections and transactions: SQLite by default, PostgreSQL by URL, one error vocabulary for both.

SQLite (a file under `EQUILEARN_HOME`): WAL journal (readers never block the writer), `synchronous=FULL`
(a commit survives power loss, not only a killed process), foreign keys on, and a busy timeout so that
writers from several threads or processes queue instead of failing. Python's sqlite3 module is told not
to manage transactions; we emit `BEGIN IMMEDIATE` for write transactions, which takes SQLite's single
write lock up front, so a read-modify-write can never interleave with another writer, and plain
`BEGIN` for reads.

PostgreSQL (psycopg 3, READ COMMITTED): writers lock the rows they change (see `engine.store.events`).
A deadlock or serialization failure, or a unique-key race lost to a concurrent transaction, rolls the
whole transaction back and `run_write` runs it again (a few times, with jittered backoff); the re-run
sees the winner's committed rows and decides afresh.

Errors: a busy/locked SQLite file after the timeout, an unreachable server or an exhausted pool become
`UnavailableError` (retry later, HTTP 503); a value the database refuses (SQLSTATE class 22) becomes
`DataError` (HTTP 422) carrying only the driver's class, SQLSTATE and primary message; everything else
propagates unchanged. Every engine is created with `hide_parameters=True`, so no SQLAlchemy error text or
log line ever holds a statement's parameters (students' roster values, event contents).
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import StaticPool

from engine.errors import ConfigError, DataError, UnavailableError
from engine.store.types import dumps_json, loads_json

log = logging.getLogger(__name__)

T = TypeVar("T")

IDLE_PING_S = 2.0  # a pooled PostgreSQL connection idle this long is pinged before use
_WRITE = "equilearn_write"  # connection execution option: this transaction writes
JSON_CODEC = {"json_serializer": dumps_json, "json_deserializer": loads_json}  # both backends read and write JSON alike
_RETRYABLE_SQLSTATES = {"40P01", "40001", "23505"}  # deadlock, serialization failure, unique violation
_SQLITE_BUSY = ("database is locked", "database is busy", "database table is locked")


def normalize_url(url: str) -> sa.URL:
    """`url` as a SQLAlchemy URL; `postgresql://` and `postgres://` use the psycopg 3 driver.

    Only SQLite and PostgreSQL are supported: anything else is a `ConfigError` naming the setting.
    """
    try:
        parsed = sa.make_url(url)
    except exc.ArgumentError:
        raise ConfigError(f"EQUILEARN_DATABASE_URL is not a database URL: {url!r} (use sqlite:///path or postgresql://...)") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    if backend == "postgresql" and not driver:
        driver = "psycopg"
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"EQUILEARN_DATABASE_URL: unsupported database {parsed.drivername!r}; use sqlite:///path or postgresql://...")
    return parsed.set(drivername=f"{backend}+{driver}" if driver else backend)


def insert_or_update(conn: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT for `table`, which offers ON CONFLICT DO NOTHING / DO UPDATE on both backends."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def in_values(conn: sa.Connection, column: sa.ColumnElement[Any], values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column IN (SELECT unnest(:array))`: one parameter instead of one
    per value (psycopg re-parses, without caching, every statement of more than 50 parameters), and a plan
    that probes the column's index once per value even in a prepared statement's generic plan. The plain
    `column = ANY(:array)` got a sequential scan comparing every row with every value while the table was
    not yet analyzed (20 to 40 ms per batch of 100 event ids against 10,000 events)."""
    if conn.dialect.name == "postgresql":
        element = sa.Text() if isinstance(column.type, sa.String) else column.type  # varchar(n)[] is re-cast per row
        array = sa.bindparam(None, list(values), type_=postgresql.ARRAY(element))
        return column.in_(sa.select(sa.func.unnest(array)).scalar_subquery())
    return column.in_(values)


def _is_memory(url: sa.URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url)


def create_db_engine(url: str, *, busy_timeout_s: float = 30.0, pool_size: int = 5, max_overflow: int = 10) -> sa.Engine:
    """An engine for `url` set up as the module docstring describes.

    An in-memory SQLite URL (`sqlite://`) gives one shared connection: for single-threaded tests only.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "postgresql":
        # a dead server should fail a request (503) in seconds, not hang it until the OS gives up
        connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": 10}
        engine = sa.create_engine(parsed, pool_size=pool_size, max_overflow=max_overflow, connect_args=connect_args,
                                  hide_parameters=True, **JSON_CODEC)
        _ping_idle_connections(engine, IDLE_PING_S)
        return engine
    if _is_memory(parsed):
        engine = sa.create_engine(parsed, poolclass=StaticPool, connect_args={"check_same_thread": False},
                                  hide_parameters=True, **JSON_CODEC)
    else:
        Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, pool_size=pool_size, max_overflow=max_overflow, hide_parameters=True, **JSON_CODEC)
    _configure_sqlite(engine, busy_timeout_ms=int(busy_timeout_s * 1000))
    return engine


def _ping_idle_connections(engine: sa.Engine, idle_s: float) -> None:
    """Check a pooled PostgreSQL connection with a round trip before use if it sat idle for `idle_s` or more,
    and replace it if the server went away meanwhile (SQLAlchemy retries the checkout on `DisconnectionError`).

    Instead of `pool_pre_ping`, which pings on every checkout: on a busy server connections are reused
    within milliseconds, and the ping was one of the four round trips of a one-row read. A connection that
    breaks while in use still fails its request (503) and makes the pool drop every older connection.
    """
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_s:
            return
        try:
            dbapi_connection.execute("SELECT 1")
            dbapi_connection.rollback()
        except Exception as error:  # noqa: BLE001 - any failure means the connection is unusable
            raise exc.DisconnectionError(f"pooled connection failed its ping: {error}") from error


def _configure_sqlite(engine: sa.Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        _switch_to_wal(cursor, busy_timeout_ms / 1000)
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


def _switch_to_wal(cursor: Any, timeout_s: float) -> None:
    """Put the file in WAL mode (persistent, so a no-op once done). On a fresh file that several connections
    open at once, SQLite refuses the switch with 'database is locked' without calling the busy handler, so
    retry until the busy timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(random.uniform(0.001, 0.01))


@contextmanager
def read_tx(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A read-only transaction seeing one consistent snapshot on both backends (REPEATABLE READ, read-only
    on PostgreSQL, so a read of several statements never mixes two commits; a deferred BEGIN on SQLite)."""
    with _mapped_errors(engine), engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            yield conn


@contextmanager
def read_statement(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection for one read statement (a statement sees one snapshot by itself): on PostgreSQL in
    autocommit, which saves the BEGIN and ROLLBACK round trips of a transaction; on SQLite as `read_tx`."""
    if engine.dialect.name != "postgresql":
        with read_tx(engine) as conn:
            yield conn
        return
    with _mapped_errors(engine), engine.connect() as conn:
        yield conn.execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def write_tx(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction; on SQLite it holds the database's write lock from its first statement."""
    with _mapped_errors(engine), engine.connect() as conn:
        conn.execution_options(**{_WRITE: True})
        with conn.begin():
            yield conn


def run_write(engine: sa.Engine, work: Callable[[sa.Connection], T], *, attempts: int = 6) -> T:
    """`work(conn)` in one write transaction, re-run from scratch after a retryable PostgreSQL conflict.

    `work` must have no side effects outside the transaction (it may run more than once).
    """
    for attempt in range(1, attempts + 1):
        try:
            with write_tx(engine) as conn:
                return work(conn)
        except exc.DBAPIError as error:
            state = _sqlstate(error)
            if state not in _RETRYABLE_SQLSTATES:
                raise
            if attempt == attempts:
                if state == "23505":
                    raise
                raise UnavailableError(f"the database kept aborting this write as a conflict ({attempts} tries); retry later") from error
            log.debug("write transaction conflict (%s), attempt %d of %d", state, attempt, attempts)
            time.sleep(random.uniform(0.0, 0.005 * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _sqlstate(error: exc.DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


def describe_db_error(error: BaseException) -> str:
    """A database error in words safe to show and to log: the driver's class, the SQLSTATE and PostgreSQL's
    primary message, never the statement's parameters nor the DETAIL/CONTEXT lines (which may quote data)."""
    orig = getattr(error, "orig", None) or error
    state = getattr(orig, "sqlstate", None)
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if primary is None and isinstance(orig, sqlite3.Error):
        primary = str(orig).split(":", 1)[0]  # e.g. "CHECK constraint failed" without the constraint's values
    parts = [type(orig).__name__] + ([f"SQLSTATE {state}"] if state else []) + ([str(primary)[:200]] if primary else [])
    return ": ".join(parts)


@contextmanager
def _mapped_errors(engine: sa.Engine) -> Iterator[None]:
    """Turn 'busy' and 'unreachable' database failures into `UnavailableError`; leave the rest alone."""
    try:
        yield
    except exc.TimeoutError as error:
        raise UnavailableError("the database connection pool is exhausted; retry later") from error
    except exc.DataError as error:
        # a value the database refuses (SQLSTATE class 22, e.g. a NUL in JSONB): the request's fault. The driver's
        # text can quote the data (PostgreSQL's CONTEXT line), so only the code and the primary message go on.
        raise DataError(f"the database refused a value of this request ({describe_db_error(error)}); nothing was stored") from None
    except exc.OperationalError as error:
        if _sqlstate(error) in _RETRYABLE_SQLSTATES:
            raise  # run_write retries these
        if engine.dialect.name == "postgresql":
            raise UnavailableError("the database is unreachable or overloaded; retry later") from error
        if any(text in str(error.orig).lower() for text in _SQLITE_BUSY):
            raise UnavailableError("the database is busy (locked by another writer past the timeout); retry later") from error
        raise
