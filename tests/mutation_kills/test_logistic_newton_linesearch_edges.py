"""`newton_fit`'s stopping rule, iteration limit and Armijo line search (models/logistic/newton.py) on a
one-parameter objective worked by hand, where Newton's full step overshoots:

    f(b) = sqrt(c^2 + (b - 1)^2),   f'(b) = (b - 1) / f(b),   f''(b) = c^2 / f(b)^3

From b = 0 with c = 1/2 the Newton step is f(0)^2 / c^2 = 5: f(5) = 4.03 and f(2.5) = 1.58 are above
f(0) = 1.118, f(1.25) = 0.559 is below, so the line search halves twice. Near the minimum b = 1 the error
d = b - 1 maps to -d^3 / c^2 (fast convergence). The "objective" has no penalised column (n_columns = 0:
beta is the intercept alone), so f is the whole objective.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from models.logistic.newton import Statistics, newton_fit

C_SHAPE = 0.5


def f(b: float) -> float:
    return math.sqrt(C_SHAPE**2 + (b - 1.0) ** 2)


def df(b: float) -> float:
    return (b - 1.0) / f(b)


class Overshoot:
    """f as an `Objective` (statistics, loss, Hessian-vector product), recording every loss evaluated."""

    def __init__(self, broken_loss: bool = False) -> None:
        self.broken_loss, self.trials, self.at = broken_loss, [], 0.0

    def statistics(self, beta: np.ndarray) -> Statistics:
        b = float(beta[0])
        self.at = b
        return Statistics(f(b), np.array([df(b)]), np.array([C_SHAPE**2 / f(b) ** 3]))

    def loss(self, beta: np.ndarray) -> float:
        b = float(beta[0])
        self.trials.append(b)
        return math.inf if self.broken_loss else f(b)  # broken: the loss overflows off the starting point

    def hessian_product(self, vector: np.ndarray) -> np.ndarray:
        return C_SHAPE**2 / f(self.at) ** 3 * vector


def test_the_line_search_halves_until_f_decreases_then_converges_to_the_minimum() -> None:
    obj = Overshoot()
    result = newton_fit(obj, 0, 1.0, 50, 1e-10)
    assert obj.trials[:3] == pytest.approx([5.0, 2.5, 1.25], rel=1e-9)  # the full step, then two halvings
    assert result.converged is True and result.beta[0] == pytest.approx(1.0, abs=1e-9)
    assert result.objective == pytest.approx(C_SHAPE, rel=1e-12) and result.max_gradient <= 1e-10
    assert result.n_iter < 10


def test_a_gradient_of_exactly_tol_is_converged_at_the_start() -> None:
    """"It stops when max |g| <= tol": |f'(0)| is the tolerance itself, so no step is taken."""
    tol = abs(df(0.0))
    result = newton_fit(Overshoot(), 0, 1.0, 50, tol)
    assert result.converged is True and result.n_iter == 0 and result.beta.tolist() == [0.0]
    assert result.max_gradient == tol and result.objective == f(0.0)


def test_the_iteration_limit_reports_the_last_iterate(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="models.logistic.newton"):
        result = newton_fit(Overshoot(), 0, 1.0, 1, 1e-10)
    b = 1.25  # one step: the twice-halved Newton step
    assert result.n_iter == 1 and result.converged is False and result.beta[0] == pytest.approx(b, rel=1e-9)
    assert result.objective == pytest.approx(f(b), rel=1e-9)
    assert result.max_gradient == pytest.approx(abs(df(b)), rel=1e-9)
    assert any("no convergence in 1 steps" in m for m in caplog.messages)


def test_no_decrease_along_the_step_stops_where_it_is_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    """Every trial point's loss is inf: after the 40 halvings the fit gives up at b = 0, not converged,
    reporting f and |f'| there."""
    obj = Overshoot(broken_loss=True)
    with caplog.at_level(logging.WARNING, logger="models.logistic.newton"):
        result = newton_fit(obj, 0, 1.0, 50, 1e-10)
    assert obj.trials == pytest.approx([5.0 * 0.5**k for k in range(40)], rel=1e-9)
    assert result.beta.tolist() == [0.0] and result.n_iter == 0 and result.converged is False
    assert result.objective == f(0.0) and result.max_gradient == abs(df(0.0))
    assert any("line search found no decrease after 0 steps" in m for m in caplog.messages)


# ---- the Armijo condition's exact form: trial values placed between the right and a wrong threshold ------

class Shaped:
    """Beta = (b0, w): unpenalised loss b0^2 / 2 + sqrt(c^2 + (w - 1)^2), w penalised by w^2 / (2 C) in
    `newton_fit`; records the w of every trial point."""

    def __init__(self, c: float) -> None:
        self.c, self.trials, self.at = c, [], 0.0

    def g(self, w: float) -> float:
        return math.sqrt(self.c**2 + (w - 1.0) ** 2)

    def statistics(self, beta: np.ndarray) -> Statistics:
        b0, w = float(beta[0]), float(beta[1])
        self.at = w
        return Statistics(b0**2 / 2 + self.g(w), np.array([b0, (w - 1.0) / self.g(w)]),
                          np.array([1.0, self.c**2 / self.g(w) ** 3]))

    def loss(self, beta: np.ndarray) -> float:
        self.trials.append(float(beta[1]))
        return float(beta[0]) ** 2 / 2 + self.g(float(beta[1]))

    def hessian_product(self, vector: np.ndarray) -> np.ndarray:
        return np.array([vector[0], self.c**2 / self.g(self.at) ** 3 * vector[1]])


def newton_step(c: float, C: float | None) -> float:
    """The Newton step on w from 0: -f'(0) / f''(0), with the penalty's 1 / C in f''."""
    f0 = math.sqrt(c**2 + 1.0)
    return (1.0 / f0) / (c**2 / f0**3 + (0.0 if C is None else 1.0 / C))


def test_the_line_search_tests_the_penalised_objective() -> None:
    """c = 1/2, C = 5: the full step s = 2.36 gives g(s) + s^2 / 10 = 2.01 > f(0) = 1.118, so it is halved
    (g(s) - s^2 / 10 would be 0.89: only the penalised objective refuses the step)."""
    obj, s = Shaped(0.5), newton_step(0.5, 5.0)
    assert obj.g(s) + s**2 / 10 > obj.g(0.0) > obj.g(s) - s**2 / 10
    result = newton_fit(obj, 1, 5.0, 1, 1e-10)
    assert obj.trials == pytest.approx([s, s / 2], rel=1e-9) and result.beta[1] == pytest.approx(s / 2, rel=1e-9)


def test_a_step_that_does_not_decrease_f_is_refused() -> None:
    """c = 1: the Newton step from 0 is 2, and f(2) = f(0) by symmetry about 1: no decrease, so Armijo
    (a decrease of at least 1e-4 |slope|) refuses it and the halved step lands on the minimum."""
    obj, s = Shaped(1.0), newton_step(1.0, None)
    assert s == pytest.approx(2.0, rel=1e-12)
    result = newton_fit(obj, 1, 1e12, 1, 1e-10)  # C = 1e12: a negligible penalty
    assert obj.trials[:2] == pytest.approx([2.0, 1.0], rel=1e-9) and result.beta[1] == pytest.approx(1.0, rel=1e-9)


def test_the_sufficient_decrease_scales_with_the_step_size() -> None:
    """c^2 = 1 / 2.9992: the Newton step is 3.9992, so the half step lands at w = 1.9996, just inside the
    mirror point 2 of the start: f drops by about 3.5e-4, more than the required 1e-4 * (1/2) * |slope|
    (about 1.7e-4) and less than four times it. The half step is taken."""
    c = math.sqrt(1.0 / 2.9992)
    obj, s = Shaped(c), newton_step(c, None)
    assert s == pytest.approx(3.9992, rel=1e-9)
    f0 = obj.g(0.0)
    required = 1e-4 * 0.5 * s / f0  # ARMIJO * size * |gradient . step|
    assert required < f0 - obj.g(s / 2) < 4 * required
    result = newton_fit(obj, 1, 1e12, 1, 1e-10)
    assert obj.trials == pytest.approx([s, s / 2], rel=1e-9) and result.beta[1] == pytest.approx(s / 2, rel=1e-9)
