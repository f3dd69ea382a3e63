"""Recommender settings: component weights and the thresholds behind candidates, targeting and selection.

Score of a candidate resource = sum over components of weight * value. Component values:
- gain: expected increase in the number of skills learned (model-based; ~0..0.5 per activity), times, when a
  learning law was built from a log (`engine.recommend.law`), what a step on the paired item teaches relative
  to the log's average step
- targeting: with `learn_difficulty=True` (the default), the learned value of practising the paired item at its
  predicted success (the law's band values, else the online statistics; best band 1, see
  `engine.recommend.learning`); with False, closeness to a fixed `target_success` (0..1)
- readiness: P(all direct prerequisites of the resource's skill are learned) (0..1)
- review: P(learned) lost to forgetting on the resource's skill since its last practice (0..1)
- information: Fisher information of the paired item at the ability estimate, relative to its maximum,
  times the ability uncertainty (posterior SD / prior SD, at most 1) (0..1)
- diversity: minus the overlap with what is already in the list (same skill 1, same kind 0.5) (-1.5..0)
- exploration: a Thompson draw of the resource's observed effectiveness (mean residual of the follow-up
  answer against its prediction; ~-0.3..0.3)

`blocked_items` (e.g. items a fairness audit flagged for C-level DIF) are never chosen as the next item;
`blocked_resources` are never recommended (on top of any teacher's blocked list).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Mapping

from engine.errors import ConfigError

COMPONENTS: tuple[str, ...] = ("gain", "targeting", "readiness", "review", "information", "diversity", "exploration")

DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType({
    "gain": 4.0,
    "targeting": 0.3,
    "readiness": 0.3,
    "review": 1.0,
    "information": 0.2,
    "diversity": 0.3,
    "exploration": 1.0,
})

# Expected-gain multiplier per resource level (remedial, core, advanced); core and advanced also scale
# with prerequisite readiness, and advanced needs `advanced_threshold` on its own skill. Advanced work is
# not assumed to teach more per step than core work (it was 1.5: with the room summed over a project's
# skills it sent about 30% of all steps to projects on skills the student already held; docs/engine.md).
# Equity does not rest on it: a ready student is offered advanced work in the last slot of any list. A set built from a
# log that records the resource behind each answer scales the remedial value by the log's measured remedial-against-
# core contrast (`DifficultyProgress.remedial_ratio`, engine.recommend.resource_value.LevelContrast).
DEFAULT_LEVEL_EFFICACY: tuple[float, float, float] = (0.6, 1.0, 1.0)


@dataclass(frozen=True)
class RecommenderConfig:
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    target_success: float = 0.75
    targeting_width: float = 0.15
    ready_threshold: float = 0.65
    advanced_threshold: float = 0.8
    review_threshold: float = 0.1
    probe_sd: float = 0.5
    probe_ready_threshold: float = 0.5
    level_efficacy: tuple[float, float, float] = DEFAULT_LEVEL_EFFICACY
    not_ready_advanced_efficacy: float = 0.1
    randomesque: int = 5
    temperature: float = 0.05
    propensity_draws: int = 32
    ensure_advanced_offer: bool = True
    # Places after the first drawn among the skills the student is ready for (the fringe, and skills whose
    # prerequisites each have P(learned) or success on their typical item at least probe_ready_threshold), the ones
    # they became ready for last first, one skill
    # each (engine.recommend.ready): a student who becomes ready for a skill sees it in the next lists, whatever
    # the first place teaches best. 0 switches it off; the first and the last place (kept for advanced work)
    # are never used for it.
    ready_skill_slots: int = 3
    # ... the skills whose turn it is first: each skill takes its turn once every `ready_rotation` answers
    # (engine.recommend.ready.rotation_due), so every ready skill is offered within that many lists; 0: no turns.
    ready_rotation: int = 5
    learn_difficulty: bool = True
    # Share of the per-skill ability's view of mastery read into P(learned) on practised skills
    # (`MasteryEngine.p_with_ability`; the room left to learn, the fringe and the ready places read the blend): for
    # learners whose proficiency keeps rising after a skill model calls the skill learned. It costs learners who
    # either know a skill or not, and answers cannot tell the two apart, so it is the platform's call (`model build
    # --ability-share`); 0, the default: the skill model alone (docs/engine.md, "Two views of mastery").
    ability_share: float = 0.0
    blocked_items: tuple[str, ...] = ()
    blocked_resources: tuple[str, ...] = ()
    version: str = "equilearn-recommender/1"

    def __post_init__(self) -> None:
        for name in ("blocked_items", "blocked_resources"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(x, str) for x in value):
                raise ConfigError(f"{name} must be a list of ids, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        object.__setattr__(self, "level_efficacy", tuple(float(x) for x in self.level_efficacy))
        unknown = sorted(set(self.weights) - set(COMPONENTS))
        if unknown:
            raise ConfigError(f"unknown score component(s) {', '.join(unknown)}; components: {', '.join(COMPONENTS)}")
        merged = {**DEFAULT_WEIGHTS, **self.weights}
        if any(w < 0 for w in merged.values()):
            raise ConfigError("component weights must be >= 0 (set a weight to 0 to switch a component off)")
        object.__setattr__(self, "weights", MappingProxyType(merged))
        for name in ("target_success", "ready_threshold", "advanced_threshold", "probe_ready_threshold"):
            if not 0 < getattr(self, name) < 1:
                raise ConfigError(f"{name} must be in (0, 1), got {getattr(self, name)}")
        if not 0 <= self.ability_share <= 1:
            raise ConfigError(f"ability_share (model build --ability-share) must be in [0, 1] (0: the skill model alone), "
                              f"got {self.ability_share}")
        if not self.targeting_width > 0 or not self.temperature > 0 or self.probe_sd < 0:
            raise ConfigError("targeting_width and temperature must be > 0")
        if self.randomesque < 1 or self.propensity_draws < 1:
            raise ConfigError("randomesque and propensity_draws must be >= 1")
        if not isinstance(self.ready_skill_slots, int) or self.ready_skill_slots < 0:
            raise ConfigError(f"ready_skill_slots must be an integer >= 0, got {self.ready_skill_slots!r}")
        if not isinstance(self.ready_rotation, int) or isinstance(self.ready_rotation, bool) or self.ready_rotation < 0:
            raise ConfigError(f"ready_rotation must be an integer >= 0 (answers per turn; 0: no turns), "
                              f"got {self.ready_rotation!r}")
        if len(self.level_efficacy) != 3 or any(e < 0 for e in self.level_efficacy):
            raise ConfigError("level_efficacy needs three non-negative values (remedial, core, advanced)")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings; `RecommenderConfig.from_dict` (or `RecommenderConfig(**d)`) reads them back."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["weights"] = dict(self.weights)
        for name in ("level_efficacy", "blocked_items", "blocked_resources"):
            out[name] = list(out[name])
        return out

    @classmethod
    def from_dict(cls, payload: dict[str, Any] | None) -> RecommenderConfig:
        """Settings from a dict (unknown keys are an error naming them); None gives the defaults."""
        payload = dict(payload or {})
        unknown = sorted(set(payload) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"unknown recommender setting(s) {', '.join(unknown)}; known: {', '.join(f.name for f in fields(cls))}")
        return cls(**payload)
