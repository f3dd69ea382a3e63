"""Simulated responses with known item and ability parameters, for recovery tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Simulated:
    """Long responses (`student`, `item`, `correct`, each (R,)) and the truth (`theta` (S,), `a`, `b`, `c` (I,))."""

    student: np.ndarray
    item: np.ndarray
    correct: np.ndarray
    theta: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray


def simulate(
    n_students: int, n_items: int, items_per_student: int | None = None, model: str = "2pl", random_state: int = 0,
) -> Simulated:
    """theta ~ N(0, 1); a ~ lognormal(0, 0.3) (1 for rasch); b ~ N(0, 1); c ~ U(0.1, 0.3) for the 3PL.

    Each student answers `items_per_student` distinct random items (all items when None).
    """
    rng = np.random.default_rng(random_state)
    theta = rng.standard_normal(n_students)
    a = np.ones(n_items) if model == "rasch" else rng.lognormal(0.0, 0.3, n_items)
    b = rng.standard_normal(n_items)
    c = rng.uniform(0.1, 0.3, n_items) if model == "3pl" else np.zeros(n_items)
    k = n_items if items_per_student is None else int(items_per_student)
    if k > n_items:
        raise ValueError(f"items_per_student ({k}) exceeds n_items ({n_items})")
    if k == n_items:
        item = np.tile(np.arange(n_items), n_students)
    else:  # k distinct items per student: the first k of a random permutation (argsort of uniforms)
        item = np.argpartition(rng.random((n_students, n_items)), k - 1, axis=1)[:, :k].ravel()
    student = np.repeat(np.arange(n_students), k)
    p = c[item] + (1.0 - c[item]) / (1.0 + np.exp(-a[item] * (theta[student] - b[item])))
    correct = (rng.random(len(p)) < p).astype(np.int8)
    return Simulated(student, item, correct, theta, a, b, c)
