"""Student-level splits: no student's responses are on both sides."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl


def _shuffled_students(responses: pl.DataFrame, seed: int) -> np.ndarray:
    students = np.sort(responses["student_id"].unique().to_numpy())
    return np.random.default_rng(seed).permutation(students)


def split_students(responses: pl.DataFrame, test_fraction: float = 0.2, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Train/test split by student; `test_fraction` of students (at least one) go to test."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    students = _shuffled_students(responses, seed)
    n_test = max(1, int(round(test_fraction * students.size)))
    test_ids = pl.Series(students[:n_test])
    in_test = pl.col("student_id").is_in(test_ids.implode())
    return responses.filter(~in_test), responses.filter(in_test)


def kfold_students(responses: pl.DataFrame, k: int = 5, seed: int = 0) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """Yield k (train, test) pairs; each student is in exactly one test fold."""
    if k < 2:
        raise ValueError(f"k must be at least 2, got {k}")
    folds = np.array_split(_shuffled_students(responses, seed), k)
    for fold in folds:
        in_test = pl.col("student_id").is_in(pl.Series(fold).implode())
        yield responses.filter(~in_test), responses.filter(in_test)
