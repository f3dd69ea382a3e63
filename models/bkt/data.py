"""From a canonical response frame to the flat, skill-sorted arrays the BKT kernels read.

Each response is expanded to one (response, skill) pair per skill it is tagged with (a multi-skill item
is evidence for each of its skills: see docs/bkt.md). Pairs are sorted by skill, student and `seq`, so
every (student, skill) sequence is a contiguous slice. Input checks name the offending row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from models.errors import DataValidationError, Problem

REQUIRED = ("student_id", "item_id", "skill_ids", "correct")
ROW = "__row"


def check_responses(responses: pl.DataFrame) -> None:
    """Raise DataValidationError for missing columns, `correct` values outside [0, 1] and empty student or item ids
    (repeated `seq`: see below)."""
    missing = [c for c in REQUIRED if c not in responses.columns]
    if missing:
        raise DataValidationError(
            [Problem(None, c, None, "required column for BKT is missing") for c in missing], source="bkt input"
        )
    problems: list[Problem] = []
    bad = responses.with_row_index(ROW).filter(
        pl.col("correct").is_null() | pl.col("correct").is_nan() | (pl.col("correct") < 0) | (pl.col("correct") > 1)
    )
    if bad.height:
        row, value = bad.row(0, named=True)[ROW], bad.row(0, named=True)["correct"]
        problems.append(Problem(row + 1, "correct", value, "must be a number in [0, 1]", count=bad.height))
    for column in ("student_id", "item_id"):  # a null id would join to no class and index out of bounds in the kernels
        empty = responses.with_row_index(ROW).filter(pl.col(column).is_null())
        if empty.height:
            problems.append(Problem(empty[ROW][0] + 1, column, None, "is empty; every response needs a student and an item id",
                                    count=empty.height))
    if problems:
        raise DataValidationError(problems, source="bkt input")


def ordered_pairs(responses: pl.DataFrame) -> pl.DataFrame:
    """One row per (response, skill): `__row` (input position), student_id, item_id, skill, correct.

    `__order` is `seq` (or the input position when there is no `seq` column). Rows without any skill
    produce no pair (the caller accounts for them).
    """
    check_responses(responses)
    frame = responses.with_row_index(ROW)
    order_col = "seq" if "seq" in frame.columns else ROW
    extra = [c for c in ("__group",) if c in frame.columns]
    pairs = (
        frame.select(ROW, "student_id", "item_id", pl.col("skill_ids").list.unique(maintain_order=True).alias("skill"), "correct", pl.col(order_col).alias("__order"), *extra)
        .explode("skill")
        .filter(pl.col("skill").is_not_null())
    )
    return pairs


@dataclass
class Sequences:
    """Flat arrays over (response, skill) pairs, sorted by skill, student and order."""

    row: np.ndarray  # (P,) input row of each pair
    obs: np.ndarray  # (P,) correct in [0, 1]
    seq_start: np.ndarray  # (S + 1,) start of each (student, skill) sequence
    seq_skill: np.ndarray  # (S,) skill code of each sequence
    seq_student: np.ndarray  # (S,) student id of each sequence (Utf8 values)
    seq_skill_name: np.ndarray  # (S,) skill id of each sequence (also for skills outside the vocabulary)
    skill_seq: np.ndarray  # (K + 1,) first sequence of each skill (only when skills are coded densely)
    skills: list[str]  # skill of each code
    pair_skill: np.ndarray  # (P,) skill code
    pairs: pl.DataFrame  # the pairs as given (unsorted)
    perm: np.ndarray  # (P,) position in `pairs` of each sorted pair

    def item(self) -> np.ndarray:
        """(P,) item id (str) of each sorted pair; built on demand (only KT-IDEM needs it)."""
        return self.pairs["item_id"].gather(self.perm).to_numpy()


def build_sequences(pairs: pl.DataFrame, skills: list[str] | None = None) -> Sequences:
    """Code skills (given vocabulary, or the sorted skills present) and cut pairs into sequences.

    With a given vocabulary, skills outside it get code len(skills) (the caller's "unknown skill" slot).
    The sort runs on one integer key (skill, student rank) and the order, not on the text columns: the
    same order as sorting by (code, skill name, student id, order), at a fraction of the cost.
    """
    if skills is None:
        skills = pairs["skill"].unique().sort().to_list()
    n_k = len(skills)
    vocab = pl.DataFrame({"skill": skills, "__code": np.arange(n_k, dtype=np.int64)}, schema={"skill": pl.Utf8, "__code": pl.Int64})
    code = pairs.join(vocab, on="skill", how="left", maintain_order="left")["__code"].fill_null(n_k).to_numpy()
    order = _order_of(pairs)
    skill_key = code
    unknown = code == n_k
    if unknown.any():  # skills outside the vocabulary: one sequence group per name, after the known ones, by name
        skill_key = np.where(unknown, n_k + pairs["skill"].rank("dense").cast(pl.Int64).to_numpy(), code)
    n = pairs.height
    if n:
        student = pairs["student_id"].rank("dense").fill_null(0).cast(pl.Int64).to_numpy()  # 1.. in id order (missing: 0)
        key = skill_key * (int(student.max()) + 1) + student  # < 2**63 for any realistic vocabulary and roster
        perm = pl.DataFrame({"k": key, "o": order}).with_row_index("i").sort(["k", "o"], maintain_order=True)["i"].to_numpy().astype(np.int64)
        key, order = key[perm], order[perm]
    else:
        key = np.zeros(0, dtype=np.int64)
        perm = np.zeros(0, dtype=np.int64)
    new_seq = np.ones(n, dtype=bool)
    new_seq[1:] = key[1:] != key[:-1]
    _check_ties(pairs, perm, order, new_seq)
    starts = np.flatnonzero(new_seq)
    pair_skill = code[perm].astype(np.int64)
    seq_skill = pair_skill[starts]
    at_starts = pairs.select("student_id", "skill")[perm[starts]]
    return Sequences(
        row=pairs[ROW].to_numpy().astype(np.int64)[perm],
        obs=pairs["correct"].to_numpy().astype(np.float64)[perm],
        seq_start=np.append(starts, n).astype(np.int64),
        seq_skill=seq_skill,
        seq_student=at_starts["student_id"].to_numpy() if n else np.zeros(0, dtype=object),
        seq_skill_name=at_starts["skill"].to_numpy() if n else np.zeros(0, dtype=object),
        skill_seq=np.searchsorted(seq_skill, np.arange(n_k + 1)).astype(np.int64),
        skills=list(skills),
        pair_skill=pair_skill,
        pairs=pairs,
        perm=perm,
    )


def _order_of(pairs: pl.DataFrame) -> np.ndarray:
    """`__order` as int64; a missing `seq` leaves the response's place unknown, so it is refused."""
    order = pairs["__order"]
    if order.null_count():
        first = pairs.filter(pl.col("__order").is_null()).row(0, named=True)
        raise DataValidationError(
            [Problem(int(first[ROW]) + 1, "seq", None, f"student {first['student_id']!r} has a response with no seq, so its order "
                     "is unknown; give every response a seq (or drop the column to use the row order)", count=order.null_count())],
            source="bkt input",
        )
    return order.cast(pl.Int64).to_numpy()


def _check_ties(pairs: pl.DataFrame, perm: np.ndarray, order: np.ndarray, new_seq: np.ndarray) -> None:
    """Two different responses of one student on one skill with the same `seq` have no order: refuse them.

    (Pairs are unique per (row, skill), so equal neighbours in the sorted order are different rows.)
    """
    tie = np.flatnonzero(~new_seq[1:] & (order[1:] == order[:-1])) + 1
    if tie.size:
        first = pairs.row(int(perm[tie[0]]), named=True)
        raise DataValidationError(
            [Problem(int(first[ROW]) + 1, "seq", first["__order"],
                     f"student {first['student_id']!r} has two responses on skill {first['skill']!r} with this seq, "
                     "so their order is unknown; give each of a student's responses a distinct seq", count=int(tie.size))],
            source="bkt input",
        )
