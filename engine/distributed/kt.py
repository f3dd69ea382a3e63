"""`kt fit --engine ray`: which learner models fit on Ray, and how.

A model fits on Ray when it exposes its fitting step over a student partition as a plain function
whose outputs add up across partitions (sufficient statistics), so the driver can reduce them and
give the local engine's answer. Today that is the IRT family (`models.irt.IRT`: the EM's expected
counts), BKT with or without forgetting, KT-IDEM and multiprior BKT (`models.bkt.em.ExpectedCounts` per
restart and skill / class), the logistic models IRT-LR, AFM, PFA and Best-LR
(`models.logistic.newton.Statistics`: loss, gradient and Hessian products of the penalised log-loss)
and Elo (per step, the per-item sums of error and counts: `engine.distributed.elo`). The stacked "best"
model does not expose such a step; docs/scale.md says why, and asking for it on Ray is a ConfigError
rather than a silently different fit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from engine.errors import ConfigError


def ray_family(model: Any) -> str:
    """The family name a model fits under on Ray ("irt", "bkt", "logistic" or "elo"), or ConfigError naming
    what is missing."""
    from models.bkt import BKT  # noqa: PLC0415
    from models.elo import Elo  # noqa: PLC0415
    from models.irt import IRT  # noqa: PLC0415
    from models.logistic import LogisticKT  # noqa: PLC0415

    if isinstance(model, IRT):
        return "irt"
    if isinstance(model, BKT):
        return "bkt"
    if isinstance(model, Elo):
        return "elo"
    if isinstance(model, LogisticKT):
        from engine.distributed.logistic import check_distributable as check_logistic  # noqa: PLC0415

        check_logistic(model)
        return "logistic"
    raise ConfigError(f"{type(model).__name__} cannot fit with --engine ray yet: it exposes no per-partition fitting "
                      "step; use --engine local (models that fit on Ray: irt, bkt, bkt-forget, bkt-idem, "
                      "BKT(prior_groups=...), irt-lr, afm, pfa, best-lr, elo)")


def fit_on_ray(model: Any, responses: pl.DataFrame, ray: Any, n_workers: int,
               callback: Callable[[int, int], None] | None = None) -> Any:
    """Fit `model` with its family's partitioned fit on the connected Ray cluster; returns the model."""
    family = ray_family(model)
    if family in ("bkt", "logistic", "elo"):
        if family == "bkt":
            from engine.distributed.bkt import fit_on_ray as fit_family_on_ray  # noqa: PLC0415
        elif family == "elo":
            from engine.distributed.elo import fit_on_ray as fit_family_on_ray  # noqa: PLC0415
        else:
            from engine.distributed.logistic import fit_on_ray as fit_family_on_ray  # noqa: PLC0415
        fitted, pool = fit_family_on_ray(model, responses, ray, n_workers, callback=callback)
        pool.shutdown()
        return fitted
    return fit_irt_on_ray(model, responses, ray, n_workers, callback)


def fit_irt_on_ray(model: Any, responses: pl.DataFrame, ray: Any, n_workers: int,
                   callback: Callable[[int, int], None] | None = None) -> Any:
    """Fit a `models.irt.IRT` estimator as its `fit` does, with the E-steps on Ray; returns the model."""
    from engine.distributed.irt import calibrate_on_ray  # noqa: PLC0415

    calibration, pool = calibrate_on_ray(
        responses, ray, n_workers, model=model.model, priors=model._priors(), quadrature=model._quadrature(),
        max_iter=model.max_iter, tol=model.tol, standard_errors=model.standard_errors, callback=callback,
    )
    pool.shutdown()
    # the learned state `IRT.fit` sets (kept in step with models/irt/estimator.py by tests/distributed)
    model.item_order_ = responses["item_id"].cast(pl.Utf8).unique(maintain_order=True).to_list()
    model.calibration_ = calibration
    model.bank_ = calibration.bank
    return model


class RayFitter:
    """`fit(model, responses)` on the connected Ray cluster (`fit_on_ray`, the local fit's parameters): the
    `engine.modelbuild.fitting.Fitter` that `model build --engine ray` passes for the bank and the skill model."""

    engine = "ray"

    def __init__(self, ray: Any, n_workers: int) -> None:
        self.ray, self.n_workers = ray, n_workers

    def __call__(self, model: Any, responses: pl.DataFrame) -> Any:
        return fit_on_ray(model, responses, self.ray, self.n_workers)
