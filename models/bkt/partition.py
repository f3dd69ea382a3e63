"""One student partition of a BKT fit: its (student, skill) sequences and their E-step.

Students are independent given the parameters and a sequence never spans two students, so the E-step
statistics of a log are the sum of those of any split of it by student. A partition is coded against
the driver's skill vocabulary (`prepare`), merges its own identical sequences (`kernels.unique_sequences`)
and then answers `expected_counts` for the driver's current parameters. Covered: plain BKT and the
forget variant (one guess/slip and one prior class per skill); KT-IDEM and multiprior are not.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from models.bkt import kernels
from models.bkt.data import ROW, build_sequences, ordered_pairs
from models.bkt.em import ExpectedCounts


class SkillSequences:
    """A share of the log (whole students) prepared for repeated E-steps."""

    def __init__(self, responses: pl.DataFrame) -> None:
        self.pairs = ordered_pairs(responses)  # validates `correct`, names the bad row within the share
        self.n_rows = responses.height
        self.sum_correct = float(responses["correct"].sum()) if responses.height else 0.0
        self.n_no_skill = responses.height - (self.pairs[ROW].n_unique() if self.pairs.height else 0)
        self.arrays: tuple[np.ndarray, ...] | None = None

    def skills(self) -> list[str]:
        """The distinct skills of this share (the driver's vocabulary is their sorted union)."""
        return self.pairs["skill"].unique().to_list()

    def prepare(self, skills: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Code the sequences against `skills` and merge identical ones; returns the (K,) counts of
        responses (pairs) and of sequences per skill, before merging (what the class weights use)."""
        seqs = build_sequences(self.pairs, skills)
        n_k = len(skills)
        if seqs.obs.size and (seqs.pair_skill == n_k).any():
            raise ValueError("a skill of this partition is not in the driver's skill list")
        pair_n = np.bincount(seqs.pair_skill, minlength=n_k).astype(np.int64)
        seq_n = np.bincount(seqs.seq_skill, minlength=n_k).astype(np.int64)
        obs, emis, seq_start, seq_prior, seq_weight, skill_seq = kernels.unique_sequences(
            seqs.obs, seqs.pair_skill, seqs.seq_start, seqs.seq_skill, seqs.seq_skill, n_k)
        self.arrays = (obs, emis, seq_start, seq_prior, seq_weight, skill_seq)
        self.pairs = self.pairs.clear()  # the text columns are no longer needed
        return pair_n, seq_n

    def expected_counts(self, params: dict[str, np.ndarray], active: np.ndarray) -> ExpectedCounts:
        """The E-step sums of this share at `params` (arrays (R, K)) for the (restart, skill) pairs in `active`."""
        if self.arrays is None:
            raise RuntimeError("prepare() must run before the E-step")
        return ExpectedCounts(*kernels.expected_counts_all(
            *self.arrays, np.ascontiguousarray(active, dtype=np.bool_), params["prior"], params["learn"],
            params["forget"], params["guess"], params["slip"],
        ))
