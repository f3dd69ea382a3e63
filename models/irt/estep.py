"""The E-step of Bock-Aitkin EM: each student's posterior over the quadrature nodes and the
expected counts per item and node, from sparse incidence matrices (no students x items matrix).

`expected_counts` is the E-step over any set of students (a whole log or one partition of it) reduced
to the sufficient statistics the M-step needs; the statistics of disjoint student sets add
(`ExpectedCounts.total_of`), which is how a distributed engine combines partitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from models.irt.response import log_sigmoids


def log_tables(d: np.ndarray, a: np.ndarray, c: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Stacked (log P(wrong); log P(right)) per item and node, shape (2I, K); rows of NaN items are 0.

    Items are in slope-intercept form, z = a theta + d, P = c + (1 - c) sigmoid(z).
    """
    z = a[:, None] * nodes[None, :] + d[:, None]
    log_s, log_1s = log_sigmoids(z)
    cc = c[:, None]
    guessed = cc > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_right = np.where(guessed, np.logaddexp(np.log(np.where(guessed, cc, 1.0)), np.log1p(-cc) + log_s), log_s)
    log_wrong = np.log1p(-cc) + log_1s
    table = np.vstack([log_wrong, log_right])
    table[~np.isfinite(table)] = 0.0  # only items with no kept responses (never read by the products)
    return table


@dataclass(frozen=True)
class Posterior:
    """E-step output. `post` (S, K) posterior node probabilities; `right`, `total` (I, K) expected
    counts; `mass` (K,) total posterior mass per node; `loglik` the marginal log-likelihood."""

    post: np.ndarray
    right: np.ndarray
    total: np.ndarray
    mass: np.ndarray
    loglik: float


def student_log_likelihoods(by_student: sp.csr_matrix, table: np.ndarray) -> np.ndarray:
    """log P(responses of s | theta = node k) for every student and node: (S, 2I) @ (2I, K) -> (S, K)."""
    return np.asarray(by_student @ table)


def posterior_from_log_likelihood(loglik_grid: np.ndarray, log_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalized posterior over nodes (S, K) and each student's log marginal likelihood (S,)."""
    joint = loglik_grid + log_weights[None, :]
    top = joint.max(axis=1, keepdims=True)
    np.subtract(joint, top, out=joint)
    np.exp(joint, out=joint)
    norm = joint.sum(axis=1, keepdims=True)
    joint /= norm
    return joint, (top + np.log(norm))[:, 0]


def e_step(by_student: sp.csr_matrix, by_column: sp.spmatrix, table: np.ndarray, log_weights: np.ndarray) -> Posterior:
    """Posteriors and expected counts: `by_column` (2I, S) @ post (S, K) splits into wrong / right."""
    post, marginal = posterior_from_log_likelihood(student_log_likelihoods(by_student, table), log_weights)
    counts = np.asarray(by_column @ post)
    n_items = counts.shape[0] // 2
    right = counts[n_items:]
    return Posterior(post, right, right + counts[:n_items], post.sum(axis=0), float(marginal.sum()))


@dataclass(frozen=True)
class ExpectedCounts:
    """The sufficient statistics of one E-step over a set of students.

    `right`, `total` (I, K) expected right / all responses per item and node; `mass` (K,) posterior mass
    per node of the students with at least one response; `loglik` their marginal log-likelihood;
    `n_responding` how many such students. Sums over disjoint sets of students are the statistics of
    their union.
    """

    right: np.ndarray
    total: np.ndarray
    mass: np.ndarray
    loglik: float
    n_responding: int

    @classmethod
    def total_of(cls, parts: list[ExpectedCounts]) -> ExpectedCounts:
        """The statistics of the union of disjoint student sets (partitions), summed in the given order."""
        if not parts:
            raise ValueError("no partition statistics to combine")
        first = parts[0]
        right, total, mass = first.right.copy(), first.total.copy(), first.mass.copy()
        loglik, n_responding = first.loglik, first.n_responding
        for part in parts[1:]:
            right += part.right
            total += part.total
            mass += part.mass
            loglik += part.loglik
            n_responding += part.n_responding
        return cls(right, total, mass, float(loglik), int(n_responding))


def responding_students(by_student: sp.csr_matrix) -> int:
    """How many rows (students) of the incidence matrix hold at least one response."""
    return int(np.count_nonzero(np.diff(by_student.indptr)))


def counts_from_posterior(post: Posterior, n_students: int, n_responding: int, log_weights: np.ndarray) -> ExpectedCounts:
    """Reduce a full E-step to its sufficient statistics. A student without responses has the prior as
    posterior and a zero log-likelihood, so their mass is taken out here (the latent mean and sd are
    estimated from responding students only)."""
    silent = n_students - n_responding
    mass = post.mass - silent * np.exp(log_weights)
    return ExpectedCounts(post.right, post.total, mass, post.loglik, n_responding)


def expected_counts(by_student: sp.csr_matrix, by_column: sp.spmatrix, table: np.ndarray, log_weights: np.ndarray) -> ExpectedCounts:
    """The E-step over the students of `by_student` (S, 2I), reduced to its sufficient statistics."""
    post = e_step(by_student, by_column, table, log_weights)
    return counts_from_posterior(post, by_student.shape[0], responding_students(by_student), log_weights)
