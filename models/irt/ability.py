"""Ability estimation against a calibrated bank: EAP (with posterior SD), MAP and MLE, vectorized over
students, and the constant-time online posterior update the service applies on every event.

Batch estimators take aligned long arrays (student code, bank item code, 0/1 correct), shape (R,),
and return arrays over students (S,). Nothing builds a students x items matrix: the log-likelihood
grid is a sparse (S x 2I) count matrix times the (2I x K) table of log item probabilities.

MLE for an all-correct or all-wrong pattern does not exist (the likelihood increases without bound);
`mle` then returns the edge of the quadrature range (+/- 6 by default) with an infinite SE and flags
the student in `extreme`. EAP and MAP are always finite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from models.irt.bank import ItemBank
from models.irt.estep import log_tables
from models.irt.quadrature import Quadrature

MAX_NEWTON = 50


@dataclass(frozen=True)
class AbilityEstimates:
    """`theta` and `se` per student (S,); `extreme` marks MLEs that do not exist (all right / wrong)."""

    theta: np.ndarray
    se: np.ndarray
    extreme: np.ndarray


def _bank_table(bank: ItemBank, quadrature: Quadrature) -> np.ndarray:
    a, b, c = bank.a, bank.b, bank.c
    return log_tables(-a * b, a, c, quadrature.nodes)


def _check_codes(item: np.ndarray, n_items: int) -> None:
    if item.size and (item.min() < 0 or item.max() >= n_items):
        bad = int(np.flatnonzero((item < 0) | (item >= n_items))[0])
        raise ValueError(f"response {bad}: item code {int(item[bad])} is not in the bank (0..{n_items - 1}); map unseen items first")


def counts_matrix(student: np.ndarray, columns: np.ndarray, n_students: int, n_columns: int, dtype: type = np.float64) -> sp.csr_matrix:
    """(S x n_columns) CSR matrix with one unit entry per response, built directly from sorted rows
    (repeated (student, column) pairs are left as duplicates: products sum over them)."""
    student = np.asarray(student, dtype=np.int64)
    columns = np.asarray(columns, dtype=np.int64)
    if student.size and np.any(student[1:] < student[:-1]):
        order = np.argsort(student, kind="stable")
        student, columns = student[order], columns[order]
    if student.size and (student[0] < 0 or student[-1] >= n_students):
        raise ValueError(f"student codes must lie in 0..{n_students - 1}")
    indptr = np.zeros(n_students + 1, dtype=np.int64)
    np.cumsum(np.bincount(student, minlength=n_students), out=indptr[1:])
    return sp.csr_matrix((np.ones(len(columns), dtype=dtype), columns, indptr), shape=(n_students, n_columns))


def log_likelihood_grid(
    bank: ItemBank, student: np.ndarray, item: np.ndarray, correct: np.ndarray, n_students: int, quadrature: Quadrature,
    dtype: type = np.float64,
) -> np.ndarray:
    """log P(responses of s | theta_k) for every student and node, shape (S, K)."""
    item = np.asarray(item, dtype=np.int64)
    _check_codes(item, bank.n_items)
    cols = item + bank.n_items * np.asarray(correct, dtype=np.int64)
    counts = counts_matrix(student, cols, n_students, 2 * bank.n_items, dtype)
    return np.asarray(counts @ _bank_table(bank, quadrature).astype(dtype))


def eap(
    bank: ItemBank, student: np.ndarray, item: np.ndarray, correct: np.ndarray, n_students: int | None = None,
    quadrature: Quadrature | None = None, dtype: type = np.float64,
) -> AbilityEstimates:
    """Expected a posteriori ability and posterior SD per student (students with no response get the prior).

    `dtype=np.float32` halves memory traffic for large batches (about 1e-5 precision on theta).
    """
    quadrature = quadrature or Quadrature.normal()
    n_students = int(n_students if n_students is not None else (np.max(student) + 1 if len(student) else 0))
    joint = log_likelihood_grid(bank, student, item, correct, n_students, quadrature, dtype)
    joint += quadrature.log_weights.astype(dtype)[None, :]
    joint -= joint.max(axis=1, keepdims=True)
    np.exp(joint, out=joint)
    q = quadrature.nodes.astype(dtype)
    moments = joint @ np.stack([np.ones_like(q), q, q * q], axis=1)  # (S, 3): mass, first, second
    mean = moments[:, 1] / moments[:, 0]
    sd = np.sqrt(np.maximum(moments[:, 2] / moments[:, 0] - mean**2, 0.0))
    return AbilityEstimates(mean.astype(float), sd.astype(float), np.zeros(n_students, dtype=bool))


def _newton(
    bank: ItemBank, student: np.ndarray, item: np.ndarray, correct: np.ndarray, start: np.ndarray,
    prior: tuple[float, float] | None, bounds: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Fisher-scoring for theta, vectorized over students (bincount over responses); returns (theta, info)."""
    n = len(start)
    a, b, c = bank.a[item], bank.b[item], bank.c[item]
    y = np.asarray(correct, dtype=float)
    theta = start.copy()
    info = np.zeros(n)
    for _ in range(MAX_NEWTON):
        s = 1.0 / (1.0 + np.exp(-a * (theta[student] - b)))
        p = c + (1.0 - c) * s
        dp = a * (1.0 - c) * s * (1.0 - s)
        # float: numpy's bincount of zero rows is int64 even with weights, and the prior is subtracted in place
        grad = np.bincount(student, weights=(y - p) * dp / (p * (1.0 - p)), minlength=n).astype(float)
        info = np.bincount(student, weights=dp**2 / (p * (1.0 - p)), minlength=n).astype(float)
        if prior is not None:
            grad -= (theta - prior[0]) / prior[1] ** 2
            info += 1.0 / prior[1] ** 2
        step = np.clip(grad / np.maximum(info, 1e-12), -1.0, 1.0)
        theta = np.clip(theta + step, *bounds)
        if np.max(np.abs(step), initial=0.0) < 1e-8:
            break
    return theta, info


def map_estimate(
    bank: ItemBank, student: np.ndarray, item: np.ndarray, correct: np.ndarray, n_students: int | None = None,
    quadrature: Quadrature | None = None,
) -> AbilityEstimates:
    """Maximum a posteriori ability under the quadrature's normal prior; SE = 1 / sqrt(posterior information)."""
    quadrature = quadrature or Quadrature.normal()
    start = eap(bank, student, item, correct, n_students, quadrature)
    theta, info = _newton(bank, np.asarray(student), np.asarray(item), correct, start.theta, (quadrature.mean, quadrature.sd), quadrature.bounds)
    return AbilityEstimates(theta, 1.0 / np.sqrt(info), start.extreme)


def mle(
    bank: ItemBank, student: np.ndarray, item: np.ndarray, correct: np.ndarray, n_students: int | None = None,
    quadrature: Quadrature | None = None,
) -> AbilityEstimates:
    """Maximum likelihood ability; all-right / all-wrong (or no response) -> range edge, SE inf, `extreme`."""
    quadrature = quadrature or Quadrature.normal()
    student, item = np.asarray(student, dtype=np.int64), np.asarray(item, dtype=np.int64)
    y = np.asarray(correct, dtype=float)
    start = eap(bank, student, item, y, n_students, quadrature)
    n = len(start.theta)
    count = np.bincount(student, minlength=n)
    right = np.bincount(student, weights=y, minlength=n)
    # the likelihood of an all-right (all-wrong) pattern increases toward +inf (-inf), with or without c
    all_right = (count > 0) & (right == count)
    all_wrong = (count > 0) & (right == 0)
    theta, info = _newton(bank, student, item, y, start.theta, None, quadrature.bounds)
    lo, hi = quadrature.bounds
    theta = np.where(all_right, hi, np.where(all_wrong | (count == 0), lo, theta))
    extreme = all_right | all_wrong | (count == 0)
    with np.errstate(divide="ignore"):
        se = np.where(extreme, np.inf, 1.0 / np.sqrt(info))
    theta = np.where(count == 0, np.nan, theta)
    return AbilityEstimates(theta, se, extreme)


# --- online update -------------------------------------------------------------------------------


class OnlineAbility:
    """A student's posterior over the quadrature, updated one response at a time in O(K) (K nodes).

    The state is a plain list of K log posterior weights (JSON-ready). `update` adds log P(response |
    theta_k) for one item; `summary` gives (EAP, posterior SD). Cost does not grow with the number of
    responses the student has given.
    """

    def __init__(self, quadrature: Quadrature | None = None) -> None:
        self.quadrature = quadrature or Quadrature.normal()
        self._nodes = self.quadrature.nodes
        self._nodes_sq = self._nodes**2

    def initial_state(self) -> np.ndarray:
        return self.quadrature.log_weights.copy()

    def update(self, state: np.ndarray, a: float, b: float, c: float, correct: float) -> np.ndarray:
        """New log posterior (K,) after one response (0/1) to an item with parameters (a, b, c)."""
        if correct not in (0, 1, 0.0, 1.0, True, False):
            raise ValueError(f"correct must be 0 or 1, got {correct!r}")
        z = a * (self._nodes - b)
        if correct:
            log_p = -np.logaddexp(0.0, -z) if c == 0 else np.log(c + (1.0 - c) / (1.0 + np.exp(-z)))
        else:
            log_p = -np.logaddexp(0.0, z) + (math.log1p(-c) if c else 0.0)
        new = state + log_p
        return new - new.max()  # keep the numbers bounded; the posterior is normalized in `summary`

    def summary(self, state: np.ndarray) -> tuple[float, float]:
        """(EAP, posterior SD) of a state."""
        w = np.exp(state - state.max())
        total = w.sum()
        mean = float(w @ self._nodes / total)
        return mean, math.sqrt(max(float(w @ self._nodes_sq / total) - mean * mean, 0.0))
