"""Elo over student partitions: the students' updates on the workers, the item updates at the driver, one
round trip per step.

`Elo.fit` processes, for every position t of the students' sequences, all students' t-th responses
together: each response's error uses its student's skills (global and per skill, local to a partition:
a student is never split) and the item difficulties before step t (shared), and then every item answered
at step t moves once by U(n_i) times the mean error of its step-t responses. That mean is a sum of
errors over a count, and both add across student partitions, so the local update is reproduced exactly
(up to the order of the sums): per step the driver sends the difficulties that moved at the previous step
(indices and values), each worker updates its copy, runs its students' step t (`models.elo._Students.step`,
the local code) and returns its per-item sums of error and counts for the items it touched; the driver
adds them in partition order and runs the local item update (`Elo._update_items`). Epochs restart the
students and the item counts and keep the difficulties, as locally; the difficulties are centred at the
end (`Elo._end_fit`). Traffic per step: the moved items' indices and values to each worker, three numbers
per touched item back; round trips: epochs x the longest student sequence (latency-bound on long
sequences, see docs/scale.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from engine.distributed.bkt import split_responses
from engine.distributed.pools import InlinePool, RayPool, fit_on_ray_partitions, inline_partitions, peak_rss_bytes, unfitted_copy
from models.elo import Elo, _Steps, _Students, item_sums, vocabularies
from models.logistic.features import sequential_order

Pool = InlinePool | RayPool
Sums = tuple[np.ndarray, np.ndarray, np.ndarray]  # (item indices, sums of error, counts) of one step


class EloPartitionWorker:
    """A student-disjoint share of the log and an unfitted copy of the model; holds its students' skills
    and a copy of the item difficulties between steps."""

    def __init__(self, name: str, frame: pl.DataFrame, model: Elo) -> None:
        self.name = name
        self.model = model
        self.frame: pl.DataFrame | None = frame
        self.steps: _Steps | None = None
        self.students: _Students | None = None
        self.difficulty = np.zeros(0)

    def load(self) -> tuple[list[str], list[str], int]:
        """Order this share by student and seq; returns (its items, its skills, rows)."""
        if self.frame is None:
            raise RuntimeError(f"{self.name}: already loaded")
        try:
            self.frame = sequential_order(self.frame)
        except ValueError as exc:
            raise ValueError(f"{self.name}: {exc}") from None
        return (*vocabularies(self.frame), self.frame.height)

    def prepare(self, items: list[str], skills: list[str]) -> int:
        """Code this share against the driver's vocabularies (the frame is released); returns its number of steps."""
        if self.frame is None:
            raise RuntimeError(f"{self.name}: load() must run first")
        self.model._start_fit(items, skills)
        self.steps = _Steps(self.frame, self.model._item_index, self.model._skill_index)
        self.difficulty = self.model.difficulty_
        self.frame = None
        return len(self.steps.blocks)

    def step(self, t: int, moved: np.ndarray, values: np.ndarray) -> Sums:
        """Set the difficulties that moved at the previous step, run step t of the pass (t = 0 starts a new
        pass: students back to 0), and return this share's per-item sums of error and counts at step t."""
        steps = self._steps()
        self.difficulty[moved] = values
        if t == 0:
            self.students = _Students(steps, len(self.model.skills_))
        if self.students is None:
            raise RuntimeError(f"{self.name}: a pass starts at step 0")
        if t >= len(steps.blocks):  # this share's sequences are all shorter
            return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64)
        rows, _, err = self.students.step(self.model, t, self.difficulty)
        it = steps.item[rows]  # every item is in the vocabulary (it is the union of the shares' items)
        err_sum, count = item_sums(it, err, self.difficulty.size)
        touched = np.flatnonzero(count)
        return touched, err_sum[touched], count[touched]

    def peak_rss_bytes(self) -> int:
        return peak_rss_bytes()

    def _steps(self) -> _Steps:
        if self.steps is None:
            raise RuntimeError(f"{self.name}: prepare() must run before the steps")
        return self.steps


def fit_partitioned(model: Elo, pool: Pool, callback: Callable[[int, int], None] | None = None) -> Elo:
    """`model.fit` over the pool's partitions (each a whole set of students); returns the fitted model."""
    model._check_params()
    shares = pool.map("load")
    if sum(s[2] for s in shares) == 0:
        raise ValueError("Elo: cannot fit on an empty response frame")
    model._start_fit(sorted(set().union(*(s[0] for s in shares))), sorted(set().union(*(s[1] for s in shares))))
    n_steps = max(pool.map("prepare", model.items_, model.skills_))
    n_items = len(model.items_)
    epochs = int(model.epochs)
    moved = np.zeros(0, dtype=np.int64)
    for epoch in range(epochs):
        model._item_counts = np.zeros(n_items)
        for t in range(n_steps):
            err_sum, count = np.zeros(n_items), np.zeros(n_items, dtype=np.int64)
            for touched, sums, counts in pool.map("step", t, moved, model.difficulty_[moved]):
                err_sum[touched] += sums
                count[touched] += counts
            moved = model._update_items(err_sum, count)
            if callback is not None:
                callback(epoch * n_steps + t + 1, epochs * n_steps)
    return model._end_fit()


def fit_inline(model: Elo, frame: pl.DataFrame, n_parts: int, callback: Callable[[int, int], None] | None = None) -> Elo:
    """The partitioned fit with every worker in this process (the reference, and for tests)."""
    pool = inline_partitions(EloPartitionWorker, split_responses(frame, n_parts), lambda: (unfitted_copy(model),))
    return fit_partitioned(model, pool, callback)


def fit_on_ray(model: Elo, frame: pl.DataFrame, ray: Any, n_workers: int, measure: bool = False,
               callback: Callable[[int, int], None] | None = None) -> tuple[Elo, RayPool]:
    """Start `n_workers` partition actors and fit (`pools.fit_on_ray_partitions`); call `pool.shutdown()` when done."""
    return fit_on_ray_partitions(ray, EloPartitionWorker, split_responses(frame, n_workers),
                                 lambda pool: fit_partitioned(model, pool, callback), measure, lambda: (unfitted_copy(model),))
