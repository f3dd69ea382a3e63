"""The graph's bounds against their definition, written out as loops over (student, skill, skill): over the closure
pairs (`ClosurePairs`), level by level along the direct edges (`GraphLevels`), and as the engine takes them
(`GraphBounds`: the first for a few students, the second for many)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.catalog import build_catalog
from engine.catalog.synthetic import synthetic_bundle
from engine.mastery.graph_bounds import LEVELS_FROM_ROWS, ClosurePairs, GraphBounds, GraphLevels


def _by_definition(ancestors: np.ndarray, practised: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, s = practised.shape
    up, down = np.full((n, s), -np.inf), np.full((n, s), np.inf)
    for row in range(n):
        for d in range(s):
            for u in range(s):
                if ancestors[d, u] and not np.isnan(practised[row, d]):
                    up[row, u] = max(up[row, u], practised[row, d])
                if ancestors[d, u] and not np.isnan(practised[row, u]):
                    down[row, d] = min(down[row, d], practised[row, u])
    return up, down


def test_best_dependent_and_weakest_prerequisite_follow_their_definition() -> None:
    catalog = build_catalog(synthetic_bundle(n_skills=25, items_per_skill=2, seed=4))
    ancestors = catalog.graph.ancestors
    assert ancestors.any() and not ancestors.all(axis=1).any()  # a real graph: some skills have no prerequisite
    rng = np.random.default_rng(1)
    practised = np.where(rng.random((6, catalog.n_skills)) < 0.4, rng.random((6, catalog.n_skills)), np.nan)
    practised[0] = np.nan  # a student who has practised nothing
    pairs = ClosurePairs.of(ancestors)
    up, down = _by_definition(ancestors, practised)
    np.testing.assert_array_equal(pairs.best_dependent(np.nan_to_num(practised, nan=-np.inf)), up)
    np.testing.assert_array_equal(pairs.weakest_prerequisite(np.nan_to_num(practised, nan=np.inf)), down)


def test_a_graph_without_prerequisites_bounds_nothing() -> None:
    pairs = ClosurePairs.of(np.zeros((3, 3), dtype=bool))
    values = np.array([[0.2, 0.5, 0.9]])
    assert np.isneginf(pairs.best_dependent(values)).all() and np.isposinf(pairs.weakest_prerequisite(values)).all()


@pytest.mark.parametrize(("n_skills", "seed", "students"), [(25, 4, 6), (60, 2, LEVELS_FROM_ROWS + 3)])
def test_level_by_level_and_the_engines_bounds_follow_the_definition(n_skills: int, seed: int, students: int) -> None:
    graph = build_catalog(synthetic_bundle(n_skills=n_skills, items_per_skill=2, seed=seed)).graph
    assert graph.depth.max() >= 3  # chains of prerequisites several levels deep
    rng = np.random.default_rng(seed)
    practised = np.where(rng.random((students, n_skills)) < 0.4, rng.random((students, n_skills)), np.nan)
    practised[0] = np.nan
    up, down = _by_definition(graph.ancestors, practised)
    known, weak = np.nan_to_num(practised, nan=-np.inf), np.nan_to_num(practised, nan=np.inf)
    for bounds in (GraphLevels.of(graph.direct, graph.depth), GraphBounds.of(graph)):
        np.testing.assert_array_equal(bounds.best_dependent(known), up)
        np.testing.assert_array_equal(bounds.weakest_prerequisite(weak), down)
