"""IRT calibration over student partitions: the E-step on the workers, the M-step at the driver.

Per EM step the driver sends the parameter vector (P floats) to every worker; each returns its
partition's `ExpectedCounts` (2 x I x K + K + 2 numbers); the driver sums them in partition order and
runs the local engine's M-step, SQUAREM acceleration and convergence rule (`models.irt.em.run_em`)
unchanged. Item screening, start values and the result follow `models.irt.calibration.calibrate` step
for step, from item totals that the workers count, so the parameters equal the local engine's to
rounding (the sums are only ordered differently).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from engine.distributed.irt_worker import IRTPartitionWorker
from engine.distributed.partitions import ParquetPartition, assign, check_disjoint, parquet_files, split_by_student
from engine.distributed.pools import InlinePool, RayPool
from models.irt.bank import ItemBank
from models.irt.calibration import Calibration, _start, default_priors
from models.irt.diagnostics import ItemWarning, estimate_warnings, screen_items
from models.irt.em import EMMap, run_em
from models.irt.estep import ExpectedCounts
from models.irt.mstep import MODELS
from models.irt.priors import Priors
from models.irt.quadrature import Quadrature
from models.irt.standard_errors import MAX_PARAMETERS, choose_method, covariance, item_errors, observed_information, prior_curvature

log = logging.getLogger(__name__)

Pool = InlinePool | RayPool


class PartitionedEM(EMMap):
    """An `EMMap` whose E-step statistics are the sum of the pool's partitions' statistics."""

    def __init__(self, pool: Pool, model: str, priors: Priors, quadrature: Quadrature, free: np.ndarray,
                 anchors: tuple[np.ndarray, np.ndarray, np.ndarray], latent: bool, n_responding: int) -> None:
        super().__init__(model, priors, quadrature, free, anchors, latent)
        self.pool, self.n_responding = pool, n_responding

    def expected_counts(self, vector: np.ndarray) -> ExpectedCounts:
        return ExpectedCounts.total_of(self.pool.map("expected_counts", vector))

    def crossprod_information(self, vector: np.ndarray) -> np.ndarray:
        """The students' score cross-product summed over partitions, plus the priors' curvature: (P, P)."""
        coords, _ = self.unpack(vector)
        return sum(self.pool.map("score_crossproduct", vector)) + prior_curvature(self, coords)  # type: ignore[arg-type]


def item_totals(pool: Pool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item ids sorted as text, responses, right answers) over every partition, each shape (I,)."""
    merged = pl.concat(pool.map("item_totals")).group_by("item_id").agg(pl.col("n").sum(), pl.col("right").sum())
    merged = merged.sort("item_id")
    return merged["item_id"].to_numpy().astype(object), merged["n"].to_numpy(), merged["right"].to_numpy()


def _anchor_arrays(anchors: ItemBank | None, item_ids: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
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
    return fixed, (anchor_d, anchor_a, anchor_c)


@dataclass
class PartitionedStart:
    """Everything `calibrate` decides before EM, from the partitions' item totals: the problem (workers
    prepared), its start vector, and what the result needs (items, totals, fixed items, screening warnings)."""

    problem: PartitionedEM
    start: np.ndarray
    item_ids: np.ndarray
    n: np.ndarray
    right: np.ndarray
    fixed: np.ndarray
    anchors: tuple[np.ndarray, np.ndarray, np.ndarray]
    warnings: list[ItemWarning]


def prepare_partitioned(pool: Pool, model: str = "2pl", priors: Priors | None = None, quadrature: Quadrature | None = None,
                        anchors: ItemBank | None = None) -> PartitionedStart:
    """Check the partitions are student-disjoint, count item totals, screen items, prepare every worker's
    E-step and choose start values, as `models.irt.calibration.calibrate` does for one process."""
    if model not in MODELS:
        raise ValueError(f"unknown IRT model {model!r}; choose one of {', '.join(MODELS)}")
    priors = default_priors(model, priors)
    quadrature = quadrature or Quadrature.normal()
    check_disjoint(pool.map("student_keys"), [f"worker {k}" for k in range(len(pool))])
    item_ids, n, right = item_totals(pool)
    if not len(item_ids):
        raise ValueError("no responses given: calibration needs at least one response per item")
    fixed, anchor_values = _anchor_arrays(anchors, item_ids)
    prior_identifies = priors.b_normal is not None and (model in ("rasch", "1pl") or priors.a_lognormal is not None)
    estimable, warnings = screen_items(item_ids, n, right, prior_identifies)
    fixed_ids = set(item_ids[fixed].tolist())
    warnings = [w for w in warnings if w.item_id not in fixed_ids]
    free = estimable & ~fixed
    kept = free | fixed
    latent = anchors is not None
    if not free.any():
        raise ValueError("no item can be estimated: every item is all-correct, all-wrong or fixed by the anchors")
    n_responding = sum(pool.map("prepare", item_ids, model, priors, quadrature, free, kept, anchor_values, latent))
    problem = PartitionedEM(pool, model, priors, quadrature, free, anchor_values, latent, n_responding)
    start = problem.layout.pack(_start(model, n[free], right[free], priors), 0.0, 1.0)
    return PartitionedStart(problem, start, item_ids, n, right, fixed, anchor_values, warnings)


def calibrate_partitioned(
    pool: Pool, model: str = "2pl", priors: Priors | None = None, quadrature: Quadrature | None = None,
    anchors: ItemBank | None = None, max_iter: int = 2000, tol: float = 1e-5, standard_errors: str = "auto",
    callback: Callable[[int, int], None] | None = None,
) -> Calibration:
    """`models.irt.calibrate` over the pool's partitions (loaded by the caller); same arguments and result."""
    setup = prepare_partitioned(pool, model, priors, quadrature, anchors)
    problem, item_ids, n, right, fixed = setup.problem, setup.item_ids, setup.n, setup.right, setup.fixed
    result = run_em(problem, setup.start, max_iter, tol, True, callback)
    if not result.converged:
        log.warning("IRT EM did not converge in %d iterations (max change %.2g)", result.n_iter, result.max_change)
    coords, quad = problem.unpack(result.vector)
    loglik = problem.expected_counts(result.vector).loglik

    n_items = len(item_ids)
    a, b, c = np.full(n_items, np.nan), np.full(n_items, np.nan), np.full(n_items, np.nan)
    f = problem.free_index
    a[f], b[f] = coords.a, -coords.d / coords.a
    c[f] = 1.0 / (1.0 + np.exp(-coords.g)) if model == "3pl" else 0.0
    anchor_d, anchor_a, anchor_c = setup.anchors
    a[fixed], b[fixed], c[fixed] = anchor_a[fixed], -anchor_d[fixed] / anchor_a[fixed], anchor_c[fixed]

    se = [np.full(n_items, np.nan) for _ in range(3)]
    method = choose_method(standard_errors, problem.layout.size, int(n[problem.free | fixed].sum()))
    if method != "none" and problem.layout.size <= MAX_PARAMETERS:
        info = observed_information(problem, result.vector) if method == "observed" else problem.crossprod_information(result.vector)  # type: ignore[arg-type]
        cov = covariance(info)
        if cov is None:
            log.warning("IRT information matrix is not positive definite: standard errors left null")
        else:
            for target, values in zip(se, item_errors(cov, problem, coords)):  # type: ignore[arg-type]
                target[f] = values
    elif method != "none":
        method = "none"

    warnings = setup.warnings + estimate_warnings(item_ids, a, b, n, right, problem.free)
    return Calibration(
        model=model, bank=ItemBank(item_ids, a, b, c, *se), loglik=loglik, n_parameters=problem.layout.size,
        n_students=problem.n_responding, n_iter=result.n_iter, converged=result.converged, max_change=result.max_change,
        latent_mean=quad.mean, latent_sd=quad.sd, priors=problem.priors, warnings=warnings, se_method=method,
    )


def worker_inputs(source: pl.DataFrame | str | Path, n_workers: int, columns: dict[str, str] | None = None) -> list[tuple]:
    """Constructor arguments of the partition workers: a frame split by student hash into `n_workers`
    parts, or a folder's Parquet files dealt to at most `n_workers` workers (each reads its own)."""
    if isinstance(source, pl.DataFrame):
        return [(f"partition {k} of {n_workers}", part) for k, part in enumerate(split_by_student(source, n_workers))]
    groups = assign(parquet_files(source), n_workers)
    return [(", ".join(p.name for p in group), *(ParquetPartition(str(p), dict(columns or {})) for p in group))
            for group in groups]


def calibrate_on_ray(
    source: pl.DataFrame | str | Path, ray: Any, n_workers: int, columns: dict[str, str] | None = None,
    measure: bool = False, **options: Any,
) -> tuple[Calibration, RayPool]:
    """Start `n_workers` partition actors on the connected Ray cluster, load, calibrate; returns the
    result and the pool (for its traffic counts and the workers' memory; `pool.shutdown()` when done).
    A frame is put in the object store part by part; a folder's files are read by the workers."""
    inputs = worker_inputs(source, n_workers, columns)
    if isinstance(source, pl.DataFrame):
        inputs = [(name, ray.put(part)) for name, part in inputs]
    pool = RayPool.start(ray, IRTPartitionWorker, inputs, measure)
    try:
        pool.map("load")
        return calibrate_partitioned(pool, **options), pool
    except BaseException:
        pool.shutdown()
        raise


def calibrate_inline(source: pl.DataFrame | str | Path, n_parts: int, columns: dict[str, str] | None = None,
                     **options: Any) -> Calibration:
    """The partitioned calibration with every worker in this process (a reference, and for tests)."""
    pool = InlinePool([IRTPartitionWorker(*args) for args in worker_inputs(source, n_parts, columns)])
    pool.map("load")
    return calibrate_partitioned(pool, **options)


def peak_worker_memory(pool: Pool) -> Sequence[int]:
    """Each worker process's peak resident bytes."""
    return pool.map("peak_rss_bytes")
