"""The priors' part of the information matrix (models/irt/standard_errors.py: `prior_curvature` and the
prior term of `crossprod_information`) against minus the Hessian of the log prior over the parameter
vector, by central differences of the log prior written out from its definition (normal b, lognormal a,
Beta c).

The returned curvature is the exact one where the log prior is concave and its Gauss-Newton part for b
(priors.py); the two agree where every free item's b equals the prior mean (the dropped term is
(b - mean) times the second derivative of b) and the slopes lie where the lognormal is concave, which
is where the checks are made.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from models.irt.data import ResponseData
from models.irt.em import EMProblem
from models.irt.mstep import ItemCoords
from models.irt.priors import Priors
from models.irt.quadrature import Quadrature
from models.irt.standard_errors import crossprod_information, prior_curvature

Q = Quadrature.normal(21, (-5.0, 5.0))
STUDENT = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4, 4])
ITEM = np.array([0, 1, 2, 0, 1, 3, 0, 2, 3, 1, 2, 0, 1, 2, 3])
CORRECT = np.array([1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 1], dtype=np.int8)
DATA = ResponseData(STUDENT, ITEM, CORRECT, np.array([f"s{i}" for i in range(5)], dtype=object),
                    np.array(["i0", "i1", "i2", "i3"], dtype=object))
B_MEAN, B_SD, A_MEAN, A_SD, C_AB = 0.3, 1.5, 0.1, 0.5, (5.0, 17.0)
PRIORS = Priors(a_lognormal=(A_MEAN, A_SD), b_normal=(B_MEAN, B_SD), c_beta=C_AB)


def problem_for(model: str, latent: bool) -> EMProblem:
    # items 0-2 free; item 3 fixed by an anchor (latent) or left out
    free = np.array([True, True, True, False])
    kept = np.array([True, True, True, latent])
    anchors = (np.array([0.0, 0.0, 0.0, 0.4]), np.array([1.0, 1.0, 1.0, 1.3]), np.zeros(4))
    return EMProblem(DATA, model, PRIORS, Q, free, kept, anchors, latent)


def vector_for(model: str, latent: bool) -> np.ndarray:
    """Free items with b at the prior mean (d = -a * mean), slopes where the lognormal is concave."""
    a = {"rasch": [1.0] * 3, "1pl": [0.9] * 3, "2pl": [0.8, 1.4, 1.1], "3pl": [0.8, 1.4, 1.1]}[model]
    d = [-x * B_MEAN for x in a]
    g = [-1.2, -1.7, -0.9]
    v = {"rasch": d, "1pl": d + [0.9], "2pl": d + a, "3pl": d + a + g}[model]
    return np.array(v + ([0.2, 1.3] if latent else []), dtype=float)


def log_prior(model: str, vector: np.ndarray) -> float:
    f = 3
    d = vector[:f]
    a = np.ones(f) if model == "rasch" else np.full(f, vector[f]) if model == "1pl" else vector[f:2 * f]
    total = float(np.sum(-0.5 * ((-d / a - B_MEAN) / B_SD) ** 2))
    slopes = a if model in ("2pl", "3pl") else a[:1] if model == "1pl" else a[:0]
    total += float(np.sum(-np.log(slopes) - 0.5 * ((np.log(slopes) - A_MEAN) / A_SD) ** 2))
    if model == "3pl":
        c = expit(vector[2 * f:3 * f])
        total += float(np.sum((C_AB[0] - 1) * np.log(c) + (C_AB[1] - 1) * np.log1p(-c)))
    return total


def minus_hessian(model: str, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    n = len(x)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            e_i, e_j = np.eye(n)[i] * h, np.eye(n)[j] * h
            out[i, j] = -(log_prior(model, x + e_i + e_j) - log_prior(model, x + e_i - e_j)
                          - log_prior(model, x - e_i + e_j) + log_prior(model, x - e_i - e_j)) / (4 * h * h)
    return out


CASES = [("rasch", False), ("1pl", False), ("2pl", False), ("3pl", False), ("1pl", True), ("3pl", True)]


@pytest.mark.parametrize("model, latent", CASES)
def test_prior_curvature_is_minus_the_hessian_of_the_log_prior(model: str, latent: bool) -> None:
    problem = problem_for(model, latent)
    x = vector_for(model, latent)
    coords, _ = problem.unpack(x)
    got = prior_curvature(problem, coords)
    want = minus_hessian(model, x)
    assert got.shape == (len(x), len(x))
    np.testing.assert_allclose(got, want, atol=2e-5)


@pytest.mark.parametrize("model, latent", [("2pl", False), ("3pl", True)])
def test_crossprod_information_adds_the_prior_curvature(model: str, latent: bool) -> None:
    problem = problem_for(model, latent)
    x = vector_for(model, latent)
    scores = problem.student_scores(x).toarray()
    info = crossprod_information(problem, x)
    np.testing.assert_allclose(info - scores.T @ scores, minus_hessian(model, x), atol=2e-5)


def test_without_priors_the_curvature_is_zero() -> None:
    problem = EMProblem(DATA, "3pl", Priors(), Q, np.array([True, True, True, False]), np.array([True, True, True, False]),
                        (np.zeros(4), np.ones(4), np.zeros(4)), False)
    coords = ItemCoords(np.array([0.1, 0.2, 0.3]), np.array([1.0, 1.2, 0.9]), np.array([-1.0, -1.5, -2.0]))
    assert not prior_curvature(problem, coords).any()


@pytest.mark.parametrize("model", ["rasch", "1pl", "2pl", "3pl"])
def test_item_errors_are_the_delta_method(model: str) -> None:
    # SEs of a, b = -d / a and c = sigmoid(g) from a covariance over the vector: sqrt(diag(J cov J^T)) with J by
    # central differences; parameters that are not estimated (Rasch a, c outside the 3PL) have no SE (NaN)
    from models.irt.standard_errors import item_errors

    problem = problem_for(model, False)
    x = vector_for(model, False)
    rng = np.random.default_rng(3)
    m = rng.normal(size=(len(x), len(x)))
    cov = 0.05 * (m @ m.T + np.eye(len(x)))
    coords, _ = problem.unpack(x)

    def abc(v: np.ndarray) -> np.ndarray:
        c_, _ = problem.unpack(v)
        return np.concatenate([c_.a, -c_.d / c_.a, expit(c_.g)])

    jac = np.zeros((9, len(x)))
    for j in range(len(x)):
        e = np.eye(len(x))[j] * 1e-6
        jac[:, j] = (abc(x + e) - abc(x - e)) / 2e-6
    want = np.sqrt(np.diag(jac @ cov @ jac.T))
    se_a, se_b, se_c = item_errors(cov, problem, coords)
    np.testing.assert_allclose(se_b, want[3:6], rtol=1e-6)
    if model in ("2pl", "3pl", "1pl"):
        np.testing.assert_allclose(se_a, want[:3], rtol=1e-6)
    else:
        assert np.isnan(se_a).all() and se_a.shape == (3,)
    if model == "3pl":
        np.testing.assert_allclose(se_c, want[6:], rtol=1e-6)
    else:
        assert np.isnan(se_c).all() and se_c.shape == (3,)


def test_choose_method_follows_the_budget() -> None:
    # module docstring / constants: "auto" takes the observed information up to 5e7 parameters x responses
    from models.irt.standard_errors import OBSERVED_BUDGET, choose_method

    assert OBSERVED_BUDGET == 5e7
    assert choose_method("auto", 10, 1000) == "observed"
    assert choose_method("auto", 5000, 10_000) == "observed"  # exactly the budget
    assert choose_method("auto", 5001, 10_000) == "crossprod"
    assert choose_method("auto", 1, 60_000_000) == "crossprod"
    for method in ("observed", "crossprod", "none"):
        assert choose_method(method, 10**6, 10**6) == method
        assert choose_method(method, 1, 1) == method
    with pytest.raises(ValueError, match=r"^standard_errors must be one of auto, observed, crossprod, none, got 'fisher'$"):
        choose_method("fisher", 1, 1)
