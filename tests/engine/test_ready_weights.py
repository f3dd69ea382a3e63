"""Which ready skills the list's later places offer first: weights by hand on a four-skill graph."""

from __future__ import annotations

import numpy as np
import pytest

from engine.mastery.graph_bounds import ClosurePairs
from engine.recommend.ready import RECENCY_DECAY, became_ready_at, later_count, ready_weights, rotation_due

# a -> b, a -> c, (b, c) -> d ; direct[s, u]: u is a direct prerequisite of s
DIRECT = np.array([[0, 0, 0, 0],
                   [1, 0, 0, 0],
                   [1, 0, 0, 0],
                   [0, 1, 1, 0]], dtype=bool)
PAIRS = ClosurePairs.of(DIRECT)
LAST_PRACTICE = np.array([[5.0, np.nan, 7.0, np.nan]])  # a at day 5, c at day 7, b and d never


def test_a_skill_became_ready_when_its_prerequisites_were_last_practised_unless_it_was_practised_since() -> None:
    # a: a root, ready from the start; b: its prerequisite a last practised at 5; c: practised at 7, after a (its
    # turn came); d: its prerequisites' last practice is c's, at 7
    assert became_ready_at(LAST_PRACTICE, PAIRS)[0].tolist() == [-np.inf, 5.0, -np.inf, 7.0]


def test_weights_halve_with_each_rank_of_recency_and_are_split_over_a_skills_resources() -> None:
    primary = np.array([0, 1, 1, 2, 3])  # resources: one on a, two on b, one on c, one on d
    on_fringe = np.ones((1, 5), dtype=bool)
    w = ready_weights(LAST_PRACTICE, PAIRS, on_fringe, primary)[0]
    assert RECENCY_DECAY == 0.5
    # d most recent (rank 0), b next (rank 1), a and c tie last (rank 2); b's weight halved over its two resources
    assert w.tolist() == pytest.approx([0.25, 0.25, 0.25, 0.25, 1.0])


def test_only_fringe_resources_get_weight_and_ranks_count_only_the_fringe() -> None:
    primary = np.array([0, 1, 1, 2, 3])
    on_fringe = np.array([[False, True, False, True, False]])  # d is not on this student's fringe
    w = ready_weights(LAST_PRACTICE, PAIRS, on_fringe, primary)[0]
    # b is now the most recent fringe skill (rank 0), c after it (rank 1); b has one resource on the fringe
    assert w.tolist() == pytest.approx([0.0, 1.0, 0.0, 0.5, 0.0])


def test_later_count_equals_a_direct_count_with_ties_and_infinities() -> None:
    rng = np.random.default_rng(3)
    when = rng.integers(0, 6, size=(50, 12)).astype(float)
    when[rng.random(when.shape) < 0.2] = -np.inf
    direct_count = (when[:, None, :] > when[:, :, None]).sum(axis=2)
    assert np.array_equal(later_count(when), direct_count)


def test_each_skill_is_due_once_in_any_period_of_consecutive_answer_counts() -> None:
    # by hand, period 5 over 7 skills: after 0 answers skills 0 and 5 are due, after 3 answers skill 3, after 6 skills 1
    # and 6 ((s - n) mod 5 = 0)
    due = rotation_due(np.array([0, 3, 6]), 7, 5)
    assert [np.flatnonzero(row).tolist() for row in due] == [[0, 5], [3], [1, 6]]
    window = rotation_due(np.arange(11, 16), 7, 5)  # any five consecutive counts: every skill exactly once
    assert window.sum(axis=0).tolist() == [1] * 7
