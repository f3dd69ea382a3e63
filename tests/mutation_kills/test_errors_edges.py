"""models/errors.py: the text of a `Problem` and of a `DataValidationError`, written out by hand from the
docstrings (row 1-based or "table", the column and value shown with repr, "(and N more rows like it)" for
a problem shared by several rows, at most 50 problems listed, a head naming the source and the counts)."""

from __future__ import annotations

import pytest

from models.errors import (
    AuditGateError,
    AuthError,
    ConfigError,
    ConflictError,
    DataError,
    DataValidationError,
    EquilearnError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
    UnavailableError,
)


def test_problem_text_for_each_part_present_or_absent() -> None:
    assert str(Problem(3, "correct", 2.5, "must be 0 or 1")) == "row 3, column 'correct', value 2.5: must be 0 or 1"
    assert str(Problem(None, None, None, "no rows")) == "table: no rows"
    # an empty column name is left out like None; a value of 0 or "" is still shown (only None is left out)
    assert str(Problem(1, "", 0, "h")) == "row 1, value 0: h"
    assert str(Problem(0, None, "", "h")) == "row 0, value '': h"
    # count: 1 adds nothing, 2 -> "1 more", 7 -> "6 more"
    assert str(Problem(4, "x", None, "h", count=1)) == "row 4, column 'x': h"
    assert str(Problem(4, "x", None, "h", count=2)) == "row 4, column 'x': h (and 1 more rows like it)"
    assert str(Problem(4, "x", None, "h", count=7)) == "row 4, column 'x': h (and 6 more rows like it)"
    assert Problem(1, None, None, "h").count == 1


def test_validation_error_message_lists_every_problem_up_to_fifty() -> None:
    problems = [Problem(1, "a", 5, "bad"), Problem(None, "b", None, "missing", count=3)]
    err = DataValidationError(problems, source="responses.csv")
    assert err.problems == problems and err.problems is not problems and err.source == "responses.csv"
    assert str(err) == ("responses.csv: 2 problem(s) affecting 4 row(s)\n"
                        "  row 1, column 'a', value 5: bad\n"
                        "  table, column 'b': missing (and 2 more rows like it)")
    assert str(DataValidationError([Problem(2, None, None, "h")])) == "data: 1 problem(s) affecting 1 row(s)\n  row 2: h"
    assert DataValidationError.max_listed == 50
    # exactly 50: all listed, no "more problems" line; 51 and 53: 50 listed and the rest counted
    fifty = DataValidationError([Problem(i + 1, None, None, "h") for i in range(50)])
    lines = str(fifty).split("\n")
    assert len(lines) == 51 and lines[0] == "data: 50 problem(s) affecting 50 row(s)" and lines[-1] == "  row 50: h"
    for total in (51, 53):
        many = DataValidationError([Problem(i + 1, None, None, "h", count=2) for i in range(total)], source="s")
        lines = str(many).split("\n")
        assert lines[0] == f"s: {total} problem(s) affecting {2 * total} row(s)"
        assert len(lines) == 52 and lines[50] == "  row 50: h (and 1 more rows like it)"
        assert lines[51] == f"  ... and {total - 50} more problems"
        assert len(many.problems) == total


def test_exception_tree() -> None:
    assert issubclass(DataValidationError, DataError) and issubclass(DataError, EquilearnError)
    assert issubclass(AuditGateError, ConfigError) and issubclass(ConfigError, EquilearnError)
    for cls in (NotFoundError, ConflictError, AuthError, PermissionDeniedError, UnavailableError):
        assert issubclass(cls, EquilearnError) and not issubclass(cls, DataError)
    with pytest.raises(DataError):
        raise DataValidationError([])
    assert str(DataValidationError([])) == "data: 0 problem(s) affecting 0 row(s)\n  "
