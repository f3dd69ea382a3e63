"""Migration 2: the database itself refuses UPDATE and DELETE on `events` (the log is append-only).

The store never changes a logged event, so this only guards against other code or a hand-typed SQL
statement rewriting history that mastery states and audits were computed from. TRUNCATE (and dropping
the table) still work, for tests and deliberate resets.
"""

from __future__ import annotations

import sqlalchemy as sa

MESSAGE = "events are append-only: a stored event cannot be updated or deleted"

_SQLITE = [
    f"CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    f"CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
]
_POSTGRESQL = [
    "CREATE FUNCTION equilearn_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation'; END $$",
    "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION equilearn_events_append_only()",
]


def upgrade(conn: sa.Connection) -> None:
    """Add the triggers for this backend."""
    for statement in _POSTGRESQL if conn.dialect.name == "postgresql" else _SQLITE:
        conn.exec_driver_sql(statement)
