"""Synthetic data with known structure for the fairness tests (no demographic input reaches a model).

Every generator returns plain polars tables in the audit input formats, plus a roster.
"""

from __future__ import annotations

import numpy as np
import polars as pl

BANDS = np.array(["low", "mid", "high"])
ADVANCED_RATE = {"low": 0.05, "mid": 0.20, "high": 0.50}


def roster(n_students: int, rng: np.random.Generator, minority_share: float = 0.5) -> pl.DataFrame:
    """Students with `gender` (F/M), `ses` (low/high) and `language` (home/other) drawn independently."""
    return pl.DataFrame({
        "student_id": [f"s{i:05d}" for i in range(n_students)],
        "gender": np.where(rng.random(n_students) < minority_share, "F", "M"),
        "ses": np.where(rng.random(n_students) < 0.4, "low", "high"),
        "language": np.where(rng.random(n_students) < 0.3, "other", "home"),
    })


def predictions(students: pl.DataFrame, rng: np.random.Generator, responses_per_student: int = 20,
                group_shift: float = 0.0, shifted_group: str = "F") -> pl.DataFrame:
    """Responses of a Rasch population; `p` is the true probability, except that the outcome of
    `shifted_group` students gets `group_shift` added on the logit scale (the model does not know it)."""
    n = students.height
    sid = np.repeat(np.arange(n), responses_per_student)
    theta = rng.normal(size=n)
    b = rng.normal(size=sid.size)
    eta = theta[sid] - b
    shifted = (students["gender"].to_numpy() == shifted_group)[sid]
    truth = 1 / (1 + np.exp(-(eta + group_shift * shifted)))
    return pl.DataFrame({"student_id": students["student_id"].to_numpy()[sid],
                         "correct": (rng.random(sid.size) < truth).astype(float),
                         "p": 1 / (1 + np.exp(-eta))})


def served(students: pl.DataFrame, rng: np.random.Generator, lists_per_student: int = 12, list_size: int = 5,
           withhold_from: str | None = None, withhold_factor: float = 0.3) -> pl.DataFrame:
    """Served lists. Each list has a mastery band; advanced items appear at the band's rate, except that
    students of gender `withhold_from` in the mid/high bands get `withhold_factor` times that rate (a
    deliberately biased recommender). Low-band lists hold one intervention with probability 0.3."""
    n = students.height
    n_lists = n * lists_per_student
    sid = np.repeat(np.arange(n), lists_per_student)
    ability = rng.normal(size=n)
    drift = np.tile(np.linspace(0, 1.5, lists_per_student), n)
    band = BANDS[np.digitize(ability[sid] + drift + rng.normal(scale=0.5, size=n_lists), [0.0, 1.2])]
    rate = np.vectorize(ADVANCED_RATE.get)(band).astype(float)
    if withhold_from is not None:
        biased = (students["gender"].to_numpy()[sid] == withhold_from) & (band != "low")
        rate = np.where(biased, rate * withhold_factor, rate)
    rows = n_lists * list_size
    list_idx = np.repeat(np.arange(n_lists), list_size)
    advanced = rng.random(rows) < rate[list_idx]
    remedial = ~advanced & (band[list_idx] == "low") & (rng.random(rows) < 0.6)
    level = np.where(advanced, "advanced", np.where(remedial, "remedial", "core"))
    intervention = (np.tile(np.arange(list_size), n_lists) == list_size - 1) & (band[list_idx] == "low") & (rng.random(rows) < 0.3)
    when = np.datetime64("2024-09-01T00:00:00", "us") + np.arange(lists_per_student) * np.timedelta64(1, "D")
    return pl.DataFrame({
        "student_id": students["student_id"].to_numpy()[sid][list_idx],
        "list_id": [f"L{i}" for i in list_idx],
        "timestamp": when[np.tile(np.arange(lists_per_student), n)][list_idx],
        "rank": np.tile(np.arange(1, list_size + 1), n_lists),
        "level": level,
        "kind": np.where(intervention, "intervention", "practice"),
        "mastery_band": band[list_idx],
    })


def outcomes(students: pl.DataFrame, rng: np.random.Generator, gain: float = 0.1, group_gain: dict[str, float] | None = None) -> pl.DataFrame:
    """Pre/post scores: post = pre + gain (+ a per-gender extra) + noise."""
    n = students.height
    pre = rng.beta(4, 4, size=n)
    extra = np.zeros(n)
    for g, v in (group_gain or {}).items():
        extra[students["gender"].to_numpy() == g] = v
    post = np.clip(pre + gain + extra + rng.normal(scale=0.05, size=n), 0, 1)
    return pl.DataFrame({"student_id": students["student_id"], "pre": pre, "post": post})
