"""Checks of a train/test split that change how its figures read, and the caveat printed with its tables.

Why: the ASSISTments 2009 DKT split (Piech et al. 2015) lists each student's answers skill by skill, so
"the student's earlier responses" are not earlier in time across skills, and it stores a problem
tagged with several skills once per skill (duplicated rows). A figure on such a split must carry that
warning, with counts computed from the files themselves. Two checks:

- order: test students answering more than one skill whose rows run in non-decreasing skill id
  (numeric when every id is a number), i.e. sorted by skill rather than by time;
- duplicated rows (skill-level data only: one skill per row, item = skill; the files carry no problem
  ids, so rows cannot be matched directly): a pair of skills is *duplicated* when at least
  `PAIR_STUDENTS` students answered both, at least `PAIR_SHARE` of them gave the same answers in the
  same order on the two skills, and at least `PAIR_MIXED` of those identical sequences hold both a right
  and a wrong answer (all-right runs coincide by chance). A student's block on the later skill of such a
  pair, identical to the earlier one, is counted as duplicated rows. Skills only sometimes tagged
  together are missed, so the count is a lower bound.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import polars as pl

ORDERED_SHARE = 0.9  # the order caveat is printed when at least this share of multi-skill test students is sorted
PAIR_STUDENTS = 10
PAIR_SHARE = 0.9
PAIR_MIXED = 5


@dataclass(frozen=True)
class SplitChecks:
    test_students: int
    multi_skill_students: int  # test students who answer more than one skill
    skill_ordered_students: int  # of those, the ones whose rows run in skill-id order
    skill_level: bool  # one skill per row and item = skill (the duplicated-row check applies)
    duplicated_pairs: list[tuple[str, str]]  # skill pairs whose answers repeat each other (train and test together)
    test_duplicated_rows: int  # test rows that repeat the same student's rows on the paired skill
    test_rows: int
    train_duplicated_rows: int
    train_rows: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _skill_key(frame: pl.DataFrame) -> pl.Series:
    """The first skill of each row, numeric when every id is a number (so that 9 sorts before 11)."""
    skill = frame["skill_ids"].list.first()
    numeric = skill.cast(pl.Int64, strict=False)
    return numeric if numeric.null_count() == skill.null_count() else skill


def _blocks(responses: pl.DataFrame) -> pl.DataFrame:
    """One row per (student, skill): the answers on that skill in order, as a 0/1 string, and their count."""
    return (responses.sort(["student_id", "seq"], maintain_order=True)
            .with_columns(pl.col("skill_ids").list.first().alias("skill"))
            .group_by("student_id", "skill", maintain_order=True)
            .agg(pl.len().alias("n"), (pl.col("correct") >= 0.5).cast(pl.Int8).cast(pl.Utf8).str.join("").alias("answers")))


def _block_pairs(blocks: pl.DataFrame) -> pl.DataFrame:
    """Every pair of one student's blocks (skill < skill_2), with whether the answers are identical."""
    return (blocks.join(blocks, on="student_id", suffix="_2").filter(pl.col("skill") < pl.col("skill_2"))
            .with_columns((pl.col("answers") == pl.col("answers_2")).alias("same"),
                          (pl.col("answers").str.contains("0") & pl.col("answers").str.contains("1")).alias("mixed")))


def duplicated_skill_pairs(responses: pl.DataFrame) -> list[tuple[str, str]]:
    """Skill pairs whose answers repeat each other for nearly every student who answered both (module docstring)."""
    pairs = (_block_pairs(_blocks(responses)).group_by("skill", "skill_2")
             .agg(pl.len().alias("students"), pl.col("same").mean().alias("share"), (pl.col("same") & pl.col("mixed")).sum().alias("mixed"))
             .filter((pl.col("students") >= PAIR_STUDENTS) & (pl.col("share") >= PAIR_SHARE) & (pl.col("mixed") >= PAIR_MIXED))
             .sort("skill", "skill_2"))
    return list(zip(pairs["skill"].to_list(), pairs["skill_2"].to_list()))


def duplicated_rows(responses: pl.DataFrame, pairs: list[tuple[str, str]]) -> int:
    """Rows on the later skill of a duplicated pair that repeat the same student's answers on the earlier one
    (a block repeating several others counts once)."""
    if not pairs:
        return 0
    flagged = pl.DataFrame({"skill": [a for a, _ in pairs], "skill_2": [b for _, b in pairs]}, schema={"skill": pl.Utf8, "skill_2": pl.Utf8})
    copies = (_block_pairs(_blocks(responses)).filter("same").join(flagged, on=["skill", "skill_2"], how="semi")
              .unique(["student_id", "skill_2"]))
    return int(copies["n_2"].sum())


def split_checks(train: pl.DataFrame, test: pl.DataFrame) -> SplitChecks:
    """Order and duplicated-row counts of a split (canonical response frames); see the module docstring."""
    keyed = test.sort(["student_id", "seq"], maintain_order=True)
    keyed = keyed.with_columns(_skill_key(keyed).alias("_skill"))
    per_student = keyed.group_by("student_id").agg(
        pl.col("_skill").n_unique().alias("skills"),
        (pl.col("_skill") >= pl.col("_skill").shift(1).fill_null(pl.col("_skill"))).all().alias("ordered"))
    multi = per_student.filter(pl.col("skills") > 1)
    skill_level = all(bool(frame.select(((pl.col("skill_ids").list.len() == 1)
                                         & (pl.col("item_id").cast(pl.Utf8) == pl.col("skill_ids").list.first())).all()).item())
                      for frame in (train, test))
    pairs = duplicated_skill_pairs(pl.concat([train.select(test.columns), test])) if skill_level else []
    return SplitChecks(
        test_students=per_student.height, multi_skill_students=multi.height, skill_ordered_students=int(multi["ordered"].sum()),
        skill_level=skill_level, duplicated_pairs=pairs,
        test_duplicated_rows=duplicated_rows(test, pairs), test_rows=test.height,
        train_duplicated_rows=duplicated_rows(train, pairs), train_rows=train.height,
    )


def caveat_lines(checks: SplitChecks) -> list[str]:
    """Markdown paragraphs for a results table; empty when neither check finds anything worth a warning."""
    out: list[str] = []
    multi, ordered = checks.multi_skill_students, checks.skill_ordered_students
    if multi and ordered >= ORDERED_SHARE * multi:
        who = (f"All {checks.test_students} test students have their rows in skill-id order ({multi} of them answer more "
               "than one skill, where the order matters)" if ordered == multi else
               f"{ordered} of the {multi} test students who answer more than one skill have their rows in skill-id order")
        out.append(
            f"**Caveat, order:** {who}, not in time order: only the order within a skill can still be the time order, "
            "and across skills a student's \"earlier responses\" are not earlier in time. Features that span skills "
            "(total counts and recency, Elo's student skill, the online IRT ability, and so `best`) may use answers the "
            "student gave later, so their figures here are optimistic; models that read only the same skill's history "
            "(BKT) are not affected by the order.")
    if checks.duplicated_pairs:
        shown = ", ".join(f"{a}-{b}" for a, b in checks.duplicated_pairs)
        out.append(
            f"**Caveat, duplicated rows:** at least {checks.test_duplicated_rows} of {checks.test_rows} test rows "
            f"({checks.train_duplicated_rows} of {checks.train_rows} training rows) repeat the same student's answers on "
            f"another skill: for the skill pairs {shown}, at least {PAIR_SHARE:.0%} of the students who answered both "
            "gave the same answers in the same order on the two skills, i.e. one problem tagged with several skills is "
            "stored once per skill (a lower bound: skills only sometimes tagged together are not counted). A model that "
            "reads other skills' history can predict the second copy from the first, so such figures are optimistic; "
            "the published figures on this split come from the same files.")
    if out:
        out.append("(Counts computed from the files by `engine/experiment/caveats.py` when this table was written.)")
    return out
