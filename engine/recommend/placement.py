"""Placement (cold start): the first questions for a student whose level is not known yet.

A row is *in placement* (`needs_placement`) while nothing is known about the student (no responses and no
skill evidence) or while its responses still leave the ability uncertain (posterior SD `theta_sd` above
`PLACEMENT_SD`, for at most `PLACEMENT_MAX_RESPONSES` responses, so a catalog of weak items cannot hold a
student in placement for ever). A state with skill evidence but no responses (imported or built by hand)
is taken as known. In placement the recommender serves, slot by slot, the question of maximal Fisher
information at the current ability estimate (the engine's ability model, 3PL with the guessing
correction), among

- entry skills: P(all direct prerequisites learned) >= `MIN_READINESS` under the ability-informed
  P(learned) (the roots of the graph always; deeper skills once the estimate makes them plausible), not
  mastered, inside the teacher's assignment if any, with a resource that may be shown;
- items not blocked by the recommender settings;
- skills not yet in the list, so k questions cover k different entry skills.
A row with no such item falls back to any allowed item of a skill with a resource (in the assignment).

Exposure control is randomesque (Kingsbury & Zara, as `items.py`): the question is drawn uniformly from the
`randomesque` most informative candidates, so each slot's propensity is exact: P(resource | the slots
before) = (candidates of its skill in the pool) / pool, P(item | resource) = 1 / (candidates of its skill in
the pool). Teacher-pinned resources come first (propensity 1), each with one of the most informative items
of its own skill. Every question comes with the resource of its skill that the policy expects to teach the student
most (`scoring.Scored.gain_before_item`: room left, readiness, the level's efficacy, remedial work not waiting for
readiness, and the resource's value where the set's log measured it; advanced work only where the student is ready for
it, remedial work not on a skill the student is ready to go beyond, as in the lists), a function of the state, so the
propensities stay exact; with nothing to choose from, the skill's core practice set (else another core, then a
remedial, then an advanced resource). The question is what places the student; the
resource beside it is a step of learning, and a core practice set on a skill the student is not ready for teaches
little: paired by the policy, the suite's learners gained more wherever resources teach (docs/engine.md, "Cold
start").

Ready skills keep their place: a list of k >= 3 gives its last place (unless pinned) to the policy's ready-skill
draw (`ReadyPlace`, from `scoring.score_resources`: the resources of skills the student is probably ready for and
that a prerequisite practised here unlocked, the ones they became ready for last first, on a skill not yet in the
list, with the policy's item for it, the skills whose turn it is first), drawn with probability weight / (weights
available), its propensity; a row
with no such resource (a new student among them) keeps its question. The answered question, the first, is
unchanged. Without it a student who becomes ready for a skill during placement (the first 10-20 answers) would
not see that skill in a list until placement ends.

Why: the ability-informed cold start of `engine.mastery` pays only once the ability is known. The demo
catalog's items have a of about 0.6-2, so an average item tells little (a = 1, p = 0.5: information
0.25); ten of the most informative ones bring the posterior SD from 1 to below 0.5 (tests/engine/test_placement.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np

from engine.catalog import Catalog
from engine.catalog.schema import CORE, RESOURCE_KINDS, REMEDIAL
from engine.mastery import MasteryBatch, MasteryEngine
from engine.recommend.config import COMPONENTS
from engine.recommend.constraints import ResolvedConstraints

PLACEMENT_SD = 0.5  # placement continues while the ability's posterior SD is above this
PLACEMENT_MAX_RESPONSES = 20  # ... but for at most this many responses
MIN_READINESS = 0.2  # an entry skill: P(its direct prerequisites learned) at least this
PRACTICE_SET = RESOURCE_KINDS.index("practice_set")

# A placement list is ranked by information alone: score = Fisher information of the question at the ability estimate.
PLACEMENT_WEIGHTS: Mapping[str, float] = MappingProxyType({name: float(name == "information") for name in COMPONENTS})


def needs_placement(batch: MasteryBatch, placement_sd: float | None = PLACEMENT_SD,
                    max_responses: int = PLACEMENT_MAX_RESPONSES) -> np.ndarray:
    """(N,) bool, rows in placement (module docstring); `placement_sd=None` switches placement off."""
    if placement_sd is None:
        return np.zeros(len(batch), dtype=bool)
    fresh = (batch.n_responses == 0) & (batch.evidence.sum(axis=1) == 0)
    uncertain = (batch.n_responses > 0) & (batch.n_responses < max_responses) & (batch.theta_sd > placement_sd)
    return fresh | uncertain


def entry_resources(catalog: Catalog, allowed: np.ndarray) -> np.ndarray:
    """(S,) the resource shown with a placement question of each skill (its primary skill): the core practice
    set, else another core, a remedial, an advanced resource; only `allowed` (R,) ones; -1 if none."""
    level, primary = catalog.resource_level, catalog.resource_skill
    rank = np.select([level == CORE, level == REMEDIAL], [0, 2], 4) + (catalog.resource_kind != PRACTICE_SET)
    rank = np.where(allowed, rank, np.iinfo(np.int64).max)
    order = np.lexsort((np.arange(primary.size), rank, primary))  # by skill, then preference, then catalog order
    skills = primary[order]
    first = np.flatnonzero(np.r_[True, skills[1:] != skills[:-1]]) if skills.size else np.zeros(0, dtype=np.int64)
    out = np.full(catalog.n_skills, -1, dtype=np.int64)
    best = order[first]
    out[skills[first]] = np.where(allowed[best], best, -1)
    return out


def readiness(engine: MasteryEngine, batch: MasteryBatch, p_start: np.ndarray | None = None) -> np.ndarray:
    """(N, S) P(all direct prerequisites learned) under the ability-informed P(learned) (1 for a root); `p_start`:
    that P(learned) when the caller has it (`engine.p_now(batch, None)`)."""
    return engine.prerequisites_learned(engine.p_now(batch, None) if p_start is None else p_start)


@dataclass(frozen=True)
class ReadyPlace:
    """(N, R) the policy's ready-skill draw for a placement list: `weight` (`Scored.ready_weight`, 0 off the ready
    skills), the `item` paired with each resource (-1: none), its `item_propensity`, and `due` (`Scored.ready_due`:
    the skills whose turn it is, drawn first; None: no turns)."""

    weight: np.ndarray
    item: np.ndarray
    item_propensity: np.ndarray
    due: np.ndarray | None = None


@dataclass(frozen=True)
class Placement:
    """(N, k) arrays per slot: question `items`, their `skills` and `resources` (-1 = no more), Fisher
    `information` at the ability estimate, predicted `p_correct`, `readiness` of the skill, `propensity`
    (of the resource in the slot, given the slots before; NaN when empty), `item_propensity` (of the item given
    the resource), `pinned` (a teacher's pin) and `ready` (the place went to a ready skill, `ReadyPlace`)."""

    items: np.ndarray
    skills: np.ndarray
    resources: np.ndarray
    information: np.ndarray
    p_correct: np.ndarray
    readiness: np.ndarray
    propensity: np.ndarray
    item_propensity: np.ndarray
    pinned: np.ndarray
    ready: np.ndarray


def choose_placement(engine: MasteryEngine, batch: MasteryBatch, k: int, *, rng: np.random.Generator,
                     constraints: ResolvedConstraints | None = None, randomesque: int = 5,
                     min_readiness: float = MIN_READINESS, now: float | np.ndarray | None = None,
                     ready_place: ReadyPlace | None = None, teaches: np.ndarray | None = None,
                     p_start: np.ndarray | None = None, information: np.ndarray | None = None,
                     entry: np.ndarray | None = None) -> Placement:
    """k placement questions per row of `batch` (module docstring); `constraints` carry the blocked items and
    resources, the teacher's assignment and pins (None: nothing blocked); `now` only for the predicted P(correct);
    `ready_place`: the policy's ready-skill draw for the last place of a list of k >= 3 (None: questions only);
    `teaches` (N, R): what each resource is expected to teach the student, -inf where it may not be shown: each
    question comes with the resource of its skill that teaches most (None, or none of its skill showable: the
    skill's core practice set, `entry_resources`). `p_start` (`engine.p_now(batch, None)`) and `information` (N, I) (the
    items' Fisher information at the ability estimate) are computed here unless the caller has them (the recommender's
    scoring does), as is `entry` (`entry_resources` of the allowed resources; the recommender keeps its own settings')."""
    cat = engine.catalog
    n, n_items = len(batch), cat.n_items
    rows = np.arange(n)
    items_allowed = np.ones(n_items, dtype=bool)
    resources_allowed = np.ones(cat.n_resources, dtype=bool)
    pinned = np.zeros(0, dtype=np.int64)
    if constraints is not None:
        resources_allowed, pinned = constraints.allowed, constraints.pinned
        if constraints.items_allowed is not None:
            items_allowed = constraints.items_allowed
    entry = entry_resources(cat, resources_allowed) if entry is None else entry  # (S,)
    info = information if information is not None else \
        engine.ability_model.information(batch.theta[:, None], cat.item_a[None, :], cat.item_b[None, :], cat.item_c[None, :])
    p_start = engine.p_now(batch, None) if p_start is None else p_start
    ready = readiness(engine, batch, p_start)  # (N, S)
    mastered = engine.flagged(p_start, batch)
    scope = None if constraints is None else constraints.scope(cat, mastered)
    showable = np.broadcast_to(entry >= 0, ready.shape) if scope is None else (entry >= 0)[None, :] & scope  # (N, S)
    eligible = showable & (ready >= min_readiness) & ~mastered
    item_skill = cat.item_skill
    none = ~(eligible[:, item_skill] & items_allowed[None, :]).any(axis=1)
    eligible = np.where(none[:, None], showable, eligible)  # a row without an entry skill: any skill with a resource
    # (N, I) candidate items by the tier of their skill, preferred first: not practised yet, then any of them
    tiers = [tier[:, item_skill] & items_allowed[None, :] for tier in (eligible & (batch.evidence == 0), eligible)]

    shape = (n, k)
    out_item, out_skill, out_res = (np.full(shape, -1, dtype=np.int64) for _ in range(3))
    out_prop, out_item_prop = np.full(shape, np.nan), np.full(shape, np.nan)
    out_pinned, out_ready = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
    used = np.zeros((n, cat.n_skills), dtype=bool)
    pool_size = max(1, min(int(randomesque), n_items))
    for j in range(k):  # slots (k is small); every row of the batch at once
        if j < pinned.size:
            skill = np.full(n, cat.resource_skill[pinned[j]])
            mask = np.broadcast_to(items_allowed & (item_skill == skill[0]), (n, n_items))
        else:  # per row, the first tier with a candidate on a skill not yet in the list
            free = ~used[:, item_skill]
            mask = np.zeros((n, n_items), dtype=bool)
            for tier in tiers:
                mask |= ~mask.any(axis=1, keepdims=True) & tier & free
        score = np.where(mask, info, -np.inf)
        top = np.argsort(-score, axis=1, kind="stable")[:, :pool_size]  # (N, pool) most informative first
        pool = np.minimum(pool_size, mask.sum(axis=1))
        pick = np.floor(rng.random(n) * np.maximum(pool, 1)).astype(np.int64)
        item = np.where(pool > 0, top[rows, pick], -1)
        in_pool = np.arange(pool_size)[None, :] < pool[:, None]
        same = (in_pool & (item_skill[top] == item_skill[np.maximum(item, 0)][:, None])).sum(axis=1)  # pool items of its skill
        if j < pinned.size:
            out_res[:, j], out_skill[:, j], out_pinned[:, j] = pinned[j], skill, True
            out_prop[:, j] = 1.0
            out_item_prop[:, j] = np.where(pool > 0, 1.0 / np.maximum(pool, 1), np.nan)
        else:
            skill = np.where(pool > 0, item_skill[np.maximum(item, 0)], -1)
            out_skill[:, j] = skill
            out_res[:, j] = np.where(pool > 0, entry[np.maximum(skill, 0)], -1)
            if teaches is not None:
                out_res[:, j] = _teaching_most(teaches, cat.resource_skill, skill, out_res[:, j])
            out_prop[:, j] = np.where(pool > 0, same / np.maximum(pool, 1), np.nan)
            out_item_prop[:, j] = np.where(pool > 0, 1.0 / np.maximum(same, 1), np.nan)
        out_item[:, j] = item
        if ready_place is not None and k >= 3 and j == k - 1 and j >= pinned.size:
            _give_to_ready_skill(ready_place, cat.resource_skill, used, rng, j,
                                 (out_item, out_skill, out_res, out_prop, out_item_prop, out_ready))
            skill = out_skill[:, j]
        ok = skill >= 0
        used[rows[ok], skill[ok]] = True
    has_item = out_item >= 0
    safe_item, safe_skill = np.maximum(out_item, 0), np.maximum(out_skill, 0)
    chosen = np.unique(safe_item)  # predicted P(correct) of the chosen items only
    p_chosen = engine.predict_items(batch, now, chosen, p_now=engine.p_now(batch, now, start=p_start))  # (N, chosen)
    p_items = p_chosen[rows[:, None], np.searchsorted(chosen, safe_item)]  # (N, k)
    return Placement(
        items=out_item, skills=out_skill, resources=out_res,
        information=np.where(has_item, info[rows[:, None], safe_item], np.where(out_res >= 0, 0.0, np.nan)),
        p_correct=np.where(has_item, p_items, np.nan),
        readiness=np.where(out_skill >= 0, ready[rows[:, None], safe_skill], np.nan),
        propensity=out_prop, item_propensity=out_item_prop, pinned=out_pinned, ready=out_ready,
    )


def _teaching_most(teaches: np.ndarray, primary: np.ndarray, skill: np.ndarray, entry: np.ndarray) -> np.ndarray:
    """(N,) per row, the resource whose primary skill is `skill[n]` with the largest `teaches[n]`, the `entry[n]` resource
    (the skill's core practice set) when it ties; `entry[n]` where none may be shown (or the row has no question)."""
    rows = np.arange(skill.size)
    value = np.where(primary[None, :] == skill[:, None], teaches, -np.inf)
    best = np.argmax(value, axis=1)
    top = value[rows, best]
    keep = (entry >= 0) & (value[rows, np.maximum(entry, 0)] >= top)  # a tie: the practice set, as before
    return np.where(np.isfinite(top) & (skill >= 0) & ~keep, best, entry)


def _give_to_ready_skill(place: ReadyPlace, primary: np.ndarray, used: np.ndarray, rng: np.random.Generator, j: int,
                         out: tuple[np.ndarray, ...]) -> None:
    """Slot `j` of the rows with a ready resource (with an item, on a skill not in the list yet) goes to one drawn
    by weight, among the due ones if any; the other rows keep their question. `out`: (items, skills, resources,
    propensity, item propensity, ready) (N, k) arrays, written in place."""
    items, skills, resources, prop, item_prop, ready = out
    avail = (place.weight > 0) & (place.item >= 0) & ~used[:, primary]
    if place.due is not None:  # the skills whose turn it is first (`ready.rotation_due`)
        avail = np.where((avail & place.due).any(axis=1, keepdims=True), avail & place.due, avail)
    weight = np.where(avail, place.weight, 0.0)
    cumulative = np.cumsum(weight, axis=1)
    total = cumulative[:, -1]
    take = total > 0
    u = rng.random(total.size) * total
    rows = np.flatnonzero(take)
    if not rows.size:
        return
    drawn = (cumulative <= u[:, None]).sum(axis=1)  # the first resource whose cumulative weight passes u
    r = drawn[rows]
    items[rows, j] = place.item[rows, r]
    skills[rows, j] = primary[r]
    resources[rows, j] = r
    prop[rows, j] = weight[rows, r] / total[rows]
    item_prop[rows, j] = place.item_propensity[rows, r]
    ready[rows, j] = True


def placement_reason(catalog: Catalog, skill: int, n_responses: int, *, pinned: bool, assigned: bool | None,
                     teaches: bool = False) -> str:
    """The plain-language reason of a placement question on `skill` (the student's responses so far: `n_responses`);
    `teaches`: the resource beside it was chosen as the one of the skill that should teach the student most."""
    name = catalog.skill_names[skill]
    level = "your level yet" if n_responses == 0 else \
        f"your level well yet ({n_responses} answer{'' if n_responses == 1 else 's'} so far)"
    parts = ["Pinned by your teacher."] if pinned else []
    parts.append(f"Placement question on {name}: we don't know {level}; this question tells us the most about "
                 "where you stand, so that what comes next fits you.")
    if teaches:
        parts.append("It comes with the material on this skill that should teach you most now.")
    if assigned is True:
        parts.append("It is part of what your teacher assigned.")
    elif assigned is False:
        parts.append("It is needed for work your teacher assigned.")
    return " ".join(parts)
