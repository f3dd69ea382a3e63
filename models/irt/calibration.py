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
from models.irt.em import EMMap, EMProblem, EMResult, run_em
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


@dataclass
class ItemPlan:
    """What `calibrate` decides from the item totals before EM: the anchors' (d, a, c) for every item and
    which items they fix, which items are estimated (`free`) or enter the likelihood (`kept` = free | fixed),
    whether the ability mean and sd are estimated (`latent`: with anchors), and the screening warnings."""

    fixed: np.ndarray
    anchors: tuple[np.ndarray, np.ndarray, np.ndarray]
    free: np.ndarray
    kept: np.ndarray
    latent: bool
    warnings: list[ItemWarning]


def check_model(model: str) -> None:
    """ValueError for an unknown IRT model name."""
    if model not in MODELS:
        raise ValueError(f"unknown IRT model {model!r}; choose one of {', '.join(MODELS)}")


def plan_items(model: str, priors: Priors, item_ids: np.ndarray, n: np.ndarray, right: np.ndarray,
               anchors: ItemBank | None = None) -> ItemPlan:
    """Step 1 of `calibrate`: fix the anchors' items and screen the others from their totals (`n` responses and
    `right` answers per item, shape (I,)). ValueError when no anchor occurs in the data or no item is free."""
    n_items = len(item_ids)
    fixed = np.zeros(n_items, dtype=bool)
    anchor_d, anchor_a, anchor_c = np.zeros(n_items), np.ones(n_items), np.zeros(n_items)
    if anchors is not None:
        pos = anchors.codes(item_ids)
        fixed = (pos >= 0) & anchors.usable[np.maximum(pos, 0)]
        anchor_a[fixed] = anchors.a[pos[fixed]]
        anchor_d[fixed] = -anchors.a[pos[fixed]] * anchors.b[pos[fixed]]
        anchor_c[fixed] = anchors.c[pos[fixed]]
        if not fixed.any():
            raise ValueError("anchors: none of the bank's usable items occurs in the data, so the scale cannot be linked")

    prior_identifies = priors.b_normal is not None and (model in ("rasch", "1pl") or priors.a_lognormal is not None)
    estimable, warnings = screen_items(item_ids, n, right, prior_identifies)
    fixed_ids = set(item_ids[fixed].tolist())
    warnings = [w for w in warnings if w.item_id not in fixed_ids]
    free = estimable & ~fixed
    if not free.any():
        raise ValueError("no item can be estimated: every item is all-correct, all-wrong or fixed by the anchors")
    return ItemPlan(fixed, (anchor_d, anchor_a, anchor_c), free, free | fixed, anchors is not None, warnings)


def start_values(model: str, n: np.ndarray, right: np.ndarray, priors: Priors) -> ItemCoords:
    """Start values of the free items (totals `n`, `right`, shape (F,)): a = 1, d from the item's p-value
    (shrunk toward 0.5 so it stays finite), c = 0.2 (or the mode of the c prior)."""
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


def start_vector(problem: EMMap, plan: ItemPlan, n: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Step 2: the EM's start, `start_values` of the free items packed in `problem`'s layout (ability N(0, 1))."""
    return problem.layout.pack(start_values(problem.model, n[plan.free], right[plan.free], problem.priors), 0.0, 1.0)


def finish(problem: EMMap, result: EMResult, plan: ItemPlan, item_ids: np.ndarray, n: np.ndarray, right: np.ndarray,
           loglik: float, n_students: int, standard_errors: str,
           crossprod: Callable[[np.ndarray], np.ndarray]) -> Calibration:
    """Step 4 (after `run_em`, step 3): the bank at the solution, standard errors and warnings, as a `Calibration`.
    `loglik` is the marginal log-likelihood at `result.vector`; `crossprod(vector)` the students' score
    cross-product plus the priors' curvature (P, P), used when `standard_errors` resolves to "crossprod"."""
    if not result.converged:
        log.warning("IRT EM did not converge in %d iterations (max change %.2g)", result.n_iter, result.max_change)
    model, fixed = problem.model, plan.fixed
    coords, quad = problem.unpack(result.vector)
    n_items = len(item_ids)
    a, b, c = np.full(n_items, np.nan), np.full(n_items, np.nan), np.full(n_items, np.nan)
    f = problem.free_index
    a[f] = coords.a
    b[f] = -coords.d / coords.a
    c[f] = 1.0 / (1.0 + np.exp(-coords.g)) if model == "3pl" else 0.0
    anchor_d, anchor_a, anchor_c = plan.anchors
    a[fixed], b[fixed], c[fixed] = anchor_a[fixed], -anchor_d[fixed] / anchor_a[fixed], anchor_c[fixed]

    se = [np.full(n_items, np.nan) for _ in range(3)]
    method = choose_method(standard_errors, problem.layout.size, int(n[plan.kept].sum()))
    if method != "none" and problem.layout.size <= MAX_PARAMETERS:
        info = observed_information(problem, result.vector) if method == "observed" else crossprod(result.vector)  # type: ignore[arg-type]
        cov = covariance(info)
        if cov is None:
            log.warning("IRT information matrix is not positive definite: standard errors left null")
        else:
            for target, values in zip(se, item_errors(cov, problem, coords)):  # type: ignore[arg-type]
                target[f] = values
    elif method != "none":
        method = "none"

    warnings = plan.warnings + estimate_warnings(item_ids, a, b, n, right, plan.free)
    if warnings:
        shown = "; ".join(str(w) for w in warnings[:3])
        more = f" (and {len(warnings) - 3} more: see Calibration.warnings)" if len(warnings) > 3 else ""
        log.warning("IRT calibration: %d item warning(s): %s%s", len(warnings), shown, more)
    return Calibration(
        model=model, bank=ItemBank(item_ids, a, b, c, *se), loglik=loglik, n_parameters=problem.layout.size,
        n_students=n_students, n_iter=result.n_iter, converged=result.converged, max_change=result.max_change,
        latent_mean=quad.mean, latent_sd=quad.sd, priors=problem.priors, warnings=warnings, se_method=method,
    )


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
    `callback(n_iter, max_iter)` is called after each EM step (progress reports only).

    The steps are public so an engine that sums the E-step over partitions of the data runs the same ones:
    `plan_items` (anchors, screening), `start_vector`, `models.irt.em.run_em`
    (its EM map takes the E-step's expected counts from `EMMap.expected_counts`, wherever they are summed;
    the convergence rule is run_em's), `finish` (bank, standard errors, warnings)."""
    check_model(model)
    priors = default_priors(model, priors)
    quadrature = quadrature or Quadrature.normal()
    n, right = data.item_totals
    plan = plan_items(model, priors, data.item_ids, n, right, anchors)
    problem = EMProblem(data, model, priors, quadrature, plan.free, plan.kept, plan.anchors, plan.latent)
    result = run_em(problem, start_vector(problem, plan, n, right), max_iter, tol, accelerate, callback)
    post, _, _ = problem.posterior(result.vector)
    return finish(problem, result, plan, data.item_ids, n, right, post.loglik, problem.n_responding, standard_errors,
                  lambda vector: crossprod_information(problem, vector))
