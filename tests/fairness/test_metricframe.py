"""MetricFrame against direct computation per group, bootstrap coverage and suppression."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from engine.errors import DataValidationError
from engine.evaluation.metrics import ece
from engine.fairness.metricframe import MetricFrame
from engine.fairness.metrics import AUCMetric, ECEMetric, RatioMetric


def _rows(rng: np.random.Generator, sizes: dict[str, int], per_student: int = 8) -> pl.DataFrame:
    groups = np.concatenate([[g] * n for g, n in sizes.items()])
    sid = np.repeat(np.arange(groups.size), per_student)
    p = rng.random(sid.size)
    y = (rng.random(sid.size) < p).astype(float)
    return pl.DataFrame({"student_id": [f"s{i}" for i in sid], "g": groups[sid], "y": y, "p": p,
                         "sq": (y - p) ** 2, "band": np.where(rng.random(sid.size) < 0.5, "low", "high")})


METRICS = [AUCMetric(), ECEMetric(), RatioMetric("rmse", "sq", higher_is_better=False, sqrt=True)]


def test_by_group_and_overall_equal_direct_computation() -> None:
    rows = _rows(np.random.default_rng(0), {"A": 40, "B": 30, "C": 25})
    mf = MetricFrame(rows, METRICS, "g", n_boot=30)
    table = mf.by_group
    for g in ("A", "B", "C"):
        part = rows.filter(pl.col("g") == g)
        y, p = part["y"].to_numpy(), part["p"].to_numpy()
        got = {r["metric"]: r for r in table.filter(pl.col("group") == g).iter_rows(named=True)}
        assert got["auc"]["value"] == pytest.approx(roc_auc_score(y, p), rel=1e-12)
        assert got["ece"]["value"] == pytest.approx(ece(y, p), rel=1e-12)
        assert got["rmse"]["value"] == pytest.approx(np.sqrt(np.mean((y - p) ** 2)), rel=1e-12)
        assert got["auc"]["n_students"] == {"A": 40, "B": 30, "C": 25}[g] and got["auc"]["n_rows"] == part.height
        assert got["auc"]["ci_low"] <= got["auc"]["value"] <= got["auc"]["ci_high"]
    overall = {r["metric"]: r["value"] for r in mf.overall.iter_rows(named=True)}
    assert overall["auc"] == pytest.approx(roc_auc_score(rows["y"], rows["p"]), rel=1e-12)


def test_differences_and_ratios_use_the_named_reference() -> None:
    rows = _rows(np.random.default_rng(1), {"A": 40, "B": 30, "C": 25})
    mf = MetricFrame(rows, METRICS, "g", n_boot=30)
    value = {(r["group"], r["metric"]): r["value"] for r in mf.by_group.iter_rows(named=True)}
    best_auc = max(("A", "B", "C"), key=lambda g: value[(g, "auc")])
    diff = mf.difference("best", metrics=["auc"])
    assert set(diff["reference"]) == {best_auc} and best_auc not in diff["group"].to_list()
    for r in diff.iter_rows(named=True):
        assert r["value"] == pytest.approx(value[(r["group"], "auc")] - value[(best_auc, "auc")])
    ratio = mf.ratio("largest", metrics=["rmse"])
    assert set(ratio["reference"]) == {"A"}
    for r in ratio.iter_rows(named=True):
        assert r["value"] == pytest.approx(value[(r["group"], "rmse")] / value[("A", "rmse")])


def test_strata_repeat_the_analysis_inside_each_value() -> None:
    rows = _rows(np.random.default_rng(2), {"A": 40, "B": 30})
    mf = MetricFrame(rows, [RatioMetric("rate", "y")], "g", stratum_col="band", n_boot=20)
    for r in mf.by_group.iter_rows(named=True):
        part = rows.filter((pl.col("g") == r["group"]) & (pl.col("band") == r["stratum"]))
        assert r["value"] == pytest.approx(part["y"].mean())
        assert r["n_students"] == part["student_id"].n_unique()


def test_student_bootstrap_interval_covers_a_known_group_difference() -> None:
    """Clustered data (each student has their own success rate): the student-level percentile interval of
    the difference in success rates covers the true 0.10 in about 95% of simulated data sets."""
    rng = np.random.default_rng(11)
    covered, reps = 0, 150
    for r in range(reps):
        group = np.repeat(["A", "B"], 60)
        mean = np.where(group == "A", 0.6, 0.5)
        rate = rng.beta(mean * 4, (1 - mean) * 4)  # strong within-student dependence
        sid = np.repeat(np.arange(group.size), 6)
        y = (rng.random(sid.size) < rate[sid]).astype(float)
        frame = pl.DataFrame({"student_id": sid.astype(str), "y": y, "g": group[sid]})
        d = MetricFrame(frame, [RatioMetric("rate", "y")], "g", n_boot=200, random_state=r).difference("B").row(0, named=True)
        covered += d["ci_low"] <= 0.10 <= d["ci_high"]
    assert 0.88 <= covered / reps <= 0.99


def test_small_groups_never_get_numbers_and_complements_are_hidden() -> None:
    rows = _rows(np.random.default_rng(3), {"A": 40, "B": 30, "Tiny": 4})
    mf = MetricFrame(rows, METRICS, "g", n_boot=20)
    assert set(mf.by_group["group"]) == {"A"}  # Tiny (4) and, so it cannot be recovered, B
    assert {s["group"] for s in mf.suppressed} == {"Tiny", "B"}
    assert all(k.group in ("A", "__overall__") for k in mf.points)
    assert all(g in ("A", "__overall__") for e in mf.evidence("test") for g in e["groups"])


def test_students_missing_from_the_roster_are_labelled_and_counted() -> None:
    rows = _rows(np.random.default_rng(4), {"A": 20, "B": 20}).drop("g")
    roster = pl.DataFrame({"student_id": [f"s{i}" for i in range(30)], "g": ["A"] * 15 + ["B"] * 15})
    mf = MetricFrame(rows, [RatioMetric("rate", "y")], "g", roster=roster, n_boot=20)
    assert mf.students_without_roster == 10
    assert set(mf.by_group["group"]) == {"A", "B", "(missing)"}


def test_missing_metric_values_are_an_error() -> None:
    rows = _rows(np.random.default_rng(5), {"A": 20, "B": 20}).with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise(pl.col("y")).alias("y"))
    with pytest.raises(DataValidationError, match="'y'"):
        MetricFrame(rows, [RatioMetric("rate", "y")], "g", n_boot=20)
