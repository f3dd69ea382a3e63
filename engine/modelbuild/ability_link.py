"""How far a student's general ability says what they already know of a skill, measured on held-out students.

A skill the student has not answered yet starts at the population's prior shifted by the student's standing on the
ability scale (engine.mastery, cold start): logit P(learned) = logit(prior) + `ability_slope` x z, z the ability
estimate in prior-SD units, shrunk while it is uncertain. The engine's 1.5 is an assumption about the students: that
what they know of one skill goes with what they know of the others. Where it does less (skills taught apart, a
population whose gaps are scattered), the shift is noise and a strong student is credited with skills they lack;
where it does more, a strong student is walked through skills they know. `model build` replays its held-out students
once per slope of ABILITY_SLOPES (each answer predicted from the student's earlier answers only, with the forgetting,
item evidence and sharing already chosen) and serves the slope whose skill-model predictions have the smallest
log-loss, provided it beats the engine's default by more than two standard errors of the paired difference, the
answers clustered by student (`predictor.clearly_smaller`); else the default. The skill model's predictions, not the
served blend: the slope moves only P(learned) (which the recommender and the mastered flag read whatever the blend),
and a blend that serves the IRT side alone would not see it. The replays take the first REPLAY_ANSWERS answers of at
most REPLAY_STUDENTS held-out students (a seeded draw): the slope sets where each skill starts, so it shows most in a
student's early answers, and six replays of the build's usual 500 students x all their answers cost a 1,000,000-answer
build 10 s of its 60 (experiments/results/model_build.md). On simulated logs whose students' starting knowledge follows
one preparation the default stays, and with the same knowledge shuffled between students skill by skill (no link
left) the build serves 0 (tests/modelbuild/test_ability_link.py). What real logs choose:
`experiments/results/ability_link.md`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl

from engine.mastery import MasteryConfig, MasteryEngine
from engine.modelbuild.predictor import sample_students, smallest_replay_loss
from engine.modelbuild.sharing import served_replay

ABILITY_SLOPES: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
REPLAY_STUDENTS = 300  # held-out students replayed per slope (a seeded draw)
REPLAY_ANSWERS = 50  # ... each up to this many of their first answers
DEFAULT_SLOPE = MasteryConfig().ability_slope  # what is assumed without evidence


@dataclass(frozen=True)
class AbilityLinkChoice:
    """The `ability_slope` to serve (None: not measured, the engine's default stays), the held-out log-loss of each
    slope tried (empty when not measured), and why."""

    ability_slope: float | None
    logloss: dict[float, float]
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"ability_slope": self.ability_slope, "reason": self.reason,
                "tried": [{"ability_slope": s, "logloss": round(v, 6)} for s, v in self.logloss.items()]}

    def note(self, served: float) -> str:
        """The build's diagnostic line, `served` the slope the set carries."""
        if not self.logloss:
            return f"starting knowledge from the general ability not measured ({self.reason}): slope {served:g}"
        tried = ", ".join(f"{s:g} {v:.4f}" for s, v in self.logloss.items())
        return (f"starting knowledge follows the general ability with slope {served:g}, measured on the held-out students "
                f"(held-out log-loss of the skill model by slope: {tried}; another slope than {DEFAULT_SLOPE:g} only "
                "beyond the noise)")


def choose_ability_slope(engine: MasteryEngine, held_out: pl.DataFrame, stability_days: float | None,
                         item_prior_n: float | None, share_general: bool,
                         grid: tuple[float, ...] = ABILITY_SLOPES) -> AbilityLinkChoice:
    """The slope of `grid` whose sequential skill-model predictions of `held_out`'s early answers (module docstring) have
    the smallest log-loss, if beyond the noise against DEFAULT_SLOPE (module docstring); `engine` is fitted on the other
    students and replayed with the forgetting, item evidence and sharing already chosen."""
    if DEFAULT_SLOPE not in grid:
        grid = (*grid, DEFAULT_SLOPE)
    skills, config = served_replay(engine, stability_days, item_prior_n)
    config = dataclasses.replace(config, share_general=share_general)
    engines = {slope: MasteryEngine(engine.catalog, skills, engine.ability_model,
                                    dataclasses.replace(config, ability_slope=float(slope))) for slope in grid}
    early = sample_students(held_out, REPLAY_STUDENTS).sort("student_id", "seq").group_by(
        "student_id", maintain_order=True).head(REPLAY_ANSWERS)
    chosen, losses = smallest_replay_loss(engines, early, lambda held: held.p_skill, null=DEFAULT_SLOPE)
    return AbilityLinkChoice(float(chosen), {float(k): v for k, v in losses.items()},
                             "smallest held-out log-loss of the skill model over the slopes tried, if beyond the noise "
                             f"of the held-out sample against {DEFAULT_SLOPE:g} (else {DEFAULT_SLOPE:g})")
