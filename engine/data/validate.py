"""Validation of canonical tables: every problem at once, each with row, column, value and a fix.

`validate` casts a frame to its canonical schema and raises `DataValidationError` listing all
problems; `find_problems` returns them without raising. All checks are column expressions.
"""

from __future__ import annotations

import polars as pl

from engine.data.schema import SCHEMAS, TableSchema
from engine.errors import DataValidationError, Problem

ROWS_LISTED_PER_CHECK = 20
_ROW = "__row__"


def _schema(schema: TableSchema | str) -> TableSchema:
    return SCHEMAS[schema] if isinstance(schema, str) else schema


def _rows_problems(bad: pl.DataFrame, column: str, hint: str) -> list[Problem]:
    """Turn a frame of offending rows (`__row__`, column) into Problems: first rows listed, rest counted."""
    if bad.height == 0:
        return []
    listed = bad.head(ROWS_LISTED_PER_CHECK)
    values = listed[column].to_list() if column in listed.columns else [None] * listed.height
    problems = [Problem(int(r) + 1, column, v, hint) for r, v in zip(listed[_ROW].to_list(), values)]
    rest = bad.height - listed.height
    if rest > 0:
        first_rest = bad.row(listed.height, named=True)
        problems.append(
            Problem(int(first_rest[_ROW]) + 1, column, first_rest.get(column), hint, count=rest)
        )
    return problems


def _type_name(dtype: pl.DataType) -> str:
    return "list of strings" if isinstance(dtype, pl.List) else str(dtype)


def _cast_column(frame: pl.DataFrame, column: str, dtype: pl.DataType) -> tuple[pl.Series | None, list[Problem]]:
    """Cast one column; on failure, name the rows whose values could not be converted.

    Values that cannot be converted become null in the returned series, so the range checks
    still run on the rest of the column and every problem is reported in one pass.
    """
    series = frame[column]
    if series.dtype == dtype:
        return series, []
    if isinstance(dtype, pl.List) and not isinstance(series.dtype, pl.List):
        hint = f"expected a {_type_name(dtype)}; build it with a loader or pass a list per row"
        return None, [Problem(None, column, str(series.dtype), hint)]
    try:
        return series.cast(dtype, strict=True), []
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError):
        loose = series.cast(dtype, strict=False)
        bad = frame.select(_ROW, column).filter(loose.is_null() & series.is_not_null())
        hint = f"cannot be read as {_type_name(dtype)}; fix or remove the value"
        return loose, _rows_problems(bad, column, hint)


def find_problems(frame: pl.DataFrame, schema: TableSchema | str) -> tuple[pl.DataFrame, list[Problem]]:
    """Cast `frame` to `schema` and list every problem; returns (cast frame, problems)."""
    sch = _schema(schema)
    problems: list[Problem] = []
    for column, dtype in sch.required.items():
        if column not in frame.columns:
            problems.append(
                Problem(None, column, None, f"required column is missing; add a {_type_name(dtype)} column named {column!r}")
            )
    if frame.height == 0 and not problems:
        problems.append(Problem(None, None, None, f"the {sch.name} table has no rows"))
    work = frame.with_row_index(_ROW)
    originally_null = {c: work[c].is_null() for c in sch.required if c in work.columns}
    cast: dict[str, pl.Series] = {}
    for column, dtype in sch.columns.items():
        if column not in work.columns:
            continue
        series, col_problems = _cast_column(work, column, dtype)
        problems.extend(col_problems)
        if series is not None:
            cast[column] = series
    work = work.with_columns(list(cast.values()))
    checks: list[tuple[str, pl.Expr, str]] = []
    for column in sch.required:
        if column in cast:
            checks.append((column, pl.lit(originally_null[column]), "value is missing; fill it in"))
    for column in sch.id_columns:
        if column in cast:
            checks.append(
                (column, pl.col(column).str.strip_chars().str.len_chars() == 0, "identifier is empty; give a non-empty id")
            )
    for column in sch.unit_interval:
        if column in cast:
            expr = pl.col(column).is_nan() | (pl.col(column) < 0) | (pl.col(column) > 1)
            checks.append((column, expr, "must be a number in [0, 1] (1 = correct, 0 = wrong, or a score fraction)"))
    for column in sch.positive:
        if column in cast:
            checks.append((column, pl.col(column) <= 0, "must be greater than 0"))
    for column, allowed in sch.allowed.items():
        if column in cast:
            checks.append(
                (column, pl.col(column).is_in(list(allowed)).not_() & pl.col(column).is_not_null(),
                 f"must be one of {', '.join(map(str, allowed))}")
            )
    for column, expr, hint in checks:
        bad = work.filter(expr.fill_null(False)).select(_ROW, column)
        problems.extend(_rows_problems(bad, column, hint))
    key = [c for c in sch.unique_key if c in cast]
    if key and len(key) == len(sch.unique_key):
        dup = work.filter(pl.struct(key).is_duplicated() & pl.all_horizontal(pl.col(key).is_not_null()))
        if dup.height:
            label = "+".join(key)
            shown = dup.select(_ROW, pl.concat_str([pl.col(k).cast(pl.Utf8) for k in key], separator="/").alias(label))
            hint = f"duplicate ({', '.join(key)}); each must be unique: remove or renumber the repeated rows"
            problems.extend(_rows_problems(shown, label, hint))
    return work.drop(_ROW), problems


def validate(frame: pl.DataFrame, schema: TableSchema | str, source: str = "data") -> pl.DataFrame:
    """Return `frame` cast to its canonical schema, or raise `DataValidationError` with every problem."""
    cast, problems = find_problems(frame, schema)
    if problems:
        raise DataValidationError(problems, source=f"{source} ({_schema(schema).name})")
    return cast
