"""Paired summaries: means with t-intervals over students, and differences between policies on the same students."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95% t-interval."""

    mean: float
    low: float
    high: float
    n: int

    def text(self, signed: bool = False) -> str:
        f = "{:+.3f}" if signed else "{:.3f}"
        return f"{f.format(self.mean)} [{f.format(self.low)}, {f.format(self.high)}]"


def mean_ci(values: np.ndarray, level: float = 0.95) -> Estimate:
    """Mean and t-interval of independent per-student values (NaN when fewer than two)."""
    values = np.asarray(values, dtype=float)
    n = values.size
    if n < 2:
        return Estimate(float(values.mean()) if n else float("nan"), float("nan"), float("nan"), n)
    half = stats.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / np.sqrt(n)
    return Estimate(float(values.mean()), float(values.mean() - half), float(values.mean() + half), n)


def paired(a: np.ndarray, b: np.ndarray) -> Estimate:
    """a minus b on the same students: the mean difference and its paired t-interval."""
    return mean_ci(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))


def quartiles(prior: np.ndarray) -> np.ndarray:
    """Prior-achievement quartile per student, 0 (lowest) to 3 (highest), by rank (ties broken by order)."""
    ranks = np.argsort(np.argsort(prior, kind="stable"), kind="stable")
    return (4 * ranks) // prior.size


def precision_recall(flags: np.ndarray, truth: np.ndarray) -> tuple[float, float, int]:
    """Share of flagged (student, skill) pairs truly mastered, share of truly mastered ones flagged, flags."""
    n_flags = int(flags.sum())
    precision = float((flags & truth).sum() / n_flags) if n_flags else float("nan")
    recall = float((flags & truth).sum() / truth.sum()) if truth.sum() else float("nan")
    return precision, recall, n_flags
