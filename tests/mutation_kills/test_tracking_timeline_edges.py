"""Edge cases of stored audit results (engine/fairness/tracking.py, JSON side) and of the identity test over time
(engine/fairness/timeline.py) that the mutation run showed untested.

References: the documented file name pattern and strict-JSON rule worked by hand; the pooling rule of
`group_dummies` worked by hand; `identity_predictiveness` (checked against a plain re-implementation in
test_identity_edges.py) called directly on the rows of each period.
"""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest

from engine.config import load_settings
from engine.fairness.identity import identity_predictiveness
from engine.fairness.timeline import group_dummies, identity_by_period
from engine.fairness.tracking import EXPERIMENT, STATUS_CODE, json_safe, store_audit


def test_json_safe_replaces_non_finite_numbers_everywhere() -> None:
    value = {"a": float("nan"), "b": [1.0, float("inf"), (float("-inf"), 2)], "c": {"d": 3, "e": "x"}, "f": None, "g": True}
    assert json_safe(value) == {"a": None, "b": [1.0, None, [None, 2]], "c": {"d": 3, "e": "x"}, "f": None, "g": True}
    assert json_safe(float("nan")) is None and json_safe(1.5) == 1.5 and json_safe("nan") == "nan"
    assert EXPERIMENT == "equilearn-audits" and STATUS_CODE == {"PASS": 0, "FAIL": 1, "INSUFFICIENT_EVIDENCE": 2}


def test_store_audit_names_files_and_keeps_both_of_the_same_second(tmp_path) -> None:
    settings = load_settings()
    payload = {"audit": "model", "generated_at": "2026-01-02T03:04:05+00:00", "model_version": "set v1/2",
               "value": float("nan")}
    first = store_audit(payload, settings)
    assert first == settings.reports_dir / "audits" / "model-set_v1_2-20260102T030405.json"
    assert json.loads(first.read_text()) == {**payload, "value": None} and first.read_text().endswith("}\n")
    second = store_audit(payload, settings)
    third = store_audit(payload)
    assert second.name == "model-set_v1_2-20260102T030405-2.json" and third.name == "model-set_v1_2-20260102T030405-3.json"
    none = store_audit({"audit": "dif", "generated_at": "2026-01-02T03:04:05+00:00", "model_version": None})
    assert none.name == "dif-unversioned-20260102T030405.json"
    kept = store_audit({"audit": "dif", "generated_at": "2026-01-02T03:04:05+00:00", "model_version": "a.b-c_D9"})
    assert kept.name == "dif-a.b-c_D9-20260102T030405.json"


def test_group_dummies_pool_small_levels_by_distinct_students() -> None:
    student = np.array([0, 0, 0, 1, 2, 3, 4, 5, 5])
    labels = {"g": np.array(["a", "a", "a", "a", "b", "b", "c", "a", "a"]),
              "h": np.array(["x", "x", "x", "y", "y", "y", "y", "y", "y"])}
    # g by student: a (0, 1, 5) = 3, b (2, 3) = 2, c (4) = 1; min_size 2 pools c alone -> still three levels
    got = group_dummies(labels, student, 2)
    pooled_g = np.array(["a", "a", "a", "a", "b", "b", "__pooled__", "a", "a"])
    h = labels["h"]
    want = [(pooled_g == "__pooled__"), (pooled_g == "b"), (h == "x")]  # g: reference a; h: reference y (5 students)
    np.testing.assert_array_equal(got, np.column_stack(want).astype(float))
    # min_size 3 pools b and c together; h: x has 1 student -> pooled alone, so h keeps two levels
    got = group_dummies(labels, student, 3)
    pooled_g = np.where(np.isin(labels["g"], ["b", "c"]), "__pooled__", labels["g"])
    pooled_h = np.where(h == "x", "__pooled__", h)
    np.testing.assert_array_equal(got, np.column_stack([(pooled_g == "__pooled__"), (pooled_h == "__pooled__")]).astype(float))
    first_flat = {"g": np.array(["a"] * 9), "h": labels["h"]}
    np.testing.assert_array_equal(group_dummies(first_flat, student, 1), (labels["h"] == "x").astype(float)[:, None])
    one_level = {"g": np.array(["a"] * 9)}
    assert group_dummies(one_level, student, 1).shape == (9, 0)
    assert group_dummies({}, student, 1).shape == (9, 0)


def _rows(seed: int = 0, n_students: int = 40, per: int = 6, periods=("w1", "w2")):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_students):
        for k in range(per):
            p = float(rng.uniform(0.1, 0.9))
            rows.append({"student_id": f"s{s:02d}", "period": periods[k % len(periods)], "p": p,
                         "correct": float(rng.random() < p) if k else 0.6})
    roster = pl.DataFrame({"student_id": [f"s{s:02d}" for s in range(n_students)], "g": ["a" if s % 2 else "b" for s in range(n_students)]})
    return pl.DataFrame(rows), roster


def test_identity_by_period_against_direct_calls() -> None:
    rows, roster = _rows()
    rows = rows.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(float("nan")).otherwise(pl.col("p")).alias("p"))
    out = identity_by_period(rows, roster, ["g"], ["w1", "w2", "w3"], min_group_size=5, n_boot=30, period_boot=20,
                             confidence=0.9, alpha=0.2, random_state=3)
    assert out["alpha"] == 0.2 and out["attributes"] == ["g"]
    finite = rows.filter(pl.col("p").is_finite()).join(roster, on="student_id")
    for week, n_boot in (("w1", 20), ("w2", 20), (None, 30)):
        part = finite if week is None else finite.filter(pl.col("period") == week)
        uniq, student = np.unique(part["student_id"].to_numpy(), return_inverse=True)
        dummies = group_dummies({"g": part["g"].to_numpy().astype(str)}, student, 5)
        y = (part["correct"].to_numpy() >= 0.5).astype(float)
        want = identity_predictiveness(y, part["p"].to_numpy(), student, dummies, n_boot=n_boot, confidence=0.9, random_state=3)
        got = out["overall"] if week is None else next(w for w in out["weeks"] if w["week"] == week)
        assert got["tested"] is True and got["significant"] == (want.p_value < 0.2)
        assert got["p_value"] == pytest.approx(want.p_value) and got["delta_auc_ci"] == pytest.approx(list(want.delta_auc_ci))
        assert got["n_students"] == uniq.size and got["n_rows"] == part.height
        assert got["evidence"] == {"kind": "value", "audit": "model", "metric": "identity_delta_auc", "higher_is_better": False,
                                   "stratum": None, "attribute": "g", "group": "all", "reference": None,
                                   "estimate": want.delta_auc, "se": pytest.approx(want.delta_auc_se), "p_value": pytest.approx(want.p_value),
                                   "n_students": want.n_students, "suppressed": False}
    w3 = out["weeks"][2]
    assert w3 == {"week": "w3", "tested": False, "n_students": 0, "n_rows": 0, "why": "too few students (0) or answers (0) to test"}


def test_periods_that_cannot_be_tested_say_why() -> None:
    rows, roster = _rows(n_students=20, per=6)
    small = identity_by_period(rows, roster, ["g"], ["w1"], min_group_size=10, n_boot=20)
    # 20 students = 2 x min_group_size, 60 answers: tested
    assert small["weeks"][0]["tested"] is True
    fewer = identity_by_period(rows.filter(pl.col("student_id") != "s00"), roster, ["g"], ["w1"], min_group_size=10, n_boot=20)
    assert fewer["weeks"][0] == {"week": "w1", "tested": False, "n_students": 19, "n_rows": 57,
                                 "why": "too few students (19) or answers (57) to test"}
    few_rows, _ = _rows(n_students=12, per=8)
    short = identity_by_period(few_rows, roster, ["g"], ["w1"], min_group_size=5, n_boot=20)
    assert short["weeks"][0]["why"] == "too few students (12) or answers (48) to test"
    three = roster.with_columns(pl.Series("g", [str(i % 3) for i in range(20)]))  # groups of 7, 7, 6
    hidden = identity_by_period(rows, three, ["g"], ["w1"], min_group_size=8, n_boot=20)
    assert hidden["overall"] == {"tested": False, "n_students": 20, "n_rows": 120,
                                 "why": "every group is below the minimum size, so there is no group membership to add"}
    missing = identity_by_period(rows, roster.filter(pl.col("student_id") != "s01"), ["g"], [], min_group_size=5, n_boot=20)
    assert missing["weeks"] == [] and missing["overall"]["n_group_parameters"] == 2  # (missing) is a level of its own
    assert math.isfinite(missing["overall"]["p_value"])
