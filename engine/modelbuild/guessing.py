"""Whether the log's answers are guessed: the item bank's model (2PL or 3PL), measured on held-out students.

A platform's items may be multiple choice, and its catalog may not say so. A 2PL bank then predicts a weak
student's success near 0 where a quarter of the answers are right, and everything the build measures from those
predictions (the learning law's bands, the mastered flag's ability check) is off: in the outside world with a
guessing floor of 0.25 (`experiments/results/outside_variants.md`) a 2PL bank served 0.114, a 3PL bank 0.119 and
the mastered flags were right 88% and 94% of the time. Where nobody guesses, a 3PL bank only adds noise. With
`--model auto` (the default) `model build`, before its held-out fit, fits a 2PL and a 3PL bank on the same draw of
at most CHECK_STUDENTS training students, replays the same draw of at most GRID_STUDENTS held-out students through
each (the engine's per-skill IRT predictions, which no skill model enters), and serves the 3PL bank only when its
predictions of their answers have a smaller log-loss beyond the sample's noise (`predictor.clearly_smaller`,
clustered by student); else the 2PL, what is assumed without evidence. Everything the build measures afterwards
uses the bank chosen. The draws keep the check's cost flat as the log grows (two bank fits on 1,000 students).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from engine.catalog import Catalog
from engine.mastery import MasteryEngine
from engine.modelbuild.bank import fit_bank, served_ability
from engine.modelbuild.fitting import Fitter
from engine.modelbuild.predictor import BEYOND_NOISE_Z, sample_students, smallest_replay_loss

AUTO = "auto"
NULL_MODEL, GUESSING_MODEL = "2pl", "3pl"
CHECK_STUDENTS = 1000  # training students the two banks of the check are fitted on (a seeded draw)
CHECK_TOL = 1e-3  # the check's EM tolerance: its log-losses differ by far more where answers are guessed


@dataclass(frozen=True)
class GuessingChoice:
    """The bank's model served, the held-out log-loss of each model's predictions (the IRT side), and why."""

    irt_model: str
    logloss: dict[str, float]
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"irt_model": self.irt_model, "reason": self.reason,
                "tried": [{"irt_model": m, "logloss": round(v, 6)} for m, v in self.logloss.items()]}


def fixed(model: str) -> GuessingChoice:
    return GuessingChoice(model, {}, "fixed by the caller (--model)")


def choose_irt_model(catalog: Catalog, train: pl.DataFrame, held_out: pl.DataFrame, bank_options: dict[str, Any],
                     fit: Fitter, seed: int, z: float = BEYOND_NOISE_Z) -> GuessingChoice:
    """3PL when a 3PL bank's IRT predictions of the `held_out` answers beat a 2PL bank's beyond `z` clustered
    standard errors, both fitted on the same draw of `train` (`bank_options`: min_responses, prior_a, prior_b);
    else 2PL (module docstring)."""
    fitted_on = sample_students(train, CHECK_STUDENTS, seed)
    engines = {}
    for model in (NULL_MODEL, GUESSING_MODEL):
        bank = fit_bank(catalog, fitted_on, model, standard_errors="none", fit=fit, tol=CHECK_TOL, **bank_options)
        if bank.model is None:  # no item has enough answers among these students: nothing to compare
            return GuessingChoice(NULL_MODEL, {}, f"no item has {bank_options['min_responses']} answers among the check's "
                                                  "training students: 2PL, as assumed without evidence")
        ability, served = served_ability(bank, catalog)
        engines[model] = MasteryEngine(served, ability_model=ability)  # the IRT side alone is scored
    chosen, losses = smallest_replay_loss(engines, held_out, lambda held: held.p_irt, null=NULL_MODEL, z=z, seed=seed)
    if chosen == GUESSING_MODEL:
        return GuessingChoice(GUESSING_MODEL, losses, f"the 3PL bank's held-out log-loss is below the 2PL's by more than "
                                                      f"{z:g} clustered standard errors: answers are guessed")
    return GuessingChoice(NULL_MODEL, losses, "the 3PL bank predicts the held-out answers no better than the 2PL beyond "
                                              "the noise: 2PL")
