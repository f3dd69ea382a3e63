"""A small synthetic response log for `make run` and smoke tests (no external data needed).

Students with a normal ability answer items of several skills; each item follows a 2PL curve and
ability grows a little with every attempt (so sequential models have something to learn).
Deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from engine.data.dataset import Dataset, canonical_responses


def demo_dataset(n_students: int = 300, n_skills: int = 6, items_per_skill: int = 8, attempts: int = 30, seed: int = 7) -> Dataset:
    rng = np.random.default_rng(seed)
    n_items = n_skills * items_per_skill
    item_skill = np.repeat(np.arange(n_skills), items_per_skill)
    a = rng.lognormal(0.0, 0.25, n_items)
    b = rng.normal(0.0, 1.0, n_items) + 0.3 * item_skill - 0.75
    theta0 = rng.normal(0.0, 1.0, n_students)
    learn_rate = rng.uniform(0.01, 0.05, n_students)
    students = np.repeat(np.arange(n_students), attempts)
    step = np.tile(np.arange(attempts), n_students)
    items = rng.integers(0, n_items, students.size)
    theta = theta0[students] + learn_rate[students] * step
    p = 1.0 / (1.0 + np.exp(-a[items] * (theta - b[items])))
    correct = (rng.random(students.size) < p).astype(float)
    frame = pl.DataFrame(
        {
            "student_id": [f"s{s:04d}" for s in students],
            "item_id": [f"i{i:03d}" for i in items],
            "skill_ids": [[f"k{item_skill[i]}"] for i in items],
            "correct": correct,
            "seq": step.astype(np.int64),
        }
    )
    return Dataset(name="demo", train=canonical_responses(frame, source="demo"))
