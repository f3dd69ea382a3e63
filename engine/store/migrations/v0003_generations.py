"""Migration 3: `generations`, named counters that service processes sharing a database poll.

A process that changes what every process serves (reloads the model set, uploads a catalog) bumps the
`policy` counter; the others see the new value at their next check and load the policy again.
"""

from __future__ import annotations

import sqlalchemy as sa

from engine.store.types import UTCDateTime


def upgrade(conn: sa.Connection) -> None:
    """Create the table (frozen here: later schema changes get their own migration)."""
    table = sa.Table(
        "generations", sa.MetaData(),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("generation", sa.BigInteger, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    table.create(conn)
