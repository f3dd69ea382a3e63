"""The E-step's sufficient statistics (`models.irt.estep.expected_counts`): a hand-computed case, and
additivity over disjoint student sets (what lets partitions be reduced at a driver)."""

from __future__ import annotations

import numpy as np
import pytest

from models.irt.data import ResponseData
from models.irt.estep import ExpectedCounts, expected_counts, log_tables
from models.irt.quadrature import Quadrature
from tests.distributed.conftest import simulated_log


def test_one_right_answer_by_hand() -> None:
    quad = Quadrature.normal(5, (-2.0, 2.0))
    data = ResponseData.from_arrays(["s"], ["q"], [1])
    by_student, by_column = data.incidence()
    a, d = 1.3, -0.4
    counts = expected_counts(by_student, by_column, log_tables(np.array([d]), np.array([a]), np.zeros(1), quad.nodes), quad.log_weights)
    joint = np.exp(quad.log_weights) / (1.0 + np.exp(-(a * quad.nodes + d)))  # prior weight x P(right)
    np.testing.assert_allclose(counts.right[0], joint / joint.sum(), rtol=1e-12)
    np.testing.assert_allclose(counts.total[0], joint / joint.sum(), rtol=1e-12)
    assert counts.loglik == pytest.approx(np.log(joint.sum()), rel=1e-12)
    assert counts.n_responding == 1


def test_counts_of_two_halves_add_up_to_the_whole() -> None:
    frame, _ = simulated_log(n_students=500, n_items=10, per_student=6)
    data = ResponseData.from_arrays(frame["student_id"], frame["item_id"], frame["correct"])
    quad = Quadrature.normal()
    keep = np.ones(data.n_items, dtype=bool)
    keep[3] = False  # an item left out: its responses enter nobody's likelihood
    by_student, _ = data.incidence(keep)
    table = log_tables(np.zeros(data.n_items), np.ones(data.n_items), np.zeros(data.n_items), quad.nodes)
    whole = expected_counts(by_student, by_student.T, table, quad.log_weights)
    halves = [by_student[:200], by_student[200:]]
    parts = ExpectedCounts.total_of([expected_counts(h, h.T, table, quad.log_weights) for h in halves])
    for name in ("right", "total", "mass"):
        np.testing.assert_allclose(getattr(parts, name), getattr(whole, name), rtol=1e-12, atol=1e-12)
    assert parts.loglik == pytest.approx(whole.loglik, rel=1e-12)
    assert parts.n_responding == whole.n_responding
    assert whole.mass.sum() == pytest.approx(whole.n_responding)  # each responding student's posterior sums to 1
