"""Item screening and warnings: items that cannot be estimated are reported, never silently clipped."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

EXTREME_B = 8.0  # |b| beyond this (on a N(0, 1) ability scale) signals a runaway estimate
EXTREME_A = 8.0


@dataclass(frozen=True)
class ItemWarning:
    """One item-level problem: what it is (`reason`) and what the estimator did about it (`action`)."""

    item_id: str
    reason: str
    n_responses: int
    n_correct: int
    action: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"item {self.item_id!r}: {self.reason} ({self.n_correct}/{self.n_responses} correct); {self.action}"


def screen_items(
    item_ids: np.ndarray, n_responses: np.ndarray, n_correct: np.ndarray, prior_identifies: bool
) -> tuple[np.ndarray, list[ItemWarning]]:
    """Flag items without a finite maximum-likelihood estimate: answered once, all correct, all wrong.

    Returns (estimable mask (I,), warnings). With priors that identify such an item
    (`prior_identifies`) it is still estimated, and the warning says the estimate rests on the prior.
    """
    once = n_responses == 1
    flat = (n_correct == 0) | (n_correct == n_responses)
    flagged = np.flatnonzero(flat)
    if prior_identifies:
        action = "estimated, but the estimate rests on the priors (no finite maximum-likelihood estimate)"
    else:
        action = "not estimated (no finite maximum-likelihood estimate): parameters null, its responses left out; add prior_b (and prior_a for 2PL/3PL) to estimate it"
    warnings = []
    for i in flagged:
        reason = "answered once" if once[i] else ("all correct" if n_correct[i] == n_responses[i] else "all wrong")
        warnings.append(ItemWarning(str(item_ids[i]), reason, int(n_responses[i]), int(n_correct[i]), action))
    estimable = np.ones(len(item_ids), dtype=bool) if prior_identifies else ~flat
    return estimable, warnings


def estimate_warnings(
    item_ids: np.ndarray, a: np.ndarray, b: np.ndarray, n_responses: np.ndarray, n_correct: np.ndarray, checked: np.ndarray
) -> list[ItemWarning]:
    """Warnings for estimated items whose values signal trouble: negative or runaway slopes, runaway b."""
    out = []
    for i in np.flatnonzero(checked):
        if a[i] < 0:
            reason, action = f"negative discrimination (a = {a[i]:.3f})", "kept; check the answer key or drop the item"
        elif a[i] > EXTREME_A or abs(b[i]) > EXTREME_B:
            reason, action = f"extreme estimate (a = {a[i]:.3f}, b = {b[i]:.3f})", "kept; few or uninformative responses: consider prior_a / prior_b"
        else:
            continue
        out.append(ItemWarning(str(item_ids[i]), reason, int(n_responses[i]), int(n_correct[i]), action))
    return out
