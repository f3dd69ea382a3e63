"""`datashop` format: PSLC DataShop student-step rows (the KDD Cup 2010 layout, tab-separated).

One row is one step a student worked on; the response is its `Correct First Attempt` (0/1).
- item: `Problem Name::Step Name` (the step-level item of the KDD Cup 2010 literature). The same
  problem name can sit in two units of `Problem Hierarchy`; pass `with_hierarchy=True` to make the
  item `Problem Hierarchy::Problem Name::Step Name` instead.
- skills: the `KC(<kc_model>)` column (default model `Default`) split on `~~`. Steps with no KC keep
  an empty skill list: they are real responses, so nothing is dropped.
- timestamp: `First Transaction Time`, or `Step Start Time` when that is empty, read as UTC (exports
  carry no zone). Responses are ordered by it within each student; ties keep file order.
Row numbers in errors count data rows from 1, header excluded.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from engine.data.dataset import Dataset, canonical_responses
from engine.data.loaders.generic import (
    FILE_ROW,
    number_within_student,
    read_text_table,
    require_columns,
    rows_problems,
    split_skills,
    validate_file_rows,
)
from engine.errors import Problem

STUDENT, PROBLEM, STEP, HIERARCHY = "Anon Student Id", "Problem Name", "Step Name", "Problem Hierarchy"
CORRECT, FIRST_TIME, START_TIME = "Correct First Attempt", "First Transaction Time", "Step Start Time"
KC_SEPARATOR = "~~"
ITEM_SEPARATOR = "::"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S%.f"


def _timestamp(raw: pl.DataFrame) -> tuple[pl.Expr, list[Problem]]:
    """First-transaction time (else step start) as UTC, and the rows whose times are not date-times."""
    sources = [c for c in (FIRST_TIME, START_TIME) if c in raw.columns]
    parsed = {c: pl.col(c).str.strip_chars().str.to_datetime(TIME_FORMAT, time_zone="UTC", strict=False, time_unit="us") for c in sources}
    problems = []
    for column, expr in parsed.items():
        bad = raw.filter(expr.is_null() & pl.col(column).is_not_null()).select(FILE_ROW, column)
        problems += rows_problems(bad, column, "not a date-time; DataShop writes YYYY-MM-DD HH:MM:SS[.f]")
    return pl.coalesce(list(parsed.values())).alias("timestamp"), problems


def load_datashop(path: str | Path, kc_model: str = "Default", with_hierarchy: bool = False) -> Dataset:
    """Load a DataShop/KDD Cup student-step export (one file) into a canonical Dataset."""
    target = Path(path)
    where = str(target)
    raw = read_text_table(target, separator="\t")
    kc_column = f"KC({kc_model})"
    item_parts = [HIERARCHY, PROBLEM, STEP] if with_hierarchy else [PROBLEM, STEP]
    require_columns(raw, [STUDENT, *item_parts, CORRECT, FIRST_TIME, kc_column], where,
                    "expected DataShop's student-step columns (tab-separated)")
    timestamp, time_problems = _timestamp(raw)
    frame = raw.select(
        FILE_ROW,
        pl.col(STUDENT).str.strip_chars().alias("student_id"),
        pl.concat_str([pl.col(c) for c in item_parts], separator=ITEM_SEPARATOR).alias("item_id"),
        split_skills(pl.col(kc_column), KC_SEPARATOR).alias("skill_ids"),
        pl.col(CORRECT).str.strip_chars().alias("correct"),
        timestamp,
        pl.col(FILE_ROW).cast(pl.Int64).alias("seq"),  # placeholder until ordered by time
    )
    checked = validate_file_rows(frame, "responses", where, time_problems)
    ordered = number_within_student(checked, ["timestamp"]).drop(FILE_ROW)
    return Dataset(name=target.stem, train=canonical_responses(ordered, source=where))
