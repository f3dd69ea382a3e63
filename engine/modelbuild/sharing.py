"""Whether a student's practised skills should follow the general ability, measured on held-out students.

`MasteryConfig.share_general` (engine.mastery) lets every practised skill follow the general part of each
answer: skill ability = general + the skill's own deviation, so an answer on one skill says something about the
others. Whether it helps depends on the students: where what a student knows of one skill tells little about the
next, the propagated moves are noise. `model build` replays its held-out students with it off and on (each
response predicted from the student's earlier answers only, the served blend, the forgetting and item evidence
already chosen) and serves the setting with the smaller log-loss (an exact tie: on). Off is the engine's
default (no log to measure it on). On the random-practice logs of the suite's ten settings and of the outside
check's two worlds the per-skill predictions were better with it in all twelve (experiments/results/general_share.md).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import polars as pl

from engine.mastery import MasteryConfig, MasteryEngine
from engine.mastery.adapters import bkt_skills
from engine.modelbuild.predictor import smallest_replay_loss


@dataclass(frozen=True)
class SharingChoice:
    """`share_general` to serve, the held-out log-loss with it off and on (empty when not measured), and why."""

    share_general: bool
    logloss: dict[bool, float]
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"share_general": self.share_general, "reason": self.reason,
                "tried": [{"share_general": on, "logloss": round(v, 6)} for on, v in self.logloss.items()]}


def served_replay(engine: MasteryEngine, stability_days: float | None,
                  item_prior_n: float | None) -> tuple[Any, MasteryConfig]:
    """(skill model, config) of the held-out `engine` as it would be served with the forgetting and item evidence the
    build chose already: what a later held-out choice (sharing, `ability_link`) replays, varying one setting."""
    config = engine.config if stability_days is None else dataclasses.replace(engine.config, stability_days=stability_days)
    payload = getattr(engine.skill_model, "payload", None)
    skills = engine.skill_model
    if isinstance(payload, dict) and payload.get("item_guess_slip"):
        skills = bkt_skills(payload, engine.catalog, None if item_prior_n is None or math.isinf(item_prior_n) else item_prior_n)
    return skills, config


def choose_sharing(engine: MasteryEngine, held_out: pl.DataFrame, irt_weight: float,
                   stability_days: float | None, item_prior_n: float | None) -> SharingChoice:
    """Off or on, whichever predicts `held_out` (at most GRID_STUDENTS of them) with the smaller log-loss of the
    served blend; `engine` is fitted on the other students and served with the given forgetting and item evidence."""
    skills, config = served_replay(engine, stability_days, item_prior_n)
    engines = {float(on): MasteryEngine(engine.catalog, skills, engine.ability_model,
                                        dataclasses.replace(config, share_general=on)) for on in (False, True)}
    chosen, losses = smallest_replay_loss(engines, held_out, lambda held: held.blend(irt_weight))
    return SharingChoice(bool(chosen), {bool(k): v for k, v in losses.items()},
                         "smaller held-out log-loss of the served blend, off against on")
