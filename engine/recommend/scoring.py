"""Candidates and score components for every (student, resource), as (N, R) arrays.

Skill status comes from the mastery engine only (current P(learned), forgetting, evidence); the
remediation history of a student is not an input, so readiness alone decides what is offered.

Per resource, the "outside prerequisites" are the direct prerequisites of its skills that it does not
itself cover (a remedial resource covering a skill and its prerequisites needs only their prerequisites).
- candidate core/remedial resource: its skill is on the outer fringe (not mastered, direct prerequisites
  in place) or due for review; remedial also when only its outside prerequisites are in place; remedial only
  while the skill is below `advanced_threshold` (a student ready to go beyond it is not sent back over it);
- candidate advanced resource: its outside prerequisites are in place and its own skill is at least at
  `advanced_threshold` (ready for advanced work), whatever the student did before;
- probe: while the ability estimate is uncertain (posterior SD above `probe_sd`), core resources of
  unmastered skills whose direct prerequisites are at least `probe_ready_threshold` are candidates too,
  so the information component can place a new student quickly instead of walking up from the roots;
- ready-skill places (`probably_ready_resources`, weighted by `engine.recommend.ready`): the candidates on the
  fringe and the core resources of skills whose prerequisites are each probably in place by either model
  (P(learned), or for an answered prerequisite the per-skill ability's success on its typical item, at least
  `probe_ready_threshold`); only the list's places after the first draw among them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.catalog import Catalog
from engine.catalog.schema import ADVANCED, CORE, REMEDIAL
from engine.mastery import MasteryBatch, MasteryEngine
from engine.mastery.graph_bounds import ClosurePairs
from engine.recommend.config import RecommenderConfig
from engine.recommend.constraints import ResolvedConstraints
from engine.recommend.items import ItemChoice, choose_items
from engine.recommend.learning import DifficultyProgress
from engine.recommend.ready import ready_weights, rotation_due


MIN_LOG_READINESS = 0.05  # a skill whose log steps were less ready than this on average keeps rate / 0.05


@dataclass(frozen=True)
class ResourceGeometry:
    """Catalog arrays the scoring needs, computed once: `outside` (R, S) outside prerequisites,
    `cover` (R, C) the skills each resource covers, padded with -1, and `direct_pairs`, the graph's direct
    (skill, prerequisite) edges grouped for reductions."""

    outside: np.ndarray
    cover: np.ndarray
    direct_pairs: ClosurePairs

    @classmethod
    def of(cls, catalog: Catalog) -> ResourceGeometry:
        needs = (catalog.resource_skills.astype(np.int64) @ catalog.graph.direct.astype(np.int64)) > 0
        width = max(int(catalog.resource_skills.sum(axis=1).max(initial=1)), 1)
        cover = np.full((catalog.n_resources, width), -1, dtype=np.int64)
        for r, skills in enumerate(catalog.resources["skill_ids"].to_list()):
            cover[r, : len(skills)] = [catalog.skill_index(s) for s in skills]
        return cls(outside=needs & ~catalog.resource_skills, cover=cover, direct_pairs=ClosurePairs.of(catalog.graph.direct))

    def target_skill(self, p: np.ndarray, ready: np.ndarray) -> np.ndarray:
        """(N, R) the covered skill whose practice can teach most: the largest room to learn (1 - P(learned))
        times readiness (its direct prerequisites in place), so an advanced project's item is not put on a
        skill the student is not ready for, and a remedial resource's item goes to the gap it can fill."""
        safe = np.maximum(self.cover, 0)
        values = np.where(self.cover[None] >= 0, (1.0 - p[:, safe]) * ready[:, safe], -np.inf)  # (N, R, C)
        return self.cover[np.arange(self.cover.shape[0])[None, :], values.argmax(axis=2)]


def prerequisites_at_least(p: np.ndarray, threshold: float, catalog: Catalog) -> np.ndarray:
    """(N, S) True where every direct prerequisite of the skill has P(learned) `p` >= `threshold` (roots: True)."""
    return prerequisites_hold(p >= threshold, catalog)


def prerequisites_hold(holds: np.ndarray, catalog: Catalog) -> np.ndarray:
    """(N, S) True where `holds` (N, S) is True for every direct prerequisite of the skill (roots: True)."""
    return ((~holds).astype(np.int64) @ catalog.graph.direct.T.astype(np.int64)) == 0


@dataclass(frozen=True)
class SkillStatus:
    """(N, S) arrays: P(learned) from the evidence `p` (ability-informed where unpractised), `p_now` after
    forgetting, `mastered`, `in_place` (>= ready threshold), `prereqs_ok`, `fringe`, `review_need`
    (p - p_now: what forgetting has probably taken), `review` (in place and review_need >= threshold); `p_start`, the
    engine's own P(learned) before the ability's share is blended in (`MasteryEngine.p_now(batch, None)`), which the
    placement questions read (passed on so a request computes it once).

    Mastery and the fringe use `p`, so a skill shown mastered is not sent back through the fringe as soon
    as time passes; forgetting enters as its own component, review."""

    p: np.ndarray
    p_now: np.ndarray
    mastered: np.ndarray
    in_place: np.ndarray
    prereqs_ok: np.ndarray
    fringe: np.ndarray
    review_need: np.ndarray
    review: np.ndarray
    p_start: np.ndarray


def skill_status(engine: MasteryEngine, batch: MasteryBatch, now: float | np.ndarray | None,
                 config: RecommenderConfig) -> SkillStatus:
    p_start = engine.p_now(batch, None)
    p = engine.p_with_ability(batch, p_start, config.ability_share)
    p_now = engine.forget(batch, p, now)
    mastered = engine.flagged(p, batch)  # a skill only a resource lifted since its last answer is not done yet
    in_place = p >= config.ready_threshold
    prereqs_ok = prerequisites_at_least(p, config.ready_threshold, engine.catalog)
    review_need = np.maximum(p - p_now, 0.0)
    review = in_place & (review_need >= config.review_threshold)
    return SkillStatus(p, p_now, mastered, in_place, prereqs_ok, ~mastered & prereqs_ok, review_need, review, p_start)


@dataclass(frozen=True)
class Scored:
    """(N, R) candidate mask, advanced-ready mask, target skill (whose item is paired with the resource)
    and component values by name; the (N, S) item choice per skill; the skill status; `ready_weight` (N, R), the
    draw weight of the list's ready-skill places (`probably_ready_resources`; 0 elsewhere), the skills the
    student became ready for last first (`engine.recommend.ready`); `ready_due` (N, R), the resources whose skill's turn it
    is (`ready.rotation_due`; None: no rotation), which those places take first."""

    candidates: np.ndarray
    advanced_ready: np.ndarray
    target: np.ndarray
    components: dict[str, np.ndarray]
    items: ItemChoice
    status: SkillStatus
    ready_weight: np.ndarray
    # (N, R) the expected gain before the paired item is drawn (the `gain` component without what that item's difficulty
    # teaches): a function of the state alone, so a placement question paired by it keeps an exact propensity
    gain_before_item: np.ndarray
    ready_due: np.ndarray | None = None
    # (N, I) Fisher information of every item at the ability estimate (the placement questions rank by it)
    item_information: np.ndarray | None = None


def ready_learn_rates(learn_rates: np.ndarray, progress: DifficultyProgress | None) -> np.ndarray:
    """(S,) each skill's learn rate per step taken with its prerequisites in place. The skill model's rate is
    fitted on a log whose students were often not ready for the skill (a random-practice log reaches deep
    skills mostly before their prerequisites), so it is the ready rate times the log's mean readiness on that
    skill; the gain multiplies by the student's own readiness, so it needs the ready rate: the fitted rate over
    the log's mean readiness (`DifficultyProgress.skill_readiness`: P(the prerequisites learned) before each
    logged step, as `fit_from_log` replays the log, the weight the learning law gives the step; floored at
    MIN_LOG_READINESS, below which too few ready steps back the ratio), capped at 1. Without those
    measurements the fitted rates are used as they are."""
    readiness = None if progress is None else progress.skill_readiness
    if readiness is None:
        return learn_rates
    return np.minimum(learn_rates / np.clip(readiness, MIN_LOG_READINESS, 1.0), 1.0)


def score_resources(engine: MasteryEngine, batch: MasteryBatch, now: float | np.ndarray | None,
                    config: RecommenderConfig, geometry: ResourceGeometry, constraints: ResolvedConstraints,
                    rng: np.random.Generator, progress: DifficultyProgress | None = None) -> Scored:
    """Candidates and every component except diversity and exploration (which the selection adds)."""
    cat = engine.catalog
    st = skill_status(engine, batch, now, config)
    primary = cat.resource_skill
    level = cat.resource_level[None, :]
    outside_missing = (~st.in_place).astype(np.int64) @ geometry.outside.T.astype(np.int64)  # (N, R)
    outside_ok = outside_missing == 0
    success = engine.skill_success(batch)  # (N, S) P(correct) on each skill's typical item
    log_in_place = np.log(engine.p_in_place(batch, st.p, success))
    readiness = np.exp(log_in_place @ geometry.outside.T.astype(float))  # all outside prerequisites in place
    p_primary = st.p[:, primary]
    advanced_ready = (level == ADVANCED) & outside_ok & (p_primary >= config.advanced_threshold)

    active = st.fringe[:, primary] | st.review[:, primary]
    candidates = np.where(level == ADVANCED, advanced_ready, active)
    candidates |= (level == REMEDIAL) & outside_ok & ~st.mastered[:, primary]
    candidates &= ~remedial_closed(st.p, cat, config)
    probing = batch.theta_sd > config.probe_sd
    prereqs_probable = prerequisites_at_least(st.p, config.probe_ready_threshold, cat)  # probes
    if probing.any():
        probe = probing[:, None] & (level == CORE) & (prereqs_probable & ~st.mastered)[:, primary]
        candidates |= probe
    scope = constraints.scope(cat, st.mastered)
    if scope is not None:
        candidates &= scope[:, primary]
    candidates &= constraints.allowed[None, :]
    candidates = _fallback(candidates, cat, constraints, scope)

    eff_rem, eff_core, eff_adv = config.level_efficacy
    if progress is not None:  # the log's measured remedial-against-core contrast (resource_value.LevelContrast)
        eff_rem *= progress.remedial_ratio
    advanced_efficacy = np.where(advanced_ready, eff_adv, config.not_ready_advanced_efficacy) * readiness
    efficacy = np.where(level == REMEDIAL, eff_rem, np.where(level == CORE, eff_core * readiness, advanced_efficacy))
    rates = ready_learn_rates(engine.skill_model.learn_rates(), progress)
    room = np.minimum(1.0 - st.p, 1.0 - success) * rates[None, :]  # (N, S) both models must leave room
    gain = efficacy * (room @ cat.resource_skills.T.astype(float))
    value = None if progress is None else progress.resource_multipliers(cat.resource_ids)
    if value is not None:  # what each resource taught beyond its level's average step, measured from a log
        gain = gain * value[None, :]

    uncertainty = np.clip(batch.theta_sd / engine.ability_model.prior_sd, 0.0, 1.0)
    p_items = engine.predict_items(batch, now, p_now=st.p_now)
    info_items = engine.ability_model.information(batch.theta[:, None], cat.item_a, cat.item_b, cat.item_c)
    learned = law_gain = None
    law = progress.law if progress is not None and config.learn_difficulty else None
    if progress is not None and config.learn_difficulty:
        if law is not None and law.informative:
            # (N, I) what a step on each item teaches relative to the average step, in expectation over the
            # uncertainty of the skill's ability (not at the expected success: see LearningLaw.expected_multiplier)
            mean, var, (a, b, c) = engine.item_ability(batch)
            law_gain = law.expected_multiplier(mean, var, a, b, c)
            learned = law_gain / max(float(law.multiplier(np.asarray(law.edges[:-1])).max()), 1e-12)
        else:
            p_skill = engine.predict_skill_items(batch)  # difficulty for this student on this skill
            learned = progress.values(p_skill, progress.optimistic(p_items.shape[0]))
    items = choose_items(cat, p_items, info_items, uncertainty, config.target_success, config.targeting_width,
                         config.weights["information"], config.randomesque, rng, constraints.items_allowed, learned)
    skill_ready = np.exp(log_in_place @ engine.catalog.graph.direct.T.astype(float))  # (N, S) direct prerequisites in place
    target = geometry.target_skill(st.p, skill_ready)
    rows = np.arange(st.p.shape[0])[:, None]
    gain_before_item = gain
    if law_gain is not None:  # the expected gain follows what the paired item's difficulty teaches, as the log showed
        paired = items.item[rows, target]
        gain = gain * np.where(paired >= 0, law_gain[rows, np.maximum(paired, 0)], 1.0)
    components = {
        "gain": gain,
        "targeting": items.targeting[rows, target],
        "readiness": readiness,
        "review": st.review_need[:, primary],
        "information": items.information[rows, target] * uncertainty[:, None],
    }
    # the list's ready places: each prerequisite probably in place by either model (`probably_ready_resources`); the
    # per-skill ability speaks for a prerequisite once it has its own estimate (before, it is the general ability's)
    own_ability = ~np.isnan(batch.skill_theta)
    either = (st.p >= config.probe_ready_threshold) | (own_ability & (success >= config.probe_ready_threshold))
    probably_ready = probably_ready_resources(st, cat, prerequisites_hold(either, cat), candidates, scope,
                                              constraints.allowed)
    weights = ready_weights(batch.last_practice, geometry.direct_pairs, probably_ready, primary)
    due = rotation_due(batch.n_responses, cat.n_skills, config.ready_rotation)[:, primary] if config.ready_rotation else None
    return Scored(candidates, advanced_ready & candidates, target, components, items, st, weights, gain_before_item, due,
                  info_items)


def remedial_closed(p: np.ndarray, cat: Catalog, config: RecommenderConfig) -> np.ndarray:
    """(N, R) the remedial resources of skills whose P(learned) `p` (N, S) is at the advanced threshold: a student ready
    to go beyond a skill is not sent back over it, whatever a log measured remedial work to teach (its advanced work is
    what the equity rules offer there)."""
    return (cat.resource_level == REMEDIAL)[None, :] & (p[:, cat.resource_skill] >= config.advanced_threshold)


def probably_ready_resources(st: SkillStatus, cat: Catalog, prereqs_probable: np.ndarray, candidates: np.ndarray,
                             scope: np.ndarray | None, allowed: np.ndarray) -> np.ndarray:
    """(N, R) what the list's ready-skill places may offer: candidates on the fringe, and core resources of skills
    not mastered whose direct prerequisites are each probably in place (`prereqs_probable` (N, S); the caller takes
    a prerequisite as probably in place when P(learned), or once answered the per-skill ability's success on its
    typical item, is at least `probe_ready_threshold`, if not yet at the ready threshold), within the teacher's scope
    and allowed resources. P(learned) of a prerequisite the student has just learned lags behind, the more so when
    the answers that showed it were mixed (a two-state model reads a student going from 40% to 80% success as
    unsure); the per-skill ability follows the trend. Offering the next skill as a later place in the list waits for neither
    model to catch up with the other: a missed offer costs the student a turn, an early one a place in a list."""
    primary = cat.resource_skill
    core = (cat.resource_level == CORE)[None, :] & (prereqs_probable & ~st.mastered)[:, primary] & allowed[None, :]
    if scope is not None:
        core &= scope[:, primary]
    return (candidates & st.fringe[:, primary]) | core


def _fallback(candidates: np.ndarray, catalog: Catalog, constraints: ResolvedConstraints,
              scope: np.ndarray | None) -> np.ndarray:
    """Rows with no candidate (everything mastered, nothing to review) get the allowed advanced resources
    in scope, else every allowed resource in scope, else every allowed resource."""
    empty = ~candidates.any(axis=1)
    if not empty.any():
        return candidates
    allowed = np.broadcast_to(constraints.allowed[None, :], candidates.shape)
    in_scope = allowed if scope is None else allowed & scope[:, catalog.resource_skill]
    advanced = in_scope & (catalog.resource_level == ADVANCED)[None, :]
    filler = np.where(advanced.any(axis=1, keepdims=True), advanced, np.where(in_scope.any(axis=1, keepdims=True), in_scope, allowed))
    return np.where(empty[:, None], filler, candidates)
