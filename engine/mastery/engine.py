"""`MasteryEngine`: cold-start, online update, forgetting and predictions over a catalog.

The one engine the service and the simulator share. Everything is vectorized over students:
`update_batch` takes one response per student row; `update` is the single-student wrapper.

Forgetting is a time-based retention on top of the skill model: a skill last practiced `dt` days ago
keeps P(learned) * R with R = exp(-dt / (stability_days * (1 + evidence) ** stability_growth)) (more
practice, slower forgetting); a skill never practised here ages from the student's first response.
Unknown times (NaN) mean no decay. The reported mastered flag (`claimed`) may assume faster forgetting than the
recommender (`claim_stability_days`). The predicted P(correct) of an item
blends the IRT prediction from the ability EAP with the skill model's prediction in logit space.
With `ready_learn` (a model set's learn rates per ready step) the skill model's transition teaches each step in
proportion to P(the practised skill's direct prerequisites learned), as the recommender's gain assumes.

Per skill the engine also keeps an ability on the items' IRT scale (`skill_theta`, `skill_var`): a
skill first practised starts at the general ability with variance theta_sd^2 + skill_spread^2 (skills
differ from the student's general level), then follows only its own answers by a Kalman step on the
3PL likelihood (Laplace approximation), with variance `skill_drift` added at every answer so that it can
follow a student who learns. Item predictions use it (probit-corrected for its uncertainty), so a
prediction knows both how hard the item is and how far this student is on this skill.

A student's skills can share the general ability (`share_general`; off by default, `model build` switches it on
when it predicts the held-out students better, engine.modelbuild.sharing): skill ability = general + a skill's own
deviation (variance skill_spread^2). An answer that moves one skill's estimate by d tells about the general
part too: in that model the general ability moves by theta_sd^2 / (theta_sd^2 + skill_spread^2) x d, and every
other practised skill follows that move in proportion to the part of its estimate still resting on the general
prior, its variance over theta_sd^2 + skill_spread^2 (all of it for a skill met once, little for one answered
often). Without it a practised skill kept the general level it had when first met, however much the student's
answers elsewhere showed since. The move is the skill's own (its prediction already carries the learning it
expects), not the general EAP's, so learning on one skill is not passed on as if it were standing on all.
On the held-out students of the suite's random-practice logs and the outside check's, the per-skill predictions'
log-loss fell in all twelve (experiments/results/general_share.md).

A skill with no evidence yet starts from the population prior shifted by the student's standing on
the ability scale: logit P(learned) = logit(prior) + ability_slope * z, where z is the ability EAP in
prior-SD units, shrunk toward 0 while the ability is uncertain (an assumption: skills are correlated
through one general ability; slope 0 switches it off). A strong student is thus not sent through every
starting skill to prove what the first answers already showed.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy.special import ndtr

from engine.catalog import Catalog
from engine.errors import ConfigError, DataError, DataValidationError, NotFoundError, Problem
from engine.jsonfile import read_json
from engine.mastery.ability import GridEAP
from engine.mastery.bkt import BKTParams, BKTSkillModel
from engine.mastery.graph_bounds import GraphBounds
from engine.mastery.interfaces import AbilityModel, SkillModel
from engine.mastery.state import MasteryBatch, MasteryState

STATES_FORMAT = "equilearn-mastery-states"
STATES_FORMAT_VERSION = 1
COMPONENTS_FORMAT = "equilearn-mastery-components"
COMPONENTS_FORMAT_VERSION = 1
SECONDS_PER_DAY = 86_400.0
PACE_PRIOR_SD = 0.5  # how far a student's learning pace is believed to stray from the population's before evidence
PACE_MIN, PACE_MAX = 0.2, 3.0


@dataclass(frozen=True)
class MasteryConfig:
    """Engine settings: mastery threshold, forgetting (days) and the IRT weight of predictions."""

    mastery_threshold: float = 0.95
    stability_days: float = 60.0
    stability_growth: float = 0.5
    # The forgetting the reported mastered flag (a claim) assumes (`claimed`; None or longer: stability_days). `model
    # build` serves stability_days only where held-out answers show forgetting beyond two SEs (so review is not sent on
    # noise) and sets this where they show a shorter one beyond one SE (engine.modelbuild.forgetting.CLAIM_Z): a claim
    # of mastery does not lean on the no-forgetting default the recommender keeps
    claim_stability_days: float | None = None
    irt_weight: float = 0.5
    ability_slope: float = 1.5
    skill_spread: float = 1.0
    skill_drift: float = 0.05
    share_general: bool = False  # other practised skills follow the general part of a skill's move (module docstring)
    mastery_success: float = 0.8
    ability_confirms: float = 0.5
    ability_confirms_with_law: float = 0.8  # when the tracked ability also follows a learning law's expected learning
    graph_confidence: float = 0.9
    graph_isolated: float = 0.15
    # A use of a resource is a learning opportunity for every skill it covers (`update_batch(..., resources=)`): the
    # skills it covers other than the answered item's take the skill model's transition at this share of their ready
    # learn rate, with no answer to observe. 0 (only answers move P(learned)) until a build measures it from a log that
    # records the resources (`engine.recommend.resource_value.fit_cover_learning`)
    resource_learning: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.mastery_threshold < 1:
            raise ConfigError(f"mastery_threshold must be in (0, 1), got {self.mastery_threshold}")
        if not 0 < self.mastery_success < 1:
            raise ConfigError(f"mastery_success (the success rate on a skill's typical item that counts as mastered) must be "
                              f"in (0, 1), got {self.mastery_success}")
        if not self.stability_days > 0 or self.stability_growth < 0:
            raise ConfigError("stability_days must be > 0 and stability_growth >= 0")
        if self.claim_stability_days is not None and not self.claim_stability_days > 0:
            raise ConfigError(f"claim_stability_days (the forgetting the mastered flag assumes) must be > 0 or null, got "
                              f"{self.claim_stability_days}")
        if not 0 <= self.irt_weight <= 1:
            raise ConfigError(f"irt_weight must be in [0, 1], got {self.irt_weight}")
        if self.ability_slope < 0:
            raise ConfigError(f"ability_slope must be >= 0, got {self.ability_slope}")
        if not self.skill_spread > 0 or self.skill_drift < 0:
            raise ConfigError("skill_spread must be > 0 and skill_drift >= 0")
        if not 0 <= self.resource_learning <= 1:
            raise ConfigError(f"resource_learning must be in [0, 1], got {self.resource_learning}")


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def _typical_items(catalog: Catalog) -> tuple[np.ndarray, np.ndarray]:
    """(S,) median a and b of each skill's items (1 and 0 for a skill without items)."""
    a, b = np.ones(catalog.n_skills), np.zeros(catalog.n_skills)
    for s in range(catalog.n_skills):
        own = catalog.item_skill == s
        if own.any():
            a[s], b[s] = float(np.median(catalog.item_a[own])), float(np.median(catalog.item_b[own]))
    return a, b


def p3(mean: np.ndarray, var: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray | float) -> np.ndarray:
    """3PL P(correct) averaged over a normal ability N(mean, var) (probit approximation)."""
    a_eff = a / np.sqrt(1.0 + np.pi * a**2 * var / 8.0)
    return c + (1.0 - c) / (1.0 + np.exp(-a_eff * (mean - b)))


def default_skill_model(catalog: Catalog) -> BKTSkillModel:
    """BKT over the catalog's population priors (`skill_params`) or, without them, the defaults."""
    if catalog.skill_params.height:
        params = BKTParams.from_frame(catalog.skill_params, catalog.skill_ids, source=f"{catalog.name}/v{catalog.version}")
    else:
        params = BKTParams.defaults(catalog.skill_ids)
    return BKTSkillModel(params)


class MasteryEngine:
    """Mastery states for one catalog: cold start, online update, decayed mastery, item predictions."""

    def __init__(self, catalog: Catalog, skill_model: SkillModel | None = None,
                 ability_model: AbilityModel | None = None, config: MasteryConfig | None = None) -> None:
        self.catalog = catalog
        self.skill_model = skill_model if skill_model is not None else default_skill_model(catalog)
        self.ability_model = ability_model if ability_model is not None else GridEAP()
        self.config = config or MasteryConfig()
        if tuple(self.skill_model.skill_ids) != tuple(catalog.skill_ids):
            raise ConfigError(
                f"skill model has {len(self.skill_model.skill_ids)} skills not aligned with catalog {catalog.name!r} "
                f"({catalog.n_skills} skills); build it for catalog.skill_ids"
            )
        counts = catalog.item_skills.sum(axis=1, keepdims=True)
        self._item_skill_weights = (catalog.item_skills / np.maximum(counts, 1)).T  # (S, I): mean over an item's skills
        self._graph_bounds = GraphBounds.of(catalog.graph)
        self.typical_items = _typical_items(catalog)  # (S,) median a and b of each skill's items
        self.law: Any = None  # a LearningLaw (engine.recommend.law) fitted from a log: expected learning per step
        # (S,) learn rate per step taken with the skill's direct prerequisites learned (`ready_learn_rates`, set with
        # a model set's measured readiness): the transition then teaches a step in proportion to that readiness
        self.ready_learn: np.ndarray | None = None

    # ---- components (the served model set) -----------------------------------------------------------
    def to_components(self) -> dict[str, Any]:
        """JSON-ready description of the models and settings: `{"format", "format_version", "skill_model",
        "ability_model", "mastery"}` (see `engine.mastery.adapters` for the component kinds).
        `MasteryEngine.from_components(catalog, that_dict)` rebuilds an engine that predicts the same."""
        from engine.mastery.adapters import to_component  # noqa: PLC0415 - adapters import this module's neighbours

        return {
            "format": COMPONENTS_FORMAT, "format_version": COMPONENTS_FORMAT_VERSION,
            "skill_model": to_component(self.skill_model, "skill model"),
            "ability_model": to_component(self.ability_model, "ability model"),
            "mastery": dataclasses.asdict(self.config),
        }

    @classmethod
    def from_components(cls, catalog: Catalog, components: dict[str, Any]) -> MasteryEngine:
        """An engine for `catalog` from `to_components()` output. Every key is optional: a missing
        skill_model uses the catalog's priors, a missing ability_model N(0, 1), a missing mastery the
        default `MasteryConfig`. A `models.irt` ability component also recalibrates the catalog's items."""
        from engine.mastery.adapters import ability_model_from_component, skill_model_from_component  # noqa: PLC0415

        if not isinstance(components, dict):
            raise ConfigError(f"mastery components must be an object, got {type(components).__name__}")
        fmt = components.get("format", COMPONENTS_FORMAT)
        if fmt != COMPONENTS_FORMAT or components.get("format_version", COMPONENTS_FORMAT_VERSION) != COMPONENTS_FORMAT_VERSION:
            raise ConfigError(f"not a {COMPONENTS_FORMAT} v{COMPONENTS_FORMAT_VERSION} payload (got {fmt!r} "
                              f"v{components.get('format_version')!r})")
        unknown = sorted(set(components) - {"format", "format_version", "skill_model", "ability_model", "mastery"})
        if unknown:
            raise ConfigError(f"unknown mastery component key(s) {', '.join(unknown)}; known: skill_model, ability_model, mastery")
        ability, catalog = (None, catalog) if components.get("ability_model") is None else \
            ability_model_from_component(components["ability_model"], catalog)
        skill = None if components.get("skill_model") is None else skill_model_from_component(components["skill_model"], catalog)
        try:
            config = MasteryConfig(**(components.get("mastery") or {}))
        except TypeError as exc:
            raise ConfigError(f"mastery settings: {exc}; known: {', '.join(MasteryConfig.__dataclass_fields__)}") from None
        return cls(catalog, skill_model=skill, ability_model=ability, config=config)

    # ---- one student's state as JSON (e.g. one database row) ------------------------------------------
    def state_to_dict(self, state: MasteryState) -> dict[str, Any]:
        """One student's state as a versioned JSON-ready dict keyed by skill id (no NaN: unknown times are null)."""
        if state.p_learned.shape != (self.catalog.n_skills,):
            raise DataError(f"state of {state.student_id!r} has {state.p_learned.size} skills; catalog has {self.catalog.n_skills}")
        return state.to_dict(self.catalog.skill_ids)

    def state_from_dict(self, payload: dict[str, Any]) -> MasteryState:
        """The state written by `state_to_dict`; skills added to the catalog since start at the population prior,
        skills the catalog no longer has are an error (`NotFoundError`)."""
        if not isinstance(payload, dict):
            raise DataError(f"a mastery state must be an object, got {type(payload).__name__}")
        try:
            return MasteryState.from_dict(payload, self.catalog.skill_ids, self.skill_model.initial(1)[0])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"malformed mastery state for {payload.get('student_id')!r}: {exc!r}") from None

    # ---- cold start -------------------------------------------------------------------------------
    def new_batch(self, student_ids: list[str]) -> MasteryBatch:
        """Cold-start states: population prior P(learned), prior ability, no evidence."""
        n, s = len(student_ids), self.catalog.n_skills
        return MasteryBatch(
            list(student_ids), np.full(n, self.ability_model.prior_mean), np.full(n, self.ability_model.prior_sd),
            self.skill_model.initial(n), np.zeros((n, s), dtype=np.int64), np.full((n, s), np.nan),
            np.zeros(n, dtype=np.int64), np.full(n, np.nan), np.zeros(n, dtype=np.int64), np.full(n, np.nan),
        )

    def new_state(self, student_id: str) -> MasteryState:
        return self.new_batch([student_id]).state(0)

    # ---- forgetting and current mastery ------------------------------------------------------------
    @staticmethod
    def last_seen(last_practice: np.ndarray, first_time: np.ndarray) -> np.ndarray:
        """(n, S) time each skill was last known to be practised: its last practice here, or for a skill not
        practised here, the student's first response (what they knew then ages from that point)."""
        return np.where(np.isnan(last_practice), first_time[:, None], last_practice)

    def retention(self, last_practice: np.ndarray, evidence: np.ndarray, now: np.ndarray | float,
                  stability_days: float | None = None) -> np.ndarray:
        """R = exp(-dt / (stability_days (1 + evidence)^growth)); 1 where the time is unknown. `stability_days`:
        the config's unless given (`p_claim`)."""
        t = np.asarray(now, dtype=float)
        dt = (t[:, None] if t.ndim == 1 else t) - last_practice
        days = self.config.stability_days if stability_days is None else stability_days
        stability = days * (1.0 + evidence) ** self.config.stability_growth
        r = np.exp(-np.maximum(dt, 0.0) / stability)
        return np.where(np.isfinite(dt), r, 1.0)

    def informed_prior(self, theta: np.ndarray, theta_sd: np.ndarray, prior: np.ndarray) -> np.ndarray:
        """(n, S) starting P(learned) of unpractised skills: the population `prior` (n, S) shifted by the
        student's standing, logit P = logit(prior) + slope * z, z = (theta - prior_mean) / prior_sd shrunk by
        its uncertainty (the probit approximation of averaging over the ability posterior)."""
        slope = self.config.ability_slope
        if slope == 0:
            return prior
        m = self.ability_model
        z = (theta - m.prior_mean) / m.prior_sd
        z_sd = theta_sd / m.prior_sd
        shift = slope * z / np.sqrt(1.0 + np.pi * slope**2 * z_sd**2 / 8.0)
        return 1.0 / (1.0 + np.exp(-(_logit(prior) + shift[:, None])))

    def _start(self, p_learned: np.ndarray, evidence: np.ndarray, theta: np.ndarray, theta_sd: np.ndarray) -> np.ndarray:
        """P(learned) with unpractised skills replaced by their ability-informed prior."""
        unseen = evidence == 0
        if not unseen.any():
            return p_learned
        prior = self.informed_prior(theta, theta_sd, p_learned)
        if self.config.graph_confidence > 0 and (~unseen).any():
            prior = self._through_the_graph(prior, p_learned, unseen)
        return np.where(unseen, prior, p_learned)

    def _through_the_graph(self, prior: np.ndarray, p_learned: np.ndarray, unseen: np.ndarray) -> np.ndarray:
        """Knowledge respects prerequisites: an unpractised skill that a practised skill builds on (directly or
        not) is at least `graph_confidence` x that skill's P(learned); an unpractised skill is at most the
        weakest practised skill it builds on (or `graph_isolated`, knowledge out of order being rare, not
        impossible). `p_learned` (N, S) counts on the practised skills only (`unseen` False)."""
        up = self._graph_bounds.best_dependent(np.where(unseen, -np.inf, p_learned))  # (N, S): best practised dependent
        down = self._graph_bounds.weakest_prerequisite(np.where(unseen, np.inf, p_learned))  # weakest practised prerequisite
        out = np.maximum(prior, self.config.graph_confidence * up)
        return np.minimum(out, np.maximum(down, self.config.graph_isolated))

    def p_start(self, batch: MasteryBatch) -> np.ndarray:
        """(N, S) P(learned) as of each skill's last practice, ability-informed for skills not practised yet: what
        `p_now` ages to a time and an answer's update starts from. A replay that predicts each answer and then folds
        it in passes it to both (`p_now(start=)`, `update_batch(start=)`) instead of computing it twice."""
        return self._start(batch.p_learned, batch.evidence, batch.theta, batch.theta_sd)

    def p_now(self, batch: MasteryBatch, now: float | np.ndarray | None = None, start: np.ndarray | None = None) -> np.ndarray:
        """(N, S) P(learned) at time `now` (days): after forgetting since each skill's last practice, and
        ability-informed for skills not practised yet; `start`: `p_start(batch)` when the caller has it."""
        p = self.p_start(batch) if start is None else start
        return p.copy() if now is None else self.forget(batch, p, now)

    def ability_mastery(self, batch: MasteryBatch) -> np.ndarray:
        """(N, S) P(the student answers the skill's typical item right with probability >= `mastery_success`):
        the per-skill ability's posterior mass above that level."""
        mean, var = self.skill_ability(batch)
        a, b = self.typical_items
        level = b + np.log(self.config.mastery_success / (1.0 - self.config.mastery_success)) / a
        return ndtr((mean - level[None, :]) / np.sqrt(var))

    def p_with_ability(self, batch: MasteryBatch, p: np.ndarray, share: float) -> np.ndarray:
        """(N, S) `p` with a `share` of the per-skill ability's view of mastery (`ability_mastery`) blended in on
        the skills the student has practised: (1 - share) p + share ability_mastery. A skill model saturates after a
        few right answers whatever the items' difficulty, while a learner whose proficiency keeps growing still
        has room the ability sees; unpractised skills keep `p` (their ability is the prior's)."""
        if share <= 0:
            return p
        practised = batch.evidence > 0
        return np.where(practised, (1.0 - share) * p + share * self.ability_mastery(batch), p)

    def forget(self, batch: MasteryBatch, p: np.ndarray, now: float | np.ndarray | None,
               stability_days: float | None = None) -> np.ndarray:
        """`p` (N, S), P(learned) as of each skill's last practice, aged to time `now` (days; None = as is) at the
        config's stability or the one given."""
        if now is None:
            return p
        return p * self.retention(self.last_seen(batch.last_practice, batch.first_time), batch.evidence, now, stability_days)

    def p_claim(self, batch: MasteryBatch, now: float | np.ndarray | None) -> np.ndarray:
        """(N, S) P(learned) as a claim of mastery reads it: moved by the answers alone (`batch.p_answered`, what a
        resource taught a skill nobody answered left out), ability-informed for unpractised skills, aged to `now` by
        the forgetting a claim assumes (`MasteryConfig.claim_stability_days`; never slower than the served forgetting:
        a claim forgets at least as fast as the recommender does)."""
        days = self.config.claim_stability_days
        days = None if days is None or days >= self.config.stability_days else days
        p = self._start(batch.p_answered, batch.evidence, batch.theta, batch.theta_sd)
        return p.copy() if now is None else self.forget(batch, p, now, days)

    def claimed(self, batch: MasteryBatch, now: float | np.ndarray | None) -> np.ndarray:
        """(N, S) the mastered flag as reported at time `now` (the API, the pages, the suite's measure): `mastered` on
        the claim's P(learned) (`p_claim`: the answers' evidence alone, aged by the claim's forgetting). What a resource
        taught without an answer moves the recommender's P (`learn_from_resources`), which chooses better for it, but
        not the claim: inferred teaching lifted P above the truth and kept the flag off every taught skill until an
        answer came (docs/engine.md, "Mastered means mastered"). The recommender keeps `flagged` on `p_now`: what it
        moves on from is an action, protected from review sent on noise; what is reported is a claim about the student."""
        return self.mastered(self.p_claim(batch, now), batch)

    def mastered(self, p: np.ndarray, batch: MasteryBatch | None = None) -> np.ndarray:
        """(N, S) mastered flag: P(learned) `p` at the mastery threshold and, when the states are given, the
        per-skill ability confirming it (P >= `ability_confirms`, 0.5, that the student answers the skill's typical
        item right at least `mastery_success` of the time; `ability_confirms_with_law`, 0.8, when the ability also
        follows a learning law's expected learning, which is not yet evidence). Two models must agree, so a flag set by a skill model that
        learned too fast a learn rate from a log, or by a lucky streak of easy items, is not enough. States
        written before skill abilities existed (evidence but no skill ability) keep the skill model's flag."""
        flag = p >= self.config.mastery_threshold
        if batch is None or self.config.ability_confirms < 0:
            return flag
        legacy = (batch.evidence > 0) & np.isnan(batch.skill_theta)  # a state stored before skill abilities existed
        confirms = (self.config.ability_confirms_with_law if self.law is not None and self.law.informative
                    else self.config.ability_confirms)
        return flag & ((self.ability_mastery(batch) >= confirms) | legacy)

    def flagged(self, p: np.ndarray, batch: MasteryBatch) -> np.ndarray:
        """(N, S) the recommender's mastered flag on `p`: `mastered`, except on skills a resource raised since their last
        answer (`batch.taught`), which wait for an answer. What a resource taught a skill nobody answered is inferred,
        not observed: in a forgetful world it also lifts a skill the student has forgotten back over the line (the
        suite's forgetful BKT world: flags right 0.92 -> 0.82 with cover learning), so the policy does not move on from
        such a skill before an answer confirms it. The reported flag (`claimed`) reads the answers-only P instead."""
        return self.mastered(p, batch) & ~batch.taught

    # ---- per-skill ability ---------------------------------------------------------------------------
    def skill_ability(self, batch: MasteryBatch) -> tuple[np.ndarray, np.ndarray]:
        """(N, S) mean and variance of each skill's ability: its own estimate where practised, else the
        general ability with the spread between skills added to its variance."""
        fresh = np.isnan(batch.skill_theta)
        mean = np.where(fresh, batch.theta[:, None], batch.skill_theta)
        var = np.where(fresh, (batch.theta_sd**2)[:, None] + self.config.skill_spread**2, batch.skill_var)
        return mean, var

    def skill_ability_at(self, batch: MasteryBatch, rows: np.ndarray, skills: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`skill_ability` at the (row, skill) pairs given, without building the whole (N, S) arrays."""
        st = batch.skill_theta[rows, skills]
        fresh = np.isnan(st)
        mean = np.where(fresh, batch.theta[rows], st)
        var = np.where(fresh, batch.theta_sd[rows] ** 2 + self.config.skill_spread**2, batch.skill_var[rows, skills])
        return mean, var

    def item_ability(self, batch: MasteryBatch) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(N, I) mean and variance of the ability behind each item's answer (its primary skill's), with the items'
        3PL parameters (a, b, c): the distribution of each item's success, whose mean `predict_skill_items` gives."""
        cat = self.catalog
        mean, var = self.skill_ability(batch)
        return mean[:, cat.item_skill], var[:, cat.item_skill], (cat.item_a, cat.item_b, cat.item_c)

    def predict_skill_items(self, batch: MasteryBatch, items: np.ndarray | None = None) -> np.ndarray:
        """(N, I) P(correct) of the items (all when None) from the ability of each item's primary skill,
        averaged over its uncertainty (probit approximation: a / sqrt(1 + pi a^2 var / 8))."""
        cat = self.catalog
        idx = slice(None) if items is None else np.asarray(items, dtype=np.int64)
        mean, var = self.skill_ability(batch)
        skill = cat.item_skill[idx]
        return p3(mean[:, skill], var[:, skill], cat.item_a[idx], cat.item_b[idx], cat.item_c[idx])

    def predict_skill_pairs(self, batch: MasteryBatch, items: np.ndarray) -> np.ndarray:
        """(N,) `predict_skill_items` of row n on item `items[n]`."""
        cat = self.catalog
        idx = np.asarray(items, dtype=np.int64)
        mean, var = self.skill_ability(batch)
        rows, skill = np.arange(idx.size), cat.item_skill[idx]
        return p3(mean[rows, skill], var[rows, skill], cat.item_a[idx], cat.item_b[idx], cat.item_c[idx])

    def p_in_place(self, batch: MasteryBatch, p: np.ndarray | None = None, success: np.ndarray | None = None) -> np.ndarray:
        """(N, S) how surely each skill is in place as a prerequisite: the lower of P(learned) (`p`, default
        `p_now` without forgetting) and the per-skill ability's success on the skill's typical item (`success`,
        default `skill_success`). Both models must agree that a prerequisite is in place, as they must agree
        that a skill leaves room to learn: P(learned) alone can call "learned" at 0.9 a skill the student
        answers right 60% of the time, and so overstate what practice on the skills above it can teach. A skill
        with evidence but no skill ability (a state stored before skill abilities existed) keeps P(learned), as
        in `mastered`."""
        p = self.p_now(batch, None) if p is None else p
        success = self.skill_success(batch) if success is None else success
        legacy = (batch.evidence > 0) & np.isnan(batch.skill_theta)
        return np.clip(np.where(legacy, p, np.minimum(p, success)), 1e-9, 1.0)

    def skill_success(self, batch: MasteryBatch) -> np.ndarray:
        """(N, S) P(correct) on an item of the skill's median difficulty and discrimination (no guessing):
        how well the student does on this skill's typical item now."""
        mean, var = self.skill_ability(batch)
        a, b = self.typical_items
        return p3(mean, var, a[None, :], b[None, :], 0.0)

    def _update_skill_ability(self, batch: MasteryBatch, rows: np.ndarray, items: np.ndarray, y: np.ndarray,
                              practiced: np.ndarray) -> None:
        """Kalman (Laplace) step of each practised skill's ability on one 3PL answer per row, computed on the practised
        (row, skill) pairs only (an item practises one skill or a few of the catalog's)."""
        cat = self.catalog
        pair_row, skill = np.nonzero(practiced)
        student = rows[pair_row]
        m, v = self.skill_ability_at(batch, student, skill)
        v = v + self.config.skill_drift
        item = items[pair_row]
        a, b, c = cat.item_a[item], cat.item_b[item], cat.item_c[item]
        y = y[pair_row]
        star = 1.0 / (1.0 + np.exp(-a * (m - b)))
        p = np.clip(c + (1.0 - c) * star, 1e-6, 1 - 1e-6)
        share = (p - c) / p  # the 3PL score's weight: how much of a success is ability rather than a guess
        one_minus_c = np.maximum(1.0 - c, 1e-6)
        score = a * (y - p) * share / one_minus_c  # d log L / d theta
        info = a**2 * share * (p - c) * (1.0 - p) / one_minus_c**2  # Fisher information
        v_new = 1.0 / (1.0 / v + info)
        m_new = m + np.clip(v_new * score, -1.5, 1.5)
        if self.config.share_general:  # summed along the rows of a full (rows, skills) array: the order, and sums, of before
            moved = np.zeros(practiced.shape)
            moved[pair_row, skill] = m_new - m
            self._follow_general(batch, rows, practiced, moved.sum(axis=1))
        batch.skill_theta[student, skill] = m_new
        batch.skill_var[student, skill] = v_new

    def _follow_general(self, batch: MasteryBatch, rows: np.ndarray, practiced: np.ndarray, moved: np.ndarray) -> None:
        """Move the practised skills of `rows` not `practiced` now by the general part of this answer's move `moved`
        (n,) (module docstring: `share_general`); skills not practised yet follow the general ability anyway."""
        prior_var = batch.theta_sd[rows] ** 2 + self.config.skill_spread**2  # (n,) a skill's variance when first met
        general = batch.theta_sd[rows] ** 2 / prior_var * moved
        on_prior = np.clip(batch.skill_var[rows] / prior_var[:, None], 0.0, 1.0)  # (n, S) share resting on the prior
        theta = batch.skill_theta[rows]  # one copy of the rows' abilities (fancy indexing copies)
        others = ~practiced & ~np.isnan(theta)
        batch.skill_theta[rows] = np.where(others, theta + on_prior * general[:, None], theta)

    # ---- online update -----------------------------------------------------------------------------
    def update_batch(self, batch: MasteryBatch, rows: np.ndarray, items: np.ndarray, correct: np.ndarray,
                     times: np.ndarray | None = None, resources: np.ndarray | None = None,
                     start: np.ndarray | None = None) -> None:
        """Add one response per row in place: `rows`, `items` (catalog item indices), `correct` in [0, 1],
        `times` in days (NaN or None = unknown); `resources`: the catalog resource each student used before the answer
        (-1: none), whose other skills learn without an answer (`learn_from_resources`); `start`: `p_start` of these
        rows' current state when the caller computed it (for the prediction it just made). Rows must be distinct within
        one call."""
        rows = np.asarray(rows, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        y = np.asarray(correct, dtype=float)
        now = np.full(rows.size, np.nan) if times is None else np.asarray(times, dtype=float)
        practiced = self.catalog.item_skills[items]
        r = self.retention(self.last_seen(batch.last_practice[rows], batch.first_time[rows]), batch.evidence[rows], now)
        start, p_before, p_after = self._after_answer(batch, rows, batch.p_learned[rows], practiced, y, items, r, start)
        answered_before = batch.p_answered[rows]
        answered = p_after if np.array_equal(answered_before, batch.p_learned[rows]) else \
            self._after_answer(batch, rows, answered_before, practiced, y, items, r)[2]  # the claim's P: no resource lifts
        threshold = self.config.mastery_threshold
        progress = (practiced & (p_before < threshold) & (p_after >= threshold)).any(axis=1)
        cat = self.catalog
        learned = self._expected_learning(batch, rows, items, start, y) if self.law is not None else None
        self._update_skill_ability(batch, rows, items, y, practiced)
        if learned is not None:
            batch.skill_theta[rows] = np.where(practiced, batch.skill_theta[rows] + learned[:, None], batch.skill_theta[rows])
        theta, sd = self.ability_model.update(batch.theta[rows], batch.theta_sd[rows], cat.item_a[items],
                                              cat.item_b[items], cat.item_c[items], y)
        batch.p_learned[rows] = p_after
        batch.p_answered[rows] = answered
        batch.theta[rows], batch.theta_sd[rows] = theta, sd
        batch.evidence[rows] += practiced
        known_time = np.isfinite(now)
        batch.last_practice[rows] = np.where(practiced & known_time[:, None], now[:, None], batch.last_practice[rows])
        batch.n_responses[rows] += 1
        batch.last_time[rows] = np.where(known_time, now, batch.last_time[rows])
        batch.first_time[rows] = np.where(np.isnan(batch.first_time[rows]) & known_time, now, batch.first_time[rows])
        batch.responses_since_progress[rows] = np.where(progress, 0, batch.responses_since_progress[rows] + 1)
        batch.taught[rows] &= ~practiced  # an answer on the skill: its P rests on evidence again
        if resources is not None:
            self.learn_from_resources(batch, rows, np.asarray(resources, dtype=np.int64), practiced)

    def _after_answer(self, batch: MasteryBatch, rows: np.ndarray, p: np.ndarray, practiced: np.ndarray, y: np.ndarray,
                  items: np.ndarray, retention: np.ndarray,
                  start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(start, before, after), each (n, S): the skill model's update of `p` (P(learned) of `rows` as of each skill's
        last practice) by one answer per row: ability-informed start (`start` when given), aged by `retention` on the
        practised skills, then the transition at the ready learn rate times P(direct prerequisites learned) and the
        answer's evidence."""
        if start is None:
            start = self._start(p, batch.evidence[rows], batch.theta[rows], batch.theta_sd[rows])
        before = np.where(practiced, start * retention, p)
        if self.ready_learn is None:  # a skill model written before per-step rates need not take `learn`
            return start, before, self.skill_model.update(before, practiced, y, items)
        learn = self.ready_learn[None, :] * self.prerequisites_learned(start)
        return start, before, self.skill_model.update(before, practiced, y, items, learn=learn)

    def learn_from_resources(self, batch: MasteryBatch, rows: np.ndarray, resources: np.ndarray,
                             answered: np.ndarray) -> None:
        """The skills each row's resource covers, other than those `answered` (n, S), take the skill model's learning
        transition with nothing observed: P <- P + (1 - P) T, T = `resource_learning` x the skill's ready learn rate x
        P(its direct prerequisites learned), as for a practised skill (the skill model's own rate for a model without
        ready rates). A skill not practised yet moves its population prior, which the ability and the graph then shift
        as before (`_start`); its evidence does not grow."""
        share = self.config.resource_learning
        used = resources >= 0
        if share == 0 or not used.any():
            return
        rows, resources, answered = rows[used], resources[used], answered[used]
        covered = self.catalog.resource_skills[resources] & ~answered
        start = self._start(batch.p_learned[rows], batch.evidence[rows], batch.theta[rows], batch.theta_sd[rows])
        if self.ready_learn is None:  # as the answered skills learn: the skill model's own rates
            learn = np.broadcast_to(share * self.skill_model.learn_rates()[None, :], start.shape)
        else:
            learn = np.clip(share * self.ready_learn[None, :] * self.prerequisites_learned(start), 0.0, 1.0)
        p = batch.p_learned[rows]
        base = np.where(batch.evidence[rows] > 0, start, p)
        batch.p_learned[rows] = np.where(covered, base + (1.0 - base) * learn, p)
        batch.taught[rows] |= covered & (learn > 0)  # `p_answered` is not moved: the claim rests on answers

    def _expected_learning(self, batch: MasteryBatch, rows: np.ndarray, items: np.ndarray, p_start: np.ndarray,
                           y: np.ndarray) -> np.ndarray:
        """(n,) expected rise of the practised skill's ability from this step: the learning law's logit gain at the
        item's predicted difficulty, times P(the skill's direct prerequisites learned), over the skill's typical
        discrimination, times the student's pace. The mean of the state-space drift, so the tracked ability
        does not lag a student who learns.

        The pace (the student's learning relative to the population's, 1 = as the law says) is estimated from
        the same answers, shrunk toward 1: an answer on a skill already practised tests the drift the law added
        there; under pace rho the prediction is off by about a p (1 - p) (rho - 1) d, so each such answer adds
        a d (y - p) to the score and (a d)^2 p (1 - p) to the information (d: the drift this item's band
        adds, a: the item's discrimination), and rho = 1 + score / (1 / PACE_PRIOR_SD^2 + information)."""
        law = self.law
        if not law.informative:
            return np.zeros(rows.size)
        cat = self.catalog
        skill = cat.item_skill[items]
        mean, var = self.skill_ability_at(batch, rows, skill)
        a = cat.item_a[items]
        p = p3(mean, var + self.config.skill_drift, a, cat.item_b[items], cat.item_c[items])
        ready = self.prerequisites_learned(p_start, skill)
        drift = np.maximum(np.asarray(law.gamma)[law.band(p)], 0.0) * ready / self.typical_items[0][skill]
        tested = ~np.isnan(batch.skill_theta[rows, skill])  # the law has added drift to this skill before
        batch.pace_score[rows] += np.where(tested, a * drift * (y - p), 0.0)
        batch.pace_info[rows] += np.where(tested, (a * drift) ** 2 * p * (1.0 - p), 0.0)
        return drift * self.pace(batch, rows)

    def prerequisites_learned(self, p: np.ndarray, skills: np.ndarray | None = None) -> np.ndarray:
        """P(every direct prerequisite learned) from P(learned) `p` (n, S), taken as independent: (n, S) for every
        skill, or (n,) for `skills[n]` of row n. The readiness by which the learning law's drift and, with
        `ready_learn`, the skill model's transition scale what a step teaches."""
        log_p = np.log(np.clip(p, 1e-9, 1.0))
        direct = self.catalog.graph.direct
        if skills is None:
            return np.exp(log_p @ direct.T.astype(float))
        return np.exp((log_p * direct[skills]).sum(axis=1))

    def pace(self, batch: MasteryBatch, rows: np.ndarray | None = None) -> np.ndarray:
        """(n,) each student's learning pace relative to the population's learning law (1 = as the law says),
        shrunk toward 1 with prior SD `PACE_PRIOR_SD`, kept within [PACE_MIN, PACE_MAX]."""
        idx = slice(None) if rows is None else rows
        rho = 1.0 + batch.pace_score[idx] / (1.0 / PACE_PRIOR_SD**2 + batch.pace_info[idx])
        return np.clip(rho, PACE_MIN, PACE_MAX)

    def update(self, state: MasteryState, item_id: str, correct: float, time: float | None = None,
               resource_id: str | None = None) -> MasteryState:
        """A new state with one more response (item by id, score in [0, 1], time in days or None; `resource_id`: the
        resource the student used before answering, whose other skills learn too)."""
        if not 0.0 <= float(correct) <= 1.0:
            raise DataError(f"correct must be in [0, 1], got {correct!r}")
        batch = MasteryBatch.stack([state])
        t = None if time is None else np.array([time], dtype=float)
        resources = None if resource_id is None else np.array([self.catalog.resource_index(resource_id)])
        self.update_batch(batch, np.array([0]), np.array([self.catalog.item_index(item_id)]), np.array([float(correct)]), t,
                          resources)
        return batch.state(0)

    # ---- predictions -------------------------------------------------------------------------------
    def predict_items(self, batch: MasteryBatch, now: float | np.ndarray | None = None,
                      items: np.ndarray | None = None, *, p_now: np.ndarray | None = None) -> np.ndarray:
        """(N, I) predicted P(correct) for the given items (all when None) at time `now`; `p_now`: the
        batch's `p_now(batch, now)` when the caller has it already."""
        cat = self.catalog
        idx = slice(None) if items is None else np.asarray(items, dtype=np.int64)
        p_irt = self.predict_skill_items(batch, None if items is None else idx)
        p_now = self.p_now(batch, now) if p_now is None else p_now
        p_skill = self.skill_model.p_correct_on_items(p_now, idx, self._item_skill_weights)
        w = self.config.irt_weight
        z = w * _logit(p_irt) + (1.0 - w) * _logit(p_skill)
        return 1.0 / (1.0 + np.exp(-z))

    def predict_pair_parts(self, batch: MasteryBatch, items: np.ndarray, now: float | np.ndarray | None = None,
                           start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The two sides of `predict_pairs` before the blend: (N,) per-skill IRT and (N,) skill-model P(correct);
        `start`: `p_start(batch)` when the caller has it."""
        idx = np.asarray(items, dtype=np.int64)
        return (self.predict_skill_pairs(batch, idx),
                self.skill_model.p_correct_on_pairs(self.p_now(batch, now, start), idx, self._item_skill_weights))

    def predict_pairs(self, batch: MasteryBatch, items: np.ndarray, now: float | np.ndarray | None = None) -> np.ndarray:
        """(N,) predicted P(correct) of row n on item `items[n]` (one item per student)."""
        p_irt, p_skill = self.predict_pair_parts(batch, items, now)
        w = self.config.irt_weight
        z = w * _logit(p_irt) + (1.0 - w) * _logit(p_skill)
        return 1.0 / (1.0 + np.exp(-z))

    def versions(self) -> dict[str, str]:
        """Model versions reported with every recommendation."""
        return {
            "skill_model": self.skill_model.version,
            "ability_model": self.ability_model.version,
            "catalog": f"{self.catalog.name}/v{self.catalog.version}",
        }

    # ---- many responses and persistence -------------------------------------------------------------
    def replay(self, responses: pl.DataFrame, batch: MasteryBatch | None = None) -> MasteryBatch:
        """States after every response of a canonical log (student_id, item_id, correct, seq[, timestamp][, resource_id]).

        Vectorized by position: the k-th response of every student is applied in one `update_batch`. Items and
        the resources named must be in the catalog; all unknown ones are listed in one error.
        """
        unknown = responses.filter(~pl.col("item_id").is_in(list(self.catalog.item_ids)))
        if unknown.height:
            ids = unknown["item_id"].unique().sort().to_list()
            raise DataValidationError(
                [Problem(None, "item_id", i, "item not in the catalog; add it or use the catalog the log was made with") for i in ids[:20]],
                source=f"responses ({unknown.height} rows with unknown items)",
            )
        ordered = responses.sort(["student_id", "seq"]).with_columns(pl.int_range(pl.len()).over("student_id").alias("__pos"))
        students = ordered["student_id"].unique(maintain_order=True).to_list()
        if batch is None:
            batch = self.new_batch(students)
        row_of = {s: i for i, s in enumerate(batch.student_ids)}
        missing = [s for s in students if s not in row_of]
        if missing:
            raise NotFoundError(f"{len(missing)} student(s) of the log are not in the batch, e.g. {missing[:3]}")
        item_index = {s: i for i, s in enumerate(self.catalog.item_ids)}
        rows = np.array([row_of[s] for s in ordered["student_id"].to_list()], dtype=np.int64)
        items = np.array([item_index[i] for i in ordered["item_id"].to_list()], dtype=np.int64)
        y = ordered["correct"].to_numpy().astype(float)
        if "timestamp" in ordered.columns:
            t = ordered["timestamp"].dt.epoch("us").to_numpy().astype(float) / 1e6 / SECONDS_PER_DAY
        else:
            t = np.full(ordered.height, np.nan)
        pos = ordered["__pos"].to_numpy()
        used = self.resource_column(ordered)
        for k in range(int(pos.max(initial=-1)) + 1):
            sel = pos == k
            self.update_batch(batch, rows[sel], items[sel], y[sel], t[sel], None if used is None else used[sel])
        return batch

    def resource_column(self, responses: pl.DataFrame) -> np.ndarray | None:
        """(n,) catalog indices of the log's `resource_id` (-1 where empty), or None without the column."""
        if "resource_id" not in responses.columns:
            return None
        named = responses["resource_id"].cast(pl.Utf8)
        ids = list(self.catalog.resource_ids)
        unknown = sorted(set(named.drop_nulls().unique().to_list()) - set(ids))
        if unknown:
            raise DataValidationError(
                [Problem(None, "resource_id", r, "resource not in the catalog; add it or use the catalog the log was made with")
                 for r in unknown[:20]], source=f"responses ({len(unknown)} unknown resources)")
        index = named.replace_strict(ids, list(range(len(ids))), default=None, return_dtype=pl.Int64)
        return index.fill_null(-1).to_numpy()

    def states_to_dict(self, batch: MasteryBatch) -> dict[str, Any]:
        return {
            "format": STATES_FORMAT, "format_version": STATES_FORMAT_VERSION,
            "catalog": f"{self.catalog.name}/v{self.catalog.version}", "models": self.versions(),
            "students": [batch.state(i).to_dict(self.catalog.skill_ids) for i in range(len(batch))],
        }

    def states_from_dict(self, payload: dict[str, Any]) -> MasteryBatch:
        if payload.get("format") != STATES_FORMAT or payload.get("format_version") != STATES_FORMAT_VERSION:
            raise ConfigError(f"not a {STATES_FORMAT} v{STATES_FORMAT_VERSION} file (got {payload.get('format')!r})")
        prior = self.skill_model.initial(1)[0]
        states = [MasteryState.from_dict(d, self.catalog.skill_ids, prior) for d in payload.get("students", [])]
        if not states:
            raise DataError("the state file holds no students")
        return MasteryBatch.stack(states)

    def save_states(self, batch: MasteryBatch, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.states_to_dict(batch)) + "\n")

    def load_states(self, path: str | Path) -> MasteryBatch:
        return self.states_from_dict(read_json(path, "state file"))


def days(seconds: float) -> float:
    """Seconds (e.g. a Unix timestamp) to the engine's time unit, days."""
    return seconds / SECONDS_PER_DAY if math.isfinite(seconds) else math.nan
