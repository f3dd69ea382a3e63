"""`validate` lists every problem at once, each with its row, column and value."""

from __future__ import annotations

import polars as pl
import pytest

from engine.data.validate import find_problems, validate
from engine.errors import DataValidationError


def good_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "student_id": ["s1", "s1", "s2"],
            "item_id": ["i1", "i2", "i1"],
            "skill_ids": [["k1"], ["k1", "k2"], ["k1"]],
            "correct": [1.0, 0.0, 0.5],
            "seq": [0, 1, 0],
        }
    )


def problems_of(frame: pl.DataFrame) -> list:
    return find_problems(frame, "responses")[1]


def test_clean_frame_passes_and_is_cast() -> None:
    frame = good_frame().with_columns(pl.col("seq").cast(pl.Int32))
    out = validate(frame, "responses")
    assert out.schema["seq"] == pl.Int64
    assert out.height == 3


def test_missing_column_is_named() -> None:
    with pytest.raises(DataValidationError) as err:
        validate(good_frame().drop("correct"), "responses")
    (problem,) = err.value.problems
    assert problem.column == "correct" and problem.row is None
    assert "missing" in problem.hint


def test_correct_outside_unit_interval_names_each_row() -> None:
    frame = good_frame().with_columns(pl.Series("correct", [1.0, 2.0, -0.5]))
    problems = problems_of(frame)
    assert [(p.row, p.column, p.value) for p in problems] == [(2, "correct", 2.0), (3, "correct", -0.5)]


def test_empty_and_missing_ids_are_reported_together_with_other_problems() -> None:
    frame = good_frame().with_columns(
        pl.Series("student_id", ["s1", " ", None]), pl.Series("correct", [1.0, 0.0, 7.0])
    )
    problems = problems_of(frame)
    found = {(p.row, p.column) for p in problems}
    assert (2, "student_id") in found  # blank id
    assert (3, "student_id") in found  # null id
    assert (3, "correct") in found  # every problem at once, not only the first


def test_non_numeric_value_is_located() -> None:
    frame = good_frame().with_columns(pl.Series("correct", ["1", "yes", "0"]))
    (problem,) = problems_of(frame)
    assert (problem.row, problem.column, problem.value) == (2, "correct", "yes")


def test_duplicate_sequence_position_is_reported() -> None:
    frame = good_frame().with_columns(pl.Series("seq", [0, 0, 0]))
    problems = problems_of(frame)
    assert {p.row for p in problems} == {1, 2}
    assert all("duplicate" in p.hint for p in problems)


def test_many_bad_rows_are_counted_not_dropped() -> None:
    n = 500
    frame = pl.DataFrame(
        {"student_id": ["s"] * n, "item_id": ["i"] * n, "skill_ids": [["k"]] * n, "correct": [3.0] * n, "seq": list(range(n))}
    )
    problems = problems_of(frame)
    assert sum(p.count for p in problems) == n
    assert "problem" in str(DataValidationError(problems))


def test_empty_table_is_an_error() -> None:
    with pytest.raises(DataValidationError, match="no rows"):
        validate(good_frame().head(0), "responses")


def test_single_column_key_duplicate_is_reported_not_crashed() -> None:
    roster = pl.DataFrame({"student_id": ["a", "b", "a"]})
    _, problems = find_problems(roster, "roster")
    assert [(p.row, p.column, p.value) for p in problems] == [(1, "student_id", "a"), (3, "student_id", "a")]


def test_range_checks_still_run_on_a_column_with_unreadable_values() -> None:
    frame = good_frame().with_columns(pl.Series("correct", ["1", "yes", "7"]))
    problems = problems_of(frame)
    by_row = {p.row: p.hint for p in problems if p.column == "correct"}
    assert set(by_row) == {2, 3}
    assert "cannot be read" in by_row[2] and "[0, 1]" in by_row[3]
