"""Choosing `best`'s configuration on validation students: simulations where the right choice is known."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from models.ensemble import StackedKT, select_on_validation, validation_split
from models.ensemble.selection import choose

SCHEMA = {"student_id": pl.Utf8, "item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8), "correct": pl.Float64, "seq": pl.Int64}


def signal_and_noise_log(n: int = 150, length: int = 12, seed: int = 4) -> pl.DataFrame:
    """P(correct) = expit(2 * signal); `noise` is independent of the answers."""
    rng = np.random.default_rng(seed)
    rows = n * length
    signal, noise = rng.normal(0, 1, rows), rng.normal(0, 1, rows)
    return pl.DataFrame({
        "student_id": [f"s{s}" for s in np.repeat(np.arange(n), length)], "item_id": ["i0"] * rows,
        "skill_ids": [["k0"]] * rows, "correct": (rng.random(rows) < expit(2.0 * signal)).astype(float),
        "seq": np.tile(np.arange(length), n), "signal": signal, "noise": noise,
    }, schema={**SCHEMA, "signal": pl.Float64, "noise": pl.Float64})


class OneColumnModel:
    """A logistic regression on one named column of the frame (a stand-in candidate)."""

    def __init__(self, column: str) -> None:
        self.column = column

    def fit(self, frame: pl.DataFrame) -> OneColumnModel:
        self.regression_ = LogisticRegression().fit(frame[[self.column]].to_numpy(), frame["correct"].to_numpy())
        return self

    def predict_proba(self, frame: pl.DataFrame) -> np.ndarray:
        return self.regression_.predict_proba(frame[[self.column]].to_numpy())[:, 1]


def test_the_candidate_with_the_informative_feature_is_chosen_in_either_order() -> None:
    log = signal_and_noise_log()
    for order in (["noise", "signal"], ["signal", "noise"]):
        selection = select_on_validation([{"column": c} for c in order], lambda c: OneColumnModel(c["column"]), log, 0.2, seed=1)
        assert selection.chosen_config == {"column": "signal"}
        by_column = dict(zip(order, selection.validation_auc))
        assert by_column["signal"] > 0.75  # expit(2 z) separates well
        assert abs(by_column["noise"] - 0.5) < 0.08  # a column unrelated to the answers


def test_validation_split_holds_out_whole_students_reproducibly() -> None:
    log = signal_and_noise_log(n=100)
    fit_part, held = validation_split(log, 0.2, seed=3)
    assert held["student_id"].n_unique() == 20 and fit_part["student_id"].n_unique() == 80
    assert not set(held["student_id"]) & set(fit_part["student_id"])
    assert fit_part.height + held.height == log.height
    again = validation_split(log, 0.2, seed=3)[1]
    other = validation_split(log, 0.2, seed=4)[1]
    assert set(again["student_id"]) == set(held["student_id"]) != set(other["student_id"])
    with pytest.raises(ValueError, match="at least 3 training students"):
        validation_split(log.filter(pl.col("student_id").is_in(["s1", "s2"])), 0.2)
    with pytest.raises(ValueError, match="validation_fraction"):
        validation_split(log, 1.0)


def test_choose_takes_the_highest_defined_score_and_the_earlier_of_ties() -> None:
    assert choose([0.61, None, 0.7, 0.7]) == 2
    assert choose([None, None]) == 0


def markov_log(n: int = 200, length: int = 25, seed: int = 7) -> pl.DataFrame:
    """Each answer repeats the student's previous answer with probability 0.6, else is drawn from
    expit(ability - difficulty): the last answer carries information that counts cannot."""
    rng = np.random.default_rng(seed)
    ability, difficulty = rng.normal(0, 1, n), np.linspace(-1, 1, 6)
    items = rng.integers(0, 6, (n, length))
    y = np.zeros((n, length))
    y[:, 0] = rng.random(n) < expit(ability - difficulty[items[:, 0]])
    for t in range(1, length):
        fresh = rng.random(n) < expit(ability - difficulty[items[:, t]])
        y[:, t] = np.where(rng.random(n) < 0.6, y[:, t - 1], fresh)
    return pl.DataFrame({
        "student_id": [f"s{s}" for s in np.repeat(np.arange(n), length)], "item_id": [f"i{i}" for i in items.ravel()],
        "skill_ids": [[f"k{i % 2}"] for i in items.ravel()], "correct": y.ravel(), "seq": np.tile(np.arange(length), n),
    }, schema=SCHEMA)


def test_stacked_model_chooses_last_answer_recency_when_answers_repeat_and_refits_on_all_students() -> None:
    log = markov_log()
    train = log.filter(pl.col("student_id").str.slice(1).cast(pl.Int64) < 160)
    test = log.filter(pl.col("student_id").str.slice(1).cast(pl.Int64) >= 160)
    for candidates, right in (([{"decays": []}, {"decays": [0.0]}], 1), ([{"decays": [0.0]}, {"decays": []}], 0)):
        model = StackedKT(submodels=(), skill_recency=False, candidates=candidates).fit(train)
        assert model.selection_.chosen == right
        # the chosen configuration refitted on all training students, as a model given it directly
        direct = StackedKT(submodels=(), skill_recency=False, decays=[0.0]).fit(train)
        np.testing.assert_allclose(model.predict_proba(test), direct.predict_proba(test))
    y = test["correct"].to_numpy()
    assert roc_auc_score(y, model.predict_proba(test)) > roc_auc_score(
        y, StackedKT(submodels=(), skill_recency=False, decays=[]).fit(train).predict_proba(test)) + 0.05
    again = StackedKT.from_dict(json.loads(json.dumps(model.to_dict())))
    assert again.selection_ == model.selection_ and again.config() == model.config()
    np.testing.assert_allclose(again.predict_proba(test), model.predict_proba(test))


def test_shared_sub_model_columns_give_the_scores_of_candidates_fitted_alone() -> None:
    """The candidates share the sub-models' out-of-fold columns; each validation AUC must equal that of the
    candidate fitted from scratch on the same fit students and scored on the held-out ones."""
    log = markov_log(n=80, length=15, seed=3)
    candidates = [{"decays": []}, {"decays": [0.0, 0.5]}]
    model = StackedKT(submodels=("elo",), n_folds=3, candidates=candidates, random_state=5).fit(log)
    fit_part, held = validation_split(log.sort(["student_id", "seq"]), 0.2, seed=5)
    assert model.selection_.validation_students == held["student_id"].n_unique()
    for candidate, auc in zip(candidates, model.selection_.validation_auc):
        alone = StackedKT(submodels=("elo",), n_folds=3, random_state=5, **candidate).fit(fit_part)
        assert auc == pytest.approx(roc_auc_score(held["correct"].to_numpy(), alone.predict_proba(held)), abs=1e-9)


def test_bad_candidates_are_named() -> None:
    log = markov_log(n=20, length=5)
    with pytest.raises(ValueError, match="unknown key"):
        StackedKT(submodels=(), candidates=[{"decay": [0.5]}]).fit(log)
    with pytest.raises(ValueError, match="empty"):
        StackedKT(submodels=(), candidates=[]).fit(log)
