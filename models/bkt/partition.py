"""One student partition of a BKT fit: its (student, skill) sequences and their E-step.

Students are independent given the parameters and a sequence never spans two students, so the E-step
statistics of a log are the sum of those of any split of it by student. A partition reports what the
driver needs to number the classes (its skills; for KT-IDEM its responses per (skill, item), for
multiprior its sequences per (skill, group)), is coded against the driver's skill vocabulary and class
tables (`prepare`), merges its own identical sequences (`kernels.unique_sequences`) and then answers
`expected_counts` for the driver's current parameters. Covered: plain BKT, the forget variant, KT-IDEM
(guess/slip per (skill, item) class) and multiprior (prior per (skill, group) class), as `BKT.fit`
numbers them (`BKT._emission_classes`, `BKT._prior_classes`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from models.bkt import kernels
from models.bkt.data import ROW, build_sequences, ordered_pairs
from models.bkt.em import ExpectedCounts


class SkillSequences:
    """A share of the log (whole students) prepared for repeated E-steps.

    For multiprior the responses carry the group column as `__group` (text, as `BKT._with_group` makes it).
    """

    def __init__(self, responses: pl.DataFrame) -> None:
        self.pairs = ordered_pairs(responses)  # validates `correct`, names the bad row within the share
        self.n_rows = responses.height
        self.sum_correct = float(responses["correct"].sum()) if responses.height else 0.0
        self.n_no_skill = responses.height - (self.pairs[ROW].n_unique() if self.pairs.height else 0)
        self.arrays: tuple[np.ndarray, ...] | None = None

    def skills(self) -> list[str]:
        """The distinct skills of this share (the driver's vocabulary is their sorted union)."""
        return self.pairs["skill"].unique().to_list()

    def item_counts(self) -> pl.DataFrame:
        """(skill, item_id, n): this share's responses per (skill, item), KT-IDEM's emission classes."""
        return self.pairs.group_by("skill", "item_id").agg(pl.len().alias("n"))

    def group_counts(self) -> pl.DataFrame:
        """(skill, __group, n): this share's (student, skill) sequences per (skill, group), multiprior's prior
        classes; a student's group is its first value (the local fit's rule)."""
        return (
            self.pairs.select("student_id", "skill").unique()
            .join(self._student_groups(), on="student_id", how="left")
            .group_by("skill", "__group").agg(pl.len().alias("n"))
        )

    def _student_groups(self) -> pl.DataFrame:
        return self.pairs.group_by("student_id").agg(pl.col("__group").first())

    def prepare(self, skills: list[str], emis_table: pl.DataFrame | None = None,
                prior_table: pl.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Code the sequences against `skills` (and the driver's class tables: (__class, __code, item_id) for
        KT-IDEM, (__class, __code, __group) for multiprior; None: one class per skill) and merge identical
        ones; returns the (K,) counts of responses (pairs) and of sequences per skill, before merging."""
        seqs = build_sequences(self.pairs, skills)
        n_k = len(skills)
        if seqs.obs.size and (seqs.pair_skill == n_k).any():
            raise ValueError("a skill of this partition is not in the driver's skill list")
        pair_n = np.bincount(seqs.pair_skill, minlength=n_k).astype(np.int64)
        seq_n = np.bincount(seqs.seq_skill, minlength=n_k).astype(np.int64)
        emis, seq_prior = seqs.pair_skill, seqs.seq_skill
        if emis_table is not None:
            item = seqs.pairs["item_id"].gather(seqs.perm)  # `Sequences.item()`, keeping the column's type
            emis = _class_of(pl.DataFrame({"__code": seqs.pair_skill, "item_id": item}), emis_table, "item_id")
        if prior_table is not None:
            group = (
                pl.DataFrame({"student_id": seqs.seq_student}, schema={"student_id": pl.Utf8})
                .join(self._student_groups(), on="student_id", how="left", maintain_order="left")["__group"]
            )
            seq_prior = _class_of(pl.DataFrame({"__code": seqs.seq_skill, "__group": group}), prior_table, "__group")
        obs, emis, seq_start, seq_prior, seq_weight, skill_seq = kernels.unique_sequences(
            seqs.obs, emis, seqs.seq_start, seq_prior, seqs.seq_skill, n_k)
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


def _class_of(keys: pl.DataFrame, table: pl.DataFrame, label: str) -> np.ndarray:
    """The `__class` of each (__code, label) row of `keys` in the driver's `table` (int64); ValueError for a
    pair the table lacks."""
    keys = keys.with_columns(pl.col("__code").cast(pl.Int64), pl.col(label).cast(table.schema[label]))
    found = keys.join(table.select("__code", label, "__class"), on=["__code", label], how="left",
                      maintain_order="left", nulls_equal=True)["__class"]
    if found.null_count():
        raise ValueError(f"a (skill, {label}) class of this partition is not in the driver's class table")
    return found.to_numpy().astype(np.int64)
