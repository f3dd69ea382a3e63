"""`evaluate(model, data)`: score an already fitted model on a response frame in one call (as pyBKT's
`Model.evaluate`), and `kt_scorer`: the same numbers as a scikit-learn scorer for `GridSearchCV`.

Nothing is fitted here. The rows are put in each student's order (`student_id`, then `seq` when the
frame has it) and predicted sequentially, as the KT protocol does: the prediction of a row uses the
fitted parameters and that student's earlier rows only. Metrics come from `engine.evaluation.metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

from engine.errors import ConfigError, DataValidationError, Problem
from engine.evaluation import metrics as m
from models.base import ResponseModel
from models.irt.matrix import is_pandas_frame, matrix_responses

METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "auc": m.auc, "rmse": m.rmse, "logloss": m.logloss, "accuracy": m.accuracy, "ece": m.ece,
}
DEFAULT_METRICS = ("auc", "rmse", "logloss", "accuracy")
LOWER_IS_BETTER = {"rmse", "logloss", "ece"}
REQUIRED = ("student_id", "item_id", "correct")


def _long_frame(data: Any) -> pl.DataFrame:
    """The response frame (polars or pandas); a person x item matrix (numpy, polars, pandas) is turned into
    one (for IRT)."""
    if is_pandas_frame(data) and "item_id" in data.columns:
        data = pl.from_pandas(data)
    if isinstance(data, pl.DataFrame) and all(c in data.columns for c in REQUIRED):
        return data
    if isinstance(data, pl.DataFrame) and "item_id" in data.columns:
        missing = [c for c in REQUIRED if c not in data.columns]
        raise ConfigError(f"data has no column(s) {', '.join(map(repr, missing))}; a response frame needs "
                          f"{', '.join(REQUIRED)} (and seq, skill_ids for knowledge-tracing models)")
    return matrix_responses(data).responses


def _check_correct(frame: pl.DataFrame) -> None:
    try:
        y = frame["correct"].cast(pl.Float64, strict=False).to_numpy()
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError):  # e.g. Categorical or List: no cast at all
        raise DataValidationError([Problem(None, "correct", str(frame["correct"].dtype), "must be a number in [0, 1] per "
                                           "row; convert the column to numbers (1 = right, 0 = wrong)")],
                                  source="evaluate") from None
    bad = np.flatnonzero(~(np.isfinite(y) & (y >= 0) & (y <= 1)))
    if bad.size:
        value = frame["correct"][int(bad[0])]
        raise DataValidationError([Problem(int(bad[0]) + 1, "correct", value, "must be a number in [0, 1]; fix or "
                                           "drop these rows", count=int(bad.size))], source="evaluate")


def predictions(model: ResponseModel, data: Any) -> tuple[np.ndarray, np.ndarray]:
    """(observed `correct`, predicted P(correct)) in the students' order, each shape (R,)."""
    frame = _long_frame(data)
    _check_correct(frame)
    order = ["student_id", "seq"] if "seq" in frame.columns else ["student_id"]
    frame = frame.sort(order, maintain_order=True)
    p = np.asarray(model.predict_proba(frame), dtype=float)
    if p.shape != (frame.height,) or not np.all(np.isfinite(p)):
        raise RuntimeError(f"{type(model).__name__}.predict_proba returned {p.shape} values (need {frame.height} finite)")
    return frame["correct"].cast(pl.Float64).to_numpy(), p


def evaluate(model: ResponseModel, data: Any,
             metrics: Sequence[str | Callable[[np.ndarray, np.ndarray], float]] = DEFAULT_METRICS) -> dict[str, float]:
    """Score a fitted model on `data` (a response frame; for IRT also a person x item matrix).

    `metrics`: names among auc, rmse, logloss, accuracy, ece, or callables `f(y, p)` (keyed by their
    `__name__`). Returns {metric: value} plus `n_responses`. AUC is NaN when `data` holds a single class.
    """
    chosen: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {}
    for metric in metrics:
        if isinstance(metric, str):
            if metric not in METRICS:
                raise ConfigError(f"unknown metric {metric!r}; available: {', '.join(METRICS)} (or a callable f(y, p))")
            chosen[metric] = METRICS[metric]
        elif callable(metric):
            chosen[getattr(metric, "__name__", "metric")] = metric
        else:
            raise ConfigError(f"metric {metric!r} is neither a name nor a callable f(y, p)")
    y, p = predictions(model, data)
    return {**{name: float(f(y, p)) for name, f in chosen.items()}, "n_responses": int(y.size)}


def kt_scorer(metric: str = "auc") -> Callable[..., float]:
    """A scikit-learn scorer `(estimator, X, y=None) -> float` (greater is better: RMSE, log-loss and ECE
    are negated, as scikit-learn's `neg_` scorers) for `GridSearchCV(model, grid, scoring=kt_scorer())`."""
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; available: {', '.join(METRICS)}")
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0

    def score(estimator: ResponseModel, X: Any, y: Any = None) -> float:  # noqa: N803 (scikit-learn's name)
        return sign * evaluate(estimator, X, [metric])[metric]

    score.__name__ = f"{'neg_' if sign < 0 else ''}{metric}"
    return score
