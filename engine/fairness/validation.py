"""Input checks shared by the audits: required columns, missing values and value ranges, all at once.

Each problem names the row (1-based), the column, the value and what to do, like the data validators.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from engine.errors import ConfigError, DataValidationError, Problem

ROWS_LISTED = 20


def require_columns(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    """ConfigError naming every missing column and the columns that exist."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"{what} has no column(s) {', '.join(map(repr, missing))}; columns are: {', '.join(frame.columns)}")


def _listed(bad: pl.DataFrame, column: str, hint: str) -> list[Problem]:
    rows = bad.head(ROWS_LISTED)
    problems = [Problem(int(r) + 1, column, v, hint) for r, v in zip(rows["__row__"].to_list(), rows[column].to_list())]
    if bad.height > rows.height:
        first = bad.row(rows.height, named=True)
        problems.append(Problem(int(first["__row__"]) + 1, column, first[column], hint, count=bad.height - rows.height))
    return problems


def check_values(frame: pl.DataFrame, what: str, *, not_null: Sequence[str] = (),
                 unit_interval: Sequence[str] = ()) -> None:
    """Raise DataValidationError listing null cells in `not_null` and values outside [0, 1] in `unit_interval`."""
    work = frame.with_row_index("__row__")
    problems: list[Problem] = []
    for column in not_null:
        problems += _listed(work.filter(pl.col(column).is_null()).select("__row__", column), column,
                            "missing value; fill it or remove the row (audits never drop rows silently)")
    for column in unit_interval:
        values = pl.col(column).cast(pl.Float64, strict=False)
        bad = work.filter(pl.col(column).is_not_null() & (values.is_null() | values.is_nan() | (values < 0) | (values > 1)))
        problems += _listed(bad.select("__row__", column), column, "must be a number between 0 and 1")
    if problems:
        raise DataValidationError(problems, source=what)
