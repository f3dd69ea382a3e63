"""Column types that behave the same on SQLite and PostgreSQL.

- `UTCDateTime`: timezone-aware UTC datetimes in and out. SQLite keeps no zone, so values are converted to
  UTC before writing and read back with `tzinfo=UTC`; naive datetimes are taken to be UTC already.
- `JSONDoc`: JSON on SQLite, JSONB on PostgreSQL; None is SQL NULL.
- `WholeJSON`: JSON on SQLite, `json` on PostgreSQL (the text as written, checked for syntax only): for the documents
  the store only ever writes and reads whole (students' states, served lists), which JSONB would convert on every
  write and back on every read; None is SQL NULL.
- `dumps_json`: the engines' JSON serializer. JSON has no NaN or infinity, and PostgreSQL refuses them, so
  non-finite floats are written as null on both backends (the convention of `engine.cli.output`);
  numpy scalars and arrays are written as plain numbers and lists.
- `loads_json`: the engines' JSON reader.

Both go through orjson (a well-kept C library: every ingested batch writes and reads a state document per student,
and those conversions were a large part of a batch's CPU: experiments/results/request_cpu.md), falling back to the
standard library wherever orjson's rules differ from it: a key that is not a string, a whole number beyond 64 bits
(written), a lone surrogate, a NaN literal or a number whose whole part has 19 digits or more (read: orjson would
turn a whole number beyond 64 bits into a float). Numbers are written in the shortest form that reads back as the
same float (`0.00001` where the standard library writes `1e-05`): the same values.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# Python None is stored as SQL NULL (not the JSON literal null), so "no value" is one thing in queries.
JSONDoc = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
WholeJSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSON(none_as_null=True), "postgresql")

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


_ORJSON_WRITE = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS  # those through `_plain`, as json does
# ASCII digits -> 0, the decimal point -> 2, every other byte -> 1: a run of digits preceded by 1 (or at the start) is
# the whole part of a number (or an exponent); one preceded by 2 is a fraction, which reads as a float anyway
_NUMBER_CLASSES = bytes(0 if 48 <= i <= 57 else 2 if i == 46 else 1 for i in range(256))
_LONG_WHOLE = bytes(19)  # 19 digits: a whole number orjson may not read exactly (it holds -2**63 to 2**64 - 1)


def _has_long_whole_number(raw: bytes) -> bool:
    """A whole part (or exponent) of 19 or more ASCII digits in `raw` (a translation and a substring search: a few
    microseconds for a state document, where a regular expression took longer than parsing it)."""
    classes = raw.translate(_NUMBER_CLASSES)
    return classes.startswith(_LONG_WHOLE) or b"\x01" + _LONG_WHOLE in classes


def dumps_json(value: Any) -> str:
    """Compact JSON text of `value`; non-finite floats become null (see the module docstring)."""
    try:
        return orjson.dumps(value, default=_plain, option=_ORJSON_WRITE).decode()  # writes NaN and infinities as null
    except TypeError:  # orjson.JSONEncodeError: a non-string key, a whole number beyond 64 bits, a lone surrogate
        return _dumps_stdlib(value)


def _dumps_stdlib(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False, default=_plain)
    except ValueError:  # a NaN or infinity somewhere: clean (the slow path) and write again
        return json.dumps(_finite(json.loads(json.dumps(value, default=_plain))), separators=(",", ":"), allow_nan=False)


def loads_json(text: str | bytes | bytearray | memoryview) -> Any:
    """The value of JSON `text`, exactly as `json.loads` reads it (see the module docstring)."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if not _has_long_whole_number(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:  # a NaN or infinity literal (json reads them), or not JSON: json's answer
            pass
    return json.loads(text if isinstance(text, str) else raw)


MAX_JSON_DEPTH = 64  # deepest nesting of arrays and objects a stored JSON document may have (the service's limit too)
MAX_SAFE_INTEGER = 2**53 - 1  # I-JSON (RFC 7493): the whole numbers every JSON reader holds exactly


def nul_free(text: str) -> bool:
    """PostgreSQL text and JSONB cannot hold the NUL character (U+0000); both backends refuse it alike."""
    return "\x00" not in text


def json_problem(value: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why `value` cannot be stored as a JSON document on both backends, or None if it can.

    Refused: nesting deeper than `max_depth`, object keys that are not strings, and NUL characters in any
    string or key (PostgreSQL's JSONB cannot hold them). The answer names the place (`a.b[3]`), never the
    value, so it is safe to show and to log whatever the document holds."""
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 1, ())]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, str):
            if not nul_free(node):
                return f"a string at {_json_path(path)} contains a NUL character (U+0000), which cannot be stored"
            continue
        if isinstance(node, dict):
            children = node.items()
        elif isinstance(node, (list, tuple)):
            children = enumerate(node)
        else:
            continue
        if depth > max_depth:
            return f"nested deeper than {max_depth} levels (at {_json_path(path)}); flatten it"
        for key, child in children:
            if isinstance(node, dict):
                if not isinstance(key, str):
                    return f"an object key at {_json_path(path)} is not a string"
                if not nul_free(key):
                    return f"an object key at {_json_path(path)} contains a NUL character (U+0000), which cannot be stored"
            if isinstance(child, (str, dict, list, tuple)):
                stack.append((child, depth + 1, (*path, key)))
    return None


def _json_path(path: tuple[Any, ...]) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    text = text.replace("\x00", "\\u0000")
    text = text if len(text) <= 120 else "..." + text[-117:]
    return text or "the top level"
