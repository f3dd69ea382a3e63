"""Id coding in models/irt/data.py against its docstrings: a missing id is refused with a message giving
the count and the first 0-based position, `lookup` gives each value's position among the known ids and
-1 for an unknown one, whatever the input type (list, numpy array, polars Series)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from models.irt.data import encode, lookup


@pytest.mark.parametrize("values", [["a", None, "b", None], np.array(["a", None, "b", None], dtype=object),
                                    pl.Series("x", ["a", None, "b", None])])
def test_missing_ids_are_counted_and_the_first_is_located(values) -> None:
    with pytest.raises(ValueError, match=r"^student_id: 2 missing id\(s\), first at position 1; every response needs an id$"):
        encode(values, "student_id")
    with pytest.raises(ValueError, match=r"^id: 2 missing id\(s\), first at position 1; "):
        lookup(values, np.array(["a", "b"], dtype=object))


@pytest.mark.parametrize("values", [["b", "z", "a", "b"], np.array(["b", "z", "a", "b"], dtype=object),
                                   pl.Series("whatever", ["b", "z", "a", "b"]), (v for v in ["b", "z", "a", "b"])])
def test_lookup_positions_and_unknown_ids(values) -> None:
    got = lookup(values, np.array(["a", "b", "c"], dtype=object))
    assert got.tolist() == [1, -1, 0, 1] and got.dtype == np.int64
    # known ids compared as text: integer ids match their string form
    assert lookup([3, 10], np.array(["10", "3"], dtype=object)).tolist() == [1, 0]
    assert lookup(["x"], np.array([], dtype=object)).tolist() == [-1]


def test_response_data_refusals_name_the_column() -> None:
    from models.irt.data import ResponseData

    with pytest.raises(ValueError, match=r"^student_id: 1 missing id\(s\), first at position 1; every response needs an id$"):
        ResponseData.from_arrays(["s1", None], ["i1", "i2"], [1, 0])
    with pytest.raises(ValueError, match=r"^item_id: 1 missing id\(s\), first at position 0; every response needs an id$"):
        ResponseData.from_arrays(["s1", "s2"], [None, "i2"], [1, 0])
    with pytest.raises(ValueError, match=r"^student_ids, item_ids and correct must have the same length, got \(2, 1, 2\)$"):
        ResponseData.from_arrays(["s1", "s2"], ["i1"], [1, 0])
    with pytest.raises(ValueError, match=r"^no responses given: calibration needs at least one response per item$"):
        ResponseData.from_arrays([], [], [])
    data = ResponseData.from_arrays(["b", "a", "b"], ["x", "y", "x"], [1, 0, 1])
    assert data.student.tolist() == [1, 0, 1] and data.student_ids.tolist() == ["a", "b"]
    assert data.item.tolist() == [0, 1, 0] and data.correct.tolist() == [1, 0, 1]


def test_integer_arrays_are_coded_in_numeric_order_and_others_as_text() -> None:
    codes, uniques = encode(np.array([10, 9, 100, 9]))
    assert uniques.tolist() == ["9", "10", "100"] and codes.tolist() == [1, 0, 2, 0] and codes.dtype == np.int64
    codes, uniques = encode(["10", "9", "100", "9"])  # text: sorted as text
    assert uniques.tolist() == ["10", "100", "9"] and codes.tolist() == [0, 2, 1, 2]
    assert (uniques[codes] == np.array(["10", "9", "100", "9"], dtype=object)).all()
    with pytest.raises(ValueError, match=r"^id: 1 missing id\(s\), first at position 0; "):
        encode([None, "a"])


def test_binary_responses() -> None:
    from models.irt.data import binary_responses

    out = binary_responses([1, 0, True, 1.0])
    assert out.tolist() == [1, 0, 1, 1] and out.dtype == np.int8  # the docstring's int8 0/1 array
    assert binary_responses(pl.Series([0.0, 1.0])).tolist() == [0, 1]
    # None and NaN are missing answers, not 0/1; the first offending positions and values are shown
    with pytest.raises(ValueError, match=r"^correct: 3 response\(s\) are not 0/1 \(position 0: 0\.5, position 2: nan, position 3: nan\); "):
        binary_responses([0.5, 1, None, float("nan")])
