"""Metrics a `MetricFrame` can disaggregate, each evaluable under bootstrap weights in one shot.

A metric is prepared once per block of rows (one group) and then evaluated for a whole chunk of
student-level bootstrap resamples at once: `evaluate(state, W)` takes W of shape (b, students in the
block), the multiplicity of each student in each resample, and returns b values. The point estimate is
the same call with a single all-ones row.

- `RatioMetric`: sum(numerator) / sum(denominator) over rows (a rate, a mean, a mean loss); optional
  square root for RMSE. Decomposes into per-student sums, so a million rows cost one bincount.
- `AUCMetric`: area under the ROC curve with ties counted as one half, weighted by multiplicity.
- `ECEMetric`: expected calibration error over equal-width bins of the prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

ONE = "__one__"  # column of ones every MetricFrame provides: the default denominator (row count)
MAX_CELLS = 4_000_000  # bound on (resamples x rows) held at once by row-level metrics


@dataclass
class Block:
    """Rows of one group: local student index per row (0..n_students-1) and the needed columns."""

    student: np.ndarray
    n_students: int
    cols: dict[str, np.ndarray] = field(default_factory=dict)


class Metric(Protocol):
    name: str
    higher_is_better: bool

    @property
    def columns(self) -> tuple[str, ...]: ...

    @property
    def additive(self) -> bool:
        """True when per-student sums of `columns` are all the metric needs (rows may be pre-summed)."""
        ...

    def prepare(self, block: Block) -> Any: ...

    def evaluate(self, state: Any, weights: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class RatioMetric:
    """sum(numerator) / sum(denominator) over the rows of a group (denominator defaults to row count)."""

    name: str
    numerator: str
    denominator: str = ONE
    higher_is_better: bool = True
    sqrt: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.numerator, self.denominator)

    @property
    def additive(self) -> bool:
        return True

    def prepare(self, block: Block) -> tuple[np.ndarray, np.ndarray]:
        num = np.bincount(block.student, weights=block.cols[self.numerator], minlength=block.n_students)
        den = np.bincount(block.student, weights=block.cols[self.denominator], minlength=block.n_students)
        return num, den

    def evaluate(self, state: tuple[np.ndarray, np.ndarray], weights: np.ndarray) -> np.ndarray:
        num, den = state
        top, bottom = weights @ num, weights @ den
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)
        return np.sqrt(value) if self.sqrt else value


@dataclass(frozen=True)
class AUCMetric:
    """ROC AUC of score `p` for label `y >= 0.5`; NaN when a resample holds a single class."""

    y: str = "y"
    p: str = "p"
    name: str = "auc"
    higher_is_better: bool = True

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.y, self.p)

    @property
    def additive(self) -> bool:
        return False

    def prepare(self, block: Block) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        order = np.argsort(block.cols[self.p], kind="stable")
        score = block.cols[self.p][order]
        positive = (block.cols[self.y][order] >= 0.5).astype(float)
        starts = np.flatnonzero(np.r_[True, score[1:] != score[:-1]])
        return block.student[order], positive, starts

    def evaluate(self, state: tuple[np.ndarray, np.ndarray, np.ndarray], weights: np.ndarray) -> np.ndarray:
        student, positive, starts = state
        out = np.empty(weights.shape[0])
        step = max(1, MAX_CELLS // max(1, student.size))
        for lo in range(0, weights.shape[0], step):
            w = weights[lo:lo + step][:, student]
            pos = np.add.reduceat(w * positive, starts, axis=1)
            neg = np.add.reduceat(w * (1.0 - positive), starts, axis=1)
            below = np.cumsum(neg, axis=1) - neg
            n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[lo:lo + step] = np.where((n_pos > 0) & (n_neg > 0),
                                             (pos * (below + 0.5 * neg)).sum(axis=1) / (n_pos * n_neg), np.nan)
        return out


@dataclass(frozen=True)
class ECEMetric:
    """Expected calibration error: count-weighted mean |observed - predicted| over equal-width bins of p."""

    y: str = "y"
    p: str = "p"
    n_bins: int = 10
    name: str = "ece"
    higher_is_better: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.y, self.p)

    @property
    def additive(self) -> bool:
        return False

    def prepare(self, block: Block) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p, y = block.cols[self.p], block.cols[self.y]
        bins = np.minimum((p * self.n_bins).astype(int), self.n_bins - 1)
        cell = block.student * self.n_bins + bins
        size = block.n_students * self.n_bins
        count = np.bincount(cell, minlength=size).reshape(block.n_students, self.n_bins).astype(float)
        pred = np.bincount(cell, weights=p, minlength=size).reshape(block.n_students, self.n_bins)
        obs = np.bincount(cell, weights=y, minlength=size).reshape(block.n_students, self.n_bins)
        return count, pred, obs

    def evaluate(self, state: tuple[np.ndarray, np.ndarray, np.ndarray], weights: np.ndarray) -> np.ndarray:
        count, pred, obs = (weights @ part for part in state)
        total = count.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, np.abs(obs - pred).sum(axis=1) / total, np.nan)
