"""Continuous-proficiency learners: learning depends on how hard the item is *for this student*.

Each student has a proficiency theta per skill on the items' logit scale. Answering item i of skill s
(true 3PL parameters, which a misspecified world hides from the engine) succeeds with
p = c + (1 - c) sigmoid(a (theta - b)) and teaches

    d theta = rate_scale * rate_n * peak(p) * gate_s,
    peak(p) = exp(-(logit p - logit peak_success)^2 / (2 peak_width^2)),
    gate_s  = (mean true mastery of the skill's direct prerequisites) ^ gating,

so learning is largest at the success rate `peak_success` (a parameter of the world, 0.40-0.85 in the
suite), prerequisites gate it with strength `gating` (0 = no gating), and students differ in their rate
(`rate_n`, lognormal with sd `rate_sd` around the world's own rate). Resources teach their skills by
`resource_weight * quality * fit * rate_scale` (0 switches resources off: only the practice counts).
Unpractised skills are forgotten: theta moves a share `forgetting` of the way to a floor each step.
True mastery of a skill is P(correct) on an item of the skill's typical difficulty at a = 1.7:
m = sigmoid(1.7 (theta - beta_s)); a skill counts as mastered at m >= 0.8.
"""

from __future__ import annotations

import numpy as np

from engine.catalog.schema import CORE, REMEDIAL
from engine.mastery import irt_p_correct
from engine.simulate.learners import KNOWN_THRESHOLD, _Learners
from engine.simulate.world import World

MASTERY_SLOPE = 1.7


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


class ProficiencyLearners(_Learners):
    name = "proficiency"
    student_arrays = ("theta", "rate")
    peak_success = 0.6
    peak_width = 0.8  # logits
    gating = 1.0
    rate_scale = 0.4  # logits per item at the peak, for an average learner with prerequisites in place
    rate_sd = 0.4
    forgetting = 0.001
    resource_weight = 0.5
    floor_below = 2.0

    def __init__(self, world: World, **params: float) -> None:
        super().__init__(world, **params)
        self.beta = self.skill_difficulty()
        rng = np.random.default_rng([world.seed, 404])
        noise = rng.standard_normal(world.known0.shape)
        self.theta = self.beta[None, :] + np.where(world.known0, 1.3 + 0.4 * noise, -1.5 + 0.6 * noise)
        # the world's rate (shared by every family) times this family's own spread of learning rates
        self.rate = world.rate * rng.lognormal(-self.rate_sd**2 / 2, self.rate_sd, world.n_students)

    def mastery(self) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-MASTERY_SLOPE * (self.theta - self.beta[None, :])))

    def known(self) -> np.ndarray:
        return self.mastery() >= KNOWN_THRESHOLD

    def _gate(self, m: np.ndarray) -> np.ndarray:
        """(N, S) prerequisite gate: mean true mastery of direct prerequisites, to the power `gating`."""
        mean = np.where(self.n_prereqs > 0, (m @ self.direct.T) / np.maximum(self.n_prereqs, 1), 1.0)
        return mean**self.gating

    def _peak(self, p: np.ndarray) -> np.ndarray:
        return np.exp(-0.5 * ((_logit(p) - _logit(np.asarray(self.peak_success))) / self.peak_width) ** 2)

    def _resource_step(self, m: np.ndarray, gate: np.ndarray, resources: np.ndarray) -> np.ndarray:
        """d theta (N, K, S) from `resources` (N, K): K candidate resources per student row."""
        cat = self.catalog
        rows = np.arange(m.shape[0])[:, None]
        level = self.level[resources][..., None]  # (N, K, 1)
        weakest = np.where(self.outside[resources], m[:, None, :], 1.0).min(axis=-1)  # (N, K)
        ready = np.minimum(m[rows, cat.resource_skill[resources]], weakest)[..., None]
        g = gate[:, None, :]
        fit = np.select([level == REMEDIAL, level == CORE], [0.6 * (0.5 + 0.5 * g), g],
                        1.4 / (1.0 + np.exp(-10.0 * (ready - 0.75))))
        step = self.resource_weight * self.rate_scale * self.rate[:, None, None] * self.world.quality[resources][..., None] * fit
        return np.where(cat.resource_skills[resources], step, 0.0)

    def gain_tables(self) -> tuple[np.ndarray, np.ndarray]:
        cat, it = self.catalog, self.items
        n = self.theta.shape[0]
        m = self.mastery()
        gate = self._gate(m)
        resources = np.broadcast_to(np.arange(cat.n_resources)[None, :], (n, cat.n_resources))
        d = self._resource_step(m, gate, np.ascontiguousarray(resources))  # (N, R, S)
        m_new = 1.0 / (1.0 + np.exp(-MASTERY_SLOPE * (self.theta[:, None, :] + d - self.beta[None, None, :])))
        res_gain = (m_new - m[:, None, :]).sum(axis=2)
        th = self.theta[:, it.skill]
        p = irt_p_correct(th, it.a[None, :], it.b[None, :], it.c[None, :])
        d_item = self.rate_scale * self.rate[:, None] * self._peak(p) * gate[:, it.skill]
        beta = self.beta[it.skill]
        item_gain = 1.0 / (1.0 + np.exp(-MASTERY_SLOPE * (th + d_item - beta))) - m[:, it.skill]
        return res_gain, item_gain

    def step(self, resources: np.ndarray, items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        it = self.items
        n = resources.size
        rows = np.arange(n)
        m = self.mastery()
        gate = self._gate(m)
        if self.resource_weight > 0:
            self.theta = self.theta + self._resource_step(m, gate, resources[:, None])[:, 0]
        skill = it.skill[items]
        p = irt_p_correct(self.theta[rows, skill], it.a[items], it.b[items], it.c[items])
        correct = (rng.random(n) < p).astype(float)
        self.theta[rows, skill] += self.rate_scale * self.rate * self._peak(p) * gate[rows, skill]
        practiced = self.catalog.resource_skills[resources] if self.resource_weight > 0 else np.zeros_like(self.theta, dtype=bool)
        practiced = practiced.copy()
        practiced[rows, skill] = True
        floor = self.beta[None, :] - self.floor_below
        self.theta = np.where(practiced, self.theta, self.theta - self.forgetting * (self.theta - floor))
        return correct
