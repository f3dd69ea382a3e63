"""Group specs, roster checks and (complementary) suppression, against hand-worked tables."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import ConfigError, DataValidationError
from engine.fairness.groups import (
    OVERALL,
    GroupSpec,
    check_roster,
    parse_group_specs,
    plan_suppression,
    student_groups,
    suppress_cells,
)


def test_specs_parse_columns_and_intersections() -> None:
    specs = parse_group_specs("gender, disability,gender*disability,gender")
    assert [s.name for s in specs] == ["gender", "disability", "gender*disability"]
    assert specs[2].columns == ("gender", "disability")
    with pytest.raises(ConfigError, match="gender\\*\\*x"):
        GroupSpec.parse("gender**x")


def test_unknown_group_column_is_named_with_the_alternatives() -> None:
    roster = pl.DataFrame({"student_id": ["a", "b"], "gender": ["F", "M"], "age": ["1", "2"]})
    with pytest.raises(ConfigError) as info:
        check_roster(roster, parse_group_specs("gendr"), "student_id")
    assert "'gendr'" in str(info.value) and "gender" in str(info.value) and "age" in str(info.value)


def test_single_valued_column_and_conflicting_students_are_errors() -> None:
    roster = pl.DataFrame({"student_id": ["a", "b", "b"], "gender": ["F", "F", "F"], "age": ["1", "2", "3"]})
    with pytest.raises(DataValidationError) as info:
        check_roster(roster, parse_group_specs("gender,age"), "student_id")
    text = str(info.value)
    assert "'gender'" in text and "single value" in text and "different group values" in text


def test_labels_for_missing_values_and_intersections() -> None:
    roster = pl.DataFrame({"student_id": ["a", "b", "c"], "gender": ["F", None, "M"], "dis": ["Y", "N", "N"]})
    labels = student_groups(roster, parse_group_specs("gender,gender*dis"), "student_id").sort("student_id")
    assert labels["gender"].to_list() == ["F", "(missing)", "M"]
    assert labels["gender*dis"].to_list() == ["F & Y", "(missing) & N", "M & N"]


def _suppressed(counts: dict[str, int], min_size: int = 10) -> set[str]:
    table = pl.DataFrame({"g": list(counts), "n": list(counts.values())})
    out = suppress_cells(table, ["g"], min_size)
    return set(out.filter(pl.col("suppressed"))["g"].to_list())


def test_one_small_group_takes_the_next_smallest_with_it() -> None:
    # alone, X (4) = total - A - B could be recovered; hiding B (the smallest shown) prevents it
    assert _suppressed({"A": 50, "B": 30, "X": 4}) == {"B", "X"}
    # two small groups: B + X = total - A = 9 students, a union below the minimum, so A goes too
    assert _suppressed({"A": 50, "B": 5, "X": 4}) == {"A", "B", "X"}
    assert _suppressed({"A": 50, "C": 30, "B": 6, "X": 4}) == {"B", "X"}  # B + X = 10: the union may be known
    assert _suppressed({"A": 50, "B": 30}) == set()


def test_two_way_table_protects_every_line() -> None:
    # gender x disability with margins shown; F&Y = 3 is small
    table = pl.DataFrame({"g": ["F", "F", "M", "M"], "d": ["N", "Y", "N", "Y"], "n": [40, 3, 35, 20]})
    out = suppress_cells(table, ["g", "d"], 10)
    hidden = {(r["g"], r["d"]) for r in out.iter_rows(named=True) if r["suppressed"]}
    # line g=F needs a second cell (F&N); line d=Y needs M&Y; then line g=M and d=N each have two hidden
    assert hidden == {("F", "Y"), ("F", "N"), ("M", "Y"), ("M", "N")}


def test_strata_are_protected_separately() -> None:
    table = pl.DataFrame({"band": ["low", "low", "low", "high", "high"], "g": ["A", "B", "C", "A", "B"],
                          "n": [30, 20, 2, 25, 25]})
    out = suppress_cells(table, ["g"], 10, strata=["band"])
    hidden = {(r["band"], r["g"]) for r in out.iter_rows(named=True) if r["suppressed"]}
    assert hidden == {("low", "C"), ("low", "B")}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(min_value=1, max_value=40), min_size=2, max_size=4), min_size=2, max_size=4)
       .filter(lambda rows: len({len(r) for r in rows}) == 1))
def test_no_line_ever_has_exactly_one_hidden_cell(grid: list[list[int]]) -> None:
    """With every margin published, a lone hidden cell in a line equals margin minus the shown cells."""
    counts = np.array(grid)
    rows, cols = np.indices(counts.shape)
    table = pl.DataFrame({"r": rows.ravel().astype(str), "c": cols.ravel().astype(str), "n": counts.ravel()})
    out = suppress_cells(table, ["r", "c"], 10)
    hidden = out["suppressed"].to_numpy().reshape(counts.shape)
    assert hidden[counts < 10].all()
    for line in [*hidden, *hidden.T]:
        assert line.sum() != 1


def _students(cells: dict[tuple[str, ...], int], columns: tuple[str, ...]) -> pl.DataFrame:
    """One row per student, `n` students in each cell of the given label combination."""
    rows = [dict(zip(columns, key)) for key, n in cells.items() for _ in range(n)]
    return pl.DataFrame(rows).with_row_index("student_id").with_columns(pl.col("student_id").cast(pl.Utf8))


def test_a_margin_hidden_in_one_table_is_not_the_sum_of_shown_cells_in_another() -> None:
    # the outside review's case: X (5 students) is hidden in `gender`, and M with it; shown alone,
    # `gender*ell` would give M = M&Y + M&N + M&U and then X = total - F - M
    cells = {("F", "Y"): 20, ("F", "N"): 20, ("F", "U"): 300, ("M", "Y"): 30, ("M", "N"): 30, ("M", "U"): 30,
             ("X", "Y"): 2, ("X", "N"): 3}
    labels = _students(cells, ("gender", "ell"))
    hidden = plan_suppression(labels, parse_group_specs("gender,ell,gender*ell"), 10, student_col="student_id")
    shown = {(g, e): n for (g, e), n in cells.items() if (None, "gender*ell", f"{g} & {e}") not in hidden}
    assert (None, "gender", "X") in hidden and (None, "gender", "M") in hidden
    # every M cell cannot be shown, and no gender is the sum of its fully shown line
    for gender in ("F", "M", "X"):
        line = [k for k in cells if k[0] == gender]
        if (None, "gender", gender) in hidden:
            assert any(k not in shown for k in line), gender
    # the rule on every line of gender*ell whose margin is shown: no lone hidden cell, no small union
    for margin_attr, pos in (("gender", 0), ("ell", 1)):
        for value in {k[pos] for k in cells}:
            if (None, margin_attr, value) in hidden:
                continue
            hid = [k for k in cells if k[pos] == value and k not in shown]
            assert not hid or (len(hid) >= 2 and sum(cells[k] for k in hid) >= 10), (margin_attr, value, hid)


def test_unstratified_totals_do_not_give_away_a_hidden_stratum_cell() -> None:
    # group C has 40 students: 3 in Q1 (hidden) and 37 across Q2-Q4; C's total and the other quartiles
    # shown would give C in Q1 by subtraction (the outcome audit's case)
    cells = {("Q1", "A"): 30, ("Q1", "B"): 30, ("Q1", "C"): 3, ("Q2", "A"): 30, ("Q2", "B"): 30, ("Q2", "C"): 12,
             ("Q3", "A"): 30, ("Q3", "B"): 30, ("Q3", "C"): 12, ("Q4", "A"): 30, ("Q4", "B"): 30, ("Q4", "C"): 13}
    labels = _students(cells, ("q", "grp"))
    hidden = plan_suppression(labels, [GroupSpec(("grp",))], 10, student_col="student_id", stratum_col="q")
    assert ("Q1", "grp", "C") in hidden
    c_cells = [(q, "grp", "C") for q in ("Q1", "Q2", "Q3", "Q4")]
    # C's total is hidden, or a second C cell is: either way C in Q1 is not total minus the shown cells
    assert (None, "grp", "C") in hidden or sum(c in hidden for c in c_cells) >= 2
    assert (None, "", OVERALL) not in hidden and (None, "grp", "A") not in hidden
