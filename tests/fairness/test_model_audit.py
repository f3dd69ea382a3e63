"""Model audit: metrics by group against the project's metric functions, mastery over-estimation,
clear input errors, and a run on real data (PISA 2009 Austria, by gender and migration background)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from engine.errors import ConfigError, DataValidationError
from engine.evaluation.metrics import auc, ece, logloss, rmse
from engine.fairness.model_audit import audit_model
from tests.fairness import simulate as sim

FAST = dict(n_boot=40, n_permutations=40)


@pytest.fixture(scope="module")
def population() -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(0)
    roster = sim.roster(300, rng)
    return sim.predictions(roster, rng), roster


def test_group_metrics_equal_the_protocol_metrics(population) -> None:
    preds, roster = population
    audit = audit_model(preds, "gender,ses", roster=roster, **FAST)
    joined = preds.join(roster, on="student_id")
    table = audit.frame.by_group
    for attribute, group in [("gender", "F"), ("gender", "M"), ("ses", "low")]:
        part = joined.filter(pl.col(attribute) == group)
        y, p = part["correct"].to_numpy(), part["p"].to_numpy()
        got = {r["metric"]: r["value"] for r in table.filter((pl.col("attribute") == attribute) & (pl.col("group") == group)).iter_rows(named=True)}
        assert got["auc"] == pytest.approx(auc(y, p), rel=1e-12)
        assert got["rmse"] == pytest.approx(rmse(y, p), rel=1e-12)
        assert got["logloss"] == pytest.approx(logloss(y, p), rel=1e-9)
        assert got["ece"] == pytest.approx(ece(y, p), rel=1e-12)
        assert got["mean_residual"] == pytest.approx(np.mean(y - p), abs=1e-12)
    assert {(a["attribute"], a["group"], a["reference"]) for a in audit.abroca} == {("gender", "F", "M"), ("ses", "low", "high")}


def test_mastery_overestimation_by_group() -> None:
    # declared mastered with p = 0.9; group A succeeds 9/10 times, group B 6/10 times
    rows = []
    for g, successes in (("A", 9), ("B", 6)):
        for s in range(12):
            rows += [{"student_id": f"{g}{s}", "correct": float(k < successes), "p": 0.9, "mastered": True, "grp": g}
                     for k in range(10)]
            rows += [{"student_id": f"{g}{s}", "correct": 0.0, "p": 0.2, "mastered": False, "grp": g}]
    audit = audit_model(pl.DataFrame(rows), "grp", mastery_col="mastered", **FAST)
    got = {(r["group"], r["metric"]): r["value"] for r in audit.frame.by_group.iter_rows(named=True)}
    assert got[("A", "mastery_success")] == pytest.approx(0.9)
    assert got[("B", "mastery_gap")] == pytest.approx(0.6 - 0.9)  # mastery over-estimated for B
    assert got[("A", "mastery_gap")] == pytest.approx(0.0, abs=1e-12)


def test_the_split_gives_each_groups_residual_inside_each_value_and_leaves_the_gate_alone() -> None:
    # every prediction 0.5; group B's first answers on a skill are right 1 time in 5 (residual -0.3), its later ones
    # and all of A's half the time (residual 0); groups C and D have 4 and 6 students, below the minimum size of 10 (two
    # hidden cells of 10 students together, so no third is hidden to protect them)
    rows = []
    for g, first_right, n in (("A", [1, 0, 1, 0], 12), ("B", [1, 0, 0, 0, 0], 12), ("C", [1, 0], 4), ("D", [0, 1], 6)):
        for s in range(n):
            rows += [{"student_id": f"{g}{s}", "correct": float(y), "p": 0.5, "answer": "first"} for y in first_right]
            rows += [{"student_id": f"{g}{s}", "correct": float(k % 2), "p": 0.5, "answer": "later"} for k in range(6)]
    preds = pl.DataFrame(rows)
    roster = pl.DataFrame({"student_id": preds["student_id"].unique().to_list()}).with_columns(
        pl.col("student_id").str.slice(0, 1).alias("grp"))
    split = audit_model(preds, "grp", roster=roster, split_col="answer", **FAST)
    got = {(r["stratum"], r["group"]): r["value"] for r in split.to_dict()["calibration_by_split"]["by_group"]}
    assert got[("first", "B")] == pytest.approx(-0.3) and got[("later", "B")] == pytest.approx(0.0, abs=1e-12)
    assert got[("first", "A")] == pytest.approx(0.0, abs=1e-12)
    assert {group for _, group in got} == {"A", "B"}  # C and D below the minimum size: no number
    table = split.to_dict()["calibration_by_split"]
    overall = {r["stratum"]: r["value"] for r in table["overall"]}
    # all students' first answers: A 48 at 0.5, B 60 at 0.2, C 8 and D 12 at 0.5 -> (24 + 12 + 4 + 6) / 128 right
    assert overall["first"] == pytest.approx(46 / 128 - 0.5)
    assert table["column"] == "answer" and table["suppressed_cells"] == {"first": 2, "later": 2}
    plain = audit_model(preds, "grp", roster=roster, **FAST)
    assert plain.to_dict()["calibration_by_split"] is None
    assert split.evidence() == plain.evidence()  # described, not gated


def test_bad_inputs_give_clear_errors(population) -> None:
    preds, roster = population
    missing = preds.with_columns(pl.when(pl.int_range(pl.len()) == 4).then(None).otherwise(pl.col("correct")).alias("correct"))
    with pytest.raises(DataValidationError) as info:
        audit_model(missing, "gender", roster=roster, **FAST)
    assert "row 5" in str(info.value) and "'correct'" in str(info.value) and "missing value" in str(info.value)
    out_of_range = preds.with_columns(pl.lit(1.5).alias("p"))
    with pytest.raises(DataValidationError, match="between 0 and 1"):
        audit_model(out_of_range, "gender", roster=roster, **FAST)
    with pytest.raises(ConfigError, match="'nationality'"):
        audit_model(preds, "gender,nationality", roster=roster, **FAST)
    with pytest.raises(DataValidationError, match="single value"):
        audit_model(preds, "everyone", roster=roster.with_columns(pl.lit("x").alias("everyone")), **FAST)


def test_pisa_items_audited_by_gender_and_migration(pisa: pl.DataFrame) -> None:
    """Real data: predict each PISA maths item from the student's other items (no demographics in the
    model), fitted on half of the schools' students and audited on the other half. The audit must see a real,
    calibrated predictor: a constant prediction fails the AUC checks at the end."""
    items = [c for c in pisa.columns if c.startswith("M")]
    X = pisa.select(items).to_numpy().astype(float)
    answered = ~np.isnan(X)
    rest = (np.nansum(X, axis=1)[:, None] - np.nan_to_num(X)) / np.maximum(answered.sum(axis=1)[:, None] - answered, 1)
    rng = np.random.default_rng(0)
    train = rng.random(len(pisa)) < 0.5
    rows = []
    for j, item in enumerate(items):
        ok = answered[:, j]
        model = LogisticRegression().fit(rest[train & ok, j:j + 1], X[train & ok, j])
        test = ~train & ok
        rows.append(pl.DataFrame({"student_id": pisa["idstud"].cast(pl.Utf8).to_numpy()[test], "item": item,
                                  "correct": X[test, j], "p": model.predict_proba(rest[test, j:j + 1])[:, 1]}))
    preds = pl.concat(rows)
    roster = pisa.select(pl.col("idstud").cast(pl.Utf8).alias("student_id"), pl.col("female").cast(pl.Utf8),
                         pl.col("migra").cast(pl.Utf8))
    audit = audit_model(preds, "female,migra,female*migra", roster=roster, n_boot=60, n_permutations=60)
    table = audit.frame.by_group
    tested = preds["student_id"].n_unique()
    for attribute in ("female", "migra"):
        shown = table.filter((pl.col("attribute") == attribute) & (pl.col("metric") == "auc"))
        assert shown["n_students"].sum() == tested  # both groups are large enough to be shown
    ident = audit.identity
    assert ident.n_students == tested and 0 <= ident.p_value <= 1
    assert ident.delta_auc_ci[0] <= ident.delta_auc <= ident.delta_auc_ci[1]
    assert "likelihood-ratio test" in audit.finding()
    # the model is real: the audit's AUC is scikit-learn's on the same rows, far above a constant predictor's
    # 0.5, in every group; and the fitted logistic curves are calibrated on the held-out half
    joined = preds.join(roster, on="student_id")
    overall = {r["metric"]: r["value"] for r in audit.frame.overall.iter_rows(named=True)}
    assert overall["auc"] == pytest.approx(roc_auc_score(preds["correct"].to_numpy(), preds["p"].to_numpy()), abs=1e-12)
    assert overall["auc"] > 0.7
    assert overall["ece"] < 0.05 and abs(overall["mean_residual"]) < 0.02
    single = table.filter((pl.col("metric") == "auc") & (pl.col("attribute") != "female*migra"))
    for row in single.iter_rows(named=True):
        part = joined.filter(pl.col(row["attribute"]) == row["group"])
        assert row["value"] == pytest.approx(roc_auc_score(part["correct"].to_numpy(), part["p"].to_numpy()), abs=1e-12)
        assert row["value"] > 0.65
