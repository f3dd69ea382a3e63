"""Edge cases of `MetricFrame` (engine/fairness/metricframe.py) that the mutation run showed untested.

References: a plain re-implementation of the student-level bootstrap from the module docstring (the
resamples of `bootstrap_weights` applied to students sorted by id, each metric recomputed on the rows
repeated by their student's multiplicity), percentile intervals and SEs from numpy, scikit-learn's
metrics for the array (Fairlearn-style) form, and hand-computed between-group differences and ratios.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from engine.errors import ConfigError, DataValidationError
from engine.fairness.metricframe import (
    ARRAY_METRICS,
    MIN_FINITE_REPLICATES,
    OVERALL,
    CallableMetric,
    MetricFrame,
    _array_metrics,
    _derived_columns,
    _feature_frame,
    _vector,
)
from engine.fairness.metrics import Block, RatioMetric
from engine.fairness.stats import bootstrap_weights

# 12 students: A = s00..s05 (6), B = s06..s09 (4), C = s10, s11 (2); 2-4 rows each
SIZES = {"A": 6, "B": 4, "C": 2}
RATE = [RatioMetric("rate", "num", "den"), RatioMetric("share", "num")]


def _data(seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    k = 0
    for g, n in SIZES.items():
        for _ in range(n):
            for _ in range(2 + k % 3):
                rows.append({"student_id": f"s{k:02d}", "g": g, "h": "x" if k % 2 else "y",
                             "num": float(rng.integers(0, 2)), "den": float(rng.integers(1, 3)),
                             "band": "lo" if k % 3 else "hi"})
            k += 1
    return pl.DataFrame(rows)


def _reference_replicates(data: pl.DataFrame, members: set[str], n_boot: int, seed: int) -> np.ndarray:
    """sum(num) / sum(den) over the group's rows repeated by multiplicity, per resample."""
    ids = sorted(set(data["student_id"].to_list()))
    w = np.concatenate(list(bootstrap_weights(len(ids), n_boot, seed)))
    index = {s: i for i, s in enumerate(ids)}
    out = []
    for r in range(n_boot):
        top = bottom = 0.0
        for s, num, den in data.select("student_id", "num", "den").iter_rows():
            if s in members:
                top += w[r, index[s]] * num
                bottom += w[r, index[s]] * den
        out.append(top / bottom if bottom > 0 else np.nan)
    return np.array(out)


def test_replicates_intervals_and_se_against_a_plain_bootstrap() -> None:
    data = _data()
    mf = MetricFrame(data, RATE, "g", min_group_size=2, n_boot=40, confidence=0.8,
                     random_state=3)
    by = {r["group"]: r for r in mf.by_group.filter(pl.col("metric") == "rate").iter_rows(named=True)}
    for g in SIZES:
        members = set(data.filter(pl.col("g") == g)["student_id"].to_list())
        part = data.filter(pl.col("g") == g)
        assert by[g]["value"] == pytest.approx(part["num"].sum() / part["den"].sum())
        reps = _reference_replicates(data, members, 40, 3)
        finite = reps[np.isfinite(reps)]
        assert by[g]["n_students"] == SIZES[g] and by[g]["n_rows"] == part.height
        if finite.size >= MIN_FINITE_REPLICATES:
            lo, hi = np.percentile(finite, [10, 90])
            assert by[g]["ci_low"] == pytest.approx(lo) and by[g]["ci_high"] == pytest.approx(hi)
            assert by[g]["se"] == pytest.approx(np.std(finite, ddof=1))
        else:
            assert math.isnan(by[g]["ci_low"]) and math.isnan(by[g]["se"])
    overall = mf.overall.filter(pl.col("metric") == "rate").row(0, named=True)
    assert overall["value"] == pytest.approx(data["num"].sum() / data["den"].sum())
    assert overall["n_students"] == 12 and overall["n_rows"] == data.height
    assert set(mf.overall.columns) == {"metric", "value", "ci_low", "ci_high", "se", "n_students", "n_rows"}
    assert "stratum" not in mf.by_group.columns


def test_interval_needs_twenty_finite_replicates() -> None:
    mf = MetricFrame(_data(), RATE, "g", min_group_size=2, n_boot=20)
    reps = np.arange(20, dtype=float)
    lo, hi, se = mf._interval(reps, 1.0)
    assert (lo, hi) == pytest.approx(tuple(np.percentile(reps, [2.5, 97.5]))) and se == pytest.approx(np.std(reps, ddof=1))
    assert all(math.isnan(x) for x in mf._interval(np.r_[reps[:19], np.nan], 1.0))
    assert all(math.isnan(x) for x in mf._interval(reps, float("nan")))
    assert mf._interval(np.r_[reps, np.nan, np.inf], 1.0) == pytest.approx((lo, hi, se))


def test_strata_suppress_a_small_stratum_and_count_each_stratum() -> None:
    data = _data()
    mf = MetricFrame(data, RATE, "g", stratum_col="band", min_group_size=5, n_boot=5)
    # band "hi" holds s00, s03, s06, s09 (4 students < 5): no number at all; "lo" holds the other 8
    assert {"stratum": "hi", "attribute": "", "group": OVERALL} in mf.suppressed
    assert mf.strata == ["lo"]
    lo = data.filter(pl.col("band") == "lo")
    overall = mf.overall.filter(pl.col("metric") == "rate").row(0, named=True)
    assert overall["stratum"] == "lo" and overall["n_students"] == 8 and overall["n_rows"] == lo.height
    assert overall["value"] == pytest.approx(lo["num"].sum() / lo["den"].sum())
    mf2 = MetricFrame(data.with_columns(pl.lit(None, pl.Utf8).alias("band2")), RATE, "g",
                      stratum_col="band2", min_group_size=2, n_boot=5)
    assert mf2.strata == ["(missing)"]
    sorted_strata = MetricFrame(data, RATE, "g", stratum_col="band", min_group_size=1, n_boot=5)
    assert sorted_strata.strata == ["hi", "lo"]


def test_reference_groups() -> None:
    data = _data()
    mf = MetricFrame(data, [RatioMetric("rate", "num", "den"), RatioMetric("cost", "den", higher_is_better=False)],
                     "g", min_group_size=2, n_boot=5)
    v = {(k.group, k.metric): val for k, val in mf.points.items()}
    assert mf.reference_group(None, "g", "rate", "largest") == "A"
    assert mf.reference_group(None, "g", "rate", "overall") == OVERALL
    assert mf.reference_group(None, "g", "rate", "best") == max("ABC", key=lambda g: (v[(g, "rate")], -ord(g)))
    assert mf.reference_group(None, "g", "cost", "best") == min("ABC", key=lambda g: (v[(g, "cost")], ord(g)))
    assert mf.reference_group(None, "g", "rate", {"g": "C"}) == "C"
    assert mf.reference_group(None, "g", "rate", {"other": "C"}) == "A"  # default: largest
    assert mf.reference_group(None, "g", "rate", "Z") is None
    assert mf.reference_group("nope", "g", "rate", "largest") is None
    assert mf.reference_group("nope", "g", "rate", "overall") is None
    assert mf.reference_group("nope", "g", "rate", "best") is None
    tie = MetricFrame(data.filter(pl.col("g") != "A"), RATE, "h", min_group_size=1, n_boot=5)
    assert tie.reference_group(None, "h", "rate", "largest") == "x"  # 3 and 3 students: first label


def test_differences_and_ratios_with_their_resamples() -> None:
    data = _data()
    mf = MetricFrame(data, RATE, "g", min_group_size=2, n_boot=30, random_state=1)
    key = {k.group: k for k in mf.points if k.metric == "rate"}
    diff = {r["group"]: r for r in mf.difference("largest", metrics=["rate"]).iter_rows(named=True)}
    assert set(diff) == {"B", "C"}
    for g in ("B", "C"):
        reps = mf.replicates[key[g]] - mf.replicates[key["A"]]
        finite = reps[np.isfinite(reps)]
        assert diff[g]["value"] == pytest.approx(mf.points[key[g]] - mf.points[key["A"]])
        assert diff[g]["reference"] == "A" and diff[g]["higher_is_better"] is True
        assert diff[g]["se"] == pytest.approx(np.std(finite, ddof=1))
    ratio = {r["group"]: r for r in mf.ratio("overall", metrics=["rate"]).iter_rows(named=True)}
    assert set(ratio) == {"A", "B", "C"}
    for g in "ABC":
        reps = mf.replicates[key[g]] / mf.replicates[key[OVERALL]]
        logs = np.log(reps[np.isfinite(reps) & (reps > 0)])
        assert ratio[g]["value"] == pytest.approx(mf.points[key[g]] / mf.points[key[OVERALL]])
        assert ratio[g]["reference"] == OVERALL
        assert ratio[g]["se"] == pytest.approx(np.std(logs, ddof=1)) if logs.size >= 20 else math.isnan(ratio[g]["se"])
    assert mf.difference("largest", metrics=["other"]).height == 0


def test_ratio_to_a_zero_reference_is_nan_and_few_positive_ratios_give_no_se() -> None:
    data = _data().with_columns(pl.when(pl.col("g") == "A").then(0.0).otherwise(pl.col("num")).alias("num"))
    mf = MetricFrame(data, RATE, "g", min_group_size=2, n_boot=30)
    ratio = {r["group"]: r for r in mf.ratio("largest", metrics=["rate"]).iter_rows(named=True)}
    assert math.isnan(ratio["B"]["value"]) and math.isnan(ratio["B"]["se"])


def _arrays(n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(float)
    p = np.clip(rng.random(n), 0.01, 0.99)
    p[:3] = [0.5, 0.5, 1.0]
    y[:3] = [0.5, 0.0, 1.0]
    sex = np.array(["F", "M", "M"] * (n // 3))
    return y, p, sex


def test_array_form_matches_scikit_learn_per_group() -> None:
    y, p, sex = _arrays()
    mf = MetricFrame(metrics=["auc", "accuracy", "rmse", "logloss", "selection_rate", "true_positive_rate",
                              "false_positive_rate"], y_true=y, y_pred=p, sensitive_features=sex, n_boot=5)
    table = {(r["group"], r["metric"]): r["value"] for r in mf.by_group.iter_rows(named=True)}
    for g in ("F", "M"):
        m = sex == g
        label, pred = y[m] >= 0.5, p[m] >= 0.5
        assert table[(g, "auc")] == pytest.approx(roc_auc_score(label, p[m]))
        assert table[(g, "accuracy")] == pytest.approx(accuracy_score(label, pred))
        assert table[(g, "rmse")] == pytest.approx(np.sqrt(np.mean((y[m] - p[m]) ** 2)))
        q = np.clip(p[m], 1e-7, 1 - 1e-7)
        assert table[(g, "logloss")] == pytest.approx(np.mean(-(y[m] * np.log(q) + (1 - y[m]) * np.log(1 - q))))
        assert table[(g, "selection_rate")] == pytest.approx(pred.mean())
        assert table[(g, "true_positive_rate")] == pytest.approx((label & pred).sum() / label.sum())
        assert table[(g, "false_positive_rate")] == pytest.approx((~label & pred).sum() / (~label).sum())
    assert mf.by_group["n_students"].to_list()[0] == int((sex == "F").sum())  # each row its own unit
    assert [s.name for s in mf.specs] == ["sensitive_feature_0"]


def test_derived_columns_at_the_label_thresholds_and_clip() -> None:
    y = np.array([0.5, 0.49, 1.0, 0.0, 1.0])
    p = np.array([0.5, 0.5, 0.49, 0.0, 1.0])
    d = _derived_columns(y, p)
    assert d["__hit__"].tolist() == [1.0, 0.0, 0.0, 1.0, 1.0]
    assert d["__sel__"].tolist() == [1.0, 1.0, 0.0, 0.0, 1.0]
    assert d["__pos__"].tolist() == [1.0, 0.0, 1.0, 0.0, 1.0] and d["__neg__"].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert d["__tp__"].tolist() == [1.0, 0.0, 0.0, 0.0, 1.0] and d["__fp__"].tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]
    np.testing.assert_allclose(d["__sq__"], (y - p) ** 2)
    eps = 1e-7
    assert d["__ll__"][3] == pytest.approx(-np.log(1 - eps)) and d["__ll__"][4] == pytest.approx(-np.log(1 - eps))
    assert d["__ll__"][0] == pytest.approx(np.log(2))
    assert log_loss([1, 0], [1 - eps, eps]) == pytest.approx(-np.log(1 - eps))
    assert np.all(np.isfinite(_derived_columns(np.array([1.0, 0.0]), np.array([0.0, 1.0]))["__ll__"]))
    assert _derived_columns(np.array([1.0]), np.array([0.0]))["__ll__"][0] == pytest.approx(-np.log(eps))


def test_callable_metric_weighted_repeated_and_failing_resamples() -> None:
    y = np.array([1.0, 0.0, 1.0, 0.0])
    p = np.array([0.9, 0.2, 0.3, 0.4])
    block = Block(student=np.array([0, 0, 1, 2]), n_students=3, cols={"y_true": y, "y_pred": p})
    calls = []

    def weighted(yt, yp, sample_weight=None):
        calls.append(("w", None if sample_weight is None else sample_weight.tolist()))
        w = np.ones_like(yt) if sample_weight is None else sample_weight
        return float(np.sum(w * yt) / np.sum(w))

    def plain(yt, yp):
        calls.append(("p", len(yt)))
        return float(np.mean(yt))

    w = np.array([[1.0, 1.0, 1.0], [2.0, 0.0, 1.0], [0.0, 3.0, 0.0]])
    got = CallableMetric("m", weighted).evaluate(CallableMetric("m", weighted).prepare(block), w)
    np.testing.assert_allclose(got, [0.5, 0.4, 1.0])
    assert calls == [("w", None), ("w", [2.0, 2.0, 1.0]), ("w", [3.0])]
    calls.clear()
    got = CallableMetric("m", plain).evaluate(CallableMetric("m", plain).prepare(block), w)
    np.testing.assert_allclose(got, [0.5, 0.4, 1.0])
    assert calls == [("p", 4), ("p", 5), ("p", 3)]

    def auc(yt, yp):
        return roc_auc_score(yt, yp)

    one_class = np.array([[1.0, 1.0, 1.0], [0.0, 3.0, 0.0]])
    got = CallableMetric("auc", auc).evaluate((block.student, y, p), one_class)
    assert got[0] == pytest.approx(roc_auc_score(y, p)) and math.isnan(got[1])
    def refuse(yt, yp):
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):  # the point estimate's error propagates
        CallableMetric("refuse", refuse).evaluate((np.array([0]), y[:1], p[:1]), np.ones((1, 1)))
    resampled = CallableMetric("refuse", refuse).evaluate((np.array([0]), y[:1], p[:1]), np.array([[2.0]]))
    assert math.isnan(resampled[0])  # in a resample it is a NaN
    assert CallableMetric("x", len).columns == ("y_true", "y_pred") and CallableMetric("x", len).additive is False
    assert CallableMetric("x", len).higher_is_better is True
    assert CallableMetric("x", len)._weighted() is False
    assert CallableMetric("x", max)._weighted() is False  # inspect.signature(max) raises ValueError


def test_array_metrics_names_objects_callables_and_errors() -> None:
    assert [m.name for m in _array_metrics("auc")] == ["auc"]
    assert _array_metrics(["ece"])[0] is ARRAY_METRICS["ece"]
    named = _array_metrics({"my_auc": "auc", "mine": RatioMetric("x", "__hit__"), "fn": accuracy_score})
    assert [m.name for m in named] == ["my_auc", "mine", "fn"]
    assert named[0].higher_is_better and isinstance(named[2], CallableMetric)
    metric = RatioMetric("x", "__hit__")
    assert _array_metrics(metric) == [metric]
    assert _array_metrics(accuracy_score)[0].name == "accuracy_score"
    assert _array_metrics([lambda a, b: 0.0])[0].name == "<lambda>"
    import functools

    assert _array_metrics([functools.partial(accuracy_score, normalize=True)])[0].name == "metric"  # no __name__
    with pytest.raises(ConfigError, match="unknown metric 'f1'; named metrics: auc, accuracy, rmse, logloss, ece, "
                                          "selection_rate, true_positive_rate, false_positive_rate"):
        _array_metrics("f1")
    with pytest.raises(ConfigError, match="metric 3 is neither a name, a Metric nor a callable"):
        _array_metrics([3])
    with pytest.raises(ConfigError, match="no metrics given"):
        _array_metrics([])


def test_vector_checks() -> None:
    np.testing.assert_array_equal(_vector(pl.Series([1, 0]), "y"), [1.0, 0.0])
    assert _vector([True, False], "y").dtype == float
    with pytest.raises(ConfigError, match=r"y must be one-dimensional \(one value per row\), got shape \(1, 2\)"):
        _vector([[1, 0]], "y")
    with pytest.raises(ConfigError, match="p has 2 values but y_true has 3; give one value per row"):
        _vector([0.1, 0.2], "p", 3)
    with pytest.raises(DataValidationError) as info:
        _vector([0.1, np.nan, np.inf, 0.2], "y_pred")
    problem = info.value.problems[0]
    assert (problem.row, problem.column, problem.count) == (2, "y_pred", 2) and math.isnan(problem.value)
    assert info.value.source == "MetricFrame" and problem.hint == "must be a finite number; remove or fill these rows"


def test_feature_frames_from_every_input_kind() -> None:
    assert _feature_frame(pl.DataFrame({"a": [1, 2]}), 2).columns == ["a"]
    assert _feature_frame(pd.DataFrame({"a": ["x", "y"], 3: [1, 2]}), 2).columns == ["a", "3"]
    assert _feature_frame({"k": [1, 2], 5: ["a", "b"]}, 2).columns == ["k", "5"]
    assert _feature_frame(pl.Series("s", ["a", "b"]), 2).columns == ["s"]
    assert _feature_frame(pl.Series(["a", "b"]), 2).columns == ["sensitive_feature_0"]
    assert _feature_frame(pd.Series(["a", "b"], name="t"), 2).columns == ["t"]
    assert _feature_frame(pd.Series(["a", "b"]), 2).columns == ["sensitive_feature_0"]
    two = _feature_frame(np.array([["a", 1], ["b", 2]], dtype=object), 2)
    assert two.columns == ["sensitive_feature_0", "sensitive_feature_1"] and two["sensitive_feature_1"].to_list() == [1, 2]
    assert _feature_frame(["a", "b", "a"], 3)["sensitive_feature_0"].to_list() == ["a", "b", "a"]
    with pytest.raises(ConfigError, match="sensitive_features has 2 rows but y_true has 3; give one value per row"):
        _feature_frame(["a", "b"], 3)


def test_array_form_errors_and_options() -> None:
    y, p, sex = _arrays(12)
    with pytest.raises(ConfigError, match="give either data"):
        MetricFrame(pl.DataFrame({"a": [1]}), metrics="auc", y_true=y, y_pred=p, sensitive_features=sex)
    with pytest.raises(ConfigError, match="give either data"):
        MetricFrame(metrics="auc", y_true=y, y_pred=p, sensitive_features=sex, roster=pl.DataFrame({"a": [1]}))
    for missing in ("y_true", "y_pred", "sensitive_features"):
        kw = {"y_true": y, "y_pred": p, "sensitive_features": sex}
        kw.pop(missing)
        with pytest.raises(ConfigError, match="the array form needs metrics, y_true, y_pred and sensitive_features"):
            MetricFrame(metrics="auc", **kw)
    with pytest.raises(ConfigError, match="the array form needs"):
        MetricFrame(y_true=y, y_pred=p, sensitive_features=sex)
    with pytest.raises(ConfigError, match="MetricFrame needs data, metrics and groups"):
        MetricFrame(pl.DataFrame({"a": [1]}), [RatioMetric("x", "a")])
    with pytest.raises(ConfigError, match="sensitive feature name\\(s\\) 'y_true', '__hit__' are reserved; rename them"):
        MetricFrame(metrics="auc", y_true=y, y_pred=p, sensitive_features={"y_true": sex, "__hit__": sex})
    with pytest.raises(ConfigError, match="'student_id'"):
        MetricFrame(metrics="auc", y_true=y, y_pred=p, sensitive_features={"student_id": sex})
    with pytest.raises(ConfigError, match="students has 3 values but y_true has 12; give one per row"):
        MetricFrame(metrics="auc", y_true=y, y_pred=p, sensitive_features=sex, students=[1, 2, 3])
    with pytest.raises(ConfigError, match="min_group_size must be at least 1, got 0"):
        MetricFrame(metrics="auc", y_true=y, y_pred=p, sensitive_features=sex, min_group_size=0)
    for bad in (0.0, 1.0):
        with pytest.raises(ConfigError, match=f"confidence must be in \\(0, 1\\), got {bad}"):
            MetricFrame(metrics="auc", y_true=y, y_pred=p, sensitive_features=sex, confidence=bad)
    with pytest.raises(ConfigError, match="metric names must be unique"):
        MetricFrame(metrics=["auc", "auc"], y_true=y, y_pred=p, sensitive_features=sex)
    one = MetricFrame(metrics="accuracy", y_true=y, y_pred=p, sensitive_features=sex, min_group_size=1, n_boot=3,
                      confidence=0.5, student_col="who")
    assert one.min_group_size == 1 and one.confidence == 0.5 and one.n_boot == 3 and one.student_col == "who"
    # students: rows of one student count once; the default groups are the intersection of all features
    students = np.repeat(np.arange(6), 2)
    mf = MetricFrame(metrics="accuracy", y_true=y, y_pred=p, sensitive_features={"a": np.repeat(["u", "v"], 6),
                     "b": np.repeat(np.tile(["k", "l"], 3), 2)}, students=students, min_group_size=1, n_boot=3)
    assert [s.name for s in mf.specs] == ["a*b"]
    counts = {r["group"]: (r["n_students"], r["n_rows"]) for r in mf.by_group.iter_rows(named=True)}
    assert counts == {"u & k": (2, 4), "u & l": (1, 2), "v & k": (1, 2), "v & l": (2, 4)}
    explicit = MetricFrame(metrics="accuracy", y_true=y, y_pred=p, sensitive_features={"a": np.repeat(["u", "v"], 6),
                           "b": np.tile(["k", "l"], 6)}, groups="a", min_group_size=1, n_boot=3)
    assert [s.name for s in explicit.specs] == ["a"]


def test_roster_form_errors() -> None:
    data = _data()
    metric = RATE
    with pytest.raises(ConfigError, match="data has no column\\(s\\) 'band2'; columns are: student_id, g, h, num, den, band"):
        MetricFrame(data, metric, "g", stratum_col="band2")
    with pytest.raises(ConfigError, match="data has no column\\(s\\) 'zz'"):
        MetricFrame(data, [RatioMetric("rate", "zz")], "g")
    with pytest.raises(ConfigError, match="unknown group column\\(s\\) 'q'; available: g, h, num, den, band"):
        MetricFrame(data, metric, "q")
    with pytest.raises(DataValidationError) as info:
        MetricFrame(data.with_columns(pl.when(pl.col("num") > 0).then(None).otherwise(pl.col("num")).alias("num")), metric, "g")
    (problem,) = info.value.problems
    assert problem.column == "num" and problem.count == int((data["num"] > 0).sum())
    assert "missing values; fill or remove these rows before auditing" in problem.hint


def test_between_groups_difference_and_ratio() -> None:
    y, p, sex = _arrays(90, seed=4)
    mf = MetricFrame(metrics=["accuracy", "rmse"], y_true=y, y_pred=p, sensitive_features={"s": sex,
                     "t": np.array(["u", "v", "w"] * 30)}, groups="s,t", n_boot=25)
    value = {(k.attribute, k.group, k.metric): v for k, v in mf.points.items() if k.group != OVERALL}
    diff = mf.difference("between_groups")
    ratio = mf.ratio("between_groups", metrics=["accuracy"])
    assert diff.height == 4 and ratio.height == 2
    for r in diff.iter_rows(named=True):
        vals = {g: v for (a, g, m), v in value.items() if a == r["attribute"] and m == r["metric"]}
        top, low = max(vals, key=vals.get), min(vals, key=vals.get)
        assert (r["group"], r["reference"]) == (top, low)
        assert r["value"] == pytest.approx(vals[top] - vals[low])
        reps = np.column_stack([mf.replicates[k] for k in mf.points if k.attribute == r["attribute"] and k.metric == r["metric"]])
        spread = reps.max(axis=1) - reps.min(axis=1)
        assert r["se"] == pytest.approx(np.std(spread, ddof=1))
        assert r["ci_low"] == pytest.approx(np.percentile(spread, 2.5))
    for r in ratio.iter_rows(named=True):
        vals = {g: v for (a, g, m), v in value.items() if a == r["attribute"] and m == "accuracy"}
        top, low = max(vals, key=vals.get), min(vals, key=vals.get)
        assert (r["group"], r["reference"]) == (low, top)
        assert r["value"] == pytest.approx(vals[low] / vals[top])
        reps = np.column_stack([mf.replicates[k] for k in mf.points if k.attribute == r["attribute"] and k.metric == "accuracy"])
        q = reps.min(axis=1) / reps.max(axis=1)
        assert r["se"] == pytest.approx(np.std(np.log(q[np.isfinite(q) & (q > 0)]), ddof=1))
        assert r["higher_is_better"] is True


def test_between_groups_needs_two_finite_groups_and_handles_a_zero_top() -> None:
    y = np.zeros(40)
    p = np.full(40, 0.2)
    sex = np.array(["F", "M"] * 20)
    mf = MetricFrame(metrics="selection_rate", y_true=y, y_pred=p, sensitive_features=sex, n_boot=20)
    ratio = mf.ratio("between_groups").row(0, named=True)
    assert math.isnan(ratio["value"]) and math.isnan(ratio["se"])
    assert mf.difference("between_groups").row(0, named=True)["value"] == 0.0
    single = MetricFrame(metrics="auc", y_true=y, y_pred=p, sensitive_features=sex, n_boot=5)  # AUC NaN everywhere
    assert single.difference("between_groups").height == 0


def test_between_groups_ratio_se_with_exactly_twenty_resamples() -> None:
    y, p, sex = _arrays(90, seed=4)
    mf = MetricFrame(metrics="accuracy", y_true=y, y_pred=p, sensitive_features=sex, n_boot=20)
    row = mf.ratio("between_groups").row(0, named=True)
    reps = np.column_stack([mf.replicates[k] for k in mf.points if k.group != OVERALL])
    q = reps.min(axis=1) / reps.max(axis=1)
    logs = np.log(q[np.isfinite(q) & (q > 0)])
    assert logs.size == 20 and row["se"] == pytest.approx(np.std(logs, ddof=1))


def test_group_min_and_max_within_strata() -> None:
    data = _data()
    mf = MetricFrame(data, RATE, "g", stratum_col="band", min_group_size=1, n_boot=5)
    table = mf.by_group
    for (stratum, metric), part in table.group_by(["stratum", "metric"]):
        assert mf.group_min().filter((pl.col("stratum") == stratum) & (pl.col("metric") == metric))["value"].item() == part["value"].min()
        assert mf.group_max().filter((pl.col("stratum") == stratum) & (pl.col("metric") == metric))["value"].item() == part["value"].max()
    assert mf.group_min().height == table.select("stratum", "metric").unique().height


def test_group_min_and_max() -> None:
    y, p, sex = _arrays(60, seed=2)
    mf = MetricFrame(metrics=["accuracy", "rmse", "auc"], y_true=y, y_pred=p,
                     sensitive_features={"s": np.where(np.arange(60) < 30, "a", np.where(np.arange(60) < 50, "b", "c"))},
                     n_boot=5)
    table = mf.by_group
    for metric in ("accuracy", "rmse", "auc"):
        part = table.filter(pl.col("metric") == metric)
        assert mf.group_min().filter(pl.col("metric") == metric)["value"].item() == part["value"].min()
        assert mf.group_max().filter(pl.col("metric") == metric)["value"].item() == part["value"].max()
    assert mf.group_min().columns == table.columns
    assert mf.group_min()["metric"].to_list() == sorted(["accuracy", "rmse", "auc"])


def test_evidence_covariances_and_suppression_counts() -> None:
    data = _data()
    mf = MetricFrame(data, RATE, "g", min_group_size=3, n_boot=30, random_state=2)
    record, share = mf.evidence("x")
    assert share["metric"] == "share"
    # C (2 students) is suppressed; B is then the only other cell of the line: suppressed with it
    assert record["groups"] == [k.group for k in mf.points if k.group != OVERALL and k.metric == "rate"] + [OVERALL]
    assert record["suppressed"] == sum(1 for s in mf.suppressed if s["attribute"] == "g")
    assert record["audit"] == "x" and record["metric"] == "rate" and record["higher_is_better"] is True
    keys = [k for k in mf.points if k.group != OVERALL and k.metric == "rate"] + [k for k in mf.points if k.group == OVERALL and k.metric == "rate"]
    reps = np.column_stack([mf.replicates[k] for k in keys])
    finite = reps[np.all(np.isfinite(reps), axis=1)]
    np.testing.assert_allclose(record["cov"], np.atleast_2d(np.cov(finite, rowvar=False)))
    np.testing.assert_allclose(record["log_cov"], np.atleast_2d(np.cov(np.log(finite), rowvar=False)))
    assert record["n_students"] == [mf.counts[(k.stratum, k.attribute, k.group)][0] for k in keys]
    assert record["estimate"] == [mf.points[k] for k in keys]
    few = MetricFrame(data, RATE, "g", min_group_size=2, n_boot=19)
    assert few.evidence("x")[0]["cov"] is None and few.evidence("x")[0]["log_cov"] is None
    zero = MetricFrame(data.with_columns(pl.lit(0.0).alias("num")), RATE, "g",
                       min_group_size=2, n_boot=60)
    record = zero.evidence("x")[0]
    assert record["cov"] is not None and record["log_cov"] is None
    full = MetricFrame(data, RATE, "g", min_group_size=2, n_boot=60)
    record = full.evidence("x")[0]
    keys = [k for k in full.points if k.metric == "rate" and k.group != OVERALL] + [k for k in full.points if k.metric == "rate" and k.group == OVERALL]
    reps = np.column_stack([full.replicates[k] for k in keys])
    finite = reps[np.all(np.isfinite(reps), axis=1)]
    assert finite.shape[0] >= 20 and (record["log_cov"] is not None) == bool(np.all(finite > 0))


def test_a_ratio_metric_with_its_own_denominator_alone() -> None:
    data = _data()
    mf = MetricFrame(data, [RatioMetric("rate", "num", "den")], "g", min_group_size=2, n_boot=5)
    assert mf.overall["value"].item() == pytest.approx(data["num"].sum() / data["den"].sum())
    assert mf.overall["n_rows"].item() == data.height


def test_documented_defaults() -> None:
    y, p, sex = _arrays(30)
    mf = MetricFrame(metrics="accuracy", y_true=y, y_pred=p, sensitive_features=sex)
    assert (mf.min_group_size, mf.n_boot, mf.confidence, mf.random_state, mf.student_col, mf.stratum_col) == (
        10, 200, 0.95, 0, "student_id", None)
    again = MetricFrame(metrics="accuracy", y_true=y, y_pred=p, sensitive_features=sex, random_state=0)
    key = next(iter(mf.replicates))
    np.testing.assert_array_equal(mf.replicates[key], again.replicates[key])
    value = {r["group"]: r["value"] for r in mf.by_group.iter_rows(named=True)}
    assert value["F"] != value["M"]
    assert mf.difference()["reference"].item() == max(value, key=value.get)  # default: best
    assert set(mf.ratio()["reference"]) == {"M"}  # default: largest (20 M rows, 10 F)
