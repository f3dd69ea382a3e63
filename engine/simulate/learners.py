"""Two families of simulated learners with ground truth, vectorized over students x skills.

Both follow the same step: the student works through the chosen resource (learning on each skill it
covers), answers the paired item (the response is **sampled** from the family's response model), learns
a little from that practice, and may forget the skills not practised this step. The learning rate of a
skill depends on its prerequisites, on the resource (hidden quality, level fit) and on the student's rate.
They differ in representation and functional forms, so no policy wins by matching one of them:

- `BKTLearners` (BKT-like): each skill is learned or not (binary); a resource teaches with probability
  base * rate * quality * fit; forgetting is a small per-step probability; answers follow guess/slip.
  Fit: remedial 0.5 + 0.3 r, core r^2 (r = share of direct prerequisites known), advanced 1.3 when the
  student knows the resource's skill and everything outside it that it builds on, else 0.15.
- `CurveLearners` (IRT / learning-curve): each skill has a continuous ability theta; practice moves it a
  fraction lambda of the way to a ceiling (an exponential learning curve), unpractised skills drift back
  slowly; answers follow the 3PL model of the item. Fit uses continuous mastery m = sigmoid(2 (theta - beta)):
  remedial 0.6 (1 - m/2)(0.5 + r/2), core r^2 (r = mean mastery of direct prerequisites), advanced
  1.4 sigmoid(10 (readiness - 0.75)); practising an item adds learning proportional to 4 p (1 - p)
  (most from items of middling difficulty).
"""

from __future__ import annotations

import copy

import numpy as np

from engine.catalog.schema import ADVANCED, CORE, REMEDIAL
from engine.mastery import irt_p_correct
from engine.errors import ConfigError
from engine.simulate.world import World

KNOWN_THRESHOLD = 0.8  # continuous mastery at which a skill counts as mastered (curve family)


class _Learners:
    """Shared geometry: prerequisite matrices and each resource's outside prerequisites."""

    name = "base"
    student_arrays: tuple[str, ...] = ()  # attributes holding one row per student (the hidden state)

    def __init__(self, world: World, **params: float) -> None:
        cat = world.catalog
        for key, value in params.items():
            if not hasattr(type(self), key) or key.startswith("_"):
                raise ConfigError(f"{self.name} learners have no parameter {key!r}")
            setattr(self, key, float(value))
        self.world = world
        self.catalog = cat
        self.items = world.items  # the true items (a misspecified world's differ from the catalog's)
        self.direct = cat.graph.direct.astype(float)  # (S, S)
        self.n_prereqs = self.direct.sum(axis=1)  # (S,)
        needs = (cat.resource_skills.astype(np.int64) @ cat.graph.direct.astype(np.int64)) > 0
        self.outside = needs & ~cat.resource_skills  # (R, S) prerequisites a resource builds on but does not teach
        self.level = cat.resource_level

    def students(self, rows: np.ndarray) -> _Learners:
        """A copy holding the students at `rows` (repeats allowed), their state and their world's rows; the
        catalog, items and parameters are shared. The posterior reference keeps its particles this way."""
        out = copy.copy(self)
        for name in self.student_arrays:
            setattr(out, name, getattr(self, name)[rows].copy())
        out.world = self.world.students(rows)
        return out

    def skill_difficulty(self) -> np.ndarray:
        """(S,) reference difficulty of each skill: the mean true b of the items that really exercise it."""
        it, n = self.items, self.catalog.n_skills
        return np.bincount(it.skill, weights=it.b, minlength=n) / np.maximum(np.bincount(it.skill, minlength=n), 1)

    def mastery(self) -> np.ndarray:  # (N, S) in [0, 1]
        raise NotImplementedError

    def known(self) -> np.ndarray:
        """(N, S) skills mastered by the family's own criterion."""
        raise NotImplementedError

    def ready_for_advanced(self) -> np.ndarray:
        """(N, R) True where the student knows an advanced resource's skill and everything outside it that
        it builds on (False for other levels)."""
        known = self.known()
        missing = (~known).astype(np.int64) @ self.outside.T.astype(np.int64)
        return (self.level == ADVANCED)[None, :] & (missing == 0) & known[:, self.catalog.resource_skill]

    def step(self, resources: np.ndarray, items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def gain_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """Expected immediate gain in summed true mastery: (N, R) from each resource and (N, I) from
        answering each item, at the current state (what the oracle maximizes)."""
        raise NotImplementedError


class BKTLearners(_Learners):
    name = "bkt"
    student_arrays = ("state",)
    base_learn = 0.35
    item_learn = 0.3  # practice on the item relative to base_learn, scaled by r^2
    forget = 0.002

    def __init__(self, world: World, **params: float) -> None:
        super().__init__(world, **params)
        self.state = world.known0.copy()
        it = self.items
        self.guess = np.maximum(it.c, 0.1 + 0.15 / (1.0 + np.exp(it.b)))  # easier items: more guessing
        self.slip = 0.05 + 0.1 / (1.0 + np.exp(-it.b))  # harder items: more slips

    def mastery(self) -> np.ndarray:
        return self.state.astype(float)

    def known(self) -> np.ndarray:
        return self.state

    def _prereq_share(self) -> np.ndarray:
        """(N, S) share of each skill's direct prerequisites known (1 for skills without any)."""
        known_pre = self.state.astype(float) @ self.direct.T
        return np.where(self.n_prereqs > 0, known_pre / np.maximum(self.n_prereqs, 1), 1.0)

    def _p_learn(self, resources: np.ndarray) -> np.ndarray:
        """(N, S) P(the resource of each student row teaches each skill it covers)."""
        cat, w = self.catalog, self.world
        rows = np.arange(resources.size)
        share = self._prereq_share()
        level = self.level[resources][:, None]
        adv_ready = self.ready_for_advanced()[rows, resources][:, None]
        fit = np.select([level == REMEDIAL, level == CORE], [0.5 + 0.3 * share, share**2],
                        np.where(adv_ready, 1.3, 0.15))
        p = np.clip(self.base_learn * w.rate[:, None] * w.quality[resources][:, None] * fit, 0.0, 0.9)
        return np.where(cat.resource_skills[resources], p, 0.0)

    def _p_practice(self) -> np.ndarray:
        """(N, S) P(answering an item of the skill teaches it)."""
        return np.clip(self.base_learn * self.item_learn * self.world.rate[:, None] * self._prereq_share() ** 2, 0, 0.9)

    def gain_tables(self) -> tuple[np.ndarray, np.ndarray]:
        cat, w = self.catalog, self.world
        share = self._prereq_share()  # (N, S)
        unknown = ~self.state
        level = self.level[None, :, None]
        ready = self.ready_for_advanced()[:, :, None]  # (N, R, 1)
        fit = np.select([level == REMEDIAL, level == CORE], [0.5 + 0.3 * share[:, None, :], share[:, None, :] ** 2],
                        np.where(ready, 1.3, 0.15))  # (N, R, S)
        p = np.clip(self.base_learn * w.rate[:, None, None] * w.quality[None, :, None] * fit, 0.0, 0.9)
        res_gain = (p * cat.resource_skills[None] * unknown[:, None, :]).sum(axis=2)
        item_gain = (self._p_practice() * unknown)[:, self.items.skill]
        return res_gain, item_gain

    def step(self, resources: np.ndarray, items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        cat = self.catalog
        n = resources.size
        rows = np.arange(n)
        covered = cat.resource_skills[resources]  # (N, S)
        p_learn = self._p_learn(resources)
        self.state |= covered & (rng.random(covered.shape) < p_learn)
        skill = self.items.skill[items]
        learned = self.state[rows, skill]
        p_correct = np.where(learned, 1.0 - self.slip[items], self.guess[items])
        correct = (rng.random(n) < p_correct).astype(float)
        p_practice = self._p_practice()[rows, skill]
        self.state[rows, skill] |= rng.random(n) < p_practice
        practiced = covered.copy()
        practiced[rows, skill] = True
        self.state &= ~(~practiced & (rng.random(self.state.shape) < self.forget))
        return correct


class CurveLearners(_Learners):
    name = "irt"
    student_arrays = ("theta",)
    rate_scale = 0.25
    item_rate = 0.1
    decay = 0.002
    ceiling_above = 2.5
    floor_below = 2.0

    def __init__(self, world: World, **params: float) -> None:
        super().__init__(world, **params)
        self.beta = self.skill_difficulty()
        rng = np.random.default_rng([world.seed, 202])
        noise = rng.standard_normal(world.known0.shape)
        self.theta = self.beta[None, :] + np.where(world.known0, 1.2 + 0.4 * noise, -1.5 + 0.5 * noise)

    def mastery(self) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-2.0 * (self.theta - self.beta[None, :])))

    def known(self) -> np.ndarray:
        return self.mastery() >= KNOWN_THRESHOLD

    def _prereq_mean(self, m: np.ndarray) -> np.ndarray:
        return np.where(self.n_prereqs > 0, (m @ self.direct.T) / np.maximum(self.n_prereqs, 1), 1.0)

    def _lam(self, m: np.ndarray, prereq_mean: np.ndarray, resources: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Learning fraction of each resource (broadcast over `resources` (..., R) with student `rows`)."""
        cat, w = self.catalog, self.world
        level = self.level[resources][..., None]
        # advanced readiness: weakest of the resource's own skill and what it builds on
        outside = self.outside[resources]  # (..., S)
        weakest_outside = np.where(outside, m[rows], 1.0).min(axis=-1)
        readiness = np.minimum(m[rows, cat.resource_skill[resources]], weakest_outside)[..., None]
        mr, pr = m[rows], prereq_mean[rows]
        fit = np.select(
            [level == REMEDIAL, level == CORE],
            [0.6 * (1.0 - 0.5 * mr) * (0.5 + 0.5 * pr), pr**2],
            1.4 / (1.0 + np.exp(-10.0 * (readiness - 0.75))),
        )
        rate = w.rate[rows][..., None]
        return np.clip(self.rate_scale * rate * w.quality[resources][..., None] * fit, 0.0, 0.6)

    def gain_tables(self) -> tuple[np.ndarray, np.ndarray]:
        cat, it, w = self.catalog, self.items, self.world
        n = self.theta.shape[0]
        m = self.mastery()
        prereq_mean = self._prereq_mean(m)
        rows = np.arange(n)[:, None]
        resources = np.broadcast_to(np.arange(cat.n_resources)[None, :], (n, cat.n_resources))
        lam = self._lam(m, prereq_mean, resources, rows)  # (N, R, S)
        ceiling = self.beta[None, None, :] + self.ceiling_above
        theta_new = self.theta[:, None, :] + lam * np.maximum(ceiling - self.theta[:, None, :], 0.0)
        m_new = 1.0 / (1.0 + np.exp(-2.0 * (theta_new - self.beta[None, None, :])))
        res_gain = ((m_new - m[:, None, :]) * cat.resource_skills[None]).sum(axis=2)
        th = self.theta[:, it.skill]  # (N, I)
        p = irt_p_correct(th, it.a[None, :], it.b[None, :], it.c[None, :])
        lam_item = np.clip(self.item_rate * w.rate[:, None] * 4.0 * p * (1.0 - p) * prereq_mean[:, it.skill] ** 2, 0.0, 0.6)
        th_new = th + lam_item * np.maximum(self.beta[it.skill] + self.ceiling_above - th, 0.0)
        beta = self.beta[it.skill]
        item_gain = 1.0 / (1.0 + np.exp(-2.0 * (th_new - beta))) - 1.0 / (1.0 + np.exp(-2.0 * (th - beta)))
        return res_gain, item_gain

    def step(self, resources: np.ndarray, items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        cat, w, it = self.catalog, self.world, self.items
        n = resources.size
        rows = np.arange(n)
        m = self.mastery()
        prereq_mean = self._prereq_mean(m)
        covered = cat.resource_skills[resources]
        lam = self._lam(m, prereq_mean, resources, rows)
        ceiling = self.beta[None, :] + self.ceiling_above
        self.theta = np.where(covered, self.theta + lam * np.maximum(ceiling - self.theta, 0.0), self.theta)
        skill = it.skill[items]
        p = irt_p_correct(self.theta[rows, skill], it.a[items], it.b[items], it.c[items])
        correct = (rng.random(n) < p).astype(float)
        lam_item = np.clip(self.item_rate * w.rate * 4.0 * p * (1.0 - p) * prereq_mean[rows, skill] ** 2, 0.0, 0.6)
        self.theta[rows, skill] += lam_item * np.maximum(ceiling[0, skill] - self.theta[rows, skill], 0.0)
        practiced = covered.copy()
        practiced[rows, skill] = True
        floor = self.beta[None, :] - self.floor_below
        self.theta = np.where(practiced, self.theta, self.theta - self.decay * (self.theta - floor))
        return correct


SIMULATORS = {"bkt": BKTLearners, "irt": CurveLearners}
