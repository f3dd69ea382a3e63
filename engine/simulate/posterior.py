"""The posterior reference: the oracle's greedy rule on the exact posterior of the world's own model.

The oracle reads each student's true state; no real policy can. This reference knows everything about the
world except the students: the family and its parameters, the true items (a misspecified world's too), the
resources' hidden qualities and the population students are drawn from. Each student's state it must infer
from the answers, as any policy does, by Bayes' rule: a particle filter per student whose particles are
students drawn from the same population (`make_world` with another seed), moved by the world's own `step`.

- Choice: per student, the oracle's rule (`oracle.greedy_choice`) on the gain tables averaged over the
  student's particles, i.e. the largest expected immediate gain under the posterior (myopic, like the oracle).
- Update: every particle takes the chosen (resource, item) through the world's `step`, which samples its
  learning and its answer; particles whose sampled answer equals the student's observed one are kept and
  resampled to `particles` (systematic resampling). For a 0/1 answer, keeping exact matches is the
  likelihood weighting itself, so the particles stay a draw from the posterior. If no particle matches, all
  are kept (counted in `unmatched`).
- Continuous hidden state (abilities, learning rates) is jittered after resampling with Liu & West's (2001)
  kernel shrinkage (h = `JITTER`), which keeps each student's particle mean and variance, so that resampled
  copies do not collapse onto a few values; learning rates are jittered on the log scale.

What it is for: its gain is what the oracle's rule achieves when the state must be learned from answers
with a perfect model of the world, so it separates what the state's uncertainty costs from what a wrong
model costs, and shows which targets any answer-driven greedy policy can reach (experiments/suite_posterior.py).
It is slow (particles x students rows of gain tables every step) and meant for experiments, not serving.

A finite cloud is only close to the exact posterior. Under actions that do not depend on it, its mean P(known)
tracks the truth (tests/engine/test_posterior.py); under its own greedy choices it picks the actions its own
sampling error favours (a winner's curse over some 200 resources), so its beliefs run above the truth on the
skills it chose and its gain is a lower estimate of the exact-posterior greedy rule's (more particles shrink
the gap slowly; experiments/results/suite_posterior.md gives the check at 50 and 200 particles).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from engine.errors import ConfigError
from engine.mastery import MasteryBatch, MasteryEngine
from engine.simulate.learners import _Learners
from engine.simulate.oracle import greedy_choice
from engine.simulate.world import GroupSpec, ItemTruth, World, make_world

JITTER = 0.2  # Liu-West kernel width (share of the particle SD); the shrinkage a = sqrt(1 - h^2) keeps the variance
PRIOR_SEED_OFFSET = 900_000  # the particles' population is drawn with the world's seed plus this
CHUNK_ROWS = 4000  # particle rows per gain-table call (memory: rows x resources x skills floats)


class PosteriorPolicy:
    """Greedy on the posterior expected gain, with a particle filter on the world's own model (module docstring)."""

    name = "posterior"

    def __init__(self, engine: MasteryEngine, learners_of: Callable[[World], _Learners], n_students: int, seed: int,
                 quality: np.ndarray, truth: ItemTruth | None, groups: tuple[GroupSpec, ...], particles: int = 50) -> None:
        if particles < 2 or n_students < 1:
            raise ConfigError(f"the posterior reference needs at least 2 particles and 1 student, "
                              f"got {particles} and {n_students}")
        self.catalog = engine.catalog
        self.n_students, self.particles = n_students, particles
        population = make_world(self.catalog, n_students * particles, seed + PRIOR_SEED_OFFSET, groups)
        self.cloud = learners_of(dataclasses.replace(population, quality=quality, truth=truth))
        self.rng = np.random.default_rng([seed, 77])
        self.unmatched = 0  # (student, step) pairs where no particle gave the observed answer

    @classmethod
    def for_world(cls, engine: MasteryEngine, learners_of: Callable[[World], _Learners], world: World,
                  particles: int = 50) -> PosteriorPolicy:
        """The reference for `world`'s students: it takes the world's resources, items and population, never
        its students' states."""
        return cls(engine, learners_of, world.n_students, world.seed, world.quality, world.truth, world.groups, particles)

    def posterior_gains(self) -> tuple[np.ndarray, np.ndarray]:
        """(N, R) and (N, I) gain tables averaged over each student's particles."""
        n, m = self.n_students, self.particles
        res, item = np.zeros((n, self.catalog.n_resources)), np.zeros((n, self.catalog.n_items))
        per_chunk = max(CHUNK_ROWS // m, 1)
        for lo in range(0, n, per_chunk):
            hi = min(n, lo + per_chunk)
            r, i = self.cloud.students(np.arange(lo * m, hi * m)).gain_tables()
            res[lo:hi], item[lo:hi] = r.reshape(hi - lo, m, -1).mean(axis=1), i.reshape(hi - lo, m, -1).mean(axis=1)
        return res, item

    def p_known(self) -> np.ndarray:
        """(N, S) posterior probability that each skill is mastered (the family's own criterion)."""
        return self.cloud.known().reshape(self.n_students, self.particles, -1).mean(axis=1)

    def choose(self, batch: MasteryBatch, now: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return greedy_choice(self.catalog, *self.posterior_gains(), rng)

    def observe(self, resources: np.ndarray, items: np.ndarray, correct: np.ndarray, predicted: np.ndarray) -> None:
        n, m = self.n_students, self.particles
        sampled = self.cloud.step(np.repeat(resources, m), np.repeat(items, m), self.rng)
        weight = (sampled.reshape(n, m) == np.asarray(correct, dtype=float)[:, None]).astype(float)
        none = weight.sum(axis=1) == 0
        self.unmatched += int(none.sum())
        weight[none] = 1.0
        rows = np.arange(n)[:, None] * m + systematic_resample(weight, self.rng)
        self.cloud = self.cloud.students(rows.ravel())
        self._jitter()

    def _jitter(self) -> None:
        """Liu-West kernel shrinkage of the continuous state, per student (module docstring)."""
        n, m = self.n_students, self.particles
        for name in self.cloud.student_arrays:
            values = getattr(self.cloud, name)
            if values.dtype.kind != "f":
                continue
            log_scale = name == "rate"
            x = np.log(values) if log_scale else values
            x = liu_west(x.reshape((n, m) + x.shape[1:]), JITTER, self.rng).reshape(x.shape)
            setattr(self.cloud, name, np.exp(x) if log_scale else x)
        world = self.cloud.world
        rate = np.exp(liu_west(np.log(world.rate).reshape(n, m), JITTER, self.rng)).ravel()
        self.cloud.world = dataclasses.replace(world, rate=rate)


def systematic_resample(weight: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, M) particle indices drawn per row in proportion to `weight` (N, M) by systematic resampling: one
    uniform offset per row, M evenly spaced points, so a particle of weight w is copied floor or ceil of M w times."""
    n, m = weight.shape
    cum = np.cumsum(weight / weight.sum(axis=1, keepdims=True), axis=1)
    cum[:, -1] = 1.0
    points = (rng.random((n, 1)) + np.arange(m)[None, :]) / m  # (N, M), increasing in each row
    return (cum[:, None, :] < points[:, :, None]).sum(axis=2)


def liu_west(x: np.ndarray, h: float, rng: np.random.Generator) -> np.ndarray:
    """Kernel shrinkage jitter along axis 1 (the particles of a row): a x + (1 - a) mean + h sd e with
    a = sqrt(1 - h^2), which keeps each row's particle mean and, in expectation, its variance."""
    mean, sd = x.mean(axis=1, keepdims=True), x.std(axis=1, keepdims=True)
    a = np.sqrt(1.0 - h * h)
    return a * x + (1.0 - a) * mean + h * sd * rng.standard_normal(x.shape)
