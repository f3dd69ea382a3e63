"""Answers the adaptive policy chose, marked in a response log by an optional boolean column `steered`.

A platform that serves equilearn and rebuilds its model set from its grown log (`model build --from-store` does
so from the service's own event log) builds from answers to items the policy chose. Those are not a random
design: the policy picks skills it believes ready and items near the difficulty it believes teaches most, and as
a student learns it picks harder items, so success on a skill stays level by design. Two of the build's fits read
that design wrongly (`experiments/results/rebuild_loop.md`): the learning law (`engine.recommend.law`), which
credits learning to difficulty bands from how success changes over a student's steps on a skill, loses its
contrast (its spread between bands 0.11-1.10 logits from a random-practice log, 0.04-0.36 once a cohort served by
that set is added), and the static item bank, calibrated on answers whose difficulty followed the student's learning,
shifts.
So the item bank and the law are fitted on unsteered answers (`unsteered`, `unsteered_prefix`); the skill model,
forgetting and the predictor's choices, which model each answer given the history the policy's choices depended
on, use every answer.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from engine.errors import DataError

STEERED = "steered"


def has_steered(responses: pl.DataFrame) -> bool:
    """True when the log marks at least one answer as steered."""
    return STEERED in responses.columns and bool(responses[STEERED].any())


def check_steered(responses: pl.DataFrame) -> pl.DataFrame:
    """`responses` with `steered` as booleans (True/False or 1/0); a missing value or another value is an error that
    names the first such row. A log without the column is returned as is."""
    if STEERED not in responses.columns:
        return responses
    column = responses[STEERED]
    if column.dtype != pl.Boolean:
        numeric = column.cast(pl.Float64, strict=False)
        bad = numeric.is_null() | ~numeric.is_in([0.0, 1.0])
        if bad.any():
            row = int(bad.arg_true()[0])
            raise DataError(f"response log, row {row + 1} (student {responses['student_id'][row]!r}): steered must be "
                            f"true/false or 1/0 (whether the adaptive policy chose the item), got {column[row]!r}")
        column = numeric == 1.0
    elif column.null_count():
        row = int(column.is_null().arg_true()[0])
        raise DataError(f"response log, row {row + 1} (student {responses['student_id'][row]!r}): steered is missing; "
                        "say true or false for every row, or leave the column out")
    return responses.with_columns(column.alias(STEERED))


def unsteered(responses: pl.DataFrame) -> pl.DataFrame:
    """The answers not marked steered (all of them when the log has no `steered` column)."""
    return responses.filter(~pl.col(STEERED)) if STEERED in responses.columns else responses


def unsteered_prefix(student: np.ndarray, skill: np.ndarray, steered: np.ndarray) -> np.ndarray:
    """(n,) bool per answer, the answers in each student's order: True while no answer on the same (student, skill) up
    to and including this one was steered. A history the policy has steered once keeps its choices in every later
    answer's past, so the law's counts of earlier steps stop being a random design from there on."""
    n = student.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    keys = np.unique(np.stack([student, skill], axis=1), axis=0, return_inverse=True)[1].ravel()
    order = np.lexsort((np.arange(n), keys))  # by (student, skill), each student's order kept
    flags = steered[order].astype(np.int64)
    sorted_keys = keys[order]
    starts = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    running = np.cumsum(flags)
    offset = np.maximum.accumulate(np.where(starts, running - flags, 0))  # the running count before each group
    out = np.empty(n, dtype=bool)
    out[order] = (running - offset) == 0
    return out
