"""A person x item response matrix (as mirt, ltm or girth take) turned into long responses.

Accepted: a 2-D numpy array (items named `item_0`, `item_1`, ...), a polars DataFrame or a pandas
DataFrame (items named by the columns; pandas is used only if the caller already has it). A frame may
carry a `student_id` column, which then names the rows; otherwise rows are named by their position
(`0`, `1`, ...; pandas: by the index). Cells must be 0, 1 or missing (NaN / null): a missing cell is
simply not a response. The item order of the input is kept, so tables can be shown in that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from models.errors import DataValidationError, Problem

STUDENT = "student_id"
LONG_COLUMNS = ("student_id", "item_id", "correct")
MAX_LISTED = 20


@dataclass(frozen=True)
class MatrixResponses:
    """The long responses (`student_id`, `item_id`, `correct`) and the item names in input order."""

    responses: pl.DataFrame
    item_order: list[str]


def is_long_frame(data: Any) -> bool:
    """True for a polars frame with the canonical long columns (the form `IRT.fit` always took)."""
    return isinstance(data, pl.DataFrame) and all(c in data.columns for c in LONG_COLUMNS)


def is_pandas_frame(data: Any) -> bool:
    return type(data).__module__.split(".")[0] == "pandas" and hasattr(data, "columns") and hasattr(data, "to_numpy")


def _numeric_columns(frame: pl.DataFrame) -> np.ndarray:
    """The frame as a float matrix with NaN for missing; DataValidationError naming non-numeric columns."""
    bad = [c for c, t in frame.schema.items() if not (t.is_numeric() or t == pl.Boolean or t == pl.Null)]
    if bad:
        problems = [Problem(None, c, str(frame.schema[c]), "a response column must hold 0, 1 or missing values; "
                            "name the rows with a 'student_id' column and drop other non-item columns") for c in bad]
        raise DataValidationError(problems, source="response matrix")
    return frame.select(pl.all().cast(pl.Float64)).to_numpy().astype(float)


def _parts(data: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(values (S, I) float with NaN, student ids (S,) str, item names (I,)) from any accepted input."""
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise ValueError(f"a response matrix must be 2-D (persons x items), got shape {data.shape}")
        if not (np.issubdtype(data.dtype, np.number) or data.dtype == bool):
            raise ValueError(f"a response matrix must be numeric (0, 1, NaN), got dtype {data.dtype}")
        values = data.astype(float)
        return values, np.arange(values.shape[0]).astype(str), [f"item_{j}" for j in range(values.shape[1])]
    if is_pandas_frame(data):  # without a student_id column, the index names the rows
        frame = pl.from_pandas(data)
        if STUDENT not in frame.columns:
            frame = frame.with_columns(pl.Series(STUDENT, np.asarray(data.index).astype(str)))
        data = frame
    if isinstance(data, pl.DataFrame):
        if "item_id" in data.columns:  # meant as a long frame, but incomplete
            missing = [c for c in LONG_COLUMNS if c not in data.columns]
            raise ValueError(f"a long response frame needs {', '.join(LONG_COLUMNS)}; missing: {', '.join(missing)}")
        if STUDENT in data.columns:
            ids = data[STUDENT].cast(pl.Utf8)
            if ids.null_count():
                first = int(np.flatnonzero(ids.is_null().to_numpy())[0]) + 1
                raise DataValidationError([Problem(first, STUDENT, None, "every row needs a student id",
                                                   count=ids.null_count())], source="response matrix")
            students = ids.to_numpy().astype(str)
            items = data.drop(STUDENT)
        else:
            students, items = np.arange(data.height).astype(str), data
        names = [str(c) for c in items.columns]
        return _numeric_columns(items), students, names
    raise TypeError(
        f"cannot read responses from a {type(data).__name__}: give a long polars frame (student_id, item_id, correct) "
        "or a person x item matrix (numpy 2-D array, polars or pandas DataFrame)"
    )


def _check_values(values: np.ndarray, items: list[str]) -> None:
    """DataValidationError naming each cell that is not 0, 1 or missing (row 1-based, column by name)."""
    bad_rows, bad_cols = np.nonzero(~np.isnan(values) & (values != 0.0) & (values != 1.0))
    if bad_rows.size:
        problems = [Problem(int(r) + 1, items[c], float(values[r, c]),
                            "responses must be 0, 1 or missing (NaN); score partial credit to 0/1 first")
                    for r, c in zip(bad_rows[:MAX_LISTED], bad_cols[:MAX_LISTED])]
        if bad_rows.size > MAX_LISTED:
            problems[-1] = Problem(problems[-1].row, problems[-1].column, problems[-1].value, problems[-1].hint,
                                   count=int(bad_rows.size) - MAX_LISTED + 1)
        raise DataValidationError(problems, source="response matrix")


def long_responses(data: Any) -> MatrixResponses:
    """Long responses and the item order (of first appearance) from a long polars or pandas frame, or
    from a person x item matrix (`matrix_responses`)."""
    if is_pandas_frame(data) and all(c in data.columns for c in LONG_COLUMNS):
        data = pl.from_pandas(data)
    if is_long_frame(data):
        return MatrixResponses(data, data["item_id"].cast(pl.Utf8).unique(maintain_order=True).to_list())
    return matrix_responses(data)


def matrix_responses(data: Any) -> MatrixResponses:
    """Long responses from a person x item matrix; see the module docstring. Missing cells are dropped."""
    values, students, items = _parts(data)
    if len(set(items)) != len(items):
        raise ValueError(f"item names must be unique; repeated: {sorted({i for i in items if items.count(i) > 1})[:5]}")
    if len(set(students.tolist())) != len(students):
        raise ValueError("student ids must be unique: a matrix has one row per student")
    _check_values(values, items)
    rows, cols = np.nonzero(~np.isnan(values))  # row-major: each student's answers in item order
    responses = pl.DataFrame({
        "student_id": pl.Series(students[rows], dtype=pl.Utf8),
        "item_id": pl.Series(np.asarray(items, dtype=object)[cols].astype(str), dtype=pl.Utf8),
        "correct": values[rows, cols],
        "seq": cols.astype(np.int64),
    })
    return MatrixResponses(responses, items)
