"""The E-step of Bock-Aitkin EM: each student's posterior over the quadrature nodes and the
expected counts per item and node, from sparse incidence matrices (no students x items matrix)."""

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
