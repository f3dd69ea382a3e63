"""The M-step: maximize each item's expected complete-data log-likelihood (plus log priors).

Given expected counts per item and quadrature node (`right`, `total`, shape (I, K)), each item's
objective is sum_k right_k log P_k + (total_k - right_k) log(1 - P_k) + log prior. It is maximized
by Fisher scoring over internal coordinates (d, a, g) = (intercept -a b, slope, logit c), vectorized
over items (batched 1x1 / 2x2 / 3x3 solves), with per-item step halving so every step ascends.
The 1PL's common slope couples the items: its Newton system is an arrow matrix solved in O(I).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from models.irt.response import log_sigmoids

from models.irt.priors import Priors

MODELS = ("rasch", "1pl", "2pl", "3pl")
# Coordinates (0 = d, 1 = a, 2 = g) each model estimates per item; the 1PL's slope is shared instead.
ITEM_COORDS = {"rasch": [0], "1pl": [0], "2pl": [0, 1], "3pl": [0, 1, 2]}
MAX_STEP = 2.0  # cap on a Newton step's largest coordinate change, for the first EM cycles
RIDGE = 1e-10


@dataclass
class ItemCoords:
    """Internal item coordinates, each shape (I,): intercept d, slope a, g = logit(c) (-inf when c = 0)."""

    d: np.ndarray
    a: np.ndarray
    g: np.ndarray

    def stacked(self) -> np.ndarray:
        return np.stack([self.d, self.a, self.g], axis=1)

    @classmethod
    def from_stacked(cls, x: np.ndarray) -> ItemCoords:
        return cls(x[:, 0].copy(), x[:, 1].copy(), x[:, 2].copy())


def data_terms(
    x: ItemCoords, right: np.ndarray, total: np.ndarray, nodes: np.ndarray, guessing: bool, derivatives: bool = True
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Expected complete-data log-likelihood per item (I,), its exact gradient (I, 3) and minus the
    expected information (I, 3, 3) over (d, a, g). Formulas in stable form: with s = sigmoid(z),
    P = c + (1 - c) s, dl/dz = (r - n P) s / P, dl/dg = (r - n P) c / P."""
    z = x.a[:, None] * nodes[None, :] + x.d[:, None]
    log_s, log_1s = log_sigmoids(z)
    wrong = total - right
    if guessing:
        c = expit(x.g)[:, None]
        log_p = np.logaddexp(np.log(c), np.log1p(-c) + log_s)
        value = (right * log_p + wrong * (np.log1p(-c) + log_1s)).sum(axis=1)
    else:
        c = np.zeros((len(x.a), 1))
        value = (right * log_s + wrong * log_1s).sum(axis=1)
    if not derivatives:
        return value, None, None
    s = np.exp(log_s)
    p = c + (1.0 - c) * s
    s_over_p = np.exp(log_s - log_p) if guessing else np.ones_like(s)
    resid = right - total * p
    gz, gg = resid * s_over_p, resid * c / p if guessing else np.zeros_like(s)
    wzz = total * (1.0 - c) * s * (1.0 - s) * s_over_p
    moments = np.stack([np.ones_like(nodes), nodes, nodes**2], axis=1)  # (K, 3)
    zq = gz @ moments[:, :2]  # sum_k gz * [1, q]
    grad = np.column_stack([zq[:, 0], zq[:, 1], gg.sum(axis=1)])
    fz = wzz @ moments  # sum_k wzz * [1, q, q^2]
    info = np.zeros((len(x.a), 3, 3))
    info[:, 0, 0], info[:, 0, 1], info[:, 1, 1] = fz[:, 0], fz[:, 1], fz[:, 2]
    if guessing:
        wzg = total * c * (1.0 - c) * s * (1.0 - s) / p
        wgg = total * c**2 * (1.0 - c) * (1.0 - s) / p
        fzg = wzg @ moments[:, :2]
        info[:, 0, 2], info[:, 1, 2], info[:, 2, 2] = fzg[:, 0], fzg[:, 1], wgg.sum(axis=1)
    info = np.triu(info) + np.transpose(np.triu(info, 1), (0, 2, 1))
    return value, grad, -info


def objective(
    x: ItemCoords, right: np.ndarray, total: np.ndarray, nodes: np.ndarray, model: str, priors: Priors, derivatives: bool = True
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Per-item log posterior (data + priors of b, c and, except for the shared 1PL slope, a)."""
    guessing = model == "3pl"
    value, grad, curv = data_terms(x, right, total, nodes, guessing, derivatives)
    pv, pg, pc = priors.item_terms(x.a, x.d, x.g, guessing)
    value = value + pv
    if model in ("2pl", "3pl"):
        sv, sg, sc = priors.slope_terms(x.a)
        value = value + sv
    if not derivatives:
        return value, None, None
    grad, curv = grad + pg, curv + pc
    if model in ("2pl", "3pl"):
        grad[:, 1] += sg
        curv[:, 1, 1] += sc
    return value, grad, curv


def _capped(step: np.ndarray) -> np.ndarray:
    biggest = np.abs(step).max(axis=-1, keepdims=True) if step.ndim > 1 else np.abs(step).max(keepdims=True)
    return step * np.minimum(1.0, MAX_STEP / np.maximum(biggest, 1e-300))


def _per_item_newton(
    x: ItemCoords, right: np.ndarray, total: np.ndarray, nodes: np.ndarray, model: str, priors: Priors, max_steps: int, tol: float
) -> ItemCoords:
    """Independent Fisher-scoring ascent for every item (Rasch, 2PL, 3PL)."""
    idx = ITEM_COORDS[model]
    cur = x.stacked()
    for _ in range(max_steps):
        value, grad, curv = objective(ItemCoords.from_stacked(cur), right, total, nodes, model, priors)
        h = curv[:, idx][:, :, idx] - RIDGE * np.eye(len(idx))
        step = np.zeros_like(cur)
        step[:, idx] = _capped(np.linalg.solve(h, -grad[:, idx][..., None])[..., 0])
        t = np.ones(len(cur))
        pending = np.ones(len(cur), dtype=bool)
        new = cur.copy()
        for _halving in range(40):
            cand = cur + t[:, None] * step
            cand_value, _, _ = objective(ItemCoords.from_stacked(cand), right, total, nodes, model, priors, derivatives=False)
            ok = pending & (cand_value >= value - 1e-12 * (1.0 + np.abs(value)))
            new[ok] = cand[ok]
            pending &= ~ok
            if not pending.any():
                break
            t[pending] *= 0.5
        moved = np.abs(new[:, idx] - cur[:, idx])
        cur = new
        if not np.isfinite(moved).all() or moved.max(initial=0.0) < tol:
            break
    return ItemCoords.from_stacked(cur)


def _common_slope_newton(
    x: ItemCoords, right: np.ndarray, total: np.ndarray, nodes: np.ndarray, priors: Priors, max_steps: int, tol: float
) -> ItemCoords:
    """1PL: intercepts d_i and one common slope a; arrow-matrix Newton with global step halving."""
    d, a = x.d.copy(), float(x.a[0])

    def total_value(d_: np.ndarray, a_: float) -> float:
        v, _, _ = objective(ItemCoords(d_, np.full_like(d_, a_), x.g), right, total, nodes, "1pl", priors, derivatives=False)
        return float(v.sum() + priors.slope_terms(np.array([a_]))[0][0])

    for _ in range(max_steps):
        v, g, h = objective(ItemCoords(d, np.full_like(d, a), x.g), right, total, nodes, "1pl", priors)
        sv, sg, sc = (float(t[0]) for t in priors.slope_terms(np.array([a])))
        g_d, g_a = g[:, 0], g[:, 1].sum() + sg
        h_dd, h_da, h_aa = h[:, 0, 0] - RIDGE, h[:, 0, 1], h[:, 1, 1].sum() + sc - RIDGE
        schur = h_aa - np.sum(h_da**2 / h_dd)
        step_a = -(g_a - np.sum(h_da * g_d / h_dd)) / schur
        step_d = -(g_d + h_da * step_a) / h_dd
        step = _capped(np.append(step_d, step_a))
        base, t = float(v.sum() + sv), 1.0
        for _halving in range(40):
            if total_value(d + t * step[:-1], a + t * step[-1]) >= base - 1e-12 * (1.0 + abs(base)):
                break
            t *= 0.5
        else:
            t = 0.0
        d, a = d + t * step[:-1], a + t * step[-1]
        if t * np.abs(step).max() < tol:
            break
    return ItemCoords(d, np.full_like(d, a), x.g)


def maximize(
    x: ItemCoords, right: np.ndarray, total: np.ndarray, nodes: np.ndarray, model: str, priors: Priors,
    max_steps: int = 20, tol: float = 1e-9,
) -> ItemCoords:
    """New coordinates of the (free) items given their expected counts; shapes (I,) and (I, K)."""
    if model not in MODELS:
        raise ValueError(f"unknown IRT model {model!r}; choose one of {', '.join(MODELS)}")
    if len(x.a) == 0:
        return x
    if model == "1pl":
        return _common_slope_newton(x, right, total, nodes, priors, max_steps, tol)
    return _per_item_newton(x, right, total, nodes, model, priors, max_steps, tol)
