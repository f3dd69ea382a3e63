"""Cross-validation by student: k folds, each model fitted and scored per fold; mean and CI of every metric.

The interval is the Student-t interval over the k fold values (mean +- t_{k-1} * sd / sqrt(k)). Folds share
training students, so the fold values are not independent and this interval is somewhat narrow (Bengio &
Grandvalet 2004); read it as a floor on the uncertainty, and compare models on the same folds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from engine.evaluation.metrics import score
from engine.evaluation.protocol import sort_sequential
from engine.evaluation.splits import kfold_students

QUALITY = ("auc", "rmse", "logloss", "accuracy", "ece")


def summarize(values: list[float], confidence: float = 0.95) -> dict[str, float]:
    """Mean, sd and the t-interval of fold values (NaN folds left out; too few -> NaN interval)."""
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if arr.size == 0:
        return {"mean": float("nan"), "sd": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": 0}
    mean = float(arr.mean())
    if arr.size < 2:
        return {"mean": mean, "sd": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": 1}
    sd = float(arr.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, arr.size - 1)) * sd / math.sqrt(arr.size)
    return {"mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half, "n": int(arr.size)}


def cross_validate(responses: pl.DataFrame, names: list[str], make: Callable[[str], Any], k: int, seed: int,
                   confidence: float = 0.95, on_fold: Callable[[int, str], None] | None = None) -> dict[str, Any]:
    """{"folds": {model: {metric: [per fold]}}, "summary": {model: {metric: summarize(...)}}}."""
    folds: dict[str, dict[str, list[float]]] = {n: {m: [] for m in QUALITY} for n in names}
    for i, (train, test) in enumerate(kfold_students(responses, k, seed)):
        train, test = sort_sequential(train), sort_sequential(test)
        for name in names:
            if on_fold:
                on_fold(i, name)
            model = make(name).fit(train)
            result = score(test["correct"].to_numpy(), np.asarray(model.predict_proba(test), dtype=float))
            for metric in QUALITY:
                folds[name][metric].append(result[metric])
    summary = {n: {m: summarize(v, confidence) for m, v in per.items()} for n, per in folds.items()}
    return {"k": k, "seed": seed, "confidence": confidence, "folds": folds, "summary": summary}
