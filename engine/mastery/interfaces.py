"""What the mastery engine needs from its models: two small protocols, vectorized over students.

- `SkillModel`: per-skill P(learned) (BKT or any model with the same contract).
- `AbilityModel`: one IRT ability per student, summarized by its posterior mean (EAP) and SD.

Any fitted model (models/bkt, models/irt) plugs in through an adapter that meets these protocols;
until one is given, the engine uses `BKTSkillModel` (a parameter table) and `GridEAP` (N(0, 1) prior).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class SkillModel(Protocol):
    """Per-skill mastery probabilities for n students x S skills."""

    skill_ids: tuple[str, ...]
    version: str

    def initial(self, n: int) -> np.ndarray:
        """(n, S) P(learned) before any response: the population prior (cold start)."""
        ...

    def update(self, p: np.ndarray, practiced: np.ndarray, correct: np.ndarray, items: np.ndarray | None = None,
               learn: np.ndarray | None = None) -> np.ndarray:
        """(n, S) P(learned) after one response per row.

        `p` (n, S) is P(learned) just before the response, `practiced` (n, S) bool marks the skills of
        the answered item, `correct` (n,) is the score in [0, 1], `items` (n,) the catalog indices of the
        items answered (a model may weigh each answer by its item; None: by skill only), `learn` (n, S) the
        probability that this step teaches each skill when the engine knows it per student (None: the model's
        own rates). Unpracticed skills are returned as given.
        """
        ...

    def p_correct_by_skill(self, p: np.ndarray) -> np.ndarray:
        """(n, S) P(correct) on an item of each skill given P(learned) `p` (n, S)."""
        ...

    def p_correct_on_items(self, p: np.ndarray, items: np.ndarray | slice, weights: np.ndarray) -> np.ndarray:
        """(n, m) P(correct) on each of `items` (catalog indices); `weights` (S, I): each catalog item's
        weight on each skill (the engine's: the mean over the item's skills), the same array every call."""
        ...

    def p_correct_on_pairs(self, p: np.ndarray, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """(n,) P(correct) of row r on `items[r]`; `weights` as in `p_correct_on_items`."""
        ...

    def learn_rates(self) -> np.ndarray:
        """(S,) P(an unlearned skill becomes learned) per practice opportunity: the recommender's gain model."""
        ...


@runtime_checkable
class AbilityModel(Protocol):
    """A unidimensional IRT ability with a Gaussian summary (EAP mean, posterior SD) per student."""

    version: str
    prior_mean: float
    prior_sd: float

    def update(self, mean: np.ndarray, sd: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray,
               correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior (mean, sd), each (n,), after one response per row to an item with parameters a, b, c (n,)."""
        ...

    def p_correct(self, theta: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        """P(correct) = c + (1 - c) / (1 + exp(-a (theta - b))), broadcasting the arguments."""
        ...

    def information(self, theta: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Fisher information of the item at theta, broadcasting the arguments."""
        ...
