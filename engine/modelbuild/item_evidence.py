"""How much each item's own guess and slip should count, measured on held-out students.

The build fits BKT with a guess and slip per (skill, item) pair (KT-IDEM). An item's estimate from a
few dozen answers is noisy; served raw, it moves P(learned) on noise, served not at all, every miss counts
as much as the skill's slip (`engine.mastery.item_evidence` says why that matters). The engine shrinks
each pair toward its skill's value by `prior_n` answers. `model build` replays its held-out students once
per value of PRIOR_N, predicting each response from the skill model's P(learned) before the answer, and
serves the value with the smallest log-loss. Only the weighing of evidence changes between the runs: the
item bank, the skill model and the forgetting are the ones chosen on the training students.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from engine.mastery import MasteryEngine
from engine.mastery.adapters import bkt_skills
from engine.modelbuild.predictor import smallest_replay_loss

# From raw item estimates (1 answer of weight for the skill's value) to skill parameters only (inf), x4 apart.
PRIOR_N: tuple[float, ...] = (1.0, 4.0, 16.0, 64.0, 256.0, math.inf)


@dataclass(frozen=True)
class ItemEvidenceChoice:
    """The prior_n served (None: skill parameters only), the log-loss of each value tried, and why."""

    prior_n: float | None
    logloss: dict[float, float]
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"prior_n": self.prior_n, "reason": self.reason,
                "tried": [{"prior_n": None if math.isinf(n) else n, "logloss": round(v, 6)} for n, v in self.logloss.items()]}


def choose_prior_n(engine: MasteryEngine, held_out: pl.DataFrame, grid: tuple[float, ...] = PRIOR_N) -> ItemEvidenceChoice:
    """The value of `grid` whose replay of `held_out` (at most GRID_STUDENTS of them) gives the skill
    model's predictions the smallest log-loss (`engine` fitted on the other students, its skill model a
    `models.bkt` KT-IDEM model), provided it beats skill parameters only (inf, what is assumed without evidence)
    beyond the held-out sample's noise (`predictor.clearly_smaller`); else inf. Ties go to the larger value (more
    weight on the skill)."""
    payload = getattr(engine.skill_model, "payload", None)
    if not isinstance(payload, dict) or not payload.get("item_guess_slip"):
        return ItemEvidenceChoice(None, {}, "the skill model has no item parameters: answers are weighed by skill")
    engines = {prior_n: MasteryEngine(engine.catalog, bkt_skills(payload, engine.catalog, None if math.isinf(prior_n) else prior_n),
                                      engine.ability_model, engine.config) for prior_n in grid}
    chosen, losses = smallest_replay_loss(engines, held_out, lambda held: held.p_skill, null=math.inf)
    return ItemEvidenceChoice(None if math.isinf(chosen) else chosen, losses,
                              "smallest held-out log-loss of the skill model's predictions over the values tried, if "
                              "beyond the noise of the held-out sample against skill parameters only (else those)")
