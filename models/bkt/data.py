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
    """Raise DataValidationError for missing columns or `correct` values outside [0, 1] (repeated `seq`: see below)."""
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
    item: np.ndarray  # (P,) item id (str)


def build_sequences(pairs: pl.DataFrame, skills: list[str] | None = None) -> Sequences:
    """Code skills (given vocabulary, or the sorted skills present) and cut pairs into sequences.

    With a given vocabulary, skills outside it get code len(skills) (the caller's "unknown skill" slot).
    """
    if skills is None:
        skills = pairs["skill"].unique().sort().to_list()
    vocab = pl.DataFrame({"skill": skills, "__code": np.arange(len(skills), dtype=np.int64)}, schema={"skill": pl.Utf8, "__code": pl.Int64})
    coded = (
        pairs.join(vocab, on="skill", how="left", maintain_order="left")
        .with_columns(pl.col("__code").fill_null(len(skills)))
        .sort(["__code", "skill", "student_id", "__order"], maintain_order=True)
    )
    pair_skill = coded["__code"].to_numpy()
    student = coded["student_id"].to_numpy()
    n = coded.height
    new_seq = np.ones(n, dtype=bool)
    if n:
        new_seq[1:] = (coded["skill"].to_numpy()[1:] != coded["skill"].to_numpy()[:-1]) | (student[1:] != student[:-1])
    _check_ties(coded, new_seq)
    starts = np.flatnonzero(new_seq)
    seq_start = np.append(starts, n).astype(np.int64)
    seq_skill = pair_skill[starts] if n else np.zeros(0, dtype=np.int64)
    skill_seq = np.searchsorted(seq_skill, np.arange(len(skills) + 1)).astype(np.int64)
    return Sequences(
        row=coded[ROW].to_numpy().astype(np.int64),
        obs=coded["correct"].to_numpy().astype(np.float64),
        seq_start=seq_start,
        seq_skill=seq_skill.astype(np.int64),
        seq_student=student[starts] if n else np.zeros(0, dtype=object),
        seq_skill_name=coded["skill"].to_numpy()[starts] if n else np.zeros(0, dtype=object),
        skill_seq=skill_seq,
        skills=list(skills),
        pair_skill=pair_skill.astype(np.int64),
        item=coded["item_id"].to_numpy(),
    )


def _check_ties(coded: pl.DataFrame, new_seq: np.ndarray) -> None:
    """Two different responses of one student on one skill with the same `seq` have no order: refuse them.

    (Pairs are unique per (row, skill), so equal neighbours in the sorted order are different rows.)
    """
    order = coded["__order"].to_numpy()
    tie = np.flatnonzero(~new_seq[1:] & (order[1:] == order[:-1])) + 1
    if tie.size:
        first = coded.row(int(tie[0]), named=True)
        raise DataValidationError(
            [Problem(int(first[ROW]) + 1, "seq", first["__order"],
                     f"student {first['student_id']!r} has two responses on skill {first['skill']!r} with this seq, "
                     "so their order is unknown; give each of a student's responses a distinct seq", count=int(tie.size))],
            source="bkt input",
        )
