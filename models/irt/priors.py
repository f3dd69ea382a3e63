"""Priors on item parameters for Bayes modal estimation, in the EM's internal coordinates.

Internally an item is (d, a, g): intercept d = -a b, slope a, and g = logit(c). Each prior returns its
log density, gradient and a negative semi-definite curvature (the exact second derivative where that
is concave, else its Gauss-Newton part), so a Newton step with it is always an ascent direction.
Arrays: value (I,), gradient (I, 3), curvature (I, 3, 3) over (d, a, g).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Pair = tuple[float, float]


def _check(name: str, pair: Pair | None, positive_second: bool, at_least_one: bool = False) -> Pair | None:
    if pair is None:
        return None
    if len(pair) != 2 or not all(np.isfinite(pair)):
        raise ValueError(f"{name} prior must be two finite numbers, got {pair!r}")
    first, second = float(pair[0]), float(pair[1])
    if positive_second and second <= 0:
        raise ValueError(f"{name} prior needs a positive scale, got {pair!r}")
    if at_least_one and (first < 1 or second < 1):
        raise ValueError(f"{name} Beta prior needs both shapes >= 1 (a proper mode in (0, 1)), got {pair!r}")
    return first, second


@dataclass(frozen=True)
class Priors:
    """`a_lognormal` = (meanlog, sdlog) on slopes; `b_normal` = (mean, sd) on difficulties;
    `c_beta` = (alpha, beta) on lower asymptotes (3PL only). None = no prior (maximum likelihood)."""

    a_lognormal: Pair | None = None
    b_normal: Pair | None = None
    c_beta: Pair | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "a_lognormal", _check("a (lognormal)", self.a_lognormal, True))
        object.__setattr__(self, "b_normal", _check("b (normal)", self.b_normal, True))
        object.__setattr__(self, "c_beta", _check("c (beta)", self.c_beta, True, at_least_one=True))

    def item_terms(self, a: np.ndarray, d: np.ndarray, g: np.ndarray, guessing: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log prior of b (and of c when `guessing`) per item, with gradient and curvature over (d, a, g)."""
        n = len(a)
        value, grad, curv = np.zeros(n), np.zeros((n, 3)), np.zeros((n, 3, 3))
        if self.b_normal is not None:
            mean, sd = self.b_normal
            with np.errstate(divide="ignore", invalid="ignore"):
                b = -d / a
                db = np.stack([-1.0 / a, -b / a], axis=1)  # d b / d(d, a)
            slope = -(b - mean) / sd**2
            value += -0.5 * ((b - mean) / sd) ** 2
            grad[:, :2] += slope[:, None] * db
            curv[:, :2, :2] += -(db[:, :, None] * db[:, None, :]) / sd**2
        if guessing and self.c_beta is not None:
            alpha, beta = self.c_beta
            c = 1.0 / (1.0 + np.exp(-g))
            value += (alpha - 1.0) * np.log(c) + (beta - 1.0) * np.log1p(-c)
            grad[:, 2] += (alpha - 1.0) * (1.0 - c) - (beta - 1.0) * c
            curv[:, 2, 2] += -(alpha + beta - 2.0) * c * (1.0 - c)
        return value, grad, curv

    def slope_terms(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lognormal log prior of slopes: value, d/da and a non-positive d2/da2, each shape like `a`."""
        a = np.asarray(a, dtype=float)
        if self.a_lognormal is None:
            return np.zeros_like(a), np.zeros_like(a), np.zeros_like(a)
        mean, sd = self.a_lognormal
        with np.errstate(divide="ignore", invalid="ignore"):
            log_a = np.log(a)
            value = np.where(a > 0, -log_a - 0.5 * ((log_a - mean) / sd) ** 2, -np.inf)
            grad = np.where(a > 0, -1.0 / a - (log_a - mean) / (sd**2 * a), 0.0)
            exact = (1.0 - (1.0 - log_a + mean) / sd**2) / a**2
        return value, grad, np.where(a > 0, np.minimum(exact, 0.0), 0.0)

    def to_dict(self) -> dict[str, list[float] | None]:
        return {k: None if v is None else list(v) for k, v in
                (("a_lognormal", self.a_lognormal), ("b_normal", self.b_normal), ("c_beta", self.c_beta))}
