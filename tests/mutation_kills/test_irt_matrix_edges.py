"""A person x item response matrix turned into long responses (models/irt/matrix.py), against the module
docstring: what is accepted (numpy numeric or boolean, polars, pandas with its index naming the rows), the
long rows written out by hand (row-major, missing cells dropped, `seq` = the item's column), the item
order of a long frame (first appearance), and each refusal: the problems a `DataValidationError` lists
(1-based row, column, value, count of rows sharing it) and the errors' wording that names the cause."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from models.errors import DataValidationError
from models.irt.matrix import MAX_LISTED, long_responses, matrix_responses


def test_numpy_matrix_becomes_long_rows_in_row_major_order() -> None:
    values = np.array([[1, 0, np.nan], [np.nan, 1, 1]])
    out = matrix_responses(values)
    assert out.item_order == ["item_0", "item_1", "item_2"]
    frame = out.responses
    assert frame.columns == ["student_id", "item_id", "correct", "seq"]
    assert frame["student_id"].to_list() == ["0", "0", "1", "1"]
    assert frame["item_id"].to_list() == ["item_0", "item_1", "item_1", "item_2"]
    assert frame["correct"].to_list() == [1.0, 0.0, 1.0, 1.0]
    assert frame["seq"].to_list() == [0, 1, 1, 2] and frame["seq"].dtype == pl.Int64
    assert frame["student_id"].dtype == pl.Utf8 and frame["item_id"].dtype == pl.Utf8
    # integer and boolean matrices are accepted as 0 / 1
    ints = matrix_responses(np.array([[1, 0], [0, 1]], dtype=np.int64)).responses
    assert ints["correct"].to_list() == [1.0, 0.0, 0.0, 1.0] and ints["student_id"].to_list() == ["0", "0", "1", "1"]
    bools = matrix_responses(np.array([[True, False]])).responses
    assert bools["correct"].to_list() == [1.0, 0.0]


def test_numpy_matrices_that_are_refused() -> None:
    with pytest.raises(ValueError, match=r"must be numeric \(0, 1, NaN\), got dtype <U1"):
        matrix_responses(np.array([["1", "0"]]))
    with pytest.raises(ValueError, match=r"must be 2-D \(persons x items\), got shape \(3,\)"):
        matrix_responses(np.array([1.0, 0.0, 1.0]))
    with pytest.raises(TypeError, match=r"^cannot read responses from a list: give a long polars frame"):
        matrix_responses([[1, 0]])


def test_pandas_index_names_the_rows_unless_a_student_id_column_does() -> None:
    frame = pd.DataFrame({"q1": [1.0, np.nan], "q2": [0.0, 1.0]}, index=["ann", "bob"])
    out = matrix_responses(frame).responses
    assert out["student_id"].to_list() == ["ann", "ann", "bob"] and out["item_id"].to_list() == ["q1", "q2", "q2"]
    numbered = pd.DataFrame({"q1": [1.0, 0.0]}, index=[10, 11])
    assert matrix_responses(numbered).responses["student_id"].to_list() == ["10", "11"]
    named = pd.DataFrame({"student_id": ["x", "y"], "q1": [1.0, 0.0]}, index=[5, 6])
    assert matrix_responses(named).responses["student_id"].to_list() == ["x", "y"]


def test_polars_frame_accepts_boolean_and_all_missing_columns() -> None:
    frame = pl.DataFrame({"student_id": ["a", "b"], "b1": [True, False], "empty": [None, None], "n": [0, 1]})
    out = matrix_responses(frame)
    assert out.item_order == ["b1", "empty", "n"]
    assert out.responses["item_id"].to_list() == ["b1", "n", "b1", "n"]
    assert out.responses["correct"].to_list() == [1.0, 0.0, 0.0, 1.0]
    plain = matrix_responses(pl.DataFrame({"x": [1, 0, 1]})).responses
    assert plain["student_id"].to_list() == ["0", "1", "2"]


def test_non_numeric_columns_are_each_reported() -> None:
    frame = pl.DataFrame({"name": ["a", "b"], "q1": [1, 0], "when": ["x", "y"]})
    with pytest.raises(DataValidationError) as info:
        matrix_responses(frame)
    err = info.value
    assert err.source == "response matrix"
    assert [(p.row, p.column, p.value, p.count) for p in err.problems] == [(None, "name", "String", 1), (None, "when", "String", 1)]
    for p in err.problems:
        assert p.hint.startswith("a response column must hold 0, 1 or missing values; name the rows with a 'student_id' column")


def test_missing_student_ids_are_reported_at_the_first_row() -> None:
    frame = pl.DataFrame({"student_id": ["a", None, "c", None], "q1": [1, 0, 1, 1]})
    with pytest.raises(DataValidationError) as info:
        matrix_responses(frame)
    err = info.value
    assert err.source == "response matrix" and len(err.problems) == 1
    p = err.problems[0]
    assert (p.row, p.column, p.value, p.count) == (2, "student_id", None, 2)
    assert p.hint == "every row needs a student id"


def test_cells_other_than_0_1_missing_are_listed_up_to_the_limit() -> None:
    assert MAX_LISTED == 20
    values = np.zeros((3, 10))
    values[0, 2], values[2, 7] = 2.0, 0.5
    with pytest.raises(DataValidationError) as info:
        matrix_responses(values)
    err = info.value
    assert err.source == "response matrix"
    assert [(p.row, p.column, p.value, p.count) for p in err.problems] == [(1, "item_2", 2.0, 1), (3, "item_7", 0.5, 1)]
    assert err.problems[0].hint.startswith("responses must be 0, 1 or missing (NaN)")
    # exactly 20 bad cells: all listed, none merged; 23: the 20th line stands for itself and the 3 not listed
    for n_bad in (20, 23):
        values = np.zeros((n_bad, 4))
        for r in range(n_bad):
            values[r, r % 4] = 2.0 + r  # each listed cell in its own column / with its own value
        with pytest.raises(DataValidationError) as info:
            matrix_responses(values)
        problems = info.value.problems
        assert len(problems) == 20
        assert [(p.row, p.column, p.value) for p in problems] == [(r + 1, f"item_{r % 4}", 2.0 + r) for r in range(20)]
        assert [p.count for p in problems] == [1] * 19 + [n_bad - 19]
        assert problems[-1].hint == problems[0].hint


def test_repeated_students_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^student ids must be unique: a matrix has one row per student$"):
        matrix_responses(pl.DataFrame({"student_id": ["a", "a"], "q1": [1, 0]}))


def test_long_frames_keep_the_item_order_of_first_appearance() -> None:
    frame = pl.DataFrame({"student_id": ["s"] * 6, "item_id": ["c", "a", "c", "b", "a", "d"], "correct": [1, 0, 1, 1, 0, 1]})
    out = long_responses(frame)
    assert out.responses is frame
    assert out.item_order == ["c", "a", "b", "d"]
    ints = long_responses(frame.with_columns(pl.Series("item_id", [30, 4, 30, 200, 4, 1])))
    assert ints.item_order == ["30", "4", "200", "1"]
    as_pandas = long_responses(frame.to_pandas())
    assert as_pandas.item_order == ["c", "a", "b", "d"] and as_pandas.responses.height == 6
    with pytest.raises(ValueError, match=r"^a long response frame needs student_id, item_id, correct; missing: student_id, correct$"):
        long_responses(pl.DataFrame({"item_id": ["a"], "q": [1]}))
