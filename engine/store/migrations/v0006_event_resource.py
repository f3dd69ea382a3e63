"""Migration 6: `events.resource_id`, the catalog resource a student used just before an answer (NULL: none or not
known; every event stored before this migration). Frozen here: later schema changes get their own migration."""

from __future__ import annotations

import sqlalchemy as sa

ID_LENGTH = 255


def upgrade(conn: sa.Connection) -> None:
    """Add the nullable column (ALTER TABLE ... ADD COLUMN is not an UPDATE, so the append-only triggers allow it)."""
    column = sa.Column("resource_id", sa.String(ID_LENGTH), nullable=True)
    type_sql = column.type.compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE events ADD COLUMN resource_id {type_sql}")
