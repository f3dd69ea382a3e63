"""Student-level splits and the sequential protocol on the demo data and the real assistments09 split."""

from __future__ import annotations

import numpy as np
import polars as pl

from engine.data import load
from engine.data.demo import demo_dataset
from engine.evaluation.protocol import evaluate, evaluate_model
from engine.evaluation.splits import kfold_students, split_students
from models.baselines import SmoothedItemMean


def test_split_is_by_student_and_keeps_every_row() -> None:
    r = demo_dataset(n_students=50, attempts=5).train
    train, test = split_students(r, test_fraction=0.2, seed=3)
    assert train.height + test.height == r.height
    assert set(train["student_id"]).isdisjoint(set(test["student_id"]))
    assert test["student_id"].n_unique() == 10


def test_kfold_puts_each_student_in_exactly_one_test_fold() -> None:
    r = demo_dataset(n_students=23, attempts=3).train
    seen = pl.concat([test.select("student_id").unique() for _, test in kfold_students(r, k=5, seed=1)])
    assert seen.height == 23 and seen["student_id"].n_unique() == 23


def test_item_mean_is_shrunk_toward_global_mean_by_hand() -> None:
    frame = demo_dataset(n_students=5, attempts=2).train.head(0)
    rows = pl.DataFrame(
        {"student_id": ["a", "b", "c"], "item_id": ["x", "x", "y"], "skill_ids": [["k"]] * 3, "correct": [1.0, 1.0, 0.0], "seq": [0, 0, 0]}
    )
    frame = pl.concat([frame, rows])
    model = SmoothedItemMean(prior_weight=2.0).fit(frame)
    mean = 2 / 3
    expected = [(2 + 2 * mean) / 4, (0 + 2 * mean) / 3, mean]
    probe = rows.select("item_id").vstack(pl.DataFrame({"item_id": ["unseen"]}))
    assert np.allclose(model.predict_proba(probe.slice(1)), expected)
    assert np.allclose(SmoothedItemMean.from_dict(model.to_dict()).predict_proba(probe.slice(1)), expected)


def test_global_mean_has_no_discrimination() -> None:
    ds = demo_dataset()
    result = evaluate(ds, ["baseline-mean"])
    assert result["models"]["baseline-mean"]["auc"] == 0.5


def test_item_baseline_matches_published_figure_on_assistments09(shared_data) -> None:
    """The smoothed item mean on the Gervet et al. split gives 0.686 test AUC (foundation issue)."""
    ds = load(shared_data / "assistments09", "lpp")
    metrics = evaluate_model(SmoothedItemMean(), ds.train, ds.test)
    assert abs(metrics["auc"] - 0.686) <= 0.01
    assert metrics["ece"] < 0.05
