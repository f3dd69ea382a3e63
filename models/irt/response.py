"""Item response functions of the dichotomous logistic models, and the quantities derived from them.

P(theta) = c + (1 - c) / (1 + exp(-a (theta - b))): `a` the discrimination (slope), `b` the difficulty
(on the theta scale), `c` the lower asymptote (guessing; 0 outside the 3PL). Every function
broadcasts `theta` of shape (T,) against item arrays of shape (I,) and returns (T, I) unless noted.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

ArrayLike = np.ndarray | float


def _grid(theta: ArrayLike, a: ArrayLike, b: ArrayLike, c: ArrayLike) -> tuple[np.ndarray, ...]:
    t = np.atleast_1d(np.asarray(theta, dtype=float))[:, None]
    return t, np.atleast_1d(np.asarray(a, dtype=float)), np.atleast_1d(np.asarray(b, dtype=float)), np.atleast_1d(np.asarray(c, dtype=float))


def probability(theta: ArrayLike, a: ArrayLike, b: ArrayLike, c: ArrayLike = 0.0) -> np.ndarray:
    """P(correct | theta) for each ability (rows) and item (columns): shape (T, I)."""
    t, a, b, c = _grid(theta, a, b, c)
    return c + (1.0 - c) * expit(a * (t - b))


def log_sigmoids(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log sigmoid(z), log (1 - sigmoid(z))), stable for any z, with one exp and one log1p."""
    soft = np.log1p(np.exp(-np.abs(z)))  # log(1 + e^-|z|)
    return np.minimum(z, 0.0) - soft, np.minimum(-z, 0.0) - soft



def item_information(theta: ArrayLike, a: ArrayLike, b: ArrayLike, c: ArrayLike = 0.0) -> np.ndarray:
    """Fisher information of each item about theta, shape (T, I).

    I(theta) = P'(theta)^2 / (P Q) = a^2 (Q / P) ((P - c) / (1 - c))^2; for c = 0 this is a^2 P Q.
    """
    t, a, b, c = _grid(theta, a, b, c)
    s = expit(a * (t - b))
    p = c + (1.0 - c) * s
    return a**2 * (1.0 - c) ** 2 * (s * (1.0 - s)) ** 2 / (p * (1.0 - p))


def test_information(theta: ArrayLike, a: ArrayLike, b: ArrayLike, c: ArrayLike = 0.0) -> np.ndarray:
    """Information of the whole item set about theta (sum over items), shape (T,)."""
    return item_information(theta, a, b, c).sum(axis=1)


def standard_error(theta: ArrayLike, a: ArrayLike, b: ArrayLike, c: ArrayLike = 0.0) -> np.ndarray:
    """Asymptotic standard error of the ability MLE at theta: 1 / sqrt(test information), shape (T,)."""
    return 1.0 / np.sqrt(test_information(theta, a, b, c))


def expected_score(theta: ArrayLike, a: ArrayLike, b: ArrayLike, c: ArrayLike = 0.0) -> np.ndarray:
    """Expected number correct on the item set at each theta (the test characteristic curve), shape (T,)."""
    return probability(theta, a, b, c).sum(axis=1)
