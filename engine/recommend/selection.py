"""Re-rank and choose the top k: diversity, Thompson exploration, the advanced-offer guarantee, propensities.

Slot by slot, every remaining candidate gets
    score = base + w_exploration * (Thompson draw of its effectiveness) - w_diversity * overlap
(overlap with the slots already filled: same skill 1, same kind 0.5) and one is drawn from
softmax(score / temperature) (Gumbel-max sampling). Its propensity, P(this resource in this slot | the
slots before), is the softmax probability averaged over `draws` independent Thompson draws: a Monte-Carlo
estimate of the exact marginal probability under the policy, for off-policy evaluation.

Equity guarantee: when k >= 2 and a student is ready for an advanced resource but none is in the first
k - 1 slots, the last slot is drawn among the advanced resources the student is ready for.
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


def _softmax_prob(scores: np.ndarray, avail: np.ndarray, choice: np.ndarray, temperature: float) -> np.ndarray:
    """P(choice) under softmax(scores / T) over `avail`; scores (..., N, R), avail and choice broadcast."""
    logits = np.where(avail, scores / temperature, -np.inf)
    top = logits.max(axis=-1, keepdims=True)
    w = np.where(avail, np.exp(logits - np.where(np.isfinite(top), top, 0.0)), 0.0)
    total = w.sum(axis=-1)
    picked = np.take_along_axis(w, np.maximum(choice, 0)[..., None], axis=-1)[..., 0]
    return np.where(total > 0, picked / np.where(total > 0, total, 1.0), np.nan)


def select(base: np.ndarray, candidates: np.ndarray, advanced_ready: np.ndarray, catalog: Catalog,
           config: RecommenderConfig, effectiveness: ResourceEffectiveness, k: int, pinned: np.ndarray,
           rng: np.random.Generator, draws: int = 0) -> Selection:
    """Choose k resources per row from `base` (N, R) scores over `candidates` (N, R)."""
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
    out = {name: np.full((n, k), np.nan) for name in ("scores", "diversity", "exploration", "propensity")}
    resources = np.full((n, k), -1, dtype=np.int64)
    pinned_flag = np.zeros((n, k), dtype=bool)
    guaranteed = np.zeros((n, k), dtype=bool)
    rows = np.arange(n)
    for j in range(k):
        overlap = skill_used[:, primary] + KIND_OVERLAP * kind_used[:, kind]  # (N, R)
        score = base + w_exp * realized - w_div * overlap
        if j < pinned.size:
            choice = np.full(n, pinned[j])
            prop = np.ones(n)
            pinned_flag[:, j] = True
        else:
            avail = candidates & ~taken
            if config.ensure_advanced_offer and k >= 2 and j == k - 1:
                need = (avail & advanced_ready).any(axis=1) & ~(taken & is_advanced[None, :]).any(axis=1)
                avail = np.where(need[:, None], avail & advanced_ready, avail)
                guaranteed[:, j] = need
            logits = np.where(avail, score / config.temperature, -np.inf)
            gumbel = -np.log(-np.log(rng.random((n, r)).clip(1e-300, 1.0)))
            choice = np.where(avail.any(axis=1), np.argmax(logits + gumbel, axis=1), -1)
            if mc is not None and cols.size:
                mc_score = base[:, cols][None] + w_exp * mc - w_div * overlap[:, cols][None]
                position = np.searchsorted(cols, np.maximum(choice, 0))  # the choice's place among the columns
                prop = _softmax_prob(mc_score, avail[:, cols][None], position[None], config.temperature).mean(axis=0)  # NaN when nothing is left
            else:
                prop = np.full(n, np.nan)
        ok = choice >= 0
        safe = np.maximum(choice, 0)
        resources[:, j] = choice
        out["scores"][:, j] = np.where(ok, score[rows, safe], np.nan)
        out["diversity"][:, j] = np.where(ok, -overlap[rows, safe], np.nan)
        out["exploration"][:, j] = np.where(ok, realized[rows, safe], np.nan)
        out["propensity"][:, j] = np.where(ok, prop, np.nan)
        taken[rows[ok], safe[ok]] = True
        skill_used[rows[ok], primary[safe[ok]]] = True
        kind_used[rows[ok], kind[safe[ok]]] = True
    return Selection(resources, out["scores"], out["diversity"], out["exploration"], out["propensity"], pinned_flag, guaranteed)
