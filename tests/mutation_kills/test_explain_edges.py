"""Edge cases of the gate's plain-language explanation (engine/fairness/explain.py) the mutation run showed untested.

References: the square-root law of the module docstring computed by hand, the Bonferroni widening from scipy's
normal quantiles, and the documented wording of bounds, meanings and places, worked row by row.
"""

from __future__ import annotations

import math

import pytest
from scipy import stats

from engine.fairness import explain
from engine.fairness.gate import parse_policy

FAIL, INSUFFICIENT, PASS = "FAIL", "INSUFFICIENT_EVIDENCE", "PASS"


def test_value_meaning_and_reference_words() -> None:
    assert explain.value_meaning("auc", "value") == explain.METRIC_WORDS["auc"]
    assert explain.value_meaning("new_metric", "value") == "new metric"
    assert explain.value_meaning("gain", "difference", "best") == (
        "shortfall against the best group (positive: the group is worse off) in the learning gain (post minus pre)")
    assert explain.value_meaning("gain", "ratio", "largest") == (
        "ratio to the largest group (below 1: the group is worse off) in the learning gain (post minus pre)")
    assert explain.value_meaning("gain", "ratio", "overall").startswith("ratio to all students ")
    assert explain.value_meaning("gain", "ratio", None).startswith("ratio to the reference ")
    assert explain.value_meaning("gain", "difference", "F").startswith("shortfall against group F ")


def test_bound_text() -> None:
    assert explain.bound_text(0.8, None) == "at least 0.8"
    assert explain.bound_text(None, 0.05) == "at most 0.05"
    assert explain.bound_text(-0.05, 0.05) == "at least -0.05 and at most 0.05"
    assert explain.bound_text(None, None) == "no bound"
    assert explain.bound_text(0.0, 1.0) == "at least 0 and at most 1"


def test_nearest_bound() -> None:
    assert explain.nearest_bound(None, None, "value", 0.3) is None
    assert explain.nearest_bound(0.8, None, "ratio", 0.5) == 0.8
    assert explain.nearest_bound(-0.05, 0.05, "value", None) == -0.05
    assert explain.nearest_bound(-0.05, 0.05, "value", 0.01) == 0.05
    assert explain.nearest_bound(-0.05, 0.05, "value", -0.01) == -0.05
    # ratios compare on the log scale: 1.3 is nearer 2 there (log 1.54 < log 1.625), nearer 0.8 on the plain one
    assert explain.nearest_bound(0.8, 2.0, "ratio", 1.5) == 2.0
    assert explain.nearest_bound(0.8, 2.0, "value", 1.3) == 0.8
    assert explain.nearest_bound(0.8, 2.0, "ratio", 1.3) == 2.0
    assert explain.nearest_bound(0.8, 2.0, "ratio", 0.0) == 0.8  # no log of 0: the plain distance
    assert explain.nearest_bound(0.8, 2.0, "ratio", -1.0) == 0.8


def test_widen_factor_against_the_normal_quantiles() -> None:
    for tests in (1, 4, 40):
        want = max(1.0, stats.norm.ppf(1 - 0.05 / tests) / stats.norm.ppf(0.975))
        assert explain.widen_factor(0.05, 0.95, tests) == pytest.approx(want)
    assert explain.widen_factor(0.05, 0.95, 0) == explain.widen_factor(0.05, 0.95, 1) == 1.0
    assert explain.widen_factor(0.01, 0.9, 3) == pytest.approx(stats.norm.ppf(1 - 0.01 / 3) / stats.norm.ppf(0.95))


def test_students_needed_by_hand() -> None:
    # half-width 0.1, margin 0.05: (0.1 / 0.05)^2 = 4 times the students
    assert explain.students_needed(25, 0.15, [0.05, 0.25], 0.1, False) == 100
    assert explain.students_needed(25, 0.15, (0.05, 0.25), 0.1, False, widen=2.0) == 400
    assert explain.students_needed(10, 0.13, [0.03, 0.23], 0.1, False) == math.ceil(10 * (0.1 / 0.03) ** 2)
    # exactly an integer after rounding away float noise: 3 students x (0.3 / 0.1)^2 = 27, not 28
    assert explain.students_needed(3, 0.2, [-0.1, 0.5], 0.1, False) == 27
    for args in ((None, 0.15, [0.05, 0.25], 0.1), (25, None, [0.05, 0.25], 0.1), (25, 0.15, None, 0.1),
                 (25, 0.15, [None, 0.25], 0.1), (25, 0.15, [0.05, None], 0.1), (25, 0.15, [0.05, 0.25], None),
                 (25, 0.15, [0.05], 0.1), (25, 0.1, [0.05, 0.25], 0.1), (25, 0.15, [0.15, 0.15], 0.1),
                 (25, 0.15, [0.25, 0.05], 0.1), (25, 0.15, [float("-inf"), 0.25], 0.1), (25, float("nan"), [0.0, 0.2], 0.1)):
        assert explain.students_needed(*args, False) is None
    assert explain.students_needed(25, 0.1 + 2e-9, [0.0, 0.2], 0.1, False) is not None  # margin just above 1e-9
    # log scale: every number must be positive
    lo, hi = 0.5, 1.0
    want = math.ceil(30 * (((math.log(hi) - math.log(lo)) / 2) / abs(math.log(0.7) - math.log(0.8))) ** 2)
    assert explain.students_needed(30, 0.7, [lo, hi], 0.8, True) == want
    for args in ((30, 0.0, [lo, hi], 0.8), (30, 0.7, [0.0, hi], 0.8), (30, 0.7, [lo, 0.0], 0.8), (30, 0.7, [lo, hi], 0.0)):
        assert explain.students_needed(*args, True) is None


def test_check_definitions_from_a_policy() -> None:
    policy = parse_policy('policy = "p"\nversion = "1"\n[[checks]]\nname = "c"\naudit = "recommendations"\n'
                          'metric = "advanced_exposure"\ncompare = "ratio"\nreference = "largest"\nmin = 0.8\n'
                          'strata = ["high"]\ndescription = "d"\n')
    assert explain.check_definitions(policy) == [{"name": "c", "audit": "recommendations", "metric": "advanced_exposure",
                                                  "compare": "ratio", "reference": "largest", "min": 0.8, "max": None,
                                                  "strata": ["high"], "description": "d"}]


def _rows():
    return [
        {"name": "gap", "attribute": "g", "stratum": None, "group": "a", "reference": "b", "status": PASS, "value": 0.0,
         "ci": [-0.01, 0.01], "n_students": 50},
        {"name": "gap", "attribute": "g", "stratum": None, "group": "c", "reference": "b", "status": INSUFFICIENT,
         "value": 0.03, "ci": [0.0, 0.06], "n_students": 20},
        {"name": "gap", "attribute": "g", "stratum": None, "group": "d", "reference": "b", "status": INSUFFICIENT,
         "value": 0.045, "ci": [0.03, 0.06], "n_students": 10},
        {"name": "gap", "attribute": "g", "stratum": None, "group": "e", "reference": "b", "status": FAIL, "value": 0.2,
         "ci": [0.1, 0.3], "n_students": 12},
        {"name": "gap", "attribute": "g", "stratum": None, "group": "f", "reference": "b", "status": INSUFFICIENT,
         "value": None, "ci": [None, None], "n_students": 5},
        {"name": "other", "attribute": "g", "stratum": None, "group": "a", "status": PASS, "value": 0.1, "ci": None},
    ]


def test_explain_rows_order_counts_and_needed_students() -> None:
    definitions = [{"name": "gap", "audit": "model", "metric": "auc", "compare": "difference", "reference": "best",
                    "min": None, "max": 0.05, "description": ""}]
    out = explain.explain(_rows(), {"gap": FAIL, "absent": PASS}, {"gap": "note"}, definitions, alpha=0.05, confidence=0.95)
    gap, absent = out
    tests = 4  # rows with a value and an interval
    widen = explain.widen_factor(0.05, 0.95, tests)
    assert gap["tests"] == tests and gap["widen"] == pytest.approx(widen)
    defaults = explain.explain(_rows(), {"gap": FAIL}, {}, definitions)[0]
    assert defaults["widen"] == pytest.approx(widen) and defaults["rows"] == gap["rows"]  # alpha 0.05, confidence 0.95
    assert gap["counts"] == {PASS: 1, FAIL: 1, INSUFFICIENT: 3}
    assert [r["group"] for r in gap["rows"]] == ["e", "c", "d", "f", "a"]  # FAIL, then undecided by students still needed
    by = {r["group"]: r for r in gap["rows"]}
    assert by["c"]["bound"] == 0.05 and by["c"]["n_needed"] == explain.students_needed(20, 0.03, [0.0, 0.06], 0.05, False, widen)
    assert by["c"]["more"] == by["c"]["n_needed"] - 20
    assert by["d"]["more"] == max(0, by["d"]["n_needed"] - 10)
    assert by["f"]["n_needed"] is None and by["f"]["more"] is None and by["f"]["bound"] == 0.05
    assert "bound" not in by["a"] and "bound" not in by["e"]
    assert gap["description"] == "auc (difference) at most 0.05"  # no description: built from the definition
    assert gap["bound_text"] == "at most 0.05" and gap["note"] == "note" and gap["status"] == FAIL
    assert gap["meaning"] == explain.value_meaning("auc", "difference", "best") and gap["audit"] == "model"
    assert gap["metric"] == "auc" and gap["name"] == "gap"
    assert absent == {"name": "absent", "status": PASS, "description": "absent (value) no bound", "audit": None,
                      "metric": "absent", "bound_text": "no bound", "meaning": "absent", "note": None, "rows": [],
                      "counts": {PASS: 0, FAIL: 0, INSUFFICIENT: 0}, "widen": pytest.approx(widen), "tests": tests}
    no_students = [{**_rows()[1], "n_students": None}]
    (check,) = explain.explain(no_students, {"gap": INSUFFICIENT}, {}, definitions)
    assert check["rows"][0]["n_needed"] is None and check["rows"][0]["more"] is None
    bare = explain.explain([], {"gap": PASS}, {}, [{"name": "gap", "description": "Stored without its metric."}])
    assert bare[0]["meaning"] == "gap" and bare[0]["description"] == "Stored without its metric"
    described = [{**definitions[0], "description": "No gap."}]
    assert explain.explain([], {"gap": PASS}, {}, described)[0]["description"] == "No gap"


def test_ratio_rows_use_the_log_scale() -> None:
    definitions = [{"name": "r", "metric": "advanced_exposure", "compare": "ratio", "reference": "largest", "min": 0.8,
                    "max": 1.25, "description": "x"}]
    row = {"name": "r", "group": "a", "status": INSUFFICIENT, "value": 0.85, "ci": [0.6, 1.2], "n_students": 40}
    (check,) = explain.explain([row], {"r": INSUFFICIENT}, {}, definitions, alpha=0.1, confidence=0.9)
    widen = explain.widen_factor(0.1, 0.9, 1)
    assert check["rows"][0]["bound"] == 0.8
    assert check["rows"][0]["n_needed"] == explain.students_needed(40, 0.85, [0.6, 1.2], 0.8, True, widen)
    near_max = {**row, "value": 1.2, "ci": [0.9, 1.6]}  # nearer 1.25 than 0.8 on the log scale
    (check,) = explain.explain([near_max], {"r": INSUFFICIENT}, {}, [{**definitions[0], "description": ""}])
    assert check["rows"][0]["bound"] == 1.25
    assert check["description"] == "advanced exposure (ratio) at least 0.8 and at most 1.25"


def test_affected_and_where() -> None:
    explained = [{"description": "d1", "meaning": "m1", "bound_text": "b1", "rows": [
        {"status": FAIL, "group": "x"}, {"status": INSUFFICIENT, "group": "y", "more": 30},
        {"status": INSUFFICIENT, "group": "z", "more": None}, {"status": PASS, "group": "w"}]},
        {"description": "d2", "meaning": "m2", "bound_text": "b2", "rows": [{"status": INSUFFICIENT, "group": "v", "more": 5}]}]
    who = explain.affected(explained)
    assert who["failing"] == [{"status": FAIL, "group": "x", "check": "d1", "meaning": "m1", "bound_text": "b1"}]
    assert [r["group"] for r in who["undecided"]] == ["v", "y", "z"]
    assert who["undecided"][0]["check"] == "d2"
    assert explain.where({"attribute": "g", "group": "a", "stratum": "high", "reference": "b"}) == "g = a (in high) against b"
    assert explain.where({"group": "all"}) == "all"
    assert explain.where({"attribute": "g", "group": "a"}) == "g = a"
