"""Long-format response data as integer codes plus the sparse incidence matrices the E-step uses.

Responses arrive as three aligned arrays (student id, item id, 0/1 correct). Ids of any type become
strings and then dense integer codes; nothing builds a students x items matrix. The incidence matrix
has one row per student and 2 x n_items columns: column `item` counts the student's wrong answers to
that item and column `n_items + item` the right ones, so `incidence @ [log Q; log P]` is every
student's log-likelihood at every quadrature node.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl
import scipy.sparse as sp

MAX_LISTED = 5


def _as_series(values: Sequence | np.ndarray | pl.Series, name: str) -> pl.Series:
    series = values if isinstance(values, pl.Series) else pl.Series(name, values if isinstance(values, np.ndarray) else list(values))
    if series.null_count():
        first = int(np.flatnonzero(series.is_null().to_numpy())[0])
        raise ValueError(f"{name}: {series.null_count()} missing id(s), first at position {first}; every response needs an id")
    return series.cast(pl.Utf8)


def encode(values: Sequence | np.ndarray | pl.Series, name: str = "id") -> tuple[np.ndarray, np.ndarray]:
    """Dense integer codes (R,) and the sorted distinct ids as strings (n,), so `uniques[codes] == values`.

    Integer arrays take a numpy fast path (ids sorted numerically); anything else is sorted as text.
    """
    if isinstance(values, np.ndarray) and np.issubdtype(values.dtype, np.integer):
        uniques, codes = np.unique(values, return_inverse=True)
        return codes.astype(np.int64), uniques.astype(str).astype(object)
    series = _as_series(values, name)
    codes = (series.rank("dense") - 1).cast(pl.Int64).to_numpy()
    return codes, series.unique().sort().to_numpy().astype(object)


def lookup(values: Sequence | np.ndarray | pl.Series, known: np.ndarray, name: str = "id") -> np.ndarray:
    """Codes of `values` within `known` (their position there), -1 for values not in `known`: shape (R,)."""
    series = _as_series(values, name)
    table = pl.Series("known", np.asarray(known).astype(str), dtype=pl.Utf8)
    mapped = series.replace_strict(table, pl.Series(np.arange(len(table), dtype=np.int64)), default=-1, return_dtype=pl.Int64)
    return mapped.to_numpy()


def binary_responses(correct: Sequence | np.ndarray | pl.Series) -> np.ndarray:
    """`correct` as an int8 0/1 array, or ValueError naming the first offending positions and values."""
    values = np.asarray(correct.to_numpy() if isinstance(correct, pl.Series) else correct, dtype=float)
    bad = np.flatnonzero(~np.isin(values, (0.0, 1.0)))  # NaN is not in the set, so it is caught too
    if bad.size:
        shown = ", ".join(f"position {i}: {float(values[i])!r}" for i in bad[:MAX_LISTED])
        raise ValueError(
            f"correct: {bad.size} response(s) are not 0/1 ({shown}); dichotomous IRT models need binary "
            "responses: score partial credit to 0/1 first"
        )
    return values.astype(np.int8)


@dataclass(frozen=True)
class ResponseData:
    """Coded responses: `student`, `item` (int64 codes) and `correct` (int8 0/1), all shape (R,)."""

    student: np.ndarray
    item: np.ndarray
    correct: np.ndarray
    student_ids: np.ndarray
    item_ids: np.ndarray

    @classmethod
    def from_arrays(
        cls,
        student_ids: Sequence | np.ndarray | pl.Series,
        item_ids: Sequence | np.ndarray | pl.Series,
        correct: Sequence | np.ndarray | pl.Series,
    ) -> ResponseData:
        """Validate and code three aligned arrays (ValueError on empty, misaligned or non-binary input)."""
        n = (len(student_ids), len(item_ids), len(correct))
        if len(set(n)) != 1:
            raise ValueError(f"student_ids, item_ids and correct must have the same length, got {n}")
        if n[0] == 0:
            raise ValueError("no responses given: calibration needs at least one response per item")
        y = binary_responses(correct)
        student, students = encode(student_ids, "student_id")
        item, items = encode(item_ids, "item_id")
        return cls(student, item, y, students, items)

    @property
    def n_students(self) -> int:
        return len(self.student_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_responses(self) -> int:
        return len(self.correct)

    @cached_property
    def item_totals(self) -> tuple[np.ndarray, np.ndarray]:
        """(responses, correct responses) per item, each shape (I,)."""
        n = np.bincount(self.item, minlength=self.n_items)
        right = np.bincount(self.item, weights=self.correct, minlength=self.n_items).astype(np.int64)
        return n, right

    def incidence(self, keep_item: np.ndarray | None = None) -> tuple[sp.csr_matrix, sp.csc_matrix]:
        """(S x 2I) CSR count matrix over the responses whose item is kept (all by default), and its
        transpose as a CSC view: `transpose @ post` then streams the posteriors in student order and
        scatters into the small (2I x K) result, which is several times faster than a CSR transpose."""
        rows, cols = self.student, self.item + self.n_items * self.correct.astype(np.int64)
        if keep_item is not None:
            kept = keep_item[self.item]
            rows, cols = rows[kept], cols[kept]
        shape = (self.n_students, 2 * self.n_items)
        by_student = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)
        by_student.sum_duplicates()
        return by_student, by_student.T
