"""Standard errors of item parameters from the information of the marginal likelihood.

Two estimates of the information matrix over the free-parameter vector:
- "observed": minus the Hessian of the marginal log posterior, by central differences of its exact
  analytic gradient (Fisher's identity). This is the observed information ltm and mirt report (their
  numerical-Hessian / "Richardson" options); it costs 2 P E-steps, so it is used for small problems.
- "crossprod": the cross-product of the students' individual score vectors (mirt's "crossprod", the
  empirical information; consistent for the same matrix), plus the priors' curvature. One pass over
  the responses; used for large problems.
The covariance is the inverse; (a, b, c) errors follow by the delta method from (d, a, logit c).
"""

from __future__ import annotations

import numpy as np

from models.irt.em import EMProblem
from models.irt.mstep import ItemCoords

METHODS = ("auto", "observed", "crossprod", "none")
OBSERVED_BUDGET = 5e7  # parameters x responses up to which "auto" picks the observed information
MAX_PARAMETERS = 4000  # beyond this the P x P information is not inverted (errors are left null)


def choose_method(method: str, n_parameters: int, n_responses: int) -> str:
    if method not in METHODS:
        raise ValueError(f"standard_errors must be one of {', '.join(METHODS)}, got {method!r}")
    if method != "auto":
        return method
    return "observed" if n_parameters * n_responses <= OBSERVED_BUDGET else "crossprod"


def observed_information(problem: EMProblem, vector: np.ndarray, relative_step: float = 1e-4) -> np.ndarray:
    """-d2 log posterior / dx2 by central differences of the exact score, symmetrized: (P, P)."""
    size = len(vector)
    hessian = np.zeros((size, size))
    for j in range(size):  # one column per parameter; each evaluation is a vectorized E-step
        h = relative_step * (1.0 + abs(vector[j]))
        up, down = vector.copy(), vector.copy()
        up[j] += h
        down[j] -= h
        hessian[:, j] = (problem.score(up) - problem.score(down)) / (2.0 * h)
    return -(hessian + hessian.T) / 2.0


def prior_curvature(problem: EMProblem, coords: ItemCoords) -> np.ndarray:
    """Minus the (Gauss-Newton) curvature of the log priors over the parameter vector: (P, P), PSD."""
    layout, priors = problem.layout, problem.priors
    out = np.zeros((layout.size, layout.size))
    index = layout.item_index()
    _, _, curv = priors.item_terms(coords.a, coords.d, coords.g, problem.model == "3pl")
    slope = priors.slope_terms(coords.a)[2]
    if problem.model in ("2pl", "3pl"):
        curv[:, 1, 1] += slope
    for j in range(3):
        for k in range(3):
            ok = (index[:, j] >= 0) & (index[:, k] >= 0)
            np.add.at(out, (index[ok, j], index[ok, k]), -curv[ok, j, k])
    if problem.model == "1pl" and len(coords.a):
        out[layout.n_free, layout.n_free] -= slope[0]
    return out


def crossprod_information(problem: EMProblem, vector: np.ndarray) -> np.ndarray:
    """Sum over students of score score^T (sparse product), plus the priors' curvature: (P, P)."""
    scores = problem.student_scores(vector)
    coords, _ = problem.unpack(vector)
    return np.asarray((scores.T @ scores).toarray()) + prior_curvature(problem, coords)


def covariance(information: np.ndarray) -> np.ndarray | None:
    """Inverse of a positive-definite information matrix, or None when it is not (not identified)."""
    try:
        np.linalg.cholesky(information)
    except np.linalg.LinAlgError:
        return None
    return np.linalg.inv(information)


def item_errors(cov: np.ndarray, problem: EMProblem, coords: ItemCoords) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Delta-method SEs of a, b = -d / a and c = sigmoid(g) for the free items, each (F,)."""
    index = problem.layout.item_index()
    jd, ja, jg = index[:, 0], index[:, 1], index[:, 2]
    a, d = coords.a, coords.d
    var_d = cov[jd, jd]
    if (ja >= 0).all():
        var_a, cov_da = cov[ja, ja], cov[jd, ja]
        se_a = np.sqrt(var_a)
        var_b = var_d / a**2 + (d**2 / a**4) * var_a - 2.0 * (d / a**3) * cov_da
    else:  # Rasch: slope fixed at 1
        se_a = np.full(len(a), np.nan)
        var_b = var_d / a**2
    if (jg >= 0).all() and len(jg):
        c = 1.0 / (1.0 + np.exp(-coords.g))
        se_c = c * (1.0 - c) * np.sqrt(cov[jg, jg])
    else:
        se_c = np.full(len(a), np.nan)
    return se_a, np.sqrt(var_b), se_c
