"""The logistic learner models (IRT-LR, AFM, PFA, Best-LR) over student partitions: design rows and the
loss sums on the workers, the Newton iterations at the driver.

A response's design row uses only its student's earlier responses, so each worker builds the rows of its
students exactly (`LogisticKT.design_partition`) once the driver has fixed the column vocabulary (the
union of the workers' sorted item and skill ids, which is the local fit's). Then `models.logistic.newton.
newton_fit`, the local engine's driver, runs unchanged over `PooledObjective`, whose loss, gradient,
Hessian diagonal and Hessian-vector products are the workers' `DesignPartition` sums added in partition
order. Traffic per Newton step: the coefficient vector (P + 1 floats) out and 2 (P + 1) + 1 floats back
from each worker, then one (P + 1) vector each way per conjugate-gradient iteration and one scalar per
line-search trial; the design itself never leaves its worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from engine.distributed.bkt import split_responses
from engine.distributed.pools import InlinePool, RayPool, fit_on_ray_partitions, inline_partitions, peak_rss_bytes, unfitted_copy
from engine.errors import ConfigError
from models.logistic.design import Layout
from models.logistic.estimator import NEWTON, LogisticKT, check_both_outcomes, vocabularies
from models.logistic.features import sequential_order
from models.logistic.newton import DesignPartition, Statistics, newton_fit

Pool = InlinePool | RayPool


class LogisticPartitionWorker:
    """A student-disjoint share of the log and an unfitted copy of the model; holds its design rows between steps."""

    def __init__(self, name: str, frame: pl.DataFrame, model: LogisticKT) -> None:
        self.name = name
        self.model = model
        self.frame: pl.DataFrame | None = frame
        self.part: DesignPartition | None = None

    def load(self) -> tuple[list[str], list[str], int, bool, bool]:
        """Order this share by student and seq; returns (its items, its skills, rows, any score > 0, any score < 1)."""
        if self.frame is None:
            raise RuntimeError(f"{self.name}: already loaded")
        try:
            self.frame = sequential_order(self.frame)
        except ValueError as exc:
            raise ValueError(f"{self.name}: {exc}") from None
        scores = self.frame["correct"]
        return (*vocabularies(self.frame), self.frame.height, bool((scores > 0).any()), bool((scores < 1).any()))

    def prepare(self, layout: Layout) -> int:
        """Build this share's design rows against the driver's columns (the frame is released); returns rows."""
        if self.frame is None:
            raise RuntimeError(f"{self.name}: load() must run first")
        self.model.layout_ = layout
        self.part = self.model.design_partition(self.frame)
        self.frame = None
        return self.part.n_rows

    def statistics(self, beta: np.ndarray) -> Statistics:
        return self._part().statistics(beta)

    def loss(self, beta: np.ndarray) -> float:
        return self._part().loss(beta)

    def hessian_product(self, vector: np.ndarray) -> np.ndarray:
        return self._part().hessian_product(vector)

    def peak_rss_bytes(self) -> int:
        return peak_rss_bytes()

    def _part(self) -> DesignPartition:
        if self.part is None:
            raise RuntimeError(f"{self.name}: prepare() must run before the Newton steps")
        return self.part


class PooledObjective:
    """`models.logistic.newton.Objective` as the sum of the pool's partitions, in partition order."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def statistics(self, beta: np.ndarray) -> Statistics:
        return Statistics.total_of(self.pool.map("statistics", beta))

    def loss(self, beta: np.ndarray) -> float:
        return float(sum(self.pool.map("loss", beta)))

    def hessian_product(self, vector: np.ndarray) -> np.ndarray:
        return np.sum(self.pool.map("hessian_product", vector), axis=0)


def check_distributable(model: Any) -> None:
    """ConfigError for the logistic models the partitioned fit does not cover."""
    if not isinstance(model, LogisticKT):
        raise ConfigError(f"{type(model).__name__} is not a logistic learner model")
    if model.feature_set().extra:
        raise ConfigError(f"{type(model).__name__} ({model.model_name}) cannot fit with --engine ray: its extra columns "
                          f"{list(model.feature_set().extra)} are out-of-fold logits of sub-models (Elo, BKT) fitted on the "
                          "whole log first; use --engine local")
    if model.solver != NEWTON:
        raise ConfigError(f"{type(model).__name__}(solver={model.solver!r}) cannot fit with --engine ray: scikit-learn's "
                          f"solvers run in one process; solver={NEWTON!r} (the default) is the fit both engines share")


def fit_partitioned(model: LogisticKT, pool: Pool, callback: Callable[[int, int], None] | None = None) -> LogisticKT:
    """`model.fit` over the pool's partitions (each a whole set of students); returns the fitted model."""
    check_distributable(model)
    shares = pool.map("load")
    if sum(s[2] for s in shares) == 0:
        raise ValueError("cannot fit on an empty response frame")
    items = sorted(set().union(*(s[0] for s in shares)))
    skills = sorted(set().union(*(s[1] for s in shares)))
    check_both_outcomes(any(s[3] for s in shares), any(s[4] for s in shares))
    model.layout_ = Layout(model.feature_set(), items, skills)
    pool.map("prepare", model.layout_)
    result = newton_fit(PooledObjective(pool), model.layout_.n_columns, float(model.C), int(model.max_iter),
                        float(model.tol), callback)
    return model.set_newton_result(result)


def fit_inline(model: LogisticKT, frame: pl.DataFrame, n_parts: int,
               callback: Callable[[int, int], None] | None = None) -> LogisticKT:
    """The partitioned fit with every worker in this process (the reference, and for tests)."""
    check_distributable(model)
    pool = inline_partitions(LogisticPartitionWorker, split_responses(frame, n_parts), lambda: (unfitted_copy(model),))
    return fit_partitioned(model, pool, callback)


def fit_on_ray(model: LogisticKT, frame: pl.DataFrame, ray: Any, n_workers: int, measure: bool = False,
               callback: Callable[[int, int], None] | None = None) -> tuple[LogisticKT, RayPool]:
    """Start `n_workers` partition actors and fit (`pools.fit_on_ray_partitions`); call `pool.shutdown()` when done."""
    check_distributable(model)
    return fit_on_ray_partitions(ray, LogisticPartitionWorker, split_responses(frame, n_workers),
                                 lambda pool: fit_partitioned(model, pool, callback), measure, lambda: (unfitted_copy(model),))
