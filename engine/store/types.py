"""Column types that behave the same on SQLite and PostgreSQL.

- `UTCDateTime`: timezone-aware UTC datetimes in and out. SQLite keeps no zone, so values are converted to
  UTC before writing and read back with `tzinfo=UTC`; naive datetimes are taken to be UTC already.
- `JSONDoc`: JSON on SQLite, JSONB on PostgreSQL; None is SQL NULL.
- `dumps_json`: the engines' JSON serializer. JSON has no NaN or infinity, and PostgreSQL refuses them, so
  non-finite floats are written as null on both backends (the convention of `engine.cli.output`);
  numpy scalars and arrays are written as plain numbers and lists.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# Python None is stored as SQL NULL (not the JSON literal null), so "no value" is one thing in queries.
JSONDoc = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")

# A 64-bit auto-increment key; SQLite only auto-increments an INTEGER PRIMARY KEY (its rowid alias).
BigIntKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def as_utc(value: datetime) -> datetime:
    """`value` in UTC; a naive datetime is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        utc = as_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def _finite(value: Any) -> Any:
    """A copy of `value` with NaN and infinities replaced by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """numpy arrays and scalars (anything with `tolist`/`item`) and datetimes as JSON-ready values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps_json(value: Any) -> str:
    """Compact JSON text of `value`; non-finite floats become null (see the module docstring)."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False, default=_plain)
    except ValueError:  # a NaN or infinity somewhere: clean (the slow path) and write again
        return json.dumps(_finite(json.loads(json.dumps(value, default=_plain))), separators=(",", ":"), allow_nan=False)
