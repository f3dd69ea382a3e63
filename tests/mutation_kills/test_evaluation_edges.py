"""Edge cases of the evaluation protocol (engine/evaluation/{splits,protocol,scoring,zoo}.py) that the mutation
run showed untested.

References: the split rules of the docstrings worked by hand (numpy's permutation of the sorted student ids,
`round(fraction x students)` with at least one), a recording model that shows the order and the rows each
call sees, and the metric functions of engine.evaluation.metrics (checked against scikit-learn in
tests/foundation/test_metrics.py) applied to the recorded predictions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from engine.data.dataset import Dataset
from engine.errors import ConfigError, DataValidationError
from engine.evaluation import metrics as m
from engine.evaluation.protocol import Split, evaluate, evaluate_model, protocol_split, sort_sequential
from engine.evaluation.scoring import DEFAULT_METRICS, METRICS, evaluate as score_model, kt_scorer, predictions
from engine.evaluation.splits import kfold_students, split_students
from engine.evaluation.zoo import MODELS, make_model, parse_model_names


def _responses(n_students: int = 10, per: int = 3, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_students):
        for k in range(per):
            rows.append({"student_id": f"s{s:02d}", "item_id": f"i{(s + k) % 4}", "correct": float(rng.random() < 0.6),
                         "seq": per - k})  # seq runs backwards: the protocol must re-sort
    return pl.DataFrame(rows)


class Recorder:
    """A model that predicts a fixed function of the row and records what it was given."""

    def __init__(self, shape_fix: int = 0, value: float | None = None) -> None:
        self.seen: list[pl.DataFrame] = []
        self.fitted: pl.DataFrame | None = None
        self.shape_fix = shape_fix
        self.value = value

    def fit(self, responses: pl.DataFrame) -> Recorder:
        self.fitted = responses
        return self

    def predict_proba(self, responses: pl.DataFrame) -> np.ndarray:
        self.seen.append(responses)
        if self.value is not None:
            return np.full(responses.height + self.shape_fix, self.value)
        p = np.array([0.2 + 0.1 * (int(i[1:]) % 4) for i in responses["item_id"]])
        return np.r_[p, np.full(self.shape_fix, 0.5)] if self.shape_fix > 0 else p[: responses.height + self.shape_fix]


def test_split_students_by_hand() -> None:
    r = _responses(10)
    for fraction, seed in ((0.2, 3), (0.25, 0), (0.01, 1), (0.99, 2)):
        train, test = split_students(r, fraction, seed)
        students = np.random.default_rng(seed).permutation(np.sort(r["student_id"].unique().to_numpy()))
        n_test = max(1, int(round(fraction * 10)))
        assert sorted(test["student_id"].unique()) == sorted(students[:n_test])
        assert train.height + test.height == r.height and set(train["student_id"]).isdisjoint(test["student_id"])
        assert test.to_dicts() == r.filter(pl.col("student_id").is_in(list(students[:n_test]))).to_dicts()
    assert split_students(r)[1]["student_id"].n_unique() == 2  # defaults: 20%, seed 0
    assert sorted(split_students(r)[1]["student_id"].unique()) == sorted(
        np.random.default_rng(0).permutation(np.sort(r["student_id"].unique().to_numpy()))[:2])
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=f"test_fraction must be in \\(0, 1\\), got {bad}"):
            split_students(r, bad)


def test_kfold_by_hand() -> None:
    r = _responses(7)
    folds = list(kfold_students(r, k=3, seed=4))
    students = np.random.default_rng(4).permutation(np.sort(r["student_id"].unique().to_numpy()))
    expected = np.array_split(students, 3)
    assert len(folds) == 3
    for (train, test), want in zip(folds, expected):
        assert sorted(test["student_id"].unique()) == sorted(want)
        assert train.height + test.height == r.height
    default = list(kfold_students(r))
    assert len(default) == 5
    assert sorted(default[0][1]["student_id"].unique()) == sorted(
        np.array_split(np.random.default_rng(0).permutation(np.sort(r["student_id"].unique().to_numpy())), 5)[0])
    assert len(list(kfold_students(r, k=2))) == 2
    with pytest.raises(ValueError, match="k must be at least 2, got 1"):
        list(kfold_students(r, k=1))


def test_protocol_split_uses_the_dataset_split_when_there_is_one() -> None:
    r = _responses(10)
    split = protocol_split(Dataset(name="d", train=r.head(6), test=r.tail(4)), test_fraction=0.5, seed=9)
    assert split.source == "dataset" and split.train.to_dicts() == r.head(6).to_dicts() and split.test.height == 4
    no_test = Dataset(name="d", train=r)
    split = protocol_split(no_test, test_fraction=0.3, seed=5)
    assert split.source == "students(test_fraction=0.3, seed=5)"
    train, test = split_students(r, 0.3, 5)
    assert split.test.to_dicts() == test.to_dicts() and split.train.to_dicts() == train.to_dicts()
    assert protocol_split(no_test).source == "students(test_fraction=0.2, seed=0)"
    assert isinstance(split, Split)


def test_evaluate_model_sorts_fits_predicts_and_scores() -> None:
    r = _responses(8)
    train, test = r.head(12), r.tail(12)
    model = Recorder()
    calls = []
    out = evaluate_model(model, train, test, fitted=lambda: calls.append(len(model.seen)))
    assert calls == [0]  # between the fit and the predictions
    assert model.fitted.to_dicts() == sort_sequential(train).to_dicts()
    ordered = test.sort(["student_id", "seq"])
    assert model.seen[0].to_dicts() == ordered.to_dicts()
    p = model.predict_proba(ordered)
    expected = m.score(ordered["correct"].to_numpy(), p)
    assert {k: out[k] for k in expected} == pytest.approx(expected)
    assert out["fit_seconds"] >= 0 and out["predict_seconds"] >= 0 and set(out) == set(expected) | {"fit_seconds", "predict_seconds"}
    assert evaluate_model(Recorder(), train, test)["auc"] == pytest.approx(expected["auc"])
    for bad in (Recorder(shape_fix=1), Recorder(shape_fix=-1), Recorder(value=float("nan")), Recorder(value=float("inf"))):
        with pytest.raises(RuntimeError, match="Recorder.predict_proba returned .* values \\(need 12 finite\\)"):
            evaluate_model(bad, train, test)


def test_sort_sequential_is_stable_within_equal_keys() -> None:
    frame = pl.DataFrame({"student_id": ["b", "a", "b", "a"], "seq": [1, 2, 1, 1], "tag": [0, 1, 2, 3]})
    assert sort_sequential(frame)["tag"].to_list() == [3, 1, 0, 2]


def test_protocol_evaluate_reports_progress_and_sizes() -> None:
    r = _responses(10)
    dataset = Dataset(name="demo-set", train=r)
    seen = []
    out = evaluate(dataset, ["baseline-mean", "baseline-item"], test_fraction=0.3, seed=2,
                   progress=lambda done, total, text: seen.append((done, total, text)))
    assert seen == [(0, 4, "fit baseline-mean"), (1, 4, "predict baseline-mean"), (2, 4, "fit baseline-item"),
                    (3, 4, "predict baseline-item"), (4, 4, "done")]
    train, test = split_students(r, 0.3, 2)
    assert out["dataset"] == "demo-set" and out["split"] == "students(test_fraction=0.3, seed=2)"
    assert (out["n_train"], out["n_test"]) == (train.height, test.height)
    assert set(out["models"]) == {"baseline-mean", "baseline-item"}
    mean = train["correct"].mean()
    ordered = test.sort(["student_id", "seq"])
    want = m.score(ordered["correct"].to_numpy(), np.full(ordered.height, mean))
    assert out["models"]["baseline-mean"]["rmse"] == pytest.approx(want["rmse"])
    assert evaluate(dataset, ["baseline-mean"])["split"] == "students(test_fraction=0.2, seed=0)"


def test_scoring_orders_rows_and_scores_with_any_metric() -> None:
    r = _responses(6)
    model = Recorder()
    y, p = predictions(model, r)
    ordered = r.sort(["student_id", "seq"])
    assert model.seen[0].to_dicts() == ordered.to_dicts()
    np.testing.assert_array_equal(y, ordered["correct"].to_numpy())
    out = score_model(model, r)
    assert set(out) == set(DEFAULT_METRICS) | {"n_responses"} and out["n_responses"] == r.height
    for name in DEFAULT_METRICS:
        assert out[name] == pytest.approx(float(METRICS[name](y, p)))
    assert DEFAULT_METRICS == ("auc", "rmse", "logloss", "accuracy")

    def bias(yy, pp):
        return float(np.mean(pp - yy))

    out = score_model(model, r, ["ece", bias])
    assert out == pytest.approx({"ece": m.ece(y, p), "bias": bias(y, p), "n_responses": r.height})
    no_seq = r.drop("seq").with_columns(pl.Series("tag", range(r.height)))
    recorder = Recorder()
    predictions(recorder, no_seq)
    assert recorder.seen[0]["tag"].to_list() == no_seq.sort("student_id", maintain_order=True)["tag"].to_list()
    pandas = score_model(Recorder(), r.to_pandas(), ["rmse"])
    assert pandas["rmse"] == pytest.approx(score_model(Recorder(), r, ["rmse"])["rmse"])


def test_scoring_errors() -> None:
    r = _responses(4)
    with pytest.raises(ConfigError, match="unknown metric 'f1'; available: auc, rmse, logloss, accuracy, ece \\(or a callable"):
        score_model(Recorder(), r, ["f1"])
    with pytest.raises(ConfigError, match="metric 3 is neither a name nor a callable f\\(y, p\\)"):
        score_model(Recorder(), r, [3])
    with pytest.raises(ConfigError, match="data has no column\\(s\\) 'correct'; a response frame needs student_id, item_id, correct"):
        score_model(Recorder(), r.drop("correct"))
    for bad_value, row in ((1.5, 3), (-0.5, 2), (None, 4)):
        broken = r.with_columns(pl.when(pl.int_range(pl.len()) == row - 1).then(bad_value).otherwise(pl.col("correct"))
                                .alias("correct"))
        with pytest.raises(DataValidationError) as info:
            score_model(Recorder(), broken)
        problem = info.value.problems[0]
        assert (problem.row, problem.column, problem.count) == (row, "correct", 1)
        assert problem.hint == "must be a number in [0, 1]; fix or drop these rows"
    two_bad = r.with_columns(pl.when(pl.int_range(pl.len()).is_in([1, 5])).then(2.0).otherwise(pl.col("correct")).alias("correct"))
    with pytest.raises(DataValidationError) as info:
        score_model(Recorder(), two_bad)
    assert (info.value.problems[0].row, info.value.problems[0].count, info.value.source) == (2, 2, "evaluate")
    edges = r.with_columns(pl.Series("correct", [0.0, 1.0] * (r.height // 2)))
    assert score_model(Recorder(), edges, ["rmse"])["n_responses"] == r.height  # 0 and 1 are valid
    with pytest.raises(RuntimeError, match="returned \\(13,\\) values \\(need 12 finite\\)"):
        predictions(Recorder(shape_fix=1), r)
    with pytest.raises(RuntimeError, match="need 12 finite"):
        predictions(Recorder(value=float("nan")), r)


def test_a_person_by_item_matrix_is_turned_into_responses() -> None:
    matrix = pd.DataFrame({"q1": [1, 0, 1], "q2": [0, 1, 1]})
    y, p = predictions(Recorder(value=0.5), matrix)
    assert sorted(y.tolist()) == [0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    wide = pl.DataFrame({"q1": [1, 0], "q2": [0, 1]})
    assert predictions(Recorder(value=0.5), wide)[0].size == 4
    long_pandas = _responses(3).to_pandas()
    assert predictions(Recorder(value=0.5), long_pandas)[0].size == 9


def test_kt_scorer_signs_and_names() -> None:
    r = _responses(6)
    model = Recorder()
    y, p = predictions(Recorder(), r)
    for name in METRICS:
        scorer = kt_scorer(name)
        sign = -1.0 if name in ("rmse", "logloss", "ece") else 1.0
        assert scorer.__name__ == ("neg_" if sign < 0 else "") + name
        assert scorer(model, r) == pytest.approx(sign * float(METRICS[name](y, p)))
        assert scorer(model, r, None) == scorer(model, r)
    assert kt_scorer().__name__ == "auc"
    with pytest.raises(ConfigError, match="unknown metric 'f1'; available: auc, rmse, logloss, accuracy, ece"):
        kt_scorer("f1")


def test_zoo_names() -> None:
    assert sorted(MODELS) == ["afm", "baseline-item", "baseline-mean", "best", "best-lr", "bkt", "bkt-forget", "bkt-idem",
                              "elo", "irt", "irt-lr", "pfa"]
    assert type(make_model("baseline-mean")).__name__ == "GlobalMean"
    assert type(make_model("elo")).__name__ == "Elo"
    with pytest.raises(ConfigError, match="unknown model 'x'; available: afm, baseline-item, baseline-mean, best, "):
        make_model("x")
    assert parse_model_names(" elo, bkt ,,") == ["elo", "bkt"]
    with pytest.raises(ConfigError, match="--models is empty; give at least one model name"):
        parse_model_names(" , ")
    with pytest.raises(ConfigError, match="unknown model\\(s\\) x, y; available: afm, baseline-item"):
        parse_model_names("elo,x,y")
