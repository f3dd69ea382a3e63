"""Migration 4: audits are bound to what they audited: `content_sha256` (the sha256 of the model set's
canonical content, `engine.registry.model_set.content_sha256`) and `data_sha256` (the fingerprint of the
data the audit used, when known), with an index to find a content's newest verdict.

Audits recorded before this migration keep NULL in both: they name a version, not content, so they cannot
make a model set servable (the service gates on content); re-run `equilearn model audit` for the served set.
"""

from __future__ import annotations

import sqlalchemy as sa

ID_LENGTH = 255


def upgrade(conn: sa.Connection) -> None:
    """Add the two nullable columns and the index (frozen here: later changes get their own migration)."""
    conn.exec_driver_sql("ALTER TABLE audits ADD COLUMN content_sha256 VARCHAR(64)")
    conn.exec_driver_sql(f"ALTER TABLE audits ADD COLUMN data_sha256 VARCHAR({ID_LENGTH})")
    conn.exec_driver_sql("CREATE INDEX ix_audits_content_created ON audits (content_sha256, created_at)")
