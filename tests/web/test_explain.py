"""How many more students would settle an undecided comparison, and the plain-language gate explanation."""

from __future__ import annotations

import math

import pytest

from engine.fairness import explain


def test_students_needed_follows_the_square_root_law() -> None:
    # half-width 0.10 with 40 students, estimate 0.05 from the bound: the half-width must halve -> 4 x 40
    assert explain.students_needed(40, 0.15, [0.05, 0.25], 0.10, log_scale=False) == 160
    # the multiple-comparison widening makes it more
    assert explain.students_needed(40, 0.15, [0.05, 0.25], 0.10, log_scale=False, widen=1.5) == 360
    # ratios on the log scale: estimate 0.7 against a bound of 0.8
    lo, hi = 0.5, 0.98
    expected = math.ceil(30 * (((math.log(hi) - math.log(lo)) / 2) / abs(math.log(0.7) - math.log(0.8))) ** 2)
    assert explain.students_needed(30, 0.7, [lo, hi], 0.8, log_scale=True) == expected
    # no interval, or sitting on the bound: cannot be said
    assert explain.students_needed(30, 0.8, [0.7, 0.9], 0.8, log_scale=False) is None
    assert explain.students_needed(30, 0.5, [None, None], 0.8, log_scale=False) is None


def test_widening_grows_with_the_number_of_comparisons() -> None:
    assert explain.widen_factor(0.05, 0.95, 1) == pytest.approx(1.645 / 1.96, rel=1e-3) or explain.widen_factor(0.05, 0.95, 1) == 1.0
    assert explain.widen_factor(0.05, 0.95, 40) > explain.widen_factor(0.05, 0.95, 4) > 1.0


def test_explain_names_the_bound_the_meaning_and_who_is_affected() -> None:
    definitions = [{"name": "adv", "audit": "recommendations", "metric": "advanced_exposure", "compare": "ratio",
                    "reference": "largest", "min": 0.8, "max": None, "strata": [], "description": "Equal offers."}]
    rows = [{"name": "adv", "attribute": "frl", "stratum": "high", "group": "yes", "reference": "no", "status": "INSUFFICIENT_EVIDENCE",
             "value": 0.75, "ci": [0.55, 1.02], "n_students": 20},
            {"name": "adv", "attribute": "frl", "stratum": "high", "group": "no", "reference": "yes", "status": "PASS",
             "value": 1.2, "ci": [0.98, 1.5], "n_students": 30}]
    [check] = explain.explain(rows, {"adv": "INSUFFICIENT_EVIDENCE"}, {}, definitions)
    assert check["description"] == "Equal offers" and check["bound_text"] == "at least 0.8"
    assert "ratio to the largest group" in check["meaning"] and "advanced" in check["meaning"]
    assert check["counts"] == {"PASS": 1, "FAIL": 0, "INSUFFICIENT_EVIDENCE": 1}
    undecided = check["rows"][0]
    assert undecided["bound"] == 0.8 and undecided["n_needed"] > 20 and undecided["more"] == undecided["n_needed"] - 20
    who = explain.affected([check])
    assert who["failing"] == [] and explain.where(who["undecided"][0]) == "frl = yes (in high) against no"
