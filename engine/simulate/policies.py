"""Policies compared in the simulator: ours and five baselines, all choosing for every student at once.

A policy sees only what a real platform would: the mastery engine's states (built from the responses
it observed), the catalog and the time. `choose(batch, now, rng)` returns one resource and one item per
student; `observe(...)` gives it the outcome. No policy receives a group label.

- equilearn: the `Recommender` (k = 1), learning resource effectiveness from outcomes (Thompson).
- random: a uniformly random resource, a random item of its skill.
- curriculum: a fixed order for everyone (prerequisites first), `ceil(steps / skills)` steps per skill,
  on the skill's core practice set: a pacing guide.
- lowest-mastery: the skill with the lowest estimated mastery (not yet mastered), core practice set.
- zpdes: a ZPDES-like learning-progress bandit (Clement et al. 2015) over the resources of the estimated
  prerequisite frontier (advanced ones once their skill is estimated mastered): arms are drawn in
  proportion to a quality that tracks recent learning progress (change in success rate), with 20%
  uniform exploration.
- remedial: "always remedial": the frontier skill with the lowest estimate, always at remedial level.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from engine.catalog import Catalog
from engine.catalog.schema import ADVANCED, CORE, REMEDIAL, RESOURCE_KINDS
from engine.errors import ConfigError
from engine.mastery import MasteryBatch, MasteryEngine
from engine.recommend import Recommender, RecommenderConfig

PRACTICE_SET = RESOURCE_KINDS.index("practice_set")


class Policy(Protocol):
    name: str

    def choose(self, batch: MasteryBatch, now: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(resources (N,), items (N,)) catalog indices, one per student row."""
        ...

    def observe(self, resources: np.ndarray, items: np.ndarray, correct: np.ndarray, predicted: np.ndarray) -> None:
        """The answers to the chosen items and their predictions made before the step."""
        ...


def random_items(catalog: Catalog, skills: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random item of each given skill (-1 for skills without items)."""
    table = catalog.items_by_skill
    counts = (table >= 0).sum(axis=1)[skills]
    slot = np.floor(rng.random(skills.size) * np.maximum(counts, 1)).astype(np.int64)
    return np.where(counts > 0, table[skills, slot], -1)


def default_resources(catalog: Catalog, level: int = CORE) -> np.ndarray:
    """(S,) one resource per skill: its practice set at `level`, else any resource at that level, else any."""
    out = np.full(catalog.n_skills, -1, dtype=np.int64)
    for s in range(catalog.n_skills):
        own = np.flatnonzero(catalog.resource_skill == s)
        for pick in (own[(catalog.resource_level[own] == level) & (catalog.resource_kind[own] == PRACTICE_SET)],
                     own[catalog.resource_level[own] == level], own):
            if pick.size:
                out[s] = pick[0]
                break
    return out


class _Base:
    name = "base"

    def __init__(self, engine: MasteryEngine) -> None:
        self.engine = engine
        self.catalog = engine.catalog

    def observe(self, resources: np.ndarray, items: np.ndarray, correct: np.ndarray, predicted: np.ndarray) -> None:
        return None

    def _with_items(self, resources: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return resources, random_items(self.catalog, self.catalog.resource_skill[resources], rng)

    def _frontier(self, batch: MasteryBatch, now: float) -> tuple[np.ndarray, np.ndarray]:
        """(N, S) estimated P(learned) and outer fringe (not mastered, direct prerequisites >= 0.8)."""
        p = self.engine.p_now(batch, now)
        in_place = p >= 0.8
        prereqs_ok = ((~in_place).astype(np.int64) @ self.catalog.graph.direct.T.astype(np.int64)) == 0
        return p, ~self.engine.mastered(p) & prereqs_ok


class EquilearnPolicy(_Base):
    name = "equilearn"

    def __init__(self, engine: MasteryEngine, config: RecommenderConfig | None = None) -> None:
        super().__init__(engine)
        self.recommender = Recommender(engine, config)

    def choose(self, batch: MasteryBatch, now: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        choice = self.recommender.choose_batch(batch, 1, now=now, rng=rng)
        resources, items = choice.resources[:, 0], choice.items[:, 0]
        missing = items < 0
        if missing.any():  # a skill without items: practise any item of the resource's other skills at random
            items[missing] = random_items(self.catalog, self.catalog.resource_skill[resources[missing]], rng)
        return resources, items

    def observe(self, resources: np.ndarray, items: np.ndarray, correct: np.ndarray, predicted: np.ndarray) -> None:
        self.recommender.effectiveness.observe(resources, np.clip(correct - predicted, -1.0, 1.0))


class RandomPolicy(_Base):
    name = "random"

    def choose(self, batch: MasteryBatch, now: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return self._with_items(rng.integers(0, self.catalog.n_resources, len(batch)), rng)


class CurriculumPolicy(_Base):
    name = "curriculum"

    def __init__(self, engine: MasteryEngine, steps: int) -> None:
        super().__init__(engine)
        self.order = self.catalog.graph.order
        self.pace = max(1, math.ceil(steps / self.catalog.n_skills))
        self.resource = default_resources(self.catalog, CORE)
        self.step = 0

    def choose(self, batch: MasteryBatch, now: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        skill = self.order[(self.step // self.pace) % self.order.size]
        self.step += 1
        return self._with_items(np.full(len(batch), self.resource[skill]), rng)


class LowestMasteryPolicy(_Base):
    name = "lowest-mastery"

    def __init__(self, engine: MasteryEngine) -> None:
        super().__init__(engine)
        self.resource = default_resources(self.catalog, CORE)

    def choose(self, batch: MasteryBatch, now: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        p = self.engine.p_now(batch, now)
        key = np.where(self.engine.mastered(p), np.inf, p) + 1e-9 * rng.random(p.shape)  # random tie-break
        return self._with_items(self.resource[np.argmin(key, axis=1)], rng)


class RemedialPolicy(_Base):
    name = "remedial"

    def __init__(self, engine: MasteryEngine) -> None:
        super().__init__(engine)
        self.resource = default_resources(self.catalog, REMEDIAL)

    def choose(self, batch: MasteryBatch, now: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        p, fringe = self._frontier(batch, now)
        key = np.where(fringe, p, np.where(self.engine.mastered(p), np.inf, 10.0 + p)) + 1e-9 * rng.random(p.shape)
        return self._with_items(self.resource[np.argmin(key, axis=1)], rng)


class ZPDESPolicy(_Base):
    name = "zpdes"

    def __init__(self, engine: MasteryEngine, window: int = 4, beta: float = 0.6, eta: float = 0.4,
                 explore: float = 0.2, initial_quality: float = 0.2) -> None:
        super().__init__(engine)
        if window < 2 or window % 2:
            raise ConfigError("ZPDES window must be an even number >= 2")
        self.window, self.beta, self.eta, self.explore, self.initial_quality = window, beta, eta, explore, initial_quality
        self.quality: np.ndarray | None = None
        self.history: np.ndarray | None = None
        self.count: np.ndarray | None = None
        cat = self.catalog
        needs = (cat.resource_skills.astype(np.int64) @ cat.graph.direct.astype(np.int64)) > 0
        self.outside = (needs & ~cat.resource_skills).astype(np.int64)

    def _zpd(self, batch: MasteryBatch, now: float) -> np.ndarray:
        cat = self.catalog
        p, fringe = self._frontier(batch, now)
        mastered = self.engine.mastered(p)
        level = cat.resource_level[None, :]
        outside_ok = ((~(p >= 0.8)).astype(np.int64) @ self.outside.T) == 0
        zpd = np.where(level == ADVANCED, mastered[:, cat.resource_skill] & outside_ok, fringe[:, cat.resource_skill])
        empty = ~zpd.any(axis=1)
        advanced = cat.resource_level == ADVANCED
        zpd[empty] = advanced[None, :] if advanced.any() else True
        return zpd

    def choose(self, batch: MasteryBatch, now: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        n, r = len(batch), self.catalog.n_resources
        if self.quality is None:
            self.quality = np.full((n, r), self.initial_quality)
            self.history = np.zeros((n, r, self.window))
            self.count = np.zeros((n, r), dtype=np.int64)
        zpd = self._zpd(batch, now)
        weights = np.where(zpd, self.quality, 0.0)
        total = weights.sum(axis=1, keepdims=True)
        exploit = np.where(total > 0, weights / np.where(total > 0, total, 1.0), 0.0)
        uniform = zpd / zpd.sum(axis=1, keepdims=True)
        prob = (1 - self.explore) * exploit + self.explore * uniform
        prob = np.where(total > 0, prob, uniform)
        cum = np.cumsum(prob, axis=1)
        resources = np.minimum((cum < rng.random((n, 1)) * cum[:, -1:]).sum(axis=1), r - 1)
        return self._with_items(resources, rng)

    def observe(self, resources: np.ndarray, items: np.ndarray, correct: np.ndarray, predicted: np.ndarray) -> None:
        rows = np.arange(resources.size)
        h = self.history[rows, resources]  # (N, window), oldest first
        h = np.concatenate([h[:, 1:], correct[:, None]], axis=1)
        self.history[rows, resources] = h
        self.count[rows, resources] += 1
        half = self.window // 2
        progress = np.abs(h[:, half:].mean(axis=1) - h[:, :half].mean(axis=1))
        full = self.count[rows, resources] >= self.window
        q = self.quality[rows, resources]
        self.quality[rows, resources] = np.where(full, self.beta * q + self.eta * progress, q)


POLICIES = ("equilearn", "random", "curriculum", "lowest-mastery", "zpdes", "remedial")


def make_policy(name: str, engine: MasteryEngine, steps: int, config: RecommenderConfig | None = None) -> Policy:
    """A fresh policy by name (see POLICIES)."""
    if name == "equilearn":
        return EquilearnPolicy(engine, config)
    if name == "random":
        return RandomPolicy(engine)
    if name == "curriculum":
        return CurriculumPolicy(engine, steps)
    if name == "lowest-mastery":
        return LowestMasteryPolicy(engine)
    if name == "zpdes":
        return ZPDESPolicy(engine)
    if name == "remedial":
        return RemedialPolicy(engine)
    raise ConfigError(f"unknown policy {name!r}; choose from {', '.join(POLICIES)}")
