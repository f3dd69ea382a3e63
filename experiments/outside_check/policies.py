"""Local baseline policies of the outside check, one item per student per step (vectorized over students).

``RandomItem`` and ``GatedCurriculum`` see only what a platform sees (the noisy catalog's tags and the
answers); ``GreedyOracle`` reads the world's true state and is the upper bound results are expressed
against. The HTTP policy that asks equilearn lives in ``client``; all share the ``Policy`` protocol.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from experiments.outside_check.world import Learners, World, sigmoid


class Policy(Protocol):
    """Chooses one item index per student, then sees the answers. A policy that shows a list of which the student
    takes the first also sets `listed`, (S, L) world item indices of the last lists (-1 = empty place)."""

    name: str

    def choose(self, step: int) -> np.ndarray: ...

    def observe(self, step: int, items: np.ndarray, correct: np.ndarray) -> None: ...


class RandomItem:
    """A uniformly random catalog item at every step."""

    name = "random item"

    def __init__(self, world: World, n_students: int, seed: int) -> None:
        self.n_items, self.n = world.n_items, n_students
        self.rng = np.random.default_rng(seed)

    def choose(self, step: int) -> np.ndarray:
        return self.rng.integers(0, self.n_items, self.n)

    def observe(self, step: int, items: np.ndarray, correct: np.ndarray) -> None:
        return None


class GatedCurriculum:
    """Skills in prerequisite order, a random item of the current skill (by the catalog's tags); the
    student moves to the next skill after ``streak`` right answers in a row, and back to the first skill
    after the last one."""

    name = "gated curriculum"

    def __init__(self, world: World, n_students: int, seed: int, streak: int = 3) -> None:
        self.order = np.asarray(world.topo_order)
        self.items_of = [np.flatnonzero(world.catalog_skill == s) for s in range(world.n_skills)]
        if any(len(items) == 0 for items in self.items_of):
            raise ValueError("gated curriculum: a skill has no catalog item; lower mistag_share")
        self.position = np.zeros(n_students, dtype=int)
        self.run = np.zeros(n_students, dtype=int)
        self.streak = streak
        self.rng = np.random.default_rng(seed)

    def choose(self, step: int) -> np.ndarray:
        skills = self.order[self.position]
        draws = self.rng.random(skills.size)
        return np.array([self.items_of[s][int(u * len(self.items_of[s]))] for s, u in zip(skills, draws)])

    def observe(self, step: int, items: np.ndarray, correct: np.ndarray) -> None:
        self.run = np.where(correct, self.run + 1, 0)
        advance = self.run >= self.streak
        self.position = np.where(advance, (self.position + 1) % self.order.size, self.position)
        self.run[advance] = 0


class GreedyOracle:
    """Knows the true state: each step, the item whose answer raises the student's mastery most (the
    exact one-step expectation of the world's rule, forgetting included)."""

    name = "oracle"

    def __init__(self, learners: Learners) -> None:
        self.learners = learners
        self.world = learners.world

    def choose(self, step: int) -> np.ndarray:
        w, lr = self.world, self.learners
        skill = w.item_skill  # (I,)
        theta = lr.theta[:, skill]  # (S, I)
        p = w.success(theta, np.arange(w.n_items)[None, :])
        gain = lr.learning(p, lr.gate()[:, skill], lr.cohort.rate[:, None])
        forgotten = lr.forgotten()[:, skill]
        med = w.median_b[skill][None, :]
        value = sigmoid(theta + gain - med) - sigmoid(forgotten - med)
        return value.argmax(axis=1)

    def observe(self, step: int, items: np.ndarray, correct: np.ndarray) -> None:
        return None
