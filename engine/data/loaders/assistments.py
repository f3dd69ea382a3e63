"""`assistments`: raw ASSISTments skill-builder logs (2009-10 columns; 2012-13 exports work too).

Columns used: `user_id` (student), `problem_id` (item), `order_id` (one answer; also its order),
`correct` (in [0, 1]) and `skill_id`. Everything else (school, teacher, class ids, hints, ...) stays
out of the responses.
- Multi-skill answers: this raw format repeats an answer once per skill (same `order_id`, one
  `skill_id` per row). Those rows are merged into one response whose skill list holds every distinct
  skill in file order; the repeated rows must agree on user, problem and correctness.
- Missing `skill_id`: by default the answer is kept with an empty skill list (it is a real response);
  with `drop_missing_skills=True` answers left with no skill are dropped and counted in `Dataset.dropped`.
- Order within a student: ascending `order_id` (it increases with time in ASSISTments logs).
Float-written ids ("10.0") become integer text ("10"). Row numbers in errors count data rows from 1.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from engine.data.dataset import Dataset, DropReport, canonical_responses
from engine.data.loaders.generic import (
    FILE_ROW,
    check_rows,
    integer_text,
    number_within_student,
    read_text_table,
    require_columns,
    rows_problems,
    validate_file_rows,
)
from engine.data.schema import SKILL_LIST
from engine.errors import DataValidationError

COLUMNS = ("order_id", "user_id", "problem_id", "correct", "skill_id")
ORDER = "__order__"


def _answers(raw: pl.DataFrame, where: str) -> pl.DataFrame:
    """One canonical-shaped row per file row (one skill each) plus its order_id, validated in file-row terms."""
    frame = raw.select(
        FILE_ROW,
        integer_text(pl.col("user_id")).alias("student_id"),
        integer_text(pl.col("problem_id")).alias("item_id"),
        pl.when(pl.col("skill_id").is_null()).then(pl.lit([], dtype=SKILL_LIST))
        .otherwise(pl.concat_list(integer_text(pl.col("skill_id")))).alias("skill_ids"),
        pl.col("correct").str.strip_chars().alias("correct"),
        pl.col(FILE_ROW).cast(pl.Int64).alias("seq"),  # placeholder until ordered by order_id
    )
    order = raw.select(integer_text(pl.col("order_id")).cast(pl.Int64, strict=False)).to_series()
    problems = check_rows(raw.with_columns(order.alias(ORDER)), pl.col(ORDER).is_null(), "order_id",
                          "order_id must be an integer (it identifies and orders an answer)")
    return validate_file_rows(frame, "responses", where, problems).with_columns(order.alias(ORDER)).drop("seq")


def _merge_skill_rows(answers: pl.DataFrame, where: str) -> pl.DataFrame:
    """One response per order_id, skills pooled; repeated rows that disagree are reported by row."""
    merged = answers.group_by(ORDER, maintain_order=True).agg(
        pl.col(FILE_ROW).first(),
        pl.col("student_id", "item_id", "correct").first(),
        pl.col("skill_ids").list.explode(keep_nulls=False, empty_as_null=False).unique(maintain_order=True),
        *[pl.col(c).n_unique().alias(f"__n_{c}") for c in ("student_id", "item_id", "correct")],
    )
    problems = []
    for column, source in (("student_id", "user_id"), ("item_id", "problem_id"), ("correct", "correct")):
        clash = merged.filter(pl.col(f"__n_{column}") > 1).select(FILE_ROW, pl.col(ORDER).alias("order_id"))
        hint = f"rows sharing this order_id disagree on {source}; one answer must have one {source}"
        problems += rows_problems(clash, source, hint, value_column="order_id")
    if problems:
        raise DataValidationError(problems, source=where)
    return merged.drop([c for c in merged.columns if c.startswith("__n_")])


def load_assistments(path: str | Path, drop_missing_skills: bool = False) -> Dataset:
    """Load one raw ASSISTments CSV into a canonical Dataset (see the module doc for the merging rule)."""
    target = Path(path)
    where = str(target)
    raw = read_text_table(target, separator=",")
    require_columns(raw, COLUMNS, where, "expected the raw ASSISTments skill-builder columns")
    responses = _merge_skill_rows(_answers(raw, where), where)
    dropped: list[DropReport] = []
    if drop_missing_skills:
        no_skill = responses["skill_ids"].list.len() == 0
        if no_skill.any():
            dropped.append(DropReport("answer has no skill_id (drop_missing_skills=True)", int(no_skill.sum())))
            responses = responses.filter(~no_skill)
    ordered = number_within_student(responses, [ORDER]).drop(FILE_ROW, ORDER)
    return Dataset(name=target.stem, train=canonical_responses(ordered, source=where), dropped=dropped)
