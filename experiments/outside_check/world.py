"""The outside check's own learner world: continuous proficiency per skill on a prerequisite graph.

Written from scratch with assumptions of its own (not the project's simulators):

- ``n_skills`` skills; skill k > 0 builds on one or two earlier skills (a few are extra roots), so the
  graph is a DAG whose depth sets how hard a skill is.
- each skill has 8-15 items with true difficulties spread around the skill's level; a student answers
  item i of skill k right with probability ``sigmoid(theta[k] - b[i])`` (Bernoulli, no guessing); variants:
  slopes ``a[i]`` log-normal with SD ``slope_sd`` (``sigmoid(a[i] (theta[k] - b[i]))``) and a guessing floor
  ``guessing`` (``g + (1 - g) sigmoid(...)``, multiple-choice items), both unknown to the catalog.
- answering an item (right or wrong) moves ``theta[k]`` up by ``rate * peak(p) * gate``: ``p`` is the
  success probability on that item before answering, ``peak`` is a Gaussian bump in logit(p) centred at
  logit(``peak_success``), ``gate`` is the weakest direct prerequisite's level raised to ``gating``;
  learning rates differ between students (log-normal).
- mild forgetting: every skill not practised in a step loses ``forgetting`` of its gain since the start.
- two groups differ only in starting opportunity (initial proficiency ``opportunity_gap`` logits apart);
  learning rates and everything else are drawn identically.
- the catalog the system sees is noisy: ``mistag_share`` of the items tagged to a wrong skill, every
  difficulty perturbed by N(0, ``difficulty_noise``).

A skill's *level* is P(correct on its median item) = sigmoid(theta[k] - median b of the skill); a skill is
*truly mastered* when that level is at least ``mastery_level`` (0.8). A student's *mastery* is the mean
level over skills; a policy's gain is final minus initial mastery.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

GROUPS = ("high_opportunity", "low_opportunity")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, elementwise."""
    return 1.0 / (1.0 + np.exp(-x))


def logit(p: np.ndarray | float) -> np.ndarray:
    """Inverse of ``sigmoid``, clipped away from 0 and 1."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class WorldSpec:
    """Parameters of one world; ``peak_success`` is the one the outside check varies."""

    n_skills: int = 12
    items_per_skill: tuple[int, int] = (8, 15)
    peak_success: float = 0.65
    peak_width: float = 1.0  # SD of the learning bump, in logits of the success probability
    gating: float = 1.5
    rate_median: float = 0.30  # logits per practised item at the peak, fully gated open
    rate_spread: float = 0.45  # SD of log learning rate between students
    forgetting: float = 0.005  # share of a skill's gain lost per step without practice
    opportunity_gap: float = 0.8  # logits between the two groups' starting proficiency
    mistag_share: float = 0.10
    difficulty_noise: float = 0.5
    mastery_level: float = 0.8
    slope_sd: float = 0.0  # log-SD of the items' true slopes (0: all 1)
    guessing: float = 0.0  # P(right by guessing) on every item (0: open answers)


@dataclass(frozen=True)
class World:
    """The fixed structure: skills, prerequisite graph, items (true and as the catalog states them)."""

    spec: WorldSpec
    skill_ids: list[str]
    prerequisites: list[list[int]]
    depth: np.ndarray  # (K,) longest prerequisite chain below the skill
    topo_order: list[int]
    item_ids: list[str]
    item_skill: np.ndarray  # (I,) true skill
    item_b: np.ndarray  # (I,) true difficulty
    median_b: np.ndarray  # (K,) median true difficulty per skill
    catalog_skill: np.ndarray  # (I,) skill as tagged in the catalog (some wrong)
    catalog_b: np.ndarray  # (I,) difficulty as stated in the catalog (perturbed)
    item_index: dict[str, int] = field(repr=False)
    item_a: np.ndarray | None = None  # (I,) true slope (None: all 1)

    def success(self, theta: np.ndarray, items: np.ndarray) -> np.ndarray:
        """P(right) on `items` at proficiency `theta` on their true skill (broadcast): the guessing floor plus the
        rest times sigmoid(a (theta - b))."""
        a = 1.0 if self.item_a is None else self.item_a[items]
        g = self.spec.guessing
        return g + (1.0 - g) * sigmoid(a * (theta - self.item_b[items]))

    @property
    def n_skills(self) -> int:
        return len(self.skill_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def with_peak(self, peak_success: float) -> "World":
        """The same graph and items with learning peaking at another success rate."""
        return replace(self, spec=replace(self.spec, peak_success=peak_success))


def make_world(spec: WorldSpec, seed: int) -> World:
    """Draw a prerequisite graph, items with true difficulties, and the noisy catalog of them."""
    rng = np.random.default_rng(seed)
    k = spec.n_skills
    prerequisites: list[list[int]] = [[]]
    for s in range(1, k):
        if s > 2 and rng.random() < 0.12:
            prerequisites.append([])  # an extra root
            continue
        n_pre = 2 if (s > 1 and rng.random() < 0.4) else 1
        window = list(range(max(0, s - 4), s))  # build on recent skills: chains, not a star
        prerequisites.append(sorted(int(x) for x in rng.choice(window, size=min(n_pre, len(window)), replace=False)))
    depth = np.zeros(k)
    for s in range(k):  # prerequisites are earlier skills, so index order is topological
        depth[s] = 1 + max(depth[p] for p in prerequisites[s]) if prerequisites[s] else 0
    level = -1.0 + 0.45 * depth + rng.normal(0, 0.3, k)
    counts = rng.integers(spec.items_per_skill[0], spec.items_per_skill[1] + 1, k)
    item_skill = np.repeat(np.arange(k), counts)
    item_b = level[item_skill] + rng.normal(0, 0.9, item_skill.size)
    median_b = np.array([np.median(item_b[item_skill == s]) for s in range(k)])
    catalog_skill = item_skill.copy()
    mistagged = rng.random(item_skill.size) < spec.mistag_share
    shift = rng.integers(1, k, item_skill.size)
    catalog_skill[mistagged] = (item_skill[mistagged] + shift[mistagged]) % k
    catalog_b = item_b + rng.normal(0, spec.difficulty_noise, item_skill.size)
    skill_ids = [f"S{s:02d}" for s in range(k)]
    item_ids = [f"{skill_ids[s]}-q{j:02d}" for s in range(k) for j in range(counts[s])]
    # slopes from a stream of their own, so the default world (slope_sd 0) draws exactly what it always drew
    item_a = np.exp(np.random.default_rng([seed, 31]).normal(0, spec.slope_sd, item_skill.size)) if spec.slope_sd else None
    return World(spec, skill_ids, prerequisites, depth, list(range(k)), item_ids, item_skill, item_b,
                 median_b, catalog_skill, catalog_b, {iid: n for n, iid in enumerate(item_ids)}, item_a)


@dataclass(frozen=True)
class Cohort:
    """Students' hidden starting state: proficiency, learning rate, opportunity group."""

    student_ids: list[str]
    theta0: np.ndarray  # (S, K)
    rate: np.ndarray  # (S,)
    group: np.ndarray  # (S,) 0 = high opportunity, 1 = low opportunity

    @property
    def size(self) -> int:
        return len(self.student_ids)


def make_cohort(world: World, n: int, seed: int, prefix: str) -> Cohort:
    """Students whose groups differ only in starting opportunity (half each, alternating)."""
    rng = np.random.default_rng(seed)
    spec = world.spec
    group = np.arange(n) % 2
    opportunity = np.where(group == 0, spec.opportunity_gap / 2, -spec.opportunity_gap / 2)
    general = rng.normal(0, 1, n)
    standing = (0.9 * general + opportunity)[:, None] + 0.5 - 0.55 * world.depth[None, :] \
        + rng.normal(0, 0.6, (n, world.n_skills))
    for s in world.topo_order:  # knowledge rarely runs far ahead of its prerequisites
        for p in world.prerequisites[s]:
            standing[:, s] = np.minimum(standing[:, s], standing[:, p] + 0.8)
    rate = np.exp(np.log(spec.rate_median) + rng.normal(0, spec.rate_spread, n))
    ids = [f"{prefix}{i:04d}" for i in range(n)]
    return Cohort(ids, world.median_b[None, :] + standing, rate, group)


class Learners:
    """The mutable true state of one cohort under one policy (a fresh copy per policy: paired runs)."""

    def __init__(self, world: World, cohort: Cohort) -> None:
        self.world = world
        self.cohort = cohort
        self.theta = cohort.theta0.copy()
        self._rows = np.arange(cohort.size)

    def levels(self) -> np.ndarray:
        """(S, K) P(correct on each skill's median item)."""
        return sigmoid(self.theta - self.world.median_b[None, :])

    def mastery(self) -> np.ndarray:
        """(S,) mean level over skills."""
        return self.levels().mean(axis=1)

    def mastered(self) -> np.ndarray:
        """(S, K) truly mastered skills."""
        return self.levels() >= self.world.spec.mastery_level

    def p_correct(self, items: np.ndarray) -> np.ndarray:
        """(S,) success probability of each student on the given item (one per student)."""
        skill = self.world.item_skill[items]
        return self.world.success(self.theta[self._rows, skill], items)

    def gate(self) -> np.ndarray:
        """(S, K) prerequisite gate: weakest direct prerequisite's level to the power ``gating``."""
        levels = self.levels()
        gate = np.ones_like(levels)
        for s, pre in enumerate(self.world.prerequisites):
            if pre:
                gate[:, s] = levels[:, pre].min(axis=1) ** self.world.spec.gating
        return gate

    def learning(self, p: np.ndarray, gate: np.ndarray, rate: np.ndarray) -> np.ndarray:
        """Proficiency gained from answering an item of success probability ``p`` (any shape, broadcast)."""
        spec = self.world.spec
        bump = np.exp(-0.5 * ((logit(p) - logit(spec.peak_success)) / spec.peak_width) ** 2)
        return rate * bump * gate

    def forgotten(self) -> np.ndarray:
        """(S, K) proficiency after one step of forgetting, on every skill."""
        return self.theta - self.world.spec.forgetting * np.maximum(self.theta - self.cohort.theta0, 0.0)

    def step(self, items: np.ndarray) -> None:
        """Each student answers one item: learning on its true skill, forgetting on the others."""
        skill = self.world.item_skill[items]
        gain = self.learning(self.p_correct(items), self.gate()[self._rows, skill], self.cohort.rate)
        practised = self.theta[self._rows, skill] + gain
        self.theta = self.forgotten()
        self.theta[self._rows, skill] = practised
