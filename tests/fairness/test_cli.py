"""`equilearn audit ...` end to end: DIF on verbal, a model audit with reports, the gate's exit codes,
and the OULAD audit of a model fitted on earlier assessments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.cli import main
from tests.fairness import simulate as sim

MODEL_ONLY_POLICY = """
policy = "model-only"
version = "1"
[[checks]]
name = "auc_shortfall"
audit = "model"
metric = "auc"
compare = "difference"
reference = "best"
max = 0.05
[[checks]]
name = "under_over_estimation"
audit = "model"
metric = "mean_residual"
compare = "value"
min = -0.05
max = 0.05
"""


def test_dif_command_writes_the_item_table(verbal_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "dif.json"
    assert main(["audit", "dif", str(verbal_path), "--format", "wide", "--group", "Gender", "--focal", "1",
                 "--reference", "0", "--out", str(out), "--report", str(tmp_path / "dif.html")]) == 0
    result = json.loads(out.read_text())
    items = {i["item_id"]: i for i in result["items"]}
    assert len(items) == 24 and {"item_id", "alpha_mh", "delta", "chi2", "p", "ets_class"} <= set(items["S2WantShout"])
    assert items["S2WantShout"]["alpha_mh"] == pytest.approx(2.8804, abs=6e-5)  # difR's published value
    assert items["S2WantShout"]["chi2"] == pytest.approx(9.6032, abs=6e-5)
    assert result["results"]["skipped_columns"][0]["column"] == "Anger"
    assert "S2WantShout" in result["results"]["flag_for_review"]
    assert (tmp_path / "dif.html").read_text().count(">withhold<") == len(result["results"]["flag_for_review"])


def test_dif_command_logistic(verbal_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "dif.json"
    assert main(["audit", "dif", str(verbal_path), "--group-col", "Gender", "--focal", "1", "--method", "logistic",
                 "--out", str(out)]) == 0
    items = {i["item_id"]: i for i in json.loads(out.read_text())["items"]}
    assert items["S2WantShout"]["delta_r2"] == pytest.approx(0.0343, abs=6e-5)
    assert items["S2WantShout"]["p"] == pytest.approx(0.0033, abs=6e-5)


def test_unknown_group_column_is_a_clear_usage_error(verbal_path: Path, capsys) -> None:
    assert main(["audit", "dif", str(verbal_path), "--group", "Sex", "--focal", "1"]) == 2
    err = capsys.readouterr().err
    assert "'Sex'" in err and "Gender" in err


@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("model")
    rng = np.random.default_rng(3)
    roster = sim.roster(600, rng)
    roster.write_csv(folder / "roster.csv")
    sim.predictions(roster, rng, group_shift=-1.0).write_csv(folder / "biased.csv")
    sim.predictions(roster, rng).write_csv(folder / "fair.csv")
    (folder / "policy.toml").write_text(MODEL_ONLY_POLICY)
    return {"folder": folder, "roster": folder / "roster.csv", "biased": folder / "biased.csv", "fair": folder / "fair.csv",
            "policy": folder / "policy.toml"}


def _audit_model(files: dict[str, Path], which: str) -> Path:
    out = files["folder"] / f"{which}.json"
    assert main(["audit", "model", "--data", str(files[which]), "--format", "predictions", "--roster", str(files["roster"]),
                 "--groups", "gender,ses,gender*ses", "--bootstrap", "60", "--permutations", "60",
                 "--report", str(files["folder"] / f"{which}.html"), "--markdown", str(files["folder"] / f"{which}.md"),
                 "--out", str(out), "--model-version", "demo-1"]) == 0
    return out


def test_model_audit_and_gate_exit_codes(model_files: dict[str, Path]) -> None:
    biased, fair = _audit_model(model_files, "biased"), _audit_model(model_files, "fair")
    payload = json.loads(biased.read_text())
    assert payload["status"] == "FAIL" and payload["model_version"] == "demo-1"
    assert {"delta_auc", "lr_stat", "p_value"} <= set(payload["identity_predictiveness"])
    assert {"name", "group", "status", "value", "ci"} <= set(payload["checks"][0])
    assert (model_files["folder"] / "biased.html").read_text().startswith("<!DOCTYPE html>")
    policy = str(model_files["policy"])
    assert main(["audit", "gate", "--policy", policy, "--audit", str(biased)]) == 1
    assert main(["audit", "gate", "--policy", policy, "--audit", str(fair)]) == 0
    # the default policy also has item, recommendation and outcome checks: without those audits, no pass
    assert main(["audit", "gate", "--audit", str(fair)]) == 2


def test_split_col_gives_each_groups_residual_inside_each_value(model_files: dict[str, Path]) -> None:
    fair = pl.read_csv(model_files["fair"])
    split = fair.with_columns(pl.when(pl.int_range(pl.len()).over("student_id") < 3).then(pl.lit("first"))
                              .otherwise(pl.lit("later")).alias("answer"))
    data, out = model_files["folder"] / "split.csv", model_files["folder"] / "split.json"
    split.write_csv(data)
    markdown = model_files["folder"] / "split.md"
    assert main(["audit", "model", "--data", str(data), "--format", "predictions", "--roster", str(model_files["roster"]),
                 "--groups", "gender", "--bootstrap", "20", "--permutations", "20", "--split-col", "answer",
                 "--markdown", str(markdown), "--out", str(out)]) == 0
    table = json.loads(out.read_text())["results"]["calibration_by_split"]
    joined = split.join(pl.read_csv(model_files["roster"]), on="student_id")
    for row in table["by_group"]:  # each cell: the mean of observed minus predicted over its rows, computed here apart
        cell = joined.filter((pl.col("answer") == row["stratum"]) & (pl.col("gender") == row["group"]))
        assert row["value"] == pytest.approx((cell["correct"] - cell["p"]).mean(), abs=1e-12)
        assert row["n_rows"] == cell.height
    assert {(r["stratum"], r["group"]) for r in table["by_group"]} == {(a, g) for a in ("first", "later")
                                                                        for g in joined["gender"].unique()}
    assert "mean_residual by answer" in markdown.read_text()
    split.drop("answer").write_csv(data)  # a column the table lacks: named before anything is computed
    assert main(["audit", "model", "--data", str(data), "--format", "predictions", "--roster", str(model_files["roster"]),
                 "--groups", "gender", "--split-col", "answer", "--out", str(out)]) == 2


def test_split_col_needs_a_predictions_table(oulad_path: Path, tmp_path: Path, capsys) -> None:
    assert main(["audit", "model", "--data", str(oulad_path), "--format", "oulad", "--groups", "gender",
                 "--split-col", "answer", "--out", str(tmp_path / "x.json")]) == 2
    assert "--format predictions" in capsys.readouterr().err


def test_oulad_audit_in_one_command(oulad_path: Path, tmp_path: Path) -> None:
    """OULAD: Best-LR, fitted on training students' assessments, predicts each test student's success on an
    assessment (score >= 40, the pass mark) from their earlier ones; audited by gender, disability, age band,
    deprivation band and gender x disability. A minimum group size of 40 hides the 55<= age band (39 test
    students) and, by complementary suppression, one more age band, so it is exercised on real data. The
    model must also be a real, calibrated predictor: a constant 0.5 fails the checks at the end."""
    out, report = tmp_path / "oulad.json", tmp_path / "oulad.html"
    assert main(["audit", "model", "--data", str(oulad_path), "--format", "oulad",
                 "--groups", "gender,disability,age_band,imd_band,gender*disability", "--bootstrap", "40",
                 "--permutations", "40", "--min-group-size", "40", "--report", str(report), "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["data"]["model"] == "best-lr" and payload["data"]["outcome"] == "correct >= 0.4"
    rows = payload["results"]["by_group"]
    assert {r["attribute"] for r in rows} == {"gender", "disability", "age_band", "imd_band", "gender*disability"}
    assert all(r["ci_low"] <= r["value"] <= r["ci_high"] for r in rows if r["metric"] == "auc")
    labels = {(r["attribute"], r["group"]) for r in rows}
    counts = {(r["attribute"], r["group"]): r["n_students"] for r in rows if r["metric"] == "auc"}
    assert all(n >= 40 for n in counts.values())
    hidden = {(h["attribute"], h["group"]) for h in payload["suppressed_groups"]}
    assert ("age_band", "55<=") in hidden and len([h for h in hidden if h[0] == "age_band"]) == 2
    assert not hidden & labels  # a hidden group has no row anywhere
    shown_age = [g for a, g in counts if a == "age_band"]
    assert len(shown_age) == 1 and counts[("age_band", shown_age[0])] < payload["data"]["n_students"]
    ident = payload["identity_predictiveness"]
    assert ident["n_students"] == payload["data"]["n_students"] and 0 <= ident["p_value"] <= 1
    assert ident["delta_auc_ci"][0] <= ident["delta_auc"] <= ident["delta_auc_ci"][1]
    assert any("likelihood-ratio test" in f for f in payload["findings"])
    html = report.read_text()
    assert "Identity-predictiveness test" in html and "55&lt;=" in html and "suppressed" in html
    # the audited model is a real predictor, not a constant: it ranks held-out assessments far above chance
    # overall and in every shown group, and its success rates match the observed ones
    overall = {o["metric"]: o for o in payload["results"]["overall"]}
    assert overall["auc"]["ci_low"] > 0.8
    assert overall["ece"]["value"] < 0.02 and abs(overall["mean_residual"]["value"]) < 0.01
    assert all(r["value"] > 0.7 for r in rows if r["metric"] == "auc")
    assert all(abs(r["value"]) < 0.05 for r in rows if r["metric"] == "mean_residual")


def test_recommendation_audit_command_and_gate_fail_a_withholding_recommender(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    roster = sim.roster(600, rng)
    roster.write_csv(tmp_path / "roster.csv")
    sim.served(roster, rng, withhold_from="F", withhold_factor=0.4).write_csv(tmp_path / "served.csv")
    out = tmp_path / "recs.json"
    assert main(["audit", "recommendations", "--data", str(tmp_path / "served.csv"), "--roster", str(tmp_path / "roster.csv"),
                 "--groups", "gender,ses", "--bootstrap", "60", "--out", str(out), "--report", str(tmp_path / "recs.html")]) == 0
    payload = json.loads(out.read_text())
    assert payload["check_status"]["advanced_exposure_ratio"] == "FAIL"
    assert "Advanced exposure by mastery band" in (tmp_path / "recs.html").read_text()
    assert main(["audit", "gate", "--audit", str(out)]) == 1


def test_missing_outcomes_and_single_valued_groups_are_clear_errors(model_files: dict[str, Path], tmp_path: Path, capsys) -> None:
    lines = model_files["fair"].read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[3].split(",")
    cells[header.index("correct")] = ""  # data row 3 has no outcome
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join([lines[0], *lines[1:3], ",".join(cells), *lines[4:]]) + "\n")
    base = ["audit", "model", "--data", str(broken), "--roster", str(model_files["roster"]), "--bootstrap", "20",
            "--permutations", "20"]
    assert main([*base, "--groups", "gender"]) == 1
    err = capsys.readouterr().err
    assert "row 3" in err and "'correct'" in err and "missing value" in err
    one_value = tmp_path / "roster1.csv"
    one_value.write_text(model_files["roster"].read_text().replace(",M,", ",F,"))
    assert main(["audit", "model", "--data", str(model_files["fair"]), "--roster", str(one_value), "--groups", "gender"]) == 1
    assert "single value" in capsys.readouterr().err
    assert main(["audit", "model", "--data", str(model_files["fair"]), "--roster", str(model_files["roster"]),
                 "--groups", "gender,sex"]) == 2
    err = capsys.readouterr().err
    assert "'sex'" in err and "gender" in err
