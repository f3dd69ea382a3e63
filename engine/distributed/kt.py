"""`kt fit --engine ray`: which learner models fit on Ray, and how.

A model fits on Ray when it exposes its fitting step over a student partition as a plain function
whose outputs add up across partitions (sufficient statistics), so the driver can reduce them and
give the local engine's answer. Today that is the IRT family (`models.irt.IRT`: the EM's expected
counts) and BKT with or without forgetting (`models.bkt.em.ExpectedCounts` per restart and skill).
KT-IDEM, multiprior BKT, the logistic models and Elo do not expose such a step yet; docs/scale.md says
exactly what each needs, and asking for them on Ray is a ConfigError rather than a silently different fit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from engine.errors import ConfigError

NOT_YET = {
    "logistic": "scikit-learn's solver owns the iterations; Ray needs the loss and gradient over a partition",
    "elo": "Elo updates item difficulties step by step with every student's error at that step; partitions would "
           "have to exchange per-item errors after every step",
}


def ray_family(model: Any) -> str:
    """The family name a model fits under on Ray ("irt" or "bkt"), or ConfigError naming what is missing."""
    from models.bkt import BKT  # noqa: PLC0415
    from models.irt import IRT  # noqa: PLC0415

    if isinstance(model, IRT):
        return "irt"
    if isinstance(model, BKT):
        from engine.distributed.bkt import check_distributable  # noqa: PLC0415

        check_distributable(model)
        return "bkt"
    module = type(model).__module__
    family = "logistic" if ".logistic" in module else "elo" if module.endswith("elo") else None
    reason = NOT_YET.get(family or "", "it exposes no per-partition fitting step")
    raise ConfigError(f"{type(model).__name__} cannot fit with --engine ray yet: {reason}; use --engine local "
                      "(models that fit on Ray: irt, bkt, bkt-forget)")


def fit_on_ray(model: Any, responses: pl.DataFrame, ray: Any, n_workers: int,
               callback: Callable[[int, int], None] | None = None) -> Any:
    """Fit `model` with its family's partitioned fit on the connected Ray cluster; returns the model."""
    if ray_family(model) == "bkt":
        from engine.distributed.bkt import fit_on_ray as fit_bkt_on_ray  # noqa: PLC0415

        fitted, pool = fit_bkt_on_ray(model, responses, ray, n_workers, callback=callback)
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
