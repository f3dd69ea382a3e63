"""Statistical building blocks shared by the audits.

- `adjust_pvalues`: Holm (family-wise error) and Benjamini-Hochberg (false discovery rate) corrections.
- `fit_logistic`: Newton-Raphson logistic regression on a small design matrix (a handful of columns, any
  number of rows), with optional per-row counts so grouped (binomial) data fits exactly like raw rows.
- `bootstrap_weights`: student-level bootstrap as multiplicity weights, generated in fixed-size chunks
  from spawned seeds so results do not depend on how much is held in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import expit

from engine.errors import ConfigError

MAX_HALVINGS = 40  # step-halvings tried per Newton step before the fit stops

ADJUST_METHODS = ("holm", "bh", "bonferroni", "none")
BOOT_CHUNK = 10  # resamples generated (and processed) together


def adjust_pvalues(p: np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values for `method` in ADJUST_METHODS; NaN entries stay NaN and are not counted."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = q.size
    if m == 0 or method == "none":
        out[ok] = q
        return out
    order = np.argsort(q, kind="stable")
    ranked = q[order]
    if method == "bonferroni":
        adj = np.minimum(ranked * m, 1.0)
    elif method == "holm":
        adj = np.minimum(np.maximum.accumulate(ranked * (m - np.arange(m))), 1.0)
    elif method == "bh":
        adj = np.minimum.accumulate((ranked * m / np.arange(1, m + 1))[::-1])[::-1]
        adj = np.minimum(adj, 1.0)
    else:
        raise ConfigError(f"unknown multiple-comparison method {method!r}; choose one of: {', '.join(ADJUST_METHODS)}")
    back = np.empty(m)
    back[order] = adj
    out[ok] = back
    return out


@dataclass(frozen=True)
class LogisticFit:
    """Coefficients and (Bernoulli) log-likelihood of a fitted logistic regression."""

    coef: np.ndarray
    loglik: float
    converged: bool

    def predict(self, X: np.ndarray) -> np.ndarray:
        return expit(X @ self.coef)


def fit_logistic(X: np.ndarray, successes: np.ndarray, trials: np.ndarray | None = None, *,
                 ridge: float = 0.0, max_iter: int = 100, tol: float = 1e-10) -> LogisticFit:
    """Maximum-likelihood logistic regression by Newton-Raphson with step-halving (the objective never falls).

    X: (n, k) design (include the intercept column yourself); successes: (n,) counts (0/1 for raw rows);
    trials: (n,) counts (ones when None). `ridge` adds a tiny L2 penalty (not on column 0) that keeps
    the fit finite under separation. The log-likelihood is the Bernoulli one (no binomial coefficients),
    so it equals the sum over the raw rows whatever the grouping.
    """
    X = np.asarray(X, dtype=float)
    s = np.asarray(successes, dtype=float)
    m = np.ones_like(s) if trials is None else np.asarray(trials, dtype=float)
    k = X.shape[1]
    penalty = np.full(k, ridge)
    penalty[0] = 0.0
    beta = np.zeros(k)
    rate = np.clip(s.sum() / m.sum(), 1e-6, 1 - 1e-6)
    beta[0] = np.log(rate / (1 - rate)) if np.allclose(X[:, 0], 1.0) else 0.0
    converged = False
    current = _penalised_loglik(X, s, m, penalty, beta)
    for _ in range(max_iter):
        p = expit(X @ beta)  # no overflow warning when a separated fit drives X @ beta far out
        grad = X.T @ (s - m * p) - penalty * beta
        hess = (X * (m * p * (1 - p))[:, None]).T @ X + np.diag(penalty)
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        for _ in range(MAX_HALVINGS):  # step-halving: the objective never falls (under separation a
            candidate = _penalised_loglik(X, s, m, penalty, beta + step)  # near-singular Hessian can throw a full step far off)
            if candidate >= current - 1e-12 * abs(current):
                break
            step = step / 2
        else:
            break  # no ascent along Newton's direction: stop where the objective is highest
        beta, current = beta + step, candidate
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            converged = True
            break
    return LogisticFit(coef=beta, loglik=_loglik(X, s, m, beta), converged=converged)


def _loglik(X: np.ndarray, s: np.ndarray, m: np.ndarray, beta: np.ndarray) -> float:
    """Bernoulli log-likelihood of the fit (overflow-free: log(1 + e^eta) by logaddexp)."""
    eta = X @ beta
    return float(np.sum(s * eta - m * np.logaddexp(0.0, eta)))


def _penalised_loglik(X: np.ndarray, s: np.ndarray, m: np.ndarray, penalty: np.ndarray, beta: np.ndarray) -> float:
    """The objective Newton's method climbs: the log-likelihood minus the ridge term."""
    return _loglik(X, s, m, beta) - 0.5 * float(np.sum(penalty * beta**2))


def bernoulli_loglik(successes: np.ndarray, trials: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-row Bernoulli log-likelihood of `successes` out of `trials` at probability `p` (clipped)."""
    q = np.clip(p, 1e-12, 1 - 1e-12)
    return successes * np.log(q) + (trials - successes) * np.log(1 - q)


def logit(p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=float), eps, 1 - eps)
    return np.log(q / (1 - q))


def bootstrap_weights(n_units: int, n_boot: int, random_state: int | None) -> Iterator[np.ndarray]:
    """Yield (chunk, n_units) arrays of resampling multiplicities (each row sums to `n_units`).

    Units (students) are drawn with replacement; chunk i comes from its own spawned seed, so the r-th
    resample is the same whatever the consumer does with earlier chunks.
    """
    seeds = np.random.SeedSequence(random_state).spawn((n_boot + BOOT_CHUNK - 1) // BOOT_CHUNK)
    done = 0
    for seed in seeds:
        size = min(BOOT_CHUNK, n_boot - done)
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, n_units, size=(size, n_units))
        flat = (draws + (np.arange(size) * n_units)[:, None]).ravel()
        yield np.bincount(flat, minlength=size * n_units).reshape(size, n_units).astype(float)
        done += size


def normal_quantile(confidence: float) -> float:
    """Two-sided normal critical value for a `confidence` interval (0.95 -> 1.96)."""
    return float(stats.norm.ppf(0.5 + confidence / 2))
