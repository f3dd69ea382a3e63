"""Migration 7: on PostgreSQL, the documents the store only writes and reads whole, the students' states
(`mastery_states.state`) and the served lists (`served_recommendations.items`, `.context`), become `json` (the text
as written, checked for syntax) instead of JSONB, which converted every state an ingested batch rewrote and every
list served (PostgreSQL's ingestion over HTTP: docs/service.md, experiments/results/service.md). Nothing queries
inside them. The values are unchanged; JSONB had normalized their text (key order, spacing), which nothing reads.
SQLite keeps its JSON text columns as they were. Frozen here: later schema changes get their own migration."""

from __future__ import annotations

import sqlalchemy as sa

COLUMNS = (("mastery_states", "state"), ("served_recommendations", "items"), ("served_recommendations", "context"))


def upgrade(conn: sa.Connection) -> None:
    """ALTER each column's type on PostgreSQL (a table rewrite; ALTER is not an UPDATE, so no trigger objects)."""
    if conn.dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        conn.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE json USING {column}::json")
