"""Next-item choice per skill: difficulty targeting plus information, with randomesque exposure control.

For every student and skill, items of that skill are scored by
    targeting(P(correct)) + information_weight * uncertainty * information / max information
and one of the `randomesque` best is drawn uniformly (Kingsbury & Zara's randomesque method), so no
single item is shown to everyone in the same state; its propensity is 1 / (number drawn from).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.catalog import Catalog


def targeting(p: np.ndarray, target: float, width: float) -> np.ndarray:
    """Closeness of a predicted success probability to the target: exp(-((p - target) / width)^2 / 2), in (0, 1]."""
    return np.exp(-0.5 * ((p - target) / width) ** 2)


@dataclass(frozen=True)
class ItemChoice:
    """Per student and skill (N, S): chosen item index (-1 if the skill has no items), its predicted
    P(correct), targeting value, relative information and propensity."""

    item: np.ndarray
    p_correct: np.ndarray
    targeting: np.ndarray
    information: np.ndarray
    propensity: np.ndarray


def choose_items(catalog: Catalog, p_items: np.ndarray, info_items: np.ndarray, uncertainty: np.ndarray,
                 target: float, width: float, information_weight: float, randomesque: int,
                 rng: np.random.Generator, allowed: np.ndarray | None = None,
                 learned: np.ndarray | None = None) -> ItemChoice:
    """Pick one item per (student, skill).

    p_items, info_items: (N, I) predicted P(correct) and Fisher information at the ability estimate;
    uncertainty: (N,) posterior SD / prior SD clipped to [0, 1]; allowed: (I,) bool, items that may be shown
    (None = all); learned: (N, I) the learned value of practising each item now, in [0, 1] (replaces the fixed
    closeness to `target` when given). A skill whose items are all blocked gets no item (-1).
    """
    table = catalog.items_by_skill  # (S, M), -1 padded
    valid = table >= 0
    if allowed is not None:
        valid &= allowed[np.maximum(table, 0)]
    safe = np.where(valid, table, 0)
    max_info = catalog.item_a**2 / 4.0
    rel_info = info_items / max_info[None, :]
    value = targeting(p_items, target, width) if learned is None else learned
    fit = value + information_weight * uncertainty[:, None] * rel_info  # (N, I)
    score = np.where(valid[None], fit[:, safe], -np.inf)  # (N, S, M)
    n_valid = valid.sum(axis=1)  # (S,)
    pool = np.minimum(randomesque, n_valid)  # (S,)
    order = np.argsort(-score, axis=2, kind="stable")
    pick = np.floor(rng.random(score.shape[:2]) * np.maximum(pool, 1)[None, :]).astype(np.int64)  # (N, S)
    n, n_skills = score.shape[:2]
    slot = order[np.arange(n)[:, None], np.arange(n_skills)[None, :], pick]
    item = np.where(n_valid[None, :] > 0, safe[np.arange(table.shape[0])[None, :], slot], -1)
    take = np.where(item >= 0, item, 0)
    rows = np.arange(p_items.shape[0])[:, None]
    p = np.where(item >= 0, p_items[rows, take], np.nan)
    return ItemChoice(
        item=item,
        p_correct=p,
        targeting=np.where(item >= 0, targeting(p, target, width) if learned is None else learned[rows, take], 0.0),
        information=np.where(item >= 0, rel_info[rows, take], 0.0),
        propensity=np.where(item >= 0, 1.0 / np.maximum(pool, 1)[None, :], 0.0),
    )
