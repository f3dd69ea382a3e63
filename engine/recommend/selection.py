"""Re-rank and choose the top k: diversity, Thompson exploration, the advanced-offer guarantee, propensities.

Slot by slot, every remaining candidate gets
    score = base + w_exploration * (Thompson draw of its effectiveness) - w_diversity * overlap
(overlap with the slots already filled: same skill 1, same kind 0.5) and one is drawn from
softmax(score / temperature) (Gumbel-max sampling). Its propensity, P(this resource in this slot | the
slots before), is the softmax probability averaged over `draws` independent Thompson draws: a Monte-Carlo
estimate of the exact marginal probability under the policy, for off-policy evaluation. The propensities of
all slots are computed together once the slots are filled (each slot's available set and overlap are fixed
by the slots before it), in chunks of at most `PROPENSITY_CHUNK` array elements.

Equity guarantee: when k >= 2 and a student is ready for an advanced resource but none is in the first
k - 1 slots, the last slot is drawn among the advanced resources the student is ready for.
Ready skills: slots 2 to k - 1 (at most `ready_skill_slots` of them) are drawn among the resources with a positive
`ready_weight` on a skill not in the list yet (`scoring.probably_ready_resources`: the candidates on the fringe,
and core resources whose skill's prerequisites are probably in place), as long as there are such resources, with
probability proportional to the weight (`engine.recommend.ready`: the skills the student became ready for last
come first), among the skills whose turn it is (`ready_due`, `ready.rotation_due`) while there are such; their
propensity is exact (the weight over the weights available). The
first slot stays the best-scored choice; the others go in turn to the skills the student is ready for, so a
student who becomes ready for a skill is offered it in the next lists instead of waiting until it scores first.
Pinned resources fill the first slots with propensity 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.catalog import Catalog
from engine.catalog.schema import ADVANCED, RESOURCE_KINDS
from engine.recommend.config import RecommenderConfig
from engine.recommend.effectiveness import ResourceEffectiveness

KIND_OVERLAP = 0.5
PROPENSITY_CHUNK = 4_000_000  # elements of the (slots, draws, N, C) score array computed at once


@dataclass(frozen=True)
class Selection:
    """(N, k) arrays: resource index (-1 = no more candidates), final score, diversity and exploration
    values, propensity (NaN when not estimated), and flags for pinned / equity-guaranteed slots."""

    resources: np.ndarray
    scores: np.ndarray
    diversity: np.ndarray
    exploration: np.ndarray
    propensity: np.ndarray
    pinned: np.ndarray
    guaranteed_advanced: np.ndarray
    kept_for_ready_skill: np.ndarray | None = None  # (N, k) slots drawn among the resources of ready skills


def _softmax_prob(scores: np.ndarray, avail: np.ndarray, choice: np.ndarray, temperature: float) -> np.ndarray:
    """P(choice) under softmax(scores / T) over `avail`; scores (..., N, R), avail and choice broadcast."""
    logits = np.where(avail, scores / temperature, -np.inf)
    top = logits.max(axis=-1, keepdims=True)
    w = np.exp(logits - np.where(np.isfinite(top), top, 0.0))  # exp(-inf) = 0 outside `avail`
    total = w.sum(axis=-1)
    picked = np.take_along_axis(w, np.maximum(choice, 0)[..., None], axis=-1)[..., 0]
    return np.where(total > 0, picked / np.where(total > 0, total, 1.0), np.nan)


def _mc_propensities(drawn: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]], base: np.ndarray, mc: np.ndarray,
                     w_exp: float, w_div: float, temperature: float) -> list[np.ndarray]:
    """Per drawn slot, the (N,) softmax probability of its choice averaged over the (D, N, C) Thompson draws
    `mc` (NaN when nothing was available); slots are stacked in chunks of at most PROPENSITY_CHUNK elements."""
    per_slot = mc.size
    step = max(1, PROPENSITY_CHUNK // max(per_slot, 1))
    out: list[np.ndarray] = []
    for start in range(0, len(drawn), step):
        chunk = drawn[start:start + step]
        overlap = np.stack([d[1] for d in chunk])[:, None]  # (J, 1, N, C)
        avail = np.stack([d[2] for d in chunk])[:, None]
        position = np.stack([d[3] for d in chunk])[:, None]  # (J, 1, N)
        score = base[None, None] + w_exp * mc[None] - w_div * overlap  # (J, D, N, C)
        out.extend(_softmax_prob(score, avail, position, temperature).mean(axis=1))
    return out


def select(base: np.ndarray, candidates: np.ndarray, advanced_ready: np.ndarray, catalog: Catalog,
           config: RecommenderConfig, effectiveness: ResourceEffectiveness, k: int, pinned: np.ndarray,
           rng: np.random.Generator, draws: int = 0, ready_weight: np.ndarray | None = None,
           ready_due: np.ndarray | None = None) -> Selection:
    """Choose k resources per row from `base` (N, R) scores over `candidates` (N, R); `ready_weight` (N, R), positive
    on the resources of skills the student is ready for, is what the ready-skill slots draw by, the `ready_due` (N, R)
    ones first (None: no turns)."""
    n, r = base.shape
    w_exp, w_div = config.weights["exploration"], config.weights["diversity"]
    primary, kind = catalog.resource_skill, catalog.resource_kind
    is_advanced = catalog.resource_level == ADVANCED
    realized = effectiveness.draw(rng, (n,))  # (N, R)
    # Propensities only concern the columns that can be chosen (candidates): Monte-Carlo draws for those only.
    cols = np.flatnonzero(candidates.any(axis=0)) if draws else np.zeros(0, dtype=np.int64)
    mc = effectiveness.draw(rng, (draws, n), cols) if draws else None  # (D, N, C)
    taken = np.zeros((n, r), dtype=bool)
    skill_used = np.zeros((n, catalog.n_skills), dtype=bool)
    kind_used = np.zeros((n, len(RESOURCE_KINDS)), dtype=bool)
    resources = np.full((n, k), -1, dtype=np.int64)
    overlaps = np.zeros((n, k))  # overlap of each chosen resource with the slots before it
    pinned_flag = np.zeros((n, k), dtype=bool)
    guaranteed = np.zeros((n, k), dtype=bool)
    kept_ready = np.zeros((n, k), dtype=bool)
    ready_prop = np.full((n, k), np.nan)  # propensity of a ready-skill slot: its weight over the weights available
    last_ready_slot = min(k - 2, config.ready_skill_slots) if ready_weight is not None else 0
    log_ready = np.log(np.where(ready_weight > 0, ready_weight, 1.0)) if ready_weight is not None else None
    rows = np.arange(n)
    explored = base + w_exp * realized  # (N, R) score before the diversity penalty
    free = max(k - pinned.size, 0)  # Gumbel noise for every drawn slot at once (sampling from the softmax)
    gumbel = -np.log(-np.log(rng.random((free, n, r)).clip(1e-300, 1.0)))
    drawn: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []  # (slot, overlap, avail, choice position) over cols
    for j in range(k):
        overlap = skill_used[:, primary] + KIND_OVERLAP * kind_used[:, kind]  # (N, R)
        if j < pinned.size:
            choice = np.full(n, pinned[j])
            pinned_flag[:, j] = True
        else:
            avail = candidates & ~taken
            if config.ensure_advanced_offer and k >= 2 and j == k - 1:
                need = (avail & advanced_ready).any(axis=1) & ~(taken & is_advanced[None, :]).any(axis=1)
                avail = np.where(need[:, None], avail & advanced_ready, avail)
                guaranteed[:, j] = need
            elif 1 <= j <= last_ready_slot:
                ready = (ready_weight > 0) & ~taken & ~skill_used[:, primary]  # may go beyond the candidates
                if ready_due is not None:  # the skills whose turn it is first (rotation)
                    due = ready & ready_due
                    ready = np.where(due.any(axis=1, keepdims=True), due, ready)
                keep = ready.any(axis=1)
                avail = np.where(keep[:, None], ready, avail)
                kept_ready[:, j] = keep
                ready_total = np.where(ready, ready_weight, 0.0).sum(axis=1)
            scores = np.where(kept_ready[:, j:j + 1], log_ready, (explored - w_div * overlap) / config.temperature)
            logits = np.where(avail, scores + gumbel[j - pinned.size], -np.inf)
            choice = np.where(avail.any(axis=1), np.argmax(logits, axis=1), -1)
            if kept_ready[:, j].any():
                ready_prop[:, j] = np.where(kept_ready[:, j], ready_weight[rows, np.maximum(choice, 0)] / np.where(kept_ready[:, j], ready_total, 1.0), np.nan)
            if mc is not None and cols.size:
                # a ready-skill slot may take a resource outside the candidates' columns; its propensity is the
                # weight share (below), so its Monte-Carlo position only has to be a valid index
                position = np.minimum(np.searchsorted(cols, np.maximum(choice, 0)), cols.size - 1)
                drawn.append((j, overlap[:, cols], avail[:, cols], position))
        ok = choice >= 0
        safe = np.maximum(choice, 0)
        resources[:, j] = choice
        overlaps[:, j] = overlap[rows, safe]
        taken[rows[ok], safe[ok]] = True
        skill_used[rows[ok], primary[safe[ok]]] = True
        kind_used[rows[ok], kind[safe[ok]]] = True
    chosen = resources >= 0
    safe = np.maximum(resources, 0)
    out = {"scores": np.where(chosen, explored[rows[:, None], safe] - w_div * overlaps, np.nan),
           "diversity": np.where(chosen, -overlaps, np.nan),
           "exploration": np.where(chosen, realized[rows[:, None], safe], np.nan),
           "propensity": np.where(chosen & pinned_flag, 1.0, np.nan)}  # drawn slots: filled in below when asked for
    if drawn:
        props = _mc_propensities(drawn, base[:, cols], mc, w_exp, w_div, config.temperature)
        for (j, *_), prop in zip(drawn, props, strict=True):
            out["propensity"][:, j] = np.where(chosen[:, j], np.where(kept_ready[:, j], ready_prop[:, j], prop), np.nan)
    return Selection(resources, out["scores"], out["diversity"], out["exploration"], out["propensity"], pinned_flag, guaranteed,
                     kept_ready)
