"""Choose a model configuration on validation students held out of the training students.

Why: a configuration chosen by its test score makes that test score an optimistic estimate. Here the
test split is never looked at: a share of the *training* students (grouped by student, so no student
is on both sides) is held out, every candidate is fitted on the other training students and scored
on the held-out ones (sequential predictions, one AUC), and the caller refits the chosen candidate on
all training students before the test split is scored once.

`validation_split` and `choose` are deterministic (seeded split, ties go to the earlier candidate),
so a selection is reproducible.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Selection:
    """The outcome of a validation selection (JSON-ready through `to_dict`)."""

    chosen: int  # index into `candidates`
    candidates: list[dict[str, Any]]
    validation_auc: list[float | None]  # None where the AUC is undefined (one class only)
    fit_students: int
    validation_students: int
    validation_responses: int
    validation_fraction: float
    seed: int | None

    @property
    def chosen_config(self) -> dict[str, Any]:
        return self.candidates[self.chosen]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validation_split(responses: pl.DataFrame, fraction: float = 0.2, seed: int | None = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(fit part, validation part) of `responses`, split by student: `fraction` of the students (at least
    one, and at least two left to fit on) go to validation; row order is kept on both sides."""
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {fraction!r}")
    students = np.sort(responses["student_id"].unique().to_numpy())
    if students.size < 3:
        raise ValueError(f"choosing on validation students needs at least 3 training students (2 to fit, 1 to validate), "
                         f"got {students.size}")
    n_validation = min(max(1, int(round(fraction * students.size))), students.size - 2)
    held = np.random.default_rng(seed).permutation(students)[:n_validation]
    in_validation = pl.col("student_id").is_in(pl.Series(held).implode())
    return responses.filter(~in_validation), responses.filter(in_validation)


def validation_auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """AUC of predictions `p` for labels `y` (fractional labels count as correct from 0.5), None if one class."""
    labels = np.asarray(y, dtype=float) >= 0.5
    if labels.all() or not labels.any():
        return None
    return float(roc_auc_score(labels, np.asarray(p, dtype=float)))


def choose(scores: Sequence[float | None]) -> int:
    """Index of the highest defined score; ties go to the earlier candidate; 0 (logged) when none is defined."""
    best, best_score = 0, -math.inf
    for i, s in enumerate(scores):
        if s is not None and math.isfinite(s) and s > best_score:
            best, best_score = i, s
    if best_score == -math.inf:
        log.warning("no candidate has a defined validation AUC (one class only); keeping the first candidate")
    return best


def select_on_validation(
    candidates: Sequence[Mapping[str, Any]],
    make: Callable[[Mapping[str, Any]], Any],
    responses: pl.DataFrame,
    fraction: float = 0.2,
    seed: int | None = 0,
    fit: Callable[[Any, pl.DataFrame], Any] | None = None,
) -> Selection:
    """Fit `make(candidate)` on the fit part of a student split of `responses` (with `fit(model, frame)`,
    default `model.fit(frame)`), score its sequential `predict_proba` on the validation students, choose.

    `responses` are training responses only; the caller refits the chosen candidate on all of them."""
    if not candidates:
        raise ValueError("select_on_validation needs at least one candidate")
    fit_part, held = validation_split(responses, fraction, seed)
    return score_candidates(candidates, make, fit_part, held, fraction, seed, fit)


def score_candidates(
    candidates: Sequence[Mapping[str, Any]],
    make: Callable[[Mapping[str, Any]], Any],
    fit_part: pl.DataFrame,
    held: pl.DataFrame,
    fraction: float,
    seed: int | None,
    fit: Callable[[Any, pl.DataFrame], Any] | None = None,
) -> Selection:
    """The scoring half of `select_on_validation`, for callers that prepare shared work on `fit_part` first."""
    fit = fit or (lambda model, frame: model.fit(frame))
    y = held["correct"].to_numpy()
    scores: list[float | None] = []
    for candidate in candidates:
        model = fit(make(candidate), fit_part)
        scores.append(validation_auc(y, model.predict_proba(held)))
        log.info("validation AUC %s for %s", scores[-1], dict(candidate))
    return Selection(
        chosen=choose(scores), candidates=[dict(c) for c in candidates], validation_auc=scores,
        fit_students=fit_part["student_id"].n_unique(), validation_students=held["student_id"].n_unique(),
        validation_responses=held.height, validation_fraction=float(fraction), seed=seed,
    )
