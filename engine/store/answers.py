"""The event log as the pages' statistics read it: only the columns they need, only what is newer than what
a reader already has (the log is append-only, ordered by `seq`), as one polars frame built from whole columns."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from engine.store.schema import events as T

SCHEMA = {"seq": pl.Int64, "student_id": pl.Utf8, "item_id": pl.Utf8, "correct": pl.Float64, "resource_id": pl.Utf8,
          "ts": pl.Datetime("us", "UTC")}


def since(conn: sa.Connection, after_seq: int = 0) -> pl.DataFrame:
    """Events with `seq > after_seq` in log order: seq, student_id, item_id, correct, resource_id (the resource used
    before the answer, or null), ts (the event's timestamp, else when it was received; UTC)."""
    ts = sa.func.coalesce(T.c.timestamp, T.c.received_at)
    if conn.dialect.name == "sqlite":  # stored as text: parsed by polars in one pass, not row by row
        ts = sa.type_coerce(ts, sa.String)
    rows = conn.execute(sa.select(T.c.seq, T.c.student_id, T.c.item_id, T.c.correct, T.c.resource_id, ts.label("ts"))
                        .where(T.c.seq > after_seq).order_by(T.c.seq)).all()
    columns = list(zip(*rows)) if rows else [[] for _ in SCHEMA]
    data = {name: list(col) for name, col in zip(SCHEMA, columns, strict=True)}
    if conn.dialect.name == "sqlite":
        stamps = pl.Series("ts", data.pop("ts"), dtype=pl.Utf8).str.to_datetime(time_zone="UTC", time_unit="us", strict=False)
        return pl.DataFrame({**data, "ts": stamps}, schema=SCHEMA)
    return pl.DataFrame(data, schema=SCHEMA)
