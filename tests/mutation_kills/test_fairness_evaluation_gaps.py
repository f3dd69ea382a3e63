"""Gaps left by the unsampled mutation run of engine/fairness and engine/evaluation (docs/mutation_fairness_evaluation.md,
issue 19): the per-period `significant` flag and default `alpha` of the identity test over time, `n_reference` and
constant items in logistic DIF, a non-numeric `correct` column in scoring, and an empty table in the item audit.

References: simulations whose group effect is known (none, or a group that answers right 90% of the time against 10%
at the same prediction); group sizes and blanks placed by hand; the definitions of the likelihood-ratio test and of
Nagelkerke's R^2 worked out by hand for an item every student answered the same way (every model fits it exactly, so
each LR statistic is 0 and R^2 is 0/0, undefined); that adding a constant to every matching score only shifts the
intercept; and the row numbers, column and values of the tables the tests build.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import polars as pl
import pytest

from engine.errors import DataValidationError
from engine.evaluation.scoring import evaluate as score_model, predictions
from engine.fairness.dif import logistic_dif
from engine.fairness.item_audit import audit_items
from engine.fairness.timeline import identity_by_period


# ---------------------------------------------------------------- identity test over time (timeline.py)
def _two_periods(seed: int = 0, n_students: int = 40, per: int = 10) -> tuple[pl.DataFrame, pl.DataFrame]:
    """w1: no group effect (y ~ Bernoulli(p)); w2: the model says 0.5 for everyone, but group a is right with
    probability 0.9 and group b with 0.1, so group membership carries almost all the information."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_students):
        group_a = s % 2 == 0
        for k in range(per):
            p = float(rng.uniform(0.2, 0.8))
            rows.append({"student_id": f"s{s:02d}", "period": "w1", "p": p, "correct": float(rng.random() < p)})
            rows.append({"student_id": f"s{s:02d}", "period": "w2", "p": 0.5,
                         "correct": float(rng.random() < (0.9 if group_a else 0.1))})
    roster = pl.DataFrame({"student_id": [f"s{s:02d}" for s in range(n_students)],
                           "g": ["a" if s % 2 == 0 else "b" for s in range(n_students)]})
    return pl.DataFrame(rows), roster


def test_identity_by_period_flags_the_period_with_a_group_effect_at_the_default_alpha() -> None:
    # kills timeline #125 (significant=bool(None): w2 would read not significant) and #4 (default alpha 1.05: w1,
    # whose group effect is zero, would read significant)
    rows, roster = _two_periods()
    out = identity_by_period(rows, roster, ["g"], ["w1", "w2"])  # every option at its default
    assert out["alpha"] == 0.05  # the documented default
    null, effect = out["weeks"]
    assert (null["week"], null["tested"], effect["week"], effect["tested"]) == ("w1", True, "w2", True)
    # no group effect in w1: the out-of-sample test has nothing to find
    assert null["p_value"] > 0.05 and null["significant"] is False
    # 0.9 against 0.1 at the same prediction, 20 students a group: far beyond any 5% test
    assert effect["p_value"] < 0.001 and effect["significant"] is True
    # group membership alone has AUC (180 x 180 + 0.5 x 2 x 180 x 20) / 200^2 = 0.9 at the expected counts; the
    # constant prediction about 0.5 (the cross-fitted intercepts move it a little)
    assert effect["delta_auc"] > 0.25
    assert out["overall"]["tested"] is True and out["overall"]["significant"] is True


# ---------------------------------------------------------------- logistic DIF (dif.py)
def _responses(sizes: dict[str, int], n_items: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    group = np.concatenate([[g] * n for g, n in sizes.items()])
    theta = rng.normal(size=group.size)
    b = np.linspace(-1.0, 1.0, n_items)
    X = (rng.random((group.size, n_items)) < 1 / (1 + np.exp(-(theta[:, None] - b[None, :])))).astype(float)
    return X, group


def test_logistic_dif_counts_the_reference_and_focal_students_who_answered() -> None:
    # kills dif logistic_dif #175 (n_reference = students of the first focal group)
    sizes = {"r": 30, "f": 20, "g": 12, "x": 5}  # x is in neither group and must not be counted
    X, group = _responses(sizes)
    r_rows, f_rows, g_rows, x_rows = (np.flatnonzero(group == k) for k in sizes)
    X[r_rows[[0, 4, 9]], 1] = np.nan   # item 1: 3 reference students left it blank
    X[f_rows[[2, 3]], 1] = np.nan      # ... and 2 of f
    X[g_rows[[0]], 2] = np.nan         # item 2: 1 of g
    X[x_rows, 3] = np.nan              # item 3: only outsiders blank
    items = ["q0", "q1", "q2", "q3"]
    one = logistic_dif(X, group, items, reference="r", focal=["f"])
    assert [(i.n_reference, i.n_focal) for i in one.items] == [(30, 20), (27, 18), (30, 20), (30, 20)]
    two = logistic_dif(X, group, items, reference="r", focal=["f", "g"])
    assert [(i.focal, i.n_reference, i.n_focal) for i in two.items] == [
        ("f,g", 30, 32), ("f,g", 27, 30), ("f,g", 30, 31), ("f,g", 30, 32)]
    swapped = logistic_dif(X, group, items, reference="f", focal=["r"])
    assert [(i.n_reference, i.n_focal) for i in swapped.items] == [(20, 30), (18, 27), (20, 30), (20, 30)]


@pytest.mark.parametrize("value", [1.0, 0.0])
def test_logistic_dif_item_everyone_answered_the_same_way(value: float) -> None:
    # kills dif _logistic_item #75 (ll_null of a constant item 1.0: every R^2 would be 1 and delta R^2 a finite 0)
    sizes = {"r": 40, "f": 25}
    X, group = _responses(sizes, n_items=4, seed=1)
    constant = np.column_stack([X, np.full(group.size, value)])
    items = ["q0", "q1", "q2", "q3", "same"]
    for dif_type in ("both", "uniform", "nonuniform"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an undefined R^2 is reported as NaN, not by a numpy warning
            result = logistic_dif(constant, group, items, reference="r", focal=["f"], dif_type=dif_type)
        item = result.items[4]
        # every model predicts the constant answer exactly (log-likelihood 0), so each LR statistic is 0 and p is 1
        assert (item.item_id, item.n_reference, item.n_focal) == ("same", 40, 25)
        for stat in (item.chi2, item.lr_uniform, item.lr_nonuniform):
            assert stat == pytest.approx(0.0, abs=1e-9)
        for p in (item.p, item.p_adjusted, item.p_uniform, item.p_nonuniform):
            assert p == pytest.approx(1.0)
        # Nagelkerke R^2 = (1 - exp(2 (ll_null - ll) / n)) / (1 - exp(2 ll_null / n)) with ll_null = ll = 0: 0/0
        assert math.isnan(item.delta_r2)
        assert (item.jg_class, item.zt_class, item.flag_for_review) == ("A", "A", False)
        assert "same" not in result.flagged
        # a constant column adds the same amount to every matching score: the other items' fits are unchanged
        plain = logistic_dif(X, group, items[:4], reference="r", focal=["f"], dif_type=dif_type)
        for got, want in zip(result.items[:4], plain.items):
            assert got.chi2 == pytest.approx(want.chi2, abs=1e-7) and got.delta_r2 == pytest.approx(want.delta_r2, abs=1e-9)


# ---------------------------------------------------------------- scoring (evaluation/scoring.py)
class _Half:
    """Predicts 0.5 for every row."""

    def predict_proba(self, responses: pl.DataFrame) -> np.ndarray:
        return np.full(responses.height, 0.5)


def _frame(correct: pl.Series) -> pl.DataFrame:
    n = correct.len()
    return pl.DataFrame({"student_id": [f"s{i % 3}" for i in range(n)], "item_id": [f"i{i}" for i in range(n)],
                         "seq": list(range(n, 0, -1))}).with_columns(correct.alias("correct"))


def test_non_numeric_correct_names_the_row_the_column_and_the_fix() -> None:
    # kills scoring _check_correct #5 / #8 (strict cast: polars' own error, or a whole-column error without the row),
    # #19 / #30 (the offending value left out)
    text = pl.Series(["1", "0", "yes", "1", "0", "no", "1"])
    with pytest.raises(DataValidationError) as info:
        score_model(_Half(), _frame(text))
    (problem,) = info.value.problems
    # rows are numbered as the caller gave them (1-based), before the scorer sorts by student and seq
    assert (problem.row, problem.column, problem.value, problem.count) == (3, "correct", "yes", 2)
    assert info.value.source == "evaluate"
    message = str(info.value)
    assert "row 3, column 'correct', value 'yes'" in message and "must be a number in [0, 1]" in message
    assert "fix or drop these rows" in message and "(and 1 more rows like it)" in message
    # numbers written as text are still numbers
    numeric_text = _frame(pl.Series(["1", "0", "1", "1", "0", "0", "1"]))
    y, p = predictions(_Half(), numeric_text)
    assert sorted(y.tolist()) == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0] and p.tolist() == [0.5] * 7


@pytest.mark.parametrize("column", [
    pl.Series(["right", "wrong", "right"], dtype=pl.Categorical),
    pl.Series([[1], [0], [1]]),
])
def test_a_correct_column_polars_cannot_cast_is_a_data_error(column: pl.Series) -> None:
    # before the fix: polars' ComputeError / InvalidOperationError, naming neither the column nor what to do
    with pytest.raises(DataValidationError) as info:
        score_model(_Half(), _frame(column))
    (problem,) = info.value.problems
    assert (problem.row, problem.column, problem.value) == (None, "correct", str(column.dtype))
    assert "must be a number in [0, 1]" in problem.hint and "convert the column to numbers" in problem.hint
    assert "column 'correct'" in str(info.value)


# ---------------------------------------------------------------- item audit (item_audit.py)
@pytest.mark.parametrize("focal", ["b", ["b", "c"]])
def test_item_audit_of_an_empty_table_says_there_are_no_rows(focal) -> None:
    # kills item_audit audit_items #44 (IndexError on the empty list of group values); before the fix the error
    # said the group column had "a single value"
    empty = pl.DataFrame({"grp": pl.Series([], dtype=pl.Utf8), "i0": pl.Series([], dtype=pl.Int64)})
    with pytest.raises(DataValidationError) as info:
        audit_items(empty, "grp", focal, items=["i0"])
    (problem,) = info.value.problems
    assert (problem.row, problem.column, problem.value) == (None, "grp", None)
    assert problem.hint.startswith("the table has no rows; give one row per student")
    assert "single value" not in str(info.value)
    one_group = pl.DataFrame({"grp": ["a", "a"], "i0": [0, 1]})  # the other case of the same check is unchanged
    with pytest.raises(DataValidationError, match="group column has a single value"):
        audit_items(one_group, "grp", "a")
