"""Ability estimates checked against independent computations: numerical integration, root finding
of the (log-)likelihood derivative written out here, and finite-difference information."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize

from models.irt import ItemBank, OnlineAbility, eap, expected_score, item_information, map_estimate, mle
from models.irt import test_information as total_information

A = np.array([1.2, 0.8, 1.5, 2.0, 0.6])
B = np.array([-1.0, 0.0, 0.5, 1.0, -0.3])
C = np.array([0.0, 0.2, 0.0, 0.25, 0.1])
BANK = ItemBank.from_arrays([f"i{k}" for k in range(5)], A, B, C)
PATTERN = np.array([1, 0, 1, 0, 1])


def _loglik(theta: float, y: np.ndarray) -> float:
    p = C + (1 - C) / (1 + np.exp(-A * (theta - B)))
    return float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _one_student() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(5, dtype=np.int64), np.arange(5), PATTERN


def test_irt_eap_matches_numerical_integration() -> None:
    def moment(k: int) -> float:
        return integrate.quad(lambda t: t**k * np.exp(_loglik(t, PATTERN)) * np.exp(-t * t / 2), -12, 12)[0]

    mean = moment(1) / moment(0)
    sd = np.sqrt(moment(2) / moment(0) - mean**2)
    est = eap(BANK, *_one_student())
    assert est.theta[0] == pytest.approx(mean, abs=1e-4)
    assert est.se[0] == pytest.approx(sd, abs=1e-4)


def _derivative(f, t: float, h: float = 1e-5) -> float:
    return (f(t + h) - f(t - h)) / (2 * h)


def test_irt_map_and_mle_solve_their_score_equations() -> None:
    map_root = optimize.brentq(lambda t: _derivative(lambda u: _loglik(u, PATTERN) - u * u / 2, t), -5, 5)
    mle_root = optimize.brentq(lambda t: _derivative(lambda u: _loglik(u, PATTERN), t), -5, 5)
    assert map_estimate(BANK, *_one_student()).theta[0] == pytest.approx(map_root, abs=1e-4)
    est = mle(BANK, *_one_student())
    assert est.theta[0] == pytest.approx(mle_root, abs=1e-4)
    assert not est.extreme[0]
    # SE of the MLE: 1 / sqrt(test information at the estimate), with P' by finite differences
    p = C + (1 - C) / (1 + np.exp(-A * (mle_root - B)))
    slope = np.array([_derivative(lambda u, i=i: C[i] + (1 - C[i]) / (1 + np.exp(-A[i] * (u - B[i]))), mle_root) for i in range(5)])
    assert est.se[0] == pytest.approx(1 / np.sqrt(np.sum(slope**2 / (p * (1 - p)))), rel=1e-4)


def test_irt_mle_extreme_patterns_are_flagged() -> None:
    student = np.repeat([0, 1, 2], 5)
    item = np.tile(np.arange(5), 3)
    correct = np.concatenate([np.ones(5), np.zeros(5), PATTERN])
    bank = BANK  # with guessing too, the all-wrong likelihood keeps rising as theta -> -inf
    loglik_wrong = [_loglik(t, np.zeros(5)) for t in (-2.0, -4.0, -8.0)]
    assert loglik_wrong[0] < loglik_wrong[1] < loglik_wrong[2]
    est = mle(bank, student, item, correct)
    assert est.extreme.tolist() == [True, True, False]
    assert est.theta[0] == 6.0 and est.theta[1] == -6.0 and np.isinf(est.se[:2]).all()
    # EAP and MAP stay finite for the same patterns
    assert np.isfinite(eap(bank, student, item, correct).theta).all()
    assert np.isfinite(map_estimate(bank, student, item, correct).theta).all()


def test_irt_student_without_responses_gets_the_prior() -> None:
    est = eap(BANK, np.array([0] * 5), np.arange(5), PATTERN, n_students=2)
    assert est.theta[1] == pytest.approx(0.0, abs=1e-9) and est.se[1] == pytest.approx(1.0, abs=1e-3)
    assert np.isnan(mle(BANK, np.array([0] * 5), np.arange(5), PATTERN, n_students=2).theta[1])


def test_irt_online_update_equals_batch_eap_in_any_order() -> None:
    online = OnlineAbility()
    expected = eap(BANK, *_one_student())
    for order in (range(5), reversed(range(5))):
        state = online.initial_state()
        for i in order:
            state = online.update(state, A[i], B[i], C[i], PATTERN[i])
        mean, sd = online.summary(state)
        assert mean == pytest.approx(expected.theta[0], abs=1e-10)
        assert sd == pytest.approx(expected.se[0], abs=1e-10)
    with pytest.raises(ValueError, match="0 or 1"):
        online.update(online.initial_state(), 1.0, 0.0, 0.0, 0.5)


def test_irt_information_and_expected_score() -> None:
    theta = np.array([-2.0, 0.0, 0.7, 2.5])

    def prob(t: float) -> np.ndarray:
        return C + (1 - C) / (1 + np.exp(-A * (t - B)))

    for k, t in enumerate(theta):
        slope = (prob(t + 1e-6) - prob(t - 1e-6)) / 2e-6
        p = prob(t)
        np.testing.assert_allclose(item_information(theta, A, B, C)[k], slope**2 / (p * (1 - p)), rtol=1e-5)
        assert expected_score(theta, A, B, C)[k] == pytest.approx(p.sum())
    np.testing.assert_allclose(total_information(theta, A, B, C), item_information(theta, A, B, C).sum(axis=1))
    # 2PL at theta = b: information a^2 / 4
    np.testing.assert_allclose(np.diag(item_information(B, A, B, 0.0)), A**2 / 4)


def test_map_with_no_responses_returns_the_prior_mode_like_eap() -> None:
    """Students with no response at all: MAP is the prior's mode (its mean) with the prior's information; it used to
    raise a numpy casting error because a bincount over zero rows is an integer array."""
    bank = ItemBank.from_arrays(["i0"], [1.0], [0.0])
    none = np.zeros(0, dtype=int)
    est = map_estimate(bank, none, none, np.zeros(0), n_students=3)
    by_eap = eap(bank, none, none, np.zeros(0), n_students=3)
    assert est.theta.shape == (3,)
    np.testing.assert_allclose(est.theta, by_eap.theta, atol=1e-6)  # both at the prior's mean
    assert np.all(np.isfinite(est.se)) and np.all(est.se > 0)
