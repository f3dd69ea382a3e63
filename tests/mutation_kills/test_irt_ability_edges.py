"""Ability estimation (models/irt/ability.py) against a plain reading of the definitions: the posterior
over the quadrature nodes is prior weight x prod P^y (1 - P)^(1 - y) (loops over responses), EAP / SD
are its mean and standard deviation, MAP and MLE zero the derivative (central differences) of the log
posterior / log-likelihood, and their SEs are 1 / sqrt(sum of item informations P'^2 / (P Q) [+ 1 / sd^2]).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from models.irt.ability import OnlineAbility, counts_matrix, eap, log_likelihood_grid, map_estimate, mle
from models.irt.bank import ItemBank
from models.irt.quadrature import Quadrature

BANK = ItemBank.from_arrays(["i0", "i1", "i2", "i3"], [0.8, 1.5, 1.1, 0.6], [-0.5, 0.3, 1.2, -1.4], [0.0, 0.2, 0.0, 0.15])
Q = Quadrature.normal(41, (-5.0, 5.0), mean=0.3, sd=1.2)
# student 0: mixed; 1: all right; 2: all wrong; 3: no responses (only as a code); 4: mixed, rows unsorted
STUDENT = np.array([4, 0, 0, 0, 1, 1, 2, 2, 2, 4, 0, 4])
ITEM = np.array([0, 0, 1, 2, 1, 3, 0, 2, 3, 2, 3, 1])
CORRECT = np.array([1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1])


def p_of(theta, i):
    a, b, c = BANK.a[i], BANK.b[i], BANK.c[i]
    return c + (1 - c) / (1 + np.exp(-a * (theta - b)))


def loglik(theta, s):
    total = 0.0 * np.asarray(theta, dtype=float)
    for r in np.flatnonzero(STUDENT == s):
        p = p_of(theta, ITEM[r])
        total = total + (np.log(p) if CORRECT[r] else np.log1p(-p))
    return total


def info(theta, s):
    total = 0.0
    for r in np.flatnonzero(STUDENT == s):
        h = 1e-5
        dp = (p_of(theta + h, ITEM[r]) - p_of(theta - h, ITEM[r])) / (2 * h)
        p = p_of(theta, ITEM[r])
        total += dp * dp / (p * (1 - p))
    return total


def posterior(s):
    w = np.exp(Q.log_weights) * np.exp(loglik(Q.nodes, s))
    return w / w.sum()


def test_eap_is_the_posterior_mean_and_sd_over_the_nodes() -> None:
    est = eap(BANK, STUDENT, ITEM, CORRECT, quadrature=Q)
    assert est.theta.shape == (5,) and est.theta.dtype == np.float64
    for s in range(5):
        w = posterior(s)
        mean = float(w @ Q.nodes)
        assert est.theta[s] == pytest.approx(mean, abs=1e-10)
        assert est.se[s] == pytest.approx(math.sqrt(float(w @ (Q.nodes - mean) ** 2)), abs=1e-10)
    # student 3 has no response: the prior's (grid) mean and sd; more students than codes are allowed
    wide = eap(BANK, STUDENT, ITEM, CORRECT, n_students=7, quadrature=Q)
    assert wide.theta.shape == (7,) and wide.theta[6] == pytest.approx(est.theta[3], abs=1e-12)
    assert est.theta[3] == pytest.approx(0.3, abs=1e-3) and est.se[3] == pytest.approx(1.2, abs=1e-2)
    assert not est.extreme.any() and est.extreme.dtype == bool
    # float32 is about 1e-5 from float64, and still returned as float64
    low = eap(BANK, STUDENT, ITEM, CORRECT, quadrature=Q, dtype=np.float32)
    assert low.theta.dtype == np.float64 and low.se.dtype == np.float64
    np.testing.assert_allclose(low.theta, est.theta, atol=1e-4)
    np.testing.assert_allclose(low.se, est.se, atol=1e-4)
    # the default quadrature is N(0, 1) on 61 nodes over +/- 6
    default = eap(BANK, STUDENT, ITEM, CORRECT)
    nodes = np.linspace(-6, 6, 61)
    w = np.exp(-0.5 * nodes**2) * np.exp(sum((np.log(p_of(nodes, ITEM[r])) if CORRECT[r] else np.log1p(-p_of(nodes, ITEM[r])))
                                              for r in np.flatnonzero(STUDENT == 0)))
    assert default.theta[0] == pytest.approx(float(w @ nodes / w.sum()), abs=1e-10)
    assert eap(BANK, np.zeros(0, dtype=int), np.zeros(0, dtype=int), np.zeros(0)).theta.shape == (0,)


def test_log_likelihood_grid_and_counts_matrix() -> None:
    grid = log_likelihood_grid(BANK, STUDENT, ITEM, CORRECT, 5, Q)
    for s in range(5):
        np.testing.assert_allclose(grid[s], loglik(Q.nodes, s), rtol=1e-12, atol=1e-12)
    m = counts_matrix(np.array([2, 0, 2, 1]), np.array([1, 0, 1, 3]), 3, 4)
    assert sp.isspmatrix_csr(m) and m.shape == (3, 4) and m.dtype == np.float64
    assert m.toarray().tolist() == [[1, 0, 0, 0], [0, 0, 0, 1], [0, 2, 0, 0]]  # repeated pairs add up
    assert counts_matrix(np.array([0]), np.array([1]), 1, 2, np.float32).dtype == np.float32
    assert counts_matrix(np.zeros(0, dtype=int), np.zeros(0, dtype=int), 2, 2).nnz == 0
    for bad in (np.array([0, 3]), np.array([-1, 0])):
        with pytest.raises(ValueError, match=r"^student codes must lie in 0\.\.2$"):
            counts_matrix(bad, np.array([0, 0]), 3, 2)


@pytest.mark.parametrize("bad, position", [(4, 1), (-1, 1)])
def test_item_codes_outside_the_bank_are_refused(bad: int, position: int) -> None:
    with pytest.raises(ValueError, match=rf"^response {position}: item code {bad} is not in the bank \(0\.\.3\); map unseen items first$"):
        eap(BANK, np.array([0, 0, 1]), np.array([0, bad, bad]), np.array([1, 0, 1]))
    eap(BANK, np.array([0, 1]), np.array([0, 3]), np.array([1, 0]))  # 0 and 3 are the edges of the bank


def test_map_zeroes_the_log_posterior_derivative() -> None:
    est = map_estimate(BANK, STUDENT, ITEM, CORRECT, quadrature=Q)
    assert est.theta.shape == (5,)
    for s in range(5):
        t = est.theta[s]
        lp = lambda x, s=s: loglik(x, s) - 0.5 * ((x - 0.3) / 1.2) ** 2  # noqa: E731
        h = 1e-5
        assert (lp(t + h) - lp(t - h)) / (2 * h) == pytest.approx(0.0, abs=1e-6)
        assert est.se[s] == pytest.approx(1.0 / math.sqrt(info(t, s) + 1.0 / 1.2**2), rel=1e-6)
    assert est.theta[3] == pytest.approx(0.3, abs=1e-8)  # no responses: the prior mode
    assert not est.extreme.any()
    # with the default N(0, 1) prior
    default = map_estimate(BANK, STUDENT, ITEM, CORRECT)
    t = default.theta[0]
    lp = lambda x: loglik(x, 0) - 0.5 * x**2  # noqa: E731
    assert (lp(t + 1e-5) - lp(t - 1e-5)) / 2e-5 == pytest.approx(0.0, abs=1e-6)
    wide = map_estimate(BANK, STUDENT, ITEM, CORRECT, n_students=6, quadrature=Q)
    assert wide.theta.shape == (6,) and wide.theta[5] == pytest.approx(0.3, abs=1e-8)


def test_mle_zeroes_the_score_and_flags_patterns_without_one() -> None:
    est = mle(BANK, STUDENT, ITEM, CORRECT, n_students=6, quadrature=Q)
    for s in (0, 4):
        t = est.theta[s]
        assert (loglik(t + 1e-5, s) - loglik(t - 1e-5, s)) / 2e-5 == pytest.approx(0.0, abs=1e-6)
        assert est.se[s] == pytest.approx(1.0 / math.sqrt(info(t, s)), rel=1e-6)
    assert est.theta[1] == 5.0 and est.theta[2] == -5.0  # all right / all wrong: the quadrature's edges
    assert math.isnan(est.theta[3]) and math.isnan(est.theta[5])  # no responses
    assert est.extreme.tolist() == [False, True, True, True, False, True]
    assert np.isinf(est.se[[1, 2, 3, 5]]).all() and np.isfinite(est.se[[0, 4]]).all()
    default = mle(BANK, STUDENT, ITEM, CORRECT)
    assert default.theta.shape == (5,) and default.theta[1] == 6.0 and default.theta[2] == -6.0
    assert default.theta[0] == pytest.approx(est.theta[0], abs=1e-7)
    # boolean answers are read as 0/1
    as_bool = mle(BANK, STUDENT, ITEM, CORRECT.astype(bool), quadrature=Q)
    np.testing.assert_allclose(as_bool.theta[[0, 4]], est.theta[[0, 4]], atol=1e-10)


def test_mle_stays_inside_the_bounds_and_steps_at_most_one() -> None:
    # a nearly all-right pattern on easy items has its MLE far out; the estimate is clipped to the range
    bank = ItemBank.from_arrays(["e0", "e1"], [1.0, 1.0], [-4.0, -4.5])
    est = mle(bank, np.array([0, 0, 0]), np.array([0, 1, 0]), np.array([1, 1, 0]), quadrature=Quadrature.normal(11, (-2.0, 2.0)))
    assert -2.0 <= est.theta[0] <= 2.0


def test_online_updates_reproduce_the_batch_posterior() -> None:
    online = OnlineAbility(Q)
    state = online.initial_state()
    np.testing.assert_array_equal(state, Q.log_weights)
    state[0] += 0.0
    assert online.initial_state() is not Q.log_weights
    for r in np.flatnonzero(STUDENT == 0):
        state = online.update(state, BANK.a[ITEM[r]], BANK.b[ITEM[r]], BANK.c[ITEM[r]], CORRECT[r])
        assert state.max() == 0.0
    mean, sd = online.summary(state)
    w = posterior(0)
    assert mean == pytest.approx(float(w @ Q.nodes), abs=1e-10)
    assert sd == pytest.approx(math.sqrt(float(w @ (Q.nodes - mean) ** 2)), abs=1e-10)
    # wrong and right answers to a 3PL item, with bool / float flags
    state = online.initial_state()
    for flag in (True, 0.0, 1, False):
        state = online.update(state, 1.5, 0.3, 0.2, flag)
    w = np.exp(Q.log_weights) * p_of(Q.nodes, 1) ** 2 * (1 - p_of(Q.nodes, 1)) ** 2
    w /= w.sum()
    assert online.summary(state)[0] == pytest.approx(float(w @ Q.nodes), abs=1e-10)
    for bad in (0.5, 2, -1):
        with pytest.raises(ValueError, match=rf"^correct must be 0 or 1, got {bad!r}$"):
            online.update(online.initial_state(), 1.0, 0.0, 0.0, bad)
    assert OnlineAbility().summary(OnlineAbility().initial_state())[0] == pytest.approx(0.0, abs=1e-12)
    assert OnlineAbility().quadrature.nodes.size == 61


def test_mle_of_a_single_answer_has_no_finite_estimate() -> None:
    # one right answer (student 0) or one wrong answer (student 1): the likelihood is monotone in theta,
    # so there is no maximum: the range edge, an infinite SE and the `extreme` flag (module docstring)
    est = mle(BANK, np.array([0, 1]), np.array([1, 2]), np.array([1, 0]), quadrature=Q)
    assert est.theta.tolist() == [5.0, -5.0]
    assert est.extreme.tolist() == [True, True]
    assert np.isinf(est.se).all()


def test_mle_without_a_maximum_is_the_range_edge_even_far_out() -> None:
    # on a range of +/- 60, Newton (steps of at most 1, 50 of them) cannot walk to the edge: an all-right /
    # all-wrong pattern must be set to the edge, not left where the iteration stopped
    import warnings

    wide = Quadrature.normal(121, (-60.0, 60.0))
    with warnings.catch_warnings():
        # the SE of a student without responses (code 3) is 1 / sqrt(0) = inf without a divide-by-zero warning
        warnings.filterwarnings("error", message="divide by zero")
        warnings.filterwarnings("ignore", message="invalid value")  # Newton's 0 / 0 where P rounds to 1 far out
        est = mle(BANK, np.array([0, 0, 1, 1, 2]), np.array([0, 1, 2, 3, 0]), np.array([1, 1, 0, 0, 1]),
                  n_students=4, quadrature=wide)
    assert est.theta[0] == 60.0 and est.theta[1] == -60.0 and math.isnan(est.theta[3])
    assert est.extreme.tolist() == [True, True, True, True]
    assert np.isinf(est.se[[0, 1, 2, 3]]).all()


def test_counts_matrix_sorts_any_unsorted_rows() -> None:
    # the first student code is the smallest, but the rows are not sorted: the matrix must still hold
    # each response in its student's row (a dense count by a loop is the truth)
    student = np.array([0, 2, 1, 2, 0, 1])
    cols = np.array([3, 1, 0, 2, 1, 3])
    got = counts_matrix(student, cols, 3, 4).toarray()
    want = np.zeros((3, 4))
    for s, c in zip(student, cols):
        want[s, c] += 1
    np.testing.assert_array_equal(got, want)


def test_eap_of_a_long_history_is_finite() -> None:
    # 1 500 answers put the log-likelihood near -1 000 at every node: the posterior must be shifted by each
    # student's own maximum before exp(), or it underflows to 0 / 0
    n = 1500
    item = np.zeros(n, dtype=int)
    correct = (np.arange(n) % 2).astype(float)
    est = eap(BANK, np.zeros(n, dtype=int), item, correct, quadrature=Q)
    log_w = Q.log_weights + (n // 2) * (np.log(p_of(Q.nodes, 0)) + np.log1p(-p_of(Q.nodes, 0)))
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    assert est.theta[0] == pytest.approx(float(w @ Q.nodes), abs=1e-9)
    assert est.se[0] == pytest.approx(math.sqrt(float(w @ (Q.nodes - w @ Q.nodes) ** 2)), abs=1e-9)


@pytest.mark.parametrize("prior_mean", [4.5, -4.5])
def test_mle_does_not_depend_on_a_far_prior_start(prior_mean: float) -> None:
    # MLE ignores the prior, which only sets Newton's start (the EAP). From a start far from the maximum, on
    # steep items where the information there is nearly 0, an uncapped Fisher step would jump across the range
    bank = ItemBank.from_arrays(["hard", "easy"], [2.0, 2.0], [1.0, -1.0])
    student, item, correct = np.array([0, 0]), np.array([0, 1]), np.array([1, 0])  # right on hard, wrong on easy
    # (a wide range: a jump to its edge cannot be walked back in Newton's 50 capped steps)
    far = Quadrature.normal(241, (-60.0, 60.0), mean=prior_mean, sd=0.3)
    est = mle(bank, student, item, correct, quadrature=far)
    # the likelihood p_hard (1 - p_easy) is symmetric about 0, where its derivative is 0
    assert est.theta[0] == pytest.approx(0.0, abs=1e-6)


def test_mle_converges_with_little_information() -> None:
    # two weakly discriminating items: the information is about 0.1, so Newton's step is grad / info, not
    # damped toward grad; the estimate still zeroes the score
    bank = ItemBank.from_arrays(["u", "v", "w"], [0.4, 0.5, 0.3], [0.8, -0.3, 0.1])
    student, item, correct = np.array([0, 0, 0]), np.array([0, 1, 2]), np.array([1, 0, 1])
    est = mle(bank, student, item, correct)

    def ll(t):
        p = 1 / (1 + np.exp(-bank.a * (t - bank.b)))
        return float(np.sum(np.where(correct == 1, np.log(p), np.log1p(-p))))

    t = est.theta[0]
    assert (ll(t + 1e-5) - ll(t - 1e-5)) / 2e-5 == pytest.approx(0.0, abs=1e-6)


def test_mle_of_no_responses_is_empty() -> None:
    # (map_estimate is not checked here: with no responses at all it raises a numpy casting error, because
    # np.bincount over no rows returns an int64 gradient that the prior term cannot be subtracted from)
    empty = np.zeros(0, dtype=int)
    est = mle(BANK, empty, empty, np.zeros(0))
    assert est.theta.shape == (0,) and est.se.shape == (0,) and est.extreme.shape == (0,)
