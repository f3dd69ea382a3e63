"""ZPDES (Clement, Roy, Oudeyer & Lopes 2015, "Multi-Armed Bandits for Intelligent Tutoring Systems",
JEDM 7(2)): a learning-progress bandit restricted to a Zone of Proximal Development that grows with success.

Activities are (skill, difficulty level) pairs: each skill's items are split into `levels` bins by their
difficulty b (rank-based, easiest first). Every student has their own bandit state; everything is a numpy
array over students (N) x activities (A = S * levels), with no Python loop over students.

One step for each student, on the activity a it was given:

- the answer (success or failure, nothing else) is appended to a's history;
- learning progress r = max(0, mean of the newest half - mean of the older half) of a's last `window` (d)
  answers (a shorter window of the available answers while fewer than d exist; no update before the third
  answer), as the kidlearn reference code computes it: the signed difference, clipped at zero;
- quality w_a <- beta * w_a + eta * r;
- ZPD expansion: when a's success rate over its last d/2 answers (at least two) exceeds `promote` (lambda_a),
  the next harder level of the same skill enters the ZPD and the skill counts as passed; every skill whose
  prerequisites (the catalog's graph) are all passed then enters at its easiest level. A newly opened
  activity starts at the smallest quality in the student's ZPD;
- ZPD contraction: among active activities with at least d answers, the one with the highest success rate
  over its last d answers leaves the ZPD for good when that rate exceeds `deactivate` (lambda_d), unless it
  is the only activity left.

Choice: within the ZPD, activity a is drawn with probability proportional to w_a + sum(w) / `exploration`
(kidlearn's sampler; it is the paper's mixture (1 - gamma) w_a / sum(w) + gamma / |ZPD| with
gamma = |ZPD| / (|ZPD| + exploration)). The ZPD starts with the entry activities: the root skills (no
prerequisites) at their easiest level, quality `initial_quality`.

Defaults are the values of kidlearn's configuration for the money-decomposition experiment
(`params_files/zpdes_xp.json`, ZpdesSsb: filter1 = beta = 0.2, filter2 = eta = 0.8, uniformval = 0.05,
stepUpdate = d = 6, upZPDval = 0.5, deactZPDval = 0.6; sampler exploration coefficient 10).
The chosen activity is served as the skill's core practice set with a random item of that level.
"""

from __future__ import annotations

import numpy as np

from engine.catalog import Catalog
from engine.catalog.schema import CORE
from engine.errors import ConfigError
from engine.mastery import MasteryBatch, MasteryEngine


def difficulty_levels(catalog: Catalog, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """(A, K) item indices of each activity a = skill * levels + level (padded with -1) and (A,) counts.

    Each skill's items are ranked by difficulty b (ties in catalog order) and cut into `levels` bins of
    near-equal size, easiest first; a skill with fewer items than levels leaves its top levels empty.
    """
    table = catalog.items_by_skill
    counts = (table >= 0).sum(axis=1)
    width = max(int(counts.max(initial=0)), 1)
    items = np.full((catalog.n_skills * levels, width), -1, dtype=np.int64)
    n_items = np.zeros(catalog.n_skills * levels, dtype=np.int64)
    for s in range(catalog.n_skills):  # a handful of skills, once per policy
        own = table[s, : counts[s]]
        ranked = own[np.argsort(catalog.item_b[own], kind="stable")]
        level = np.arange(ranked.size) * levels // max(ranked.size, 1)
        for lv in range(levels):
            chosen = ranked[level == lv]
            items[s * levels + lv, : chosen.size] = chosen
            n_items[s * levels + lv] = chosen.size
    return items, n_items


class ZPDESPolicy:
    """ZPDES over (skill, difficulty level) activities; see the module docstring for the algorithm."""

    name = "zpdes"

    def __init__(self, engine: MasteryEngine, levels: int = 3, window: int = 6, beta: float = 0.2, eta: float = 0.8,
                 initial_quality: float = 0.05, promote: float = 0.5, deactivate: float = 0.6,
                 exploration: float = 10.0) -> None:
        from engine.simulate.policies import default_resources  # policies.py imports this module

        if levels < 1:
            raise ConfigError(f"ZPDES needs at least one difficulty level, got {levels}")
        if window < 2:
            raise ConfigError(f"ZPDES window must be >= 2 answers, got {window}")
        if not (0.0 <= beta <= 1.0 and eta >= 0.0 and initial_quality > 0.0 and exploration > 0.0):
            raise ConfigError("ZPDES needs 0 <= beta <= 1, eta >= 0, initial_quality > 0 and exploration > 0")
        self.engine = engine
        self.catalog = cat = engine.catalog
        self.levels, self.window, self.beta, self.eta = levels, window, beta, eta
        self.initial_quality, self.promote, self.deactivate, self.exploration = initial_quality, promote, deactivate, exploration
        self.activity_items, self.activity_count = difficulty_levels(cat, levels)
        if not self.activity_count.any():
            raise ConfigError("ZPDES needs a catalog with items")
        n_act = self.activity_count.size
        self.activity_skill = np.arange(n_act) // levels
        self.activity_level = np.arange(n_act) % levels
        exists = self.activity_count > 0
        # the next harder level of the same skill that has items (-1 at the top)
        self.next_level = np.full(n_act, -1, dtype=np.int64)
        for a in range(n_act - 1, -1, -1):
            if self.activity_level[a] < levels - 1:
                b = a + 1
                self.next_level[a] = b if exists[b] else self.next_level[b]
        # each skill's easiest activity with items (-1 for skills without items)
        grid = exists.reshape(cat.n_skills, levels)
        self.entry = np.where(grid.any(axis=1), np.arange(cat.n_skills) * levels + grid.argmax(axis=1), -1)
        self.resource_of_skill = default_resources(cat, CORE)
        self.prereqs = cat.graph.direct.astype(np.int64)  # (S, S): [s, p] p is a direct prerequisite of s
        self.n_students = 0
        self.last: np.ndarray | None = None

    # -- state ------------------------------------------------------------------------------------------
    def reset(self, n_students: int) -> None:
        """Fresh bandit state for `n_students`: the ZPD holds the entry activities only."""
        n, n_act, n_skills = n_students, self.activity_count.size, self.catalog.n_skills
        self.n_students = n
        self.quality = np.zeros((n, n_act))
        self.active = np.zeros((n, n_act), dtype=bool)
        self.retired = np.zeros((n, n_act), dtype=bool)
        self.history = np.zeros((n, n_act, self.window))  # last `window` answers per activity, oldest first
        self.count = np.zeros((n, n_act), dtype=np.int64)
        self.opened = np.zeros((n, n_skills), dtype=bool)  # the skill's entry activity has entered the ZPD
        self.passed = np.zeros((n, n_skills), dtype=bool)
        self.passed[:, self.entry < 0] = True  # skills without items cannot be practised: they block nothing
        self.opened[:, self.entry < 0] = True
        self._open_skills(np.full(n, self.initial_quality))

    def zpd(self) -> np.ndarray:
        """(N, S, levels) bool: the activities currently in each student's ZPD."""
        return self.active.reshape(self.n_students, self.catalog.n_skills, self.levels).copy()

    def activity(self, skill: int, level: int) -> int:
        return skill * self.levels + level

    def _open_skills(self, start: np.ndarray) -> None:
        """Put into the ZPD the entry activity of every unopened skill whose prerequisites are all passed."""
        missing = (~self.passed).astype(np.int64) @ self.prereqs.T  # (N, S) prerequisites not yet passed
        ready = ~self.opened & (missing == 0)
        if not ready.any():
            return
        rows, skills = np.nonzero(ready)
        acts = self.entry[skills]
        self.opened[rows, skills] = True
        self.active[rows, acts] = True
        self.quality[rows, acts] = start[rows]

    def _smallest_active_quality(self) -> np.ndarray:
        q = np.where(self.active, self.quality, np.inf).min(axis=1)
        return np.where(np.isfinite(q), q, self.initial_quality)

    # -- policy -----------------------------------------------------------------------------------------
    def probabilities(self) -> np.ndarray:
        """(N, A) choice probabilities: proportional to w_a + sum(w) / exploration within the ZPD."""
        w = np.where(self.active, self.quality, 0.0)
        total = w.sum(axis=1, keepdims=True)
        weight = np.where(self.active, w + total / self.exploration, 0.0)
        weight = np.where(total > 0, weight, self.active.astype(float))  # all qualities zero: uniform in the ZPD
        return weight / weight.sum(axis=1, keepdims=True)

    def choose(self, batch: MasteryBatch, now: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        n = len(batch)
        if n != self.n_students:
            self.reset(n)
        cum = np.cumsum(self.probabilities(), axis=1)
        u = rng.random(n) * cum[:, -1]
        acts = np.minimum((cum <= u[:, None]).sum(axis=1), cum.shape[1] - 1)
        slot = np.floor(rng.random(n) * self.activity_count[acts]).astype(np.int64)
        items = self.activity_items[acts, slot]
        self.last = acts
        return self.resource_of_skill[self.activity_skill[acts]], items

    def observe(self, resources: np.ndarray, items: np.ndarray, correct: np.ndarray, predicted: np.ndarray) -> None:
        if self.last is None:
            raise ConfigError("ZPDES observe() before choose()")
        self.update(self.last, correct)

    def update(self, activities: np.ndarray, correct: np.ndarray) -> None:
        """One answer per student on the given activities (N,): history, quality, then the ZPD."""
        rows = np.arange(activities.size)
        acts = np.asarray(activities, dtype=np.int64)
        c = np.asarray(correct, dtype=float)
        h = np.concatenate([self.history[rows, acts, 1:], c[:, None]], axis=1)  # (N, d), oldest first
        self.history[rows, acts] = h
        self.count[rows, acts] += 1
        m = self.count[rows, acts]
        d = self.window
        age = np.arange(d - 1, -1, -1)[None, :]  # 0 = newest answer

        # learning progress over the last min(d, m) answers: newest half vs older half
        span = np.minimum(m, d)[:, None]
        half = span // 2
        recent, older = age < half, (age >= half) & (age < span)
        progress = (h * recent).sum(axis=1) / np.maximum(recent.sum(axis=1), 1) - \
            (h * older).sum(axis=1) / np.maximum(older.sum(axis=1), 1)
        w = self.quality[rows, acts]
        reward = np.where(m > 2, np.maximum(progress, 0.0), w)  # no update before the third answer
        self.quality[rows, acts] = self.beta * w + self.eta * reward

        # expansion: success over the last d/2 answers (at least two) above lambda_a
        short = np.minimum(m, d // 2)[:, None]
        rate = (h * (age < short)).sum(axis=1) / np.maximum(short[:, 0], 1)
        up = (m >= 2) & (rate > self.promote)
        if up.any():
            start = self._smallest_active_quality()
            nxt = self.next_level[acts]
            harder = up & (nxt >= 0)
            harder &= ~self.active[rows, np.maximum(nxt, 0)] & ~self.retired[rows, np.maximum(nxt, 0)]
            self.active[rows[harder], nxt[harder]] = True
            self.quality[rows[harder], nxt[harder]] = start[harder]
            self.passed[rows[up], self.activity_skill[acts[up]]] = True
            self._open_skills(start)

        # contraction: the best-mastered activity (>= d answers) above lambda_d leaves, never the last one
        full = self.active & (self.count >= d)
        score = np.where(full, self.history.mean(axis=2), -np.inf)
        best = score.argmax(axis=1)
        out = (score[rows, best] > self.deactivate) & (self.active.sum(axis=1) >= 2)
        self.active[rows[out], best[out]] = False
        self.retired[rows[out], best[out]] = True
