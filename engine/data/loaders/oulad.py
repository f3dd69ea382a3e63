"""`oulad`: the Open University Learning Analytics Dataset (Kuzilek et al. 2017) as responses + roster.

A folder with `studentAssessment.csv`, `assessments.csv` and `studentInfo.csv` (`?` = missing).
- student_id: one enrolment, `"{id_student}_{code_module}_{code_presentation}"`. A person can take
  several modules or retake one; demographics such as age band and deprivation band are recorded per
  enrolment and can change between them, so an enrolment is the unit that has one roster row
  (32,593 in the public release). `id_student` is the part before the first `_`.
- item: `id_assessment`; skill: the module (`code_module`); correct: `score / 100`.
- order within a student: `date_submitted` (days from the presentation start), then `id_assessment`.
  OULAD gives no calendar dates, so there is no timestamp.
- Scores that are missing (`?` or empty) cannot be a response: those rows are dropped and counted in
  `Dataset.dropped`.
- roster: `gender`, `age_band`, `disability`, `imd_band`, `region`, `highest_education` from
  `studentInfo.csv`; `?` becomes null, and the quirk `10-20` is written `10-20%` like the other bands.
Row numbers in errors count data rows of the named file from 1, header excluded.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from engine.data.dataset import Dataset, DropReport, canonical_responses
from engine.data.loaders.generic import (
    DEFAULT_NULLS,
    FILE_ROW,
    check_rows,
    number_within_student,
    read_text_table,
    require_columns,
    validate_file_rows,
)
from engine.errors import DataValidationError

NULLS = (*DEFAULT_NULLS, "?")
ENROLMENT = ("id_student", "code_module", "code_presentation")
ROSTER_COLUMNS = ("gender", "age_band", "disability", "imd_band", "region", "highest_education")
ASSESSMENT_COLUMNS = ("id_assessment", "id_student", "date_submitted", "score")


def _read(folder: Path, name: str, columns: tuple[str, ...]) -> pl.DataFrame:
    path = folder / name
    frame = read_text_table(path, separator=",", null_values=NULLS)
    require_columns(frame, columns, str(path), f"expected the OULAD {name} columns")
    return frame.with_columns(pl.col(c).str.strip_chars() for c in columns)


def _student_id() -> pl.Expr:
    return pl.concat_str([pl.col(c) for c in ENROLMENT], separator="_").alias("student_id")


def _roster(info: pl.DataFrame, where: str) -> pl.DataFrame:
    """One row per enrolment with the six subgroup columns; duplicates are reported by row."""
    frame = info.select(
        FILE_ROW,
        _student_id(),
        *[pl.col(c) for c in ROSTER_COLUMNS if c != "imd_band"],
        pl.col("imd_band").str.replace(r"^(\d+-\d+)$", "${1}%"),
    ).select(FILE_ROW, "student_id", *ROSTER_COLUMNS)
    return validate_file_rows(frame, "roster", where).drop(FILE_ROW)


def _joined_scores(scores: pl.DataFrame, assessments: pl.DataFrame, where: str) -> pl.DataFrame:
    """Attach module and presentation to each score row; an unknown assessment id is a problem."""
    meta = assessments.select("id_assessment", "code_module", "code_presentation").unique("id_assessment", keep="first")
    joined = scores.join(meta, on="id_assessment", how="left", maintain_order="left")
    problems = check_rows(joined, pl.col("code_module").is_null() & pl.col("id_assessment").is_not_null(),
                          "id_assessment", "this assessment is not in assessments.csv; check the id")
    numbers = joined.with_columns(
        pl.col("date_submitted").cast(pl.Int64, strict=False).alias("__date__"),
        pl.col("id_assessment").cast(pl.Int64, strict=False).alias("__assessment__"),
        pl.col("score").cast(pl.Float64, strict=False).alias("__score__"),
    )
    for column, parsed in (("date_submitted", "__date__"), ("id_assessment", "__assessment__"), ("score", "__score__")):
        problems += check_rows(numbers, pl.col(parsed).is_null() & pl.col(column).is_not_null(), column,
                               "must be a number; OULAD writes missing values as '?'")
    if problems:
        raise DataValidationError(problems, source=where)
    return numbers


def load_oulad(path: str | Path) -> Dataset:
    """Load the OULAD folder: assessment scores as responses, studentInfo as the roster."""
    folder = Path(path)
    scores_path, info_path = folder / "studentAssessment.csv", folder / "studentInfo.csv"
    scores = _read(folder, "studentAssessment.csv", ASSESSMENT_COLUMNS)
    assessments = _read(folder, "assessments.csv", ("id_assessment", "code_module", "code_presentation"))
    info = _read(folder, "studentInfo.csv", (*ENROLMENT, *ROSTER_COLUMNS))
    roster = _roster(info, str(info_path))
    numbers = _joined_scores(scores, assessments, str(scores_path))
    missing = numbers["__score__"].is_null()
    dropped = [DropReport("score missing ('?' or empty) in studentAssessment.csv", int(missing.sum()))] if missing.any() else []
    frame = numbers.filter(~missing).select(
        FILE_ROW,
        _student_id(),
        pl.col("id_assessment").alias("item_id"),
        pl.concat_list("code_module").alias("skill_ids"),
        (pl.col("__score__") / 100.0).alias("correct"),
        pl.col(FILE_ROW).cast(pl.Int64).alias("seq"),  # placeholder until ordered by date
        "__date__",
        "__assessment__",
    )
    unenrolled = frame.join(roster.select("student_id"), on="student_id", how="anti")
    problems = check_rows(unenrolled, pl.lit(True), "id_student",
                          "no studentInfo.csv row for this student in this module presentation", value_column="student_id")
    if problems:
        raise DataValidationError(problems, source=str(scores_path))
    checked = validate_file_rows(frame, "responses", str(scores_path))
    ordered = number_within_student(checked, ["__date__", "__assessment__"]).drop(FILE_ROW, "__date__", "__assessment__")
    responses = canonical_responses(ordered, source=str(scores_path))
    return Dataset(name=folder.name, train=responses, roster=roster, dropped=dropped)
