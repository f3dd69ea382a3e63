"""Schema migrations: an ordered list of Python steps and a `schema_migrations` table of those applied.

Why our own and not Alembic: Alembic is not a dependency of equilearn (only of MLflow), its version table
would collide with MLflow's if both stores share a database, and it does not stop two service processes
from migrating at once. This runner is small and does:

- every pending step, in order, in ONE transaction with the `schema_migrations` rows that record them,
  so a failed upgrade leaves the database exactly as it was (DDL is transactional on SQLite and PostgreSQL);
- under a lock: an advisory transaction lock on PostgreSQL and SQLite's write lock (`BEGIN IMMEDIATE`),
  so processes starting together apply each step once and the others then see it done;
- refuses to run against a database newer than the code (a `ConfigError` naming both versions).

Adding a migration: write `vNNNN_what.py` with `upgrade(conn)` using SQLAlchemy Core (never edit an
applied one), append it to `MIGRATIONS`, and update `engine.store.schema` to match (a test compares a
database migrated from empty with that metadata).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from engine.errors import ConfigError
from engine.store.database import write_tx
from engine.store.migrations import v0001_initial, v0002_append_only_events, v0003_generations
from engine.store.migrations import v0004_audit_content, v0005_classes, v0006_event_resource, v0007_whole_json
from engine.store.types import UTCDateTime, utc_now

VERSION_TABLE = "schema_migrations"
_ADVISORY_LOCK_KEY = 0x6571_6C65_6172_6E00  # "equlearn\0": serializes migrators on one PostgreSQL database


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    upgrade: Callable[[sa.Connection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", v0001_initial.upgrade),
    Migration(2, "append-only events", v0002_append_only_events.upgrade),
    Migration(3, "generation counters", v0003_generations.upgrade),
    Migration(4, "audits bound to model-set content", v0004_audit_content.upgrade),
    Migration(5, "classes, enrolments, teacher constraints, page sessions", v0005_classes.upgrade),
    Migration(6, "the resource behind each answer", v0006_event_resource.upgrade),
    Migration(7, "states and served lists as json text on PostgreSQL", v0007_whole_json.upgrade),
)
LATEST_VERSION = MIGRATIONS[-1].version

_versions = sa.Table(
    VERSION_TABLE, sa.MetaData(),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)


def current_version(conn: sa.Connection) -> int:
    """The newest applied migration (0 for an empty database)."""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return 0
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(_versions.c.version), 0))).scalar_one())


def upgrade(engine: sa.Engine) -> list[int]:
    """Apply every pending migration (see the module docstring); returns the versions applied now."""
    with write_tx(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY_LOCK_KEY)))
        _versions.create(conn, checkfirst=True)
        have = current_version(conn)
        if have > LATEST_VERSION:
            raise ConfigError(f"the database schema is at version {have} but this equilearn knows only up to "
                              f"{LATEST_VERSION}: upgrade equilearn (or point EQUILEARN_DATABASE_URL elsewhere)")
        applied = []
        for step in MIGRATIONS:
            if step.version > have:
                step.upgrade(conn)
                conn.execute(sa.insert(_versions).values(version=step.version, name=step.name, applied_at=utc_now()))
                applied.append(step.version)
        return applied
