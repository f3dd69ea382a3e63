"""IRT calibration over student partitions: the E-step on the workers, the M-step at the driver.

Per EM step the driver sends the parameter vector (P floats) to every worker; each returns its
partition's `ExpectedCounts` (2 x I x K + K + 2 numbers); the driver sums them in partition order and
runs the local engine's M-step, SQUAREM acceleration and convergence rule (`models.irt.em.run_em`)
unchanged. Item screening, start values and the result are `models.irt.calibration`'s own steps
(`plan_items`, `start_vector`, `finish`, the ones `calibrate` runs), fed with item totals that the
workers count, so the parameters equal the local engine's to rounding (the sums are only ordered
differently).
"""

from __future__ import annotations

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
from models.irt.calibration import Calibration, ItemPlan, check_model, default_priors, finish, plan_items, start_vector
from models.irt.em import EMMap, run_em
from models.irt.estep import ExpectedCounts
from models.irt.priors import Priors
from models.irt.quadrature import Quadrature
from models.irt.standard_errors import prior_curvature

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


@dataclass
class PartitionedStart:
    """Everything `calibrate` decides before EM, from the partitions' item totals: the problem (workers
    prepared), its start vector, and what the result needs (items, totals, the item plan)."""

    problem: PartitionedEM
    start: np.ndarray
    item_ids: np.ndarray
    n: np.ndarray
    right: np.ndarray
    plan: ItemPlan


def prepare_partitioned(pool: Pool, model: str = "2pl", priors: Priors | None = None, quadrature: Quadrature | None = None,
                        anchors: ItemBank | None = None) -> PartitionedStart:
    """Check the partitions are student-disjoint, count item totals, then `calibrate`'s own first steps
    (`plan_items`, `start_vector`) with every worker's E-step prepared in between."""
    check_model(model)
    priors = default_priors(model, priors)
    quadrature = quadrature or Quadrature.normal()
    check_disjoint(pool.map("student_keys"), [f"worker {k}" for k in range(len(pool))])
    item_ids, n, right = item_totals(pool)
    if not len(item_ids):
        raise ValueError("no responses given: calibration needs at least one response per item")
    plan = plan_items(model, priors, item_ids, n, right, anchors)
    n_responding = sum(pool.map("prepare", item_ids, model, priors, quadrature, plan.free, plan.kept, plan.anchors,
                                plan.latent))
    problem = PartitionedEM(pool, model, priors, quadrature, plan.free, plan.anchors, plan.latent, n_responding)
    return PartitionedStart(problem, start_vector(problem, plan, n, right), item_ids, n, right, plan)


def calibrate_partitioned(
    pool: Pool, model: str = "2pl", priors: Priors | None = None, quadrature: Quadrature | None = None,
    anchors: ItemBank | None = None, max_iter: int = 2000, tol: float = 1e-5, standard_errors: str = "auto",
    callback: Callable[[int, int], None] | None = None,
) -> Calibration:
    """`models.irt.calibrate` over the pool's partitions (loaded by the caller); same arguments and result,
    through the same steps: only the E-step's counts are summed over the workers."""
    setup = prepare_partitioned(pool, model, priors, quadrature, anchors)
    problem = setup.problem
    result = run_em(problem, setup.start, max_iter, tol, True, callback)
    loglik = problem.expected_counts(result.vector).loglik
    return finish(problem, result, setup.plan, setup.item_ids, setup.n, setup.right, loglik, problem.n_responding,
                  standard_errors, problem.crossprod_information)


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
