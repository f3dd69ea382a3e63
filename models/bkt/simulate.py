"""Sample response logs from a known BKT, for parameter-recovery tests and benchmarks.

The sampler draws the hidden mastery chain forward (prior, then learn/forget transitions) and each answer
from guess/slip; it shares no code with the EM fit, so a fit that recovers the parameters is checked
against an independent truth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl


def simulate_bkt(
    skills: Sequence[dict[str, float]],
    n_students: int,
    n_steps: int,
    seed: int = 0,
    item_guess: Sequence[Sequence[float]] | None = None,
    student_prior: np.ndarray | None = None,
) -> pl.DataFrame:
    """Canonical responses: every student answers `n_steps` items of each skill, skills one after another.

    skills: per skill a dict with prior, learn, guess, slip and optionally forget.
    item_guess: per skill, a list of per-item guess values (KT-IDEM); items are drawn uniformly per step,
        named f"{skill}-i{j}". Without it each skill has one item named after the skill.
    student_prior: optional (n_students, n_skills) initial mastery probabilities overriding `prior`.
    """
    rng = np.random.default_rng(seed)
    frames = []
    for k, par in enumerate(skills):
        p0 = np.full(n_students, par["prior"]) if student_prior is None else student_prior[:, k]
        learned = rng.random(n_students) < p0
        correct = np.empty((n_students, n_steps))
        items = np.zeros((n_students, n_steps), dtype=np.int64)
        for t in range(n_steps):  # vectorized over students
            if item_guess is not None:
                items[:, t] = rng.integers(0, len(item_guess[k]), n_students)
                guess = np.asarray(item_guess[k])[items[:, t]]
            else:
                guess = par["guess"]
            p_correct = np.where(learned, 1.0 - par["slip"], guess)
            correct[:, t] = rng.random(n_students) < p_correct
            u = rng.random(n_students)
            learned = np.where(learned, u >= par.get("forget", 0.0), u < par["learn"])
        item_names = np.array([f"s{k}-i{j}" for j in range(items.max() + 1)]) if item_guess is not None else np.array([f"s{k}"])
        frames.append(
            pl.DataFrame({
                "student_id": np.repeat([f"u{i}" for i in range(n_students)], n_steps),
                "item_id": item_names[items.ravel()],
                "skill_ids": [[f"s{k}"]] * (n_students * n_steps),
                "correct": correct.ravel(),
                "seq": (np.tile(np.arange(n_steps), n_students) + k * n_steps).astype(np.int64),
            }, schema={"student_id": pl.Utf8, "item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8), "correct": pl.Float64, "seq": pl.Int64})
        )
    return pl.concat(frames).sort(["student_id", "seq"])
