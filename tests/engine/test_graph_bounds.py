"""The closure-pair reductions against their definition, written out as loops over (student, skill, skill)."""

from __future__ import annotations

import numpy as np

from engine.catalog import build_catalog
from engine.catalog.synthetic import synthetic_bundle
from engine.mastery.graph_bounds import ClosurePairs


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
