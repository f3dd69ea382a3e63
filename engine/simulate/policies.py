"""Policies compared in the simulator: ours and six baselines, all choosing for every student at once.

A policy sees only what a real platform would: the mastery engine's states (built from the responses
it observed), the catalog and the time. `choose(batch, now, rng)` returns one resource and one item per
student; `observe(...)` gives it the outcome. No policy receives a group label.

- equilearn: the `Recommender` (k = 1), learning resource effectiveness from outcomes (Thompson).
- random: a uniformly random resource, a random item of its skill.
- curriculum: a fixed order for everyone (prerequisites first), `ceil(steps / skills)` steps per skill,
  on the skill's core practice set: a pacing guide.
- lowest-mastery: the skill with the lowest estimated mastery (not yet mastered), core practice set.
- gated-curriculum: the prerequisite order, each student moving to the next skill after `streak` (3) right
  answers in a row on the current one (a wrong answer resets the run), on the skill's core practice set
  (`curriculum.py`).
- zpdes: ZPDES as published (Clement, Roy, Oudeyer & Lopes 2015; `zpdes.py`): a learning-progress bandit
  per student over (skill, difficulty level) activities, confined to a zone of proximal development that
  opens harder levels and dependent skills on success and retires mastered activities; it sees only the
  right/wrong answers.
- remedial: "always remedial": the frontier skill with the lowest estimate, always at remedial level.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from engine.catalog import Catalog
from engine.catalog.schema import CORE, REMEDIAL, RESOURCE_KINDS
from engine.errors import ConfigError
from engine.mastery import MasteryBatch, MasteryEngine
from engine.recommend import Recommender, RecommenderConfig
from engine.recommend.learning import DifficultyProgress, ProgressTracker
from engine.simulate.curriculum import GatedCurriculumPolicy
from engine.simulate.zpdes import ZPDESPolicy

PRACTICE_SET = RESOURCE_KINDS.index("practice_set")
LIST_LENGTH = 5  # recommendations per request, as the service's default k


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

    def __init__(self, engine: MasteryEngine, config: RecommenderConfig | None = None,
                 progress: DifficultyProgress | None = None) -> None:
        super().__init__(engine)
        self.recommender = Recommender(engine, config, progress=progress)
        self.listed_items = np.zeros((0, LIST_LENGTH), dtype=np.int64)  # (N, LIST_LENGTH) after each choice, -1 = empty
        self.tracker: ProgressTracker | None = None

    def choose(self, batch: MasteryBatch, now: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The first of a LIST_LENGTH list, as a platform that shows the list and the student takes the top one;
        `listed_items` keeps the whole list's items, `listed_skills` their skills (for "offered within 5 steps")."""
        choice = self.recommender.choose_batch(batch, LIST_LENGTH, now=now, rng=rng)
        self.listed_items = choice.items.copy()
        resources, items = choice.resources[:, 0].copy(), choice.items[:, 0].copy()
        missing = items < 0
        if missing.any():  # a skill without items: practise any item of the resource's other skills at random
            items[missing] = random_items(self.catalog, self.catalog.resource_skill[resources[missing]], rng)
        self._before = batch.rows(np.arange(len(batch)))  # the states before the answers, for the progress measure
        return resources, items

    @property
    def listed_skills(self) -> np.ndarray:
        """(N, LIST_LENGTH) the skill of each item of the last lists (-1 = empty place)."""
        items = self.listed_items
        return np.where(items >= 0, self.catalog.item_skill[np.maximum(items, 0)], -1)

    def observe(self, resources: np.ndarray, items: np.ndarray, correct: np.ndarray, predicted: np.ndarray) -> None:
        self.recommender.effectiveness.observe(resources, np.clip(correct - predicted, -1.0, 1.0))
        if self.tracker is None:
            self.tracker = ProgressTracker(resources.size, self.catalog.n_skills)
        self.tracker.step(self.recommender.progress, self.engine, self._before, np.arange(resources.size), items, correct)


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


POLICIES = ("equilearn", "random", "curriculum", "gated-curriculum", "lowest-mastery", "zpdes", "remedial")


def make_policy(name: str, engine: MasteryEngine, steps: int, config: RecommenderConfig | None = None,
                progress: DifficultyProgress | None = None) -> Policy:
    """A fresh policy by name (see POLICIES); `progress`: equilearn's learned difficulty statistics to start from."""
    if name == "equilearn":
        return EquilearnPolicy(engine, config, progress)
    if name == "random":
        return RandomPolicy(engine)
    if name == "curriculum":
        return CurriculumPolicy(engine, steps)
    if name == "gated-curriculum":
        return GatedCurriculumPolicy(engine)
    if name == "lowest-mastery":
        return LowestMasteryPolicy(engine)
    if name == "zpdes":
        return ZPDESPolicy(engine)
    if name == "remedial":
        return RemedialPolicy(engine)
    raise ConfigError(f"unknown policy {name!r}; choose from {', '.join(POLICIES)}")
