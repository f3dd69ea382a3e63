"""BKT EM as separate steps: expected counts that add across student partitions, and the driver's loop.

`models.bkt.kernels.em_fit_all` runs EM inside each skill's compiled task (the fast local path). This
module runs the same iteration with the E-step outside: `ExpectedCounts` are the sums the fused kernel
forms before its M-step (kernels.expected_counts_all over any set of sequences), `m_step` is its clipped
ratio update, and `run_em` its convergence rule and restart retirement per (restart, skill). Given the
whole log as one partition it reproduces the fused kernel's fit (tests/distributed/test_bkt_partitions.py);
given student partitions it gives the same fit up to the order of floating-point sums.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np

_TINY = 1e-300  # the fused kernel's threshold on a denominator


@dataclass
class ExpectedCounts:
    """Sufficient statistics of one E-step: ll, n_ul, n_u, n_lu, n_l (R, K); g_num, g_den, s_num, s_den
    (R, emission classes); pr_num, pr_den (R, prior classes). Zero for (restart, skill) pairs not asked."""

    ll: np.ndarray
    n_ul: np.ndarray
    n_u: np.ndarray
    n_lu: np.ndarray
    n_l: np.ndarray
    g_num: np.ndarray
    g_den: np.ndarray
    s_num: np.ndarray
    s_den: np.ndarray
    pr_num: np.ndarray
    pr_den: np.ndarray

    @classmethod
    def total_of(cls, parts: Sequence[ExpectedCounts]) -> ExpectedCounts:
        """The sum of the partitions' statistics (in the given order)."""
        if not parts:
            raise ValueError("no partition statistics to add up")
        names = [f.name for f in fields(cls)]
        total = {name: getattr(parts[0], name).copy() for name in names}
        for part in parts[1:]:
            for name in names:
                total[name] += getattr(part, name)
        return cls(**total)


@dataclass
class Bounds:
    """The identifiable box of the M-step (as BKT's hyperparameters)."""

    fit_forget: bool
    lo: float
    max_guess: float
    max_slip: float


def _ratio(num: np.ndarray, den: np.ndarray, lo: float, hi: float, old: np.ndarray, positive: float) -> np.ndarray:
    """min(max(num / den, lo), hi) where den > positive, else the old value (the kernel's guarded update)."""
    ok = den > positive
    ratio = np.divide(num, den, out=np.zeros_like(num), where=ok)
    return np.where(ok, np.minimum(np.maximum(ratio, lo), hi), old)


def m_step(counts: ExpectedCounts, params: dict[str, np.ndarray], update: np.ndarray, bounds: Bounds,
           class_skill: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """Update `params` in place for the (restart, skill) pairs with `update[r, k]`, as `_em_skill` does.

    class_skill: the skill code of each emission class and of each prior class (KT-IDEM's (skill, item)
    and multiprior's (skill, group) classes), so a class is updated with its skill; None when every
    class is its skill (class = skill code).
    """
    hi = 1.0 - bounds.lo
    new = {
        "learn": _ratio(counts.n_ul, counts.n_u, bounds.lo, hi, params["learn"], _TINY),
        "guess": _ratio(counts.g_num, counts.g_den, bounds.lo, bounds.max_guess, params["guess"], _TINY),
        "slip": _ratio(counts.s_num, counts.s_den, bounds.lo, bounds.max_slip, params["slip"], _TINY),
        "prior": _ratio(counts.pr_num, counts.pr_den, bounds.lo, hi, params["prior"], 0.0),
    }
    if bounds.fit_forget:
        new["forget"] = _ratio(counts.n_lu, counts.n_l, bounds.lo, hi, params["forget"], _TINY)
    emis_update = update if class_skill is None else update[:, class_skill[0]]
    prior_update = update if class_skill is None else update[:, class_skill[1]]
    for name, values in new.items():
        mask = emis_update if name in ("guess", "slip") else prior_update if name == "prior" else update
        params[name][mask] = values[mask]


def run_em(
    e_step: Callable[[dict[str, np.ndarray], np.ndarray], ExpectedCounts], params: dict[str, np.ndarray],
    bounds: Bounds, max_iter: int, tol: float, callback: Callable[[int, int], None] | None = None,
    class_skill: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """EM for every (restart, skill) from the starting points in `params` (overwritten with the fits).

    `e_step(params, active)` returns the statistics at `params` for the active pairs. Per pair, as the
    fused kernel: stop when the log-likelihood changes by less than `tol` (absolute) from the previous
    iteration, keeping the parameters that gave it; after `max_iter` keep the last M-step's parameters
    and the log-likelihood of the ones before it. Returns loglik and iterations, both (R, K).
    class_skill: the skill of each emission and prior class, as `m_step`'s (None: one class per skill).
    """
    shape = params["learn"].shape
    active = np.ones(shape, dtype=bool)
    prev_ll = np.full(shape, -np.inf)
    ll_out = np.zeros(shape)
    it_out = np.zeros(shape, dtype=np.int64)
    for it in range(1, max_iter + 1):
        counts = e_step(params, active)
        done = active & (np.abs(counts.ll - prev_ll) < tol) if it > 1 else np.zeros(shape, dtype=bool)
        ll_out[active] = counts.ll[active]
        it_out[active] = it
        update = active & ~done
        prev_ll[update] = counts.ll[update]
        m_step(counts, params, update, bounds, class_skill)
        active = update
        if callback is not None:
            callback(it, max_iter)
        if not active.any():
            break
    return ll_out, it_out
