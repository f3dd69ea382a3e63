"""ROC curves by group and ABROCA, the absolute area between two groups' ROC curves (Gardner et al. 2019).

ROC curves are the piecewise-linear curves through (FPR, TPR) at every distinct threshold, tied scores
forming one diagonal step. `area_between` integrates |ROC_a - ROC_b| over FPR in [0, 1] exactly: on each
interval between consecutive breakpoints of either curve both are linear, so the integral of the
absolute difference is closed-form (two triangles when the curves cross inside the interval).

`abroca_test` adds a permutation test (group labels shuffled between *students*, keeping each student's
rows together) and a confidence interval whose lower bound inverts that test (0 exactly when p > alpha)
and whose upper bound is a student-level bootstrap percentile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.fairness.stats import bootstrap_weights


def roc_curve(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) from (0, 0) to (1, 1), one point per distinct score, label = `y >= 0.5`, optional weights."""
    order = np.argsort(-np.asarray(p, dtype=float), kind="stable")
    score = np.asarray(p, dtype=float)[order]
    positive = (np.asarray(y, dtype=float)[order] >= 0.5).astype(float)
    weight = np.ones_like(score) if w is None else np.asarray(w, dtype=float)[order]
    if score.size == 0:  # an empty group has no curve, like a one-class group
        return np.array([np.nan]), np.array([np.nan])
    ends = np.r_[np.flatnonzero(score[1:] != score[:-1]), score.size - 1]
    return _curve(positive * weight, (1 - positive) * weight, ends)


def _curve(pos_w: np.ndarray, neg_w: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tp = np.r_[0.0, np.cumsum(pos_w)[ends]]
    fp = np.r_[0.0, np.cumsum(neg_w)[ends]]
    if tp[-1] <= 0 or fp[-1] <= 0:
        return np.array([np.nan]), np.array([np.nan])
    moved = np.r_[True, (np.diff(tp) != 0) | (np.diff(fp) != 0)]  # thresholds with none of this group's rows add nothing
    return fp[moved] / fp[-1], tp[moved] / tp[-1]


def _limits(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left and right limits of the curve through (x, y) at each grid point (they differ on vertical steps)."""
    first = np.searchsorted(x, grid, side="left")
    after = np.searchsorted(x, grid, side="right")
    present = after > first
    inner = np.interp(grid, x, y)
    left = np.where(present, y[np.minimum(first, x.size - 1)], inner)
    right = np.where(present, y[np.maximum(after - 1, 0)], inner)
    return left, right


def area_between(xa: np.ndarray, ya: np.ndarray, xb: np.ndarray, yb: np.ndarray) -> float:
    """Exact integral over [0, 1] of |f_a - f_b| for two monotone piecewise-linear curves."""
    if np.isnan(xa).any() or np.isnan(xb).any():
        return float("nan")
    grid = np.unique(np.r_[xa, xb])
    la, ra = _limits(xa, ya, grid)
    lb, rb = _limits(xb, yb, grid)
    d0 = (ra - rb)[:-1]  # difference just right of each breakpoint
    d1 = (la - lb)[1:]   # difference just left of the next one
    width = np.diff(grid)
    same_sign = d0 * d1 >= 0
    total = np.abs(d0) + np.abs(d1)
    with np.errstate(invalid="ignore", divide="ignore"):
        crossing = np.where(total > 0, (d0 ** 2 + d1 ** 2) / (2 * np.where(total > 0, total, 1)), 0.0)
    return float(np.sum(width * np.where(same_sign, total / 2, crossing)))


def abroca(y: np.ndarray, p: np.ndarray, in_a: np.ndarray) -> float:
    """ABROCA between rows with `in_a` True and the other rows."""
    fa, ta = roc_curve(y[in_a], p[in_a])
    fb, tb = roc_curve(y[~in_a], p[~in_a])
    return area_between(fa, ta, fb, tb)


@dataclass(frozen=True)
class AbrocaResult:
    """ABROCA with its interval (see `abroca_test`), bootstrap SE and permutation p-value."""

    value: float
    ci_low: float
    ci_high: float
    se: float
    p_value: float
    n_permutations: int
    null: tuple[float, ...] = ()  # the permutation ABROCAs: the distribution of the noise's area
    boot: tuple[float, ...] = ()  # the student-level bootstrap ABROCAs


def p_above(value: float, null: np.ndarray, bound: float, n_permutations: int | None = None) -> float:
    """p-value of "the true ABROCA is at most `bound`" (small: confidently above it), the test whose inversion
    gives the interval's lower bound: observed - true <= area of the noise (triangle inequality), whose
    distribution the permutations `null` estimate; at bound 0 it is the permutation p-value. `null` holds the
    finite permuted values; `n_permutations` counts every permutation (one that left a group with one class
    has no area and never reaches the observed value), so the denominator is the p-value's."""
    null = np.asarray(null, dtype=float)
    total = null.size if n_permutations is None else max(int(n_permutations), null.size)
    return float((1 + np.sum(null >= value - bound - 1e-12)) / (1 + total))


def p_below(value: float, boot: np.ndarray, bound: float) -> float:
    """p-value of "the true ABROCA is at least `bound`" (small: confidently below it), the percentile bootstrap's
    (the interval's upper bound): the share of bootstrap replicates at or above the bound, 1 when the estimate
    itself reaches it."""
    boot = np.asarray(boot, dtype=float)
    if value >= bound:
        return 1.0
    return float((1 + np.sum(boot >= bound)) / (1 + boot.size))


class _SortedPair:
    """Rows of two groups sorted once by score; curves for any row mask/weights are two cumsums."""

    def __init__(self, y: np.ndarray, p: np.ndarray, student: np.ndarray) -> None:
        order = np.argsort(-p, kind="stable")
        score = p[order]
        self.positive = (y[order] >= 0.5).astype(float)
        self.student = student[order]
        self.ends = np.r_[np.flatnonzero(score[1:] != score[:-1]), score.size - 1]

    def area(self, in_a: np.ndarray, weight: np.ndarray | None = None) -> float:
        w = np.ones(self.positive.size) if weight is None else weight
        wa, wb = w * in_a, w * ~in_a
        fa, ta = _curve(self.positive * wa, (1 - self.positive) * wa, self.ends)
        fb, tb = _curve(self.positive * wb, (1 - self.positive) * wb, self.ends)
        return area_between(fa, ta, fb, tb)


def permutation_critical_value(null: np.ndarray, alpha: float) -> float:
    """The permutation test rejects at level `alpha` exactly when the observed ABROCA exceeds this value.

    With B null values, p = (1 + #{null >= observed}) / (1 + B) <= alpha exactly when fewer than
    k = floor(alpha (1 + B)) null values reach the observed one, i.e. when observed > the k-th largest.
    Infinite when k = 0 (too few permutations to ever reject at `alpha`)."""
    k = int(np.floor(alpha * (null.size + 1) + 1e-9))
    return float(np.sort(null)[::-1][k - 1]) if 1 <= k <= null.size else float("inf")


def abroca_test(y: np.ndarray, p: np.ndarray, student: np.ndarray, student_in_a: np.ndarray, *,
                n_permutations: int = 200, n_boot: int = 200, confidence: float = 0.95,
                random_state: int | None = 0) -> AbrocaResult:
    """ABROCA of group A vs group B with a student-level permutation p-value and a confidence interval.

    y, p, student: per row (student = 0..S-1 index); student_in_a: (S,) bool, True for group A students.
    p-value = (1 + #{permuted ABROCA >= observed}) / (1 + n_permutations).

    ABROCA is an absolute area: >= 0 and biased upwards (noise alone makes the curves differ), so a
    percentile bootstrap interval never reaches the value 0 of two groups served alike. The interval is
      lower = max(0, observed - c), c = the permutation test's critical value at alpha = 1 - confidence:
        the observed difference curve is the true one plus noise E, so by the triangle inequality
        |observed - true| <= area(E), whose distribution the permutations estimate; the lower bound is
        therefore 0 exactly when the permutation test does not reject (p > alpha);
      upper = max(observed, the bootstrap's upper percentile), which errs on the high side because the
        bootstrap replicates are biased upwards too.
    docs/fairness.md gives its coverage under simulated null and alternative differences.
    """
    pair = _SortedPair(np.asarray(y, float), np.asarray(p, float), np.asarray(student))
    in_a = np.asarray(student_in_a, dtype=bool)
    observed = pair.area(in_a[pair.student])
    rng = np.random.default_rng(random_state)
    null = np.array([pair.area(rng.permutation(in_a)[pair.student]) for _ in range(n_permutations)])
    p_value = (1 + np.sum(null >= observed - 1e-12)) / (1 + n_permutations) if np.isfinite(observed) else float("nan")
    boot = np.array([pair.area(in_a[pair.student], w[pair.student])
                     for chunk in bootstrap_weights(in_a.size, n_boot, random_state) for w in chunk])
    finite = boot[np.isfinite(boot)]
    if finite.size >= 20 and np.isfinite(observed):
        alpha = 1 - confidence
        critical = max(permutation_critical_value(np.where(np.isfinite(null), null, -np.inf), alpha), 0.0)
        lo = max(0.0, observed - critical - 1e-12)
        hi = max(observed, float(np.percentile(finite, 100 * (1 - alpha / 2))))
        se = float(np.std(finite, ddof=1))
    else:
        lo = hi = se = float("nan")
    return AbrocaResult(float(observed), float(lo), float(hi), se, float(p_value), n_permutations,
                        tuple(float(x) for x in np.sort(null[np.isfinite(null)])), tuple(float(x) for x in np.sort(finite)))

