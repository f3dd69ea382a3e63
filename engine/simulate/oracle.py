"""The oracle: a greedy policy that reads the simulator's true state (the upper bound of every result).

Each step it takes, per student, the (resource, item) pair with the largest expected immediate gain in
true mastery: the resource's gain plus the best gain among the items of the resource's skill (as the
catalog tags them, since every policy pairs a resource with an item of its skill). It is the only policy
that sees the learners; nothing else may.
"""

from __future__ import annotations

import numpy as np

from engine.catalog import Catalog
from engine.mastery import MasteryBatch, MasteryEngine
from engine.simulate.learners import _Learners


def greedy_choice(catalog: Catalog, res_gain: np.ndarray, item_gain: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(N,) resources and items maximizing the expected immediate gain: `res_gain` (N, R) of each resource plus
    the best `item_gain` (N, I) among the items the catalog tags to the resource's skill; ties broken at random."""
    table = catalog.items_by_skill  # (S, M), -1 padded
    per_item = np.where(table[None] >= 0, item_gain[:, np.maximum(table, 0)], -np.inf)  # (N, S, M)
    per_item = per_item + 1e-9 * rng.random(per_item.shape)  # random tie-break
    best_slot = per_item.argmax(axis=2)  # (N, S)
    best_gain = np.take_along_axis(per_item, best_slot[..., None], axis=2)[..., 0]
    skill = catalog.resource_skill
    total = res_gain + best_gain[:, skill] + 1e-9 * rng.random(res_gain.shape)
    resources = total.argmax(axis=1)
    rows = np.arange(resources.size)
    items = table[skill[resources], best_slot[rows, skill[resources]]]
    return resources, items


class OraclePolicy:
    name = "oracle"

    def __init__(self, engine: MasteryEngine, learners: _Learners) -> None:
        self.catalog = engine.catalog
        self.learners = learners

    def choose(self, batch: MasteryBatch, now: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return greedy_choice(self.catalog, *self.learners.gain_tables(), rng)

    def observe(self, resources: np.ndarray, items: np.ndarray, correct: np.ndarray, predicted: np.ndarray) -> None:
        return None
