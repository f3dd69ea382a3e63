"""A mastery-gated curriculum: the catalog's prerequisite order, advancing on a run of right answers.

Every student starts on the first skill of `graph.order` (prerequisites first) and practises it (the
skill's core practice set and a random item of the skill) until they answer `streak` items of it right in
a row; a wrong answer resets the run. The skill then counts as passed and the student moves to the next
skill in the order that is not passed yet; after the last skill the order wraps around to the skills not
yet passed, and once every skill is passed a new round starts at the first skill of the order. Skills
without items cannot be practised and are skipped. Each student advances at their own pace; the state is
arrays over students (no Python loop over students).
"""

from __future__ import annotations

import numpy as np

from engine.catalog.schema import CORE
from engine.errors import ConfigError
from engine.mastery import MasteryBatch, MasteryEngine


class GatedCurriculumPolicy:
    name = "gated-curriculum"

    def __init__(self, engine: MasteryEngine, streak: int = 3) -> None:
        from engine.simulate.policies import default_resources  # policies.py imports this module

        if streak < 1:
            raise ConfigError(f"the gated curriculum needs a streak of at least 1 right answer, got {streak}")
        self.engine = engine
        self.catalog = cat = engine.catalog
        self.streak = streak
        has_items = (cat.items_by_skill >= 0).any(axis=1)
        self.order = np.asarray(cat.graph.order, dtype=np.int64)
        self.order = self.order[has_items[self.order]]
        if self.order.size == 0:
            raise ConfigError("the gated curriculum needs a catalog with items")
        self.resource_of_skill = default_resources(cat, CORE)
        self.n_students = 0

    def reset(self, n_students: int) -> None:
        """Everyone on the first skill of the order, no run, nothing passed."""
        self.n_students = n_students
        self.position = np.zeros(n_students, dtype=np.int64)  # index into self.order
        self.run = np.zeros(n_students, dtype=np.int64)  # right answers in a row on the current skill
        self.passed = np.zeros((n_students, self.order.size), dtype=bool)  # by position in the order

    def current_skill(self) -> np.ndarray:
        """(N,) the skill each student is on."""
        return self.order[self.position]

    def choose(self, batch: MasteryBatch, now: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        from engine.simulate.policies import random_items

        if len(batch) != self.n_students:
            self.reset(len(batch))
        skills = self.current_skill()
        return self.resource_of_skill[skills], random_items(self.catalog, skills, rng)

    def observe(self, resources: np.ndarray, items: np.ndarray, correct: np.ndarray, predicted: np.ndarray) -> None:
        right = np.asarray(correct, dtype=float) >= 0.5
        self.run = np.where(right, self.run + 1, 0)
        done = np.flatnonzero(self.run >= self.streak)
        if done.size == 0:
            return
        self.passed[done, self.position[done]] = True
        self.run[done] = 0
        k = self.order.size
        ahead = (self.position[done, None] + np.arange(1, k + 1)[None, :]) % k  # the next k positions, cyclic
        open_ahead = ~self.passed[done[:, None], ahead]
        finished = ~open_ahead.any(axis=1)
        self.position[done] = np.where(finished, 0, ahead[np.arange(done.size), open_ahead.argmax(axis=1)])
        self.passed[done[finished]] = False  # every skill passed: a new round over all of them, from the start
