"""How fast students forget, measured on held-out students instead of assumed.

The engine discounts P(learned) by R = exp(-dt / (stability_days (1 + evidence)^growth)) (engine.mastery):
forgetting drives the recommender's *review* component and every prediction of a skill practised a while
ago. Its default, 60 days, is a guess; a platform whose students keep what they learn for a year would be
sent back to review skills they know, one whose students forget within a week would not be sent back
enough. `model build` therefore replays its held-out students once per value of STABILITY_DAYS (each
response predicted from that student's earlier responses only, at the answer's time) and serves the value
whose predictions have the smallest log-loss. Only the replay's forgetting changes between the runs: the
item bank and the skill model are the ones fitted on the training students.

Without answer times nothing can be measured, and the engine's default is kept (the build says so).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl

from engine.mastery import MasteryEngine
from engine.modelbuild.predictor import BEYOND_NOISE_Z, replay_choices

# Roughly x3 apart, from a week to ten years (at ten years nothing is forgotten within a school year).
STABILITY_DAYS: tuple[float, ...] = (7.0, 20.0, 60.0, 180.0, 540.0, 3650.0)
# The evidence of forgetting the mastered flag needs, in standard errors of the paired log-loss difference, against the
# served value's BEYOND_NOISE_Z (2): the errors cost differently. Serving forgetting on noise sends students back to
# review what they know; claiming a mastery the student has since lost misleads a teacher, and the no-forgetting default
# is the optimistic side for a claim. One SE: a shorter stability the held-out answers favour by more than their noise
# at about one in six (one-sided), not the bare argmin, which at 30 held-out students can be a week on noise alone.
CLAIM_Z = 1.0


@dataclass(frozen=True)
class ForgettingChoice:
    """The stability served (None: not measurable, the engine's default stays), the log-loss of each value
    tried on the held-out students (empty when not measured), and why."""

    stability_days: float | None
    logloss: dict[float, float]
    reason: str
    # What the mastered flag (a claim) assumes (`MasteryConfig.claim_stability_days`): chosen as the served value is but
    # leaving next-to-no forgetting at CLAIM_Z standard errors instead of two; None when it is the served value
    claim_stability_days: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {"stability_days": self.stability_days, "claim_stability_days": self.claim_stability_days,
                "reason": self.reason, "tried": [{"stability_days": s, "logloss": round(v, 6)} for s, v in self.logloss.items()]}


def has_times(responses: pl.DataFrame) -> bool:
    """True when at least one response carries an answer time."""
    return "timestamp" in responses.columns and responses["timestamp"].null_count() < responses.height


def choose_stability(engine: MasteryEngine, held_out: pl.DataFrame, irt_weight: float,
                     grid: tuple[float, ...] = STABILITY_DAYS) -> ForgettingChoice:
    """The value of `grid` whose sequential predictions of `held_out` (at most GRID_STUDENTS of them; served
    blend `irt_weight`) have the smallest log-loss, provided it beats the longest stability (next to no forgetting,
    what is assumed without evidence) beyond the noise of the held-out sample (`predictor.clearly_smaller`); else
    the longest. Ties go to the longer stability. From the same replays, the stability the mastered flag assumes:
    the same rule at CLAIM_Z standard errors, kept when shorter than the served one."""
    if not has_times(held_out):
        return ForgettingChoice(None, {}, "the log has no answer times: forgetting cannot be observed, the default is kept")
    engines = {days: MasteryEngine(engine.catalog, engine.skill_model, engine.ability_model,
                                   dataclasses.replace(engine.config, stability_days=float(days))) for days in grid}
    chosen, losses = replay_choices(engines, held_out, lambda held: held.blend(irt_weight), max(grid),
                                    (BEYOND_NOISE_Z, CLAIM_Z))
    served, claim = chosen[BEYOND_NOISE_Z], chosen[CLAIM_Z]
    return ForgettingChoice(served, losses, "smallest held-out log-loss over the stabilities tried, if beyond the noise "
                                            f"of the held-out sample against {max(grid):g} days (else {max(grid):g})",
                            claim if claim < served else None)
