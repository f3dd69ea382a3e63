"""BKT and its variants over student partitions: E-steps on the workers, M-steps at the driver.

Covered: BKT, BKT with forgetting, KT-IDEM (`item_params=True`: guess/slip per (skill, item)) and
multiprior BKT (`prior_groups=col`: a prior per (skill, value of `col`)). After loading, each worker
returns its distinct skills and, for KT-IDEM, its responses per (skill, item), for multiprior its
(student, skill) sequences per (skill, group) (a student's group is its first value, as locally). The
driver numbers skills and classes exactly as the local `BKT.fit` (skills sorted; classes sorted by skill
code then item / group, with their counts `n`) and sends the tables back; each worker codes its
sequences against them. Per EM iteration the driver sends the current parameters of every (restart,
skill) and class (5 arrays R x K, R x emission classes, R x prior classes) and which pairs are still
iterating; each worker returns its partition's `models.bkt.em.ExpectedCounts`; the driver adds them in
partition order and runs `models.bkt.em.run_em`'s M-step (each class updated with its skill) and
convergence rule. Starting points, restart selection and pooling of sparse skills are the local
`BKT.fit`'s (`BKT._starting_points`, `BKT._set_fitted`), so the parameters equal the local engine's up to
the order of floating-point sums.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from engine.distributed.partitions import student_hash
from engine.distributed.pools import InlinePool, RayPool, fit_on_ray_partitions, inline_partitions, peak_rss_bytes
from models.bkt.em import Bounds, ExpectedCounts, run_em
from models.bkt.model import _LO, BKT, skill_class_table
from models.bkt.partition import SkillSequences
from models.errors import DataError

log = logging.getLogger(__name__)

Pool = InlinePool | RayPool
Share = tuple[list[str], pl.DataFrame | None, pl.DataFrame | None]


class BKTPartitionWorker:
    """A student-disjoint share of the log (a frame sent by the driver), holding its sequences between E-steps."""

    def __init__(self, name: str, frame: pl.DataFrame) -> None:
        self.name = name
        self.frame: pl.DataFrame | None = frame
        self.part: SkillSequences | None = None

    def load(self, item_params: bool = False, prior_groups: bool = False) -> Share:
        """Expand this share into (response, skill) pairs; returns its distinct skills, and its (skill, item_id,
        n) responses for KT-IDEM and (skill, __group, n) sequences for multiprior (else None)."""
        if self.frame is None:
            raise RuntimeError(f"{self.name}: already loaded")
        try:
            self.part = SkillSequences(self.frame)
        except (ValueError, DataError) as exc:  # DataValidationError names the row within this share
            raise ValueError(f"{self.name} (rows counted within this partition): {exc}") from None
        self.frame = None
        return (self.part.skills(), self.part.item_counts() if item_params else None,
                self.part.group_counts() if prior_groups else None)

    def prepare(self, skills: list[str], emis_table: pl.DataFrame | None = None,
                prior_table: pl.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray, int, float, int]:
        """Code against the driver's skills and class tables: (pairs per skill, sequences per skill, rows,
        sum of correct, rows without a skill)."""
        part = self._part()
        pair_n, seq_n = part.prepare(skills, emis_table, prior_table)
        return pair_n, seq_n, part.n_rows, part.sum_correct, part.n_no_skill

    def expected_counts(self, params: dict[str, np.ndarray], active: np.ndarray) -> ExpectedCounts:
        return self._part().expected_counts(params, active)

    def peak_rss_bytes(self) -> int:
        return peak_rss_bytes()

    def _part(self) -> SkillSequences:
        if self.part is None:
            raise RuntimeError(f"{self.name}: load() must run first")
        return self.part


def class_table(counts: list[pl.DataFrame], skills: list[str], label: str) -> pl.DataFrame:
    """The local fit's class table from the partitions' (skill, `label`, n) counts: (__class, __code, label, n),
    one row per (skill, label) present, sorted by skill code then `label` (`BKT._emission_classes`'s order)."""
    vocab = pl.DataFrame({"skill": skills, "__code": np.arange(len(skills), dtype=np.int64)},
                         schema={"skill": pl.Utf8, "__code": pl.Int64})
    return (
        pl.concat(counts).group_by("skill", label).agg(pl.col("n").sum().cast(pl.UInt32))
        .join(vocab, on="skill", how="inner")
        .select("__code", label, "n").sort("__code", label).with_row_index("__class")
    )


def fit_partitioned(model: BKT, pool: Pool, callback: Callable[[int, int], None] | None = None) -> BKT:
    """`model.fit` over the pool's partitions (each a whole set of students, carrying `__group` for
    multiprior: see `with_group`); returns the fitted model."""
    model._check_params()
    item_params, prior_groups = bool(model.item_params), bool(model.prior_groups)
    loaded: list[Share] = pool.map("load", item_params, prior_groups)
    skills = sorted(set().union(*(s[0] for s in loaded)))
    if not skills:
        raise ValueError("BKT.fit: no response carries a skill id; BKT needs skill_ids")
    emis_table = class_table([s[1] for s in loaded], skills, "item_id") if item_params else None
    prior_table = class_table([s[2] for s in loaded], skills, "__group") if prior_groups else None
    shares = pool.map("prepare", skills, *_for_workers(emis_table, prior_table))
    pair_n = np.sum([s[0] for s in shares], axis=0)
    seq_n = np.sum([s[1] for s in shares], axis=0)
    n_rows = sum(s[2] for s in shares)
    global_mean = sum(s[3] for s in shares) / n_rows
    n_no_skill = sum(s[4] for s in shares)
    if n_no_skill:
        log.warning("BKT.fit: %d response(s) have no skill id; they are not used (predicted with the mean)", n_no_skill)
    n_k = len(skills)
    if emis_table is None:
        emis_table = skill_class_table(pair_n, "item_id")
    if prior_table is None:
        prior_table = skill_class_table(seq_n, "__group")
    params = model._starting_points(n_k, emis_table.height, prior_table.height)
    bounds = Bounds(bool(model.forgets), _LO, float(model.max_guess), float(model.max_slip))
    class_skill = (emis_table["__code"].to_numpy().astype(np.int64), prior_table["__code"].to_numpy().astype(np.int64))

    def e_step(current: dict[str, np.ndarray], active: np.ndarray) -> ExpectedCounts:
        return ExpectedCounts.total_of(pool.map("expected_counts", current, active))

    ll, iters = run_em(e_step, params, bounds, int(model.max_iter), float(model.tol), callback, class_skill)
    return model._set_fitted(skills, pair_n.astype(float), ll, iters, params, emis_table, prior_table,
                             float(global_mean), int(n_no_skill))


def _for_workers(emis_table: pl.DataFrame | None, prior_table: pl.DataFrame | None) -> tuple[pl.DataFrame | None, ...]:
    """The class tables without their counts (a worker needs the codes only)."""
    return tuple(None if t is None else t.drop("n") for t in (emis_table, prior_table))


def with_group(model: BKT, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with multiprior's group column copied to `__group` as `BKT.fit` does (ConfigError when the
    column is missing); unchanged for a model without `prior_groups`."""
    return model._with_group(frame)


def split_responses(frame: pl.DataFrame, n_parts: int) -> list[pl.DataFrame]:
    """`frame` (every column, e.g. skill_ids and seq) cut into `n_parts` student-disjoint frames by student
    hash (the IRT split's hash), each in `frame`'s row order; a part may be empty."""
    if n_parts < 1:
        raise ValueError(f"need at least one partition, got {n_parts}")
    part = pl.Series("part", student_hash(frame["student_id"]) % np.uint64(n_parts))
    return [frame.filter(part == k) for k in range(n_parts)]


def fit_inline(model: BKT, frame: pl.DataFrame, n_parts: int, callback: Callable[[int, int], None] | None = None) -> BKT:
    """The partitioned fit with every worker in this process (the reference, and for tests)."""
    pool = inline_partitions(BKTPartitionWorker, split_responses(with_group(model, frame), n_parts))
    return fit_partitioned(model, pool, callback)


def fit_on_ray(model: BKT, frame: pl.DataFrame, ray: Any, n_workers: int, measure: bool = False,
               callback: Callable[[int, int], None] | None = None) -> tuple[BKT, RayPool]:
    """Start `n_workers` partition actors and fit (`pools.fit_on_ray_partitions`); call `pool.shutdown()` when done."""
    return fit_on_ray_partitions(ray, BKTPartitionWorker, split_responses(with_group(model, frame), n_workers),
                                 lambda pool: fit_partitioned(model, pool, callback), measure)
