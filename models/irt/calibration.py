"""`calibrate`: marginal maximum likelihood (or Bayes modal) calibration of dichotomous IRT items.

Pipeline: screen items (no finite estimate -> reported warning), choose start values from item
p-values, run Bock-Aitkin EM (SQUAREM-accelerated) over the free items with anchors held fixed, then
compute the marginal log-likelihood, AIC/BIC and standard errors at the solution.

Fixed-item calibration: pass `anchors` (a calibrated `ItemBank`); items it holds keep their values,
the others are estimated, and the ability mean and sd are estimated too (the anchors fix the scale).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import logit

from models.irt.bank import ItemBank
from models.irt.data import ResponseData
from models.irt.diagnostics import ItemWarning, estimate_warnings, screen_items
from models.irt.em import EMProblem, run_em
from models.irt.mstep import MODELS, ItemCoords
from models.irt.priors import Priors
from models.irt.quadrature import Quadrature
from models.irt.standard_errors import MAX_PARAMETERS, choose_method, covariance, crossprod_information, item_errors, observed_information

log = logging.getLogger(__name__)

DEFAULT_C_PRIOR = (5.0, 17.0)  # Beta with mode 0.2 (BILOG's default family for the 3PL asymptote)
START_C = 0.2


@dataclass
class Calibration:
    """Result of `calibrate`: the bank plus fit statistics and warnings (JSON via `to_dict`)."""

    model: str
    bank: ItemBank
    loglik: float
    n_parameters: int
    n_students: int
    n_iter: int
    converged: bool
    max_change: float
    latent_mean: float = 0.0
    latent_sd: float = 1.0
    priors: Priors = field(default_factory=Priors)
    warnings: list[ItemWarning] = field(default_factory=list)
    se_method: str = "none"

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_parameters

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + np.log(max(self.n_students, 1)) * self.n_parameters

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "loglik": self.loglik,
            "aic": self.aic,
            "bic": self.bic,
            "n_parameters": self.n_parameters,
            "n_students": self.n_students,
            "n_iter": self.n_iter,
            "converged": self.converged,
            "max_change": self.max_change,
            "latent": {"mean": self.latent_mean, "sd": self.latent_sd},
            "priors": self.priors.to_dict(),
            "se_method": self.se_method,
            "warnings": [w.to_dict() for w in self.warnings],
            "items": self.bank.to_records(),
        }

    @classmethod
    def from_dict(cls, payload: Any) -> Calibration:
        """Rebuild from `to_dict()` output (or any file with at least "model" and "items"); ValueError
        naming the field when the payload is malformed."""
        if not isinstance(payload, dict):
            raise ValueError(f"a calibration must be a JSON object, got {type(payload).__name__}")
        model = payload.get("model")
        if model not in MODELS:
            raise ValueError(f"calibration field 'model' must be one of {', '.join(MODELS)}, got {model!r}")
        bank = ItemBank.from_records(payload.get("items"))
        latent = payload.get("latent") or {}
        raw_priors = payload.get("priors") or {}
        try:
            priors = Priors(**{k: tuple(v) if v is not None else None for k, v in raw_priors.items()})
        except TypeError as exc:
            raise ValueError(f"calibration field 'priors' is malformed: {exc}") from None

        def number(key: str, default: float) -> float:
            value = payload.get(key, default)
            if value is None:
                return float("nan")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"calibration field {key!r} must be a number, got {value!r}")
            return float(value)

        return cls(
            model=model, bank=bank, loglik=number("loglik", float("nan")), n_parameters=int(number("n_parameters", 0)),
            n_students=int(number("n_students", 0)), n_iter=int(number("n_iter", 0)),
            converged=bool(payload.get("converged", True)), max_change=number("max_change", float("nan")),
            latent_mean=float(latent.get("mean", 0.0)), latent_sd=float(latent.get("sd", 1.0)), priors=priors,
            warnings=[ItemWarning(**w) for w in payload.get("warnings", [])], se_method=str(payload.get("se_method", "none")),
        )


def default_priors(model: str, priors: Priors | None) -> Priors:
    """The 3PL gets a Beta(5, 17) prior on c unless the caller gave priors explicitly."""
    if priors is not None:
        return priors
    return Priors(c_beta=DEFAULT_C_PRIOR) if model == "3pl" else Priors()


def _start(model: str, n: np.ndarray, right: np.ndarray, priors: Priors) -> ItemCoords:
    """Start values: a = 1, d from the item's p-value (shrunk toward 0.5 so it stays finite), c = 0.2."""
    p = (right + 0.5) / (n + 1.0)
    a = np.ones(len(n))
    if model == "3pl":
        c0 = START_C
        if priors.c_beta is not None:
            alpha, beta = priors.c_beta
            c0 = (alpha - 1.0) / (alpha + beta - 2.0) if alpha + beta > 2 else START_C
        p = np.clip((p - c0) / (1.0 - c0), 0.02, 0.98)
        g = np.full(len(n), logit(c0))
    else:
        g = np.full(len(n), -np.inf)
    d = logit(p) * 1.2  # marginal p-values are flatter than the conditional curve at a = 1
    return ItemCoords(d, a, g)


def calibrate(
    data: ResponseData,
    model: str = "2pl",
    priors: Priors | None = None,
    quadrature: Quadrature | None = None,
    anchors: ItemBank | None = None,
    max_iter: int = 2000,
    tol: float = 1e-5,
    standard_errors: str = "auto",
    accelerate: bool = True,
    callback: Callable[[int, int], None] | None = None,
) -> Calibration:
    """Calibrate the items of `data`; see the module docstring. Raises ValueError on unusable input.
    `callback(n_iter, max_iter)` is called after each EM step (progress reports only)."""
    if model not in MODELS:
        raise ValueError(f"unknown IRT model {model!r}; choose one of {', '.join(MODELS)}")
    priors = default_priors(model, priors)
    quadrature = quadrature or Quadrature.normal()
    n, right = data.item_totals
    n_items = data.n_items

    fixed = np.zeros(n_items, dtype=bool)
    anchor_d, anchor_a, anchor_c = np.zeros(n_items), np.ones(n_items), np.zeros(n_items)
    if anchors is not None:
        pos = anchors.codes(data.item_ids)
        fixed = (pos >= 0) & anchors.usable[np.maximum(pos, 0)]
        anchor_a[fixed] = anchors.a[pos[fixed]]
        anchor_d[fixed] = -anchors.a[pos[fixed]] * anchors.b[pos[fixed]]
        anchor_c[fixed] = anchors.c[pos[fixed]]
        if not fixed.any():
            raise ValueError("anchors: none of the bank's usable items occurs in the data, so the scale cannot be linked")

    prior_identifies = priors.b_normal is not None and (model in ("rasch", "1pl") or priors.a_lognormal is not None)
    estimable, warnings = screen_items(data.item_ids, n, right, prior_identifies)
    fixed_ids = set(data.item_ids[fixed].tolist())
    warnings = [w for w in warnings if w.item_id not in fixed_ids]
    free = estimable & ~fixed
    kept = free | fixed
    latent = anchors is not None
    problem = EMProblem(data, model, priors, quadrature, free, kept, (anchor_d, anchor_a, anchor_c), latent)
    if not free.any():
        raise ValueError("no item can be estimated: every item is all-correct, all-wrong or fixed by the anchors")

    start_coords = _start(model, n[free], right[free], priors)
    start = problem.layout.pack(start_coords, 0.0, 1.0)
    result = run_em(problem, start, max_iter, tol, accelerate, callback)
    if not result.converged:
        log.warning("IRT EM did not converge in %d iterations (max change %.2g)", result.n_iter, result.max_change)
    coords, quad = problem.unpack(result.vector)
    post, _, _ = problem.posterior(result.vector)

    a, b, c = np.full(n_items, np.nan), np.full(n_items, np.nan), np.full(n_items, np.nan)
    f = problem.free_index
    a[f] = coords.a
    b[f] = -coords.d / coords.a
    c[f] = 1.0 / (1.0 + np.exp(-coords.g)) if model == "3pl" else 0.0
    a[fixed], b[fixed], c[fixed] = anchor_a[fixed], -anchor_d[fixed] / anchor_a[fixed], anchor_c[fixed]

    se = [np.full(n_items, np.nan) for _ in range(3)]
    method = choose_method(standard_errors, problem.layout.size, int(kept[data.item].sum()))
    if method != "none" and problem.layout.size <= MAX_PARAMETERS:
        info = observed_information(problem, result.vector) if method == "observed" else crossprod_information(problem, result.vector)
        cov = covariance(info)
        if cov is None:
            log.warning("IRT information matrix is not positive definite: standard errors left null")
        else:
            for target, values in zip(se, item_errors(cov, problem, coords)):
                target[f] = values
    elif method != "none":
        method = "none"

    warnings = warnings + estimate_warnings(data.item_ids, a, b, n, right, free)
    if warnings:
        shown = "; ".join(str(w) for w in warnings[:3])
        more = f" (and {len(warnings) - 3} more: see Calibration.warnings)" if len(warnings) > 3 else ""
        log.warning("IRT calibration: %d item warning(s): %s%s", len(warnings), shown, more)
    bank = ItemBank(data.item_ids, a, b, c, *se)
    n_responding = problem.n_responding
    return Calibration(
        model=model, bank=bank, loglik=post.loglik, n_parameters=problem.layout.size, n_students=n_responding,
        n_iter=result.n_iter, converged=result.converged, max_change=result.max_change,
        latent_mean=quad.mean, latent_sd=quad.sd, priors=priors, warnings=warnings, se_method=method,
    )
