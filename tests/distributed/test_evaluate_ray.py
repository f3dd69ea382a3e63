"""`kt evaluate --engine ray` and `audit model --engine ray`: the test set's sequential predictions cut by
student give the one-process predictions, and the whole protocol (or audit) on a local Ray cluster gives
the local engine's metrics (audit results)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import polars as pl
import pytest

from engine.cli import main
from engine.distributed.evaluate import gather, predict_inline, split_test
from engine.data import load
from engine.evaluation.protocol import protocol_split, sort_sequential
from engine.evaluation.splits import split_students
from engine.evaluation.zoo import make_model
from tests.distributed.conftest import simulated_log
from tests.distributed.test_modelbuild_ray import numeric_gaps

METRICS = ("auc", "rmse", "logloss", "accuracy", "ece")
VOLATILE = ("created_at", "timestamp", "run_at", "generated_at")  # when an audit ran, not what it found


def skill_log(n_students: int = 300, seed: int = 5) -> pl.DataFrame:
    """A 2PL log (20 items) with 4 skills (5 items each) and each student's order as `seq`."""
    frame, _ = simulated_log(n_students, 20, 12, seed=seed)
    return frame.with_columns(
        pl.concat_list((pl.col("item_id").str.slice(1).cast(pl.Int64) // 5).cast(pl.Utf8).str.replace(r"^", "k"))
        .alias("skill_ids"),
        pl.int_range(pl.len()).over("student_id").cast(pl.Int64).alias("seq"),
    )


def test_split_test_is_by_student_and_keeps_every_row_once() -> None:
    test = sort_sequential(skill_log(60))
    parts = split_test(test, 3)
    rows = np.concatenate([p["__row"].to_numpy() for p in parts])
    assert np.array_equal(np.sort(rows), np.arange(test.height))
    students = [set(p["student_id"].to_list()) for p in parts]
    assert sum(len(s) for s in students) == len(set().union(*students)) == test["student_id"].n_unique()
    for part in parts:  # each part stays in (student, seq) order
        assert part.drop("__row").equals(sort_sequential(part.drop("__row")))
    p = gather([(np.array([2, 0]), np.array([0.2, 0.0])), (np.array([1]), np.array([0.1]))], 3)
    np.testing.assert_array_equal(p, [0.0, 0.1, 0.2])


@pytest.mark.parametrize("name", ["bkt", "pfa", "irt"])
def test_predictions_by_student_partition_equal_the_one_process_predictions(name: str) -> None:
    train, test = split_students(skill_log(), 0.3, 1)
    train, test = sort_sequential(train), sort_sequential(test)
    model = make_model(name).fit(train)
    whole = np.asarray(model.predict_proba(test), dtype=float)
    parted = predict_inline(model, test, 3)
    assert np.ptp(whole) > 0.05  # the predictions depend on the student's history and the item
    # a student's predictions do not depend on the other students (IRT's running sums over a chunk of rows round
    # differently when the chunk holds other students, by ~1e-16)
    np.testing.assert_allclose(parted, whole, rtol=0, atol=1e-12)


def write_csv(frame: pl.DataFrame, path: Path) -> Path:
    frame.with_columns(pl.col("skill_ids").list.join(",")).write_csv(path)
    return path


def near_tie_share(y: np.ndarray, p: np.ndarray, gap: float = 1e-12) -> float:
    """Share of (right, wrong) answer pairs whose predictions lie within `gap`: the most AUC can move when
    predictions move by less than `gap` (a pair counts 1, 1/2 or 0 by their order)."""
    right, wrong = np.sort(p[y >= 0.5]), p[y < 0.5]
    close = np.searchsorted(right, wrong + gap, side="right") - np.searchsorted(right, wrong - gap, side="left")
    return float(close.sum()) / (right.size * wrong.size)


def test_kt_evaluate_on_ray_gives_the_local_metrics(ray: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = write_csv(skill_log(400, seed=9), tmp_path / "log.csv")
    args = ["kt", "evaluate", "--data", str(csv), "--format", "generic", "--models", "bkt,pfa,irt", "--seed", "3"]
    assert main([*args, "--engine", "local", "--out", str(tmp_path / "local.json")]) == 0
    assert main([*args, "--engine", "ray", "--out", str(tmp_path / "ray.json")]) == 0
    capsys.readouterr()
    local, mine = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("local", "ray"))
    for key in ("dataset", "split", "n_train", "n_test"):
        assert mine[key] == local[key]
    assert list(mine["models"]) == list(local["models"]) == ["bkt", "pfa", "irt"]
    for name, theirs in local["models"].items():
        assert theirs["auc"] > 0.6  # real predictions, not a constant
        for metric in METRICS:
            if metric != "auc" or name != "irt":
                assert abs(mine["models"][name][metric] - theirs[metric]) <= 1e-9, (name, metric)
    # IRT's EM sums the partitions' counts in another order and its running sums over a chunk of rows round with
    # the other students in the chunk, so its predictions differ from the local run's by ~1e-15; AUC then moves by at most the share of answer pairs the local predictions leave
    # that close (mathematically tied predictions reached by different roundings), and by nothing else
    dataset = load(str(csv), "generic")
    split = protocol_split(dataset, 0.2, 3)
    test = sort_sequential(split.test)
    p = make_model("irt").fit(sort_sequential(split.train)).predict_proba(test)
    bound = near_tie_share(test["correct"].to_numpy(), np.asarray(p))
    assert abs(mine["models"]["irt"]["auc"] - local["models"]["irt"]["auc"]) <= bound + 1e-9
    assert bound < 1e-3


def test_kt_evaluate_on_ray_refuses_a_model_that_cannot_fit_there_before_loading(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["kt", "evaluate", "--data", "/nonexistent.csv", "--format", "generic", "--models", "bkt,best",
                 "--engine", "ray"])
    assert code == 2
    assert "out-of-fold logits of sub-models" in capsys.readouterr().err


def test_audit_model_on_ray_audits_the_local_predictions(ray: ModuleType, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    frame = skill_log(400, seed=13)
    csv = write_csv(frame, tmp_path / "log.csv")
    students = frame["student_id"].unique(maintain_order=True)
    rng = np.random.default_rng(2)
    roster = tmp_path / "roster.csv"
    pl.DataFrame({"student_id": students, "gender": rng.choice(["f", "m"], students.len())}).write_csv(roster)
    args = ["audit", "model", "--data", str(csv), "--format", "generic", "--roster", str(roster), "--groups", "gender",
            "--model", "best-lr", "--bootstrap", "20", "--permutations", "20", "--min-group-size", "10"]
    assert main([*args, "--out", str(tmp_path / "local.json")]) in (0, 1, 2)
    assert main([*args, "--engine", "ray", "--out", str(tmp_path / "ray.json")]) in (0, 1, 2)
    capsys.readouterr()
    local, mine = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("local", "ray"))
    assert local["data"]["n_test"] > 0 and mine["data"] == local["data"]
    aucs = [r["value"] for r in local["results"]["by_group"] if r["metric"] == "auc"]
    assert len(aucs) == 2 and min(aucs) > 0.6  # the audited predictions are real ones
    gaps = numeric_gaps({k: v for k, v in mine.items() if k not in VOLATILE},
                        {k: v for k, v in local.items() if k not in VOLATILE})
    assert max(gaps.values()) <= 1e-9, max(gaps.items(), key=lambda kv: kv[1])


def test_audit_model_on_ray_refuses_the_stacked_model_before_loading(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["audit", "model", "--data", "/nonexistent.csv", "--format", "generic", "--groups", "gender",
                 "--model", "best", "--engine", "ray"])
    assert code == 2
    assert "out-of-fold logits of sub-models" in capsys.readouterr().err
