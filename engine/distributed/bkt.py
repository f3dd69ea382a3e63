"""BKT (and BKT with forgetting) over student partitions: E-steps on the workers, M-steps at the driver.

Per EM iteration the driver sends the current parameters of every (restart, skill) and which pairs are
still iterating (5 arrays R x K and a mask); each worker returns its partition's `models.bkt.em.ExpectedCounts`
(11 arrays R x K); the driver adds them in partition order and runs `models.bkt.em.run_em`'s M-step and
convergence rule. Skill vocabulary, starting points, restart selection and pooling of sparse skills are
the local `BKT.fit`'s (`BKT._starting_points`, `BKT._set_fitted`), so the parameters equal the local
engine's up to the order of floating-point sums.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from engine.distributed.partitions import student_hash
from engine.distributed.pools import InlinePool, RayPool, peak_rss_bytes
from engine.errors import ConfigError
from models.bkt.em import Bounds, ExpectedCounts, run_em
from models.bkt.model import _LO, BKT, skill_class_table
from models.bkt.partition import SkillSequences
from models.errors import DataError

log = logging.getLogger(__name__)

Pool = InlinePool | RayPool


class BKTPartitionWorker:
    """A student-disjoint share of the log (a frame sent by the driver), holding its sequences between E-steps."""

    def __init__(self, name: str, frame: pl.DataFrame) -> None:
        self.name = name
        self.frame: pl.DataFrame | None = frame
        self.part: SkillSequences | None = None

    def load(self) -> list[str]:
        """Expand this share into (response, skill) pairs; returns its distinct skills."""
        if self.frame is None:
            raise RuntimeError(f"{self.name}: already loaded")
        try:
            self.part = SkillSequences(self.frame)
        except (ValueError, DataError) as exc:  # DataValidationError names the row within this share
            raise ValueError(f"{self.name} (rows counted within this partition): {exc}") from None
        self.frame = None
        return self.part.skills()

    def prepare(self, skills: list[str]) -> tuple[np.ndarray, np.ndarray, int, float, int]:
        """Code against the driver's skills: (pairs per skill, sequences per skill, rows, sum of correct,
        rows without a skill)."""
        part = self._part()
        pair_n, seq_n = part.prepare(skills)
        return pair_n, seq_n, part.n_rows, part.sum_correct, part.n_no_skill

    def expected_counts(self, params: dict[str, np.ndarray], active: np.ndarray) -> ExpectedCounts:
        return self._part().expected_counts(params, active)

    def peak_rss_bytes(self) -> int:
        return peak_rss_bytes()

    def _part(self) -> SkillSequences:
        if self.part is None:
            raise RuntimeError(f"{self.name}: load() must run first")
        return self.part


def check_distributable(model: BKT) -> None:
    """ConfigError for the BKT variants the partitioned fit does not cover (KT-IDEM, multiprior)."""
    if model.item_params:
        raise ConfigError("KT-IDEM (bkt-idem, item_params=True) cannot fit with --engine ray yet: its guess/slip classes "
                          "are (skill, item) pairs the driver would have to collect first; use --engine local")
    if model.prior_groups:
        raise ConfigError(f"BKT(prior_groups={model.prior_groups!r}) cannot fit with --engine ray yet: prior classes per "
                          "(skill, group) are not collected from the partitions; use --engine local")


def fit_partitioned(model: BKT, pool: Pool, callback: Callable[[int, int], None] | None = None) -> BKT:
    """`model.fit` over the pool's partitions (each a whole set of students); returns the fitted model."""
    check_distributable(model)
    model._check_params()
    skills = sorted(set().union(*pool.map("load")))
    if not skills:
        raise ValueError("BKT.fit: no response carries a skill id; BKT needs skill_ids")
    shares = pool.map("prepare", skills)
    pair_n = np.sum([s[0] for s in shares], axis=0)
    seq_n = np.sum([s[1] for s in shares], axis=0)
    n_rows = sum(s[2] for s in shares)
    global_mean = sum(s[3] for s in shares) / n_rows
    n_no_skill = sum(s[4] for s in shares)
    if n_no_skill:
        log.warning("BKT.fit: %d response(s) have no skill id; they are not used (predicted with the mean)", n_no_skill)
    n_k = len(skills)
    params = model._starting_points(n_k, n_k, n_k)
    bounds = Bounds(bool(model.forgets), _LO, float(model.max_guess), float(model.max_slip))

    def e_step(current: dict[str, np.ndarray], active: np.ndarray) -> ExpectedCounts:
        return ExpectedCounts.total_of(pool.map("expected_counts", current, active))

    ll, iters = run_em(e_step, params, bounds, int(model.max_iter), float(model.tol), callback)
    return model._set_fitted(skills, pair_n.astype(float), ll, iters, params, skill_class_table(pair_n, "item_id"),
                             skill_class_table(seq_n, "__group"), float(global_mean), int(n_no_skill))


def split_responses(frame: pl.DataFrame, n_parts: int) -> list[pl.DataFrame]:
    """`frame` (every column, e.g. skill_ids and seq) cut into `n_parts` student-disjoint frames by student
    hash (the IRT split's hash), each in `frame`'s row order; a part may be empty."""
    if n_parts < 1:
        raise ValueError(f"need at least one partition, got {n_parts}")
    part = pl.Series("part", student_hash(frame["student_id"]) % np.uint64(n_parts))
    return [frame.filter(part == k) for k in range(n_parts)]


def fit_inline(model: BKT, frame: pl.DataFrame, n_parts: int, callback: Callable[[int, int], None] | None = None) -> BKT:
    """The partitioned fit with every worker in this process (the reference, and for tests)."""
    pool = InlinePool([BKTPartitionWorker(f"partition {k} of {n_parts}", part)
                       for k, part in enumerate(split_responses(frame, n_parts))])
    return fit_partitioned(model, pool, callback)


def fit_on_ray(model: BKT, frame: pl.DataFrame, ray: Any, n_workers: int, measure: bool = False,
               callback: Callable[[int, int], None] | None = None) -> tuple[BKT, RayPool]:
    """Start `n_workers` partition actors (each part put in the object store), fit; returns the model and
    the pool (traffic counts, workers' memory; call `pool.shutdown()` when done)."""
    check_distributable(model)
    inputs = [(f"partition {k} of {n_workers}", ray.put(part)) for k, part in enumerate(split_responses(frame, n_workers))]
    pool = RayPool.start(ray, BKTPartitionWorker, inputs, measure)
    try:
        return fit_partitioned(model, pool, callback), pool
    except BaseException:
        pool.shutdown()
        raise
