"""The researcher's API (issue 19, item 7): IRT on a person x item matrix, the item table with standard
errors, the Fairlearn-style MetricFrame, `evaluate(model, data)` and scikit-learn hyperparameter search.

Every check compares with an independent truth: simulation parameters, a likelihood and Hessian written
here from scratch, values computed by hand with numpy, or scikit-learn's own metrics."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.special import expit, logsumexp
from sklearn.base import clone
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, roc_auc_score
from sklearn.model_selection import GridSearchCV, GroupKFold

from engine.data.demo import demo_dataset
from engine.errors import ConfigError, DataValidationError
from engine.evaluation import evaluate, kt_scorer
from engine.evaluation.splits import split_students
from engine.evaluation.zoo import MODELS
from engine.fairness import MetricFrame, RatioMetric
from models.baselines import GlobalMean
from models.elo import Elo
from models.irt import IRT
from models.irt.simulate import simulate


def _matrix(sim, n_students: int, n_items: int) -> np.ndarray:
    out = np.full((n_students, n_items), np.nan)
    out[sim.student, sim.item] = sim.correct
    return out


# ---------------------------------------------------------------- 1. IRT on a person x item matrix
def test_numpy_polars_and_pandas_matrices_fit_as_the_long_frame() -> None:
    sim = simulate(300, 5, items_per_student=4, model="2pl", random_state=3)
    names = ["q3", "q10", "q1", "q7", "q2"]  # not in sorted order: the table must keep this order
    matrix = _matrix(sim, 300, 5)
    rows, cols = np.nonzero(~np.isnan(matrix))
    long = pl.DataFrame({"student_id": rows.astype(str), "item_id": np.asarray(names)[cols], "correct": matrix[rows, cols]})
    expected = IRT(model="2pl").fit(long).item_table().sort("item")
    frames = {
        "numpy": matrix,
        "polars": pl.DataFrame(matrix, schema=names),
        "polars with ids": pl.DataFrame(matrix, schema=names).with_columns(student_id=pl.Series([f"s{i}" for i in range(300)])),
    }
    pd = pytest.importorskip("pandas")
    frames["pandas"] = pd.DataFrame(matrix, columns=names)
    assert IRT(model="2pl").fit(long.to_pandas()).item_table().sort("item").equals(expected)  # a pandas long frame
    for kind, data in frames.items():
        table = IRT(model="2pl").fit(data).item_table()
        assert table["item"].to_list() == ([f"item_{j}" for j in range(5)] if kind == "numpy" else names), kind
        got = table.with_columns(pl.Series("item", names)).sort("item")
        for column in ("a", "b", "se_a", "se_b"):
            np.testing.assert_allclose(got[column].to_numpy(), expected[column].to_numpy(), rtol=1e-6, err_msg=kind)


def test_missing_cells_are_not_responses() -> None:
    sim = simulate(200, 4, model="rasch", random_state=4)
    matrix = _matrix(sim, 200, 4)
    matrix[7, :] = np.nan  # a student who answered nothing
    matrix[:60, 2] = np.nan  # an item not given to the first 60
    model = IRT(model="rasch").fit(matrix)
    assert model.calibration_.n_students == 199
    assert model.predict_proba(pl.DataFrame({"student_id": ["x"], "item_id": ["item_2"], "correct": [1.0]})).shape == (1,)


def test_matrix_values_other_than_0_1_missing_name_the_row_and_column() -> None:
    matrix = _matrix(simulate(50, 3, random_state=0), 50, 3)
    matrix[3, 1] = 2.0
    with pytest.raises(DataValidationError, match=r"row 4, column 'item_1', value 2.0.*0, 1 or missing"):
        IRT().fit(matrix)
    frame = pl.DataFrame({"q1": [1, 0, 1], "grade": ["A", "B", "C"]})
    with pytest.raises(DataValidationError, match="'grade'"):
        IRT().fit(frame)
    with pytest.raises(ValueError, match="2-D"):
        IRT().fit(np.ones(5))
    with pytest.raises(ValueError, match="missing: correct"):
        IRT().fit(pl.DataFrame({"student_id": ["s1"], "item_id": ["i1"]}))


# ---------------------------------------------------------------- 2. item table and its standard errors
def _marginal_loglik(patterns: np.ndarray, counts: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """2PL marginal log-likelihood of complete 0/1 response patterns (each seen `counts` times) over the
    same grid (61 points on [-6, 6], discretized N(0, 1)), written independently of models.irt."""
    q = np.linspace(-6, 6, 61)
    log_w = -0.5 * q**2 - logsumexp(-0.5 * q**2)
    p = expit(a[:, None] * (q[None, :] - b[:, None]))  # (I, K)
    joint = np.einsum("pi,ik->pk", patterns, np.log(p)) + np.einsum("pi,ik->pk", 1 - patterns, np.log1p(-p)) + log_w
    return float(counts @ logsumexp(joint, axis=1))


def _hessian(f, x: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """Central-difference Hessian of a scalar function."""
    n = x.size
    out = np.zeros((n, n))
    step = np.eye(n) * h
    for i in range(n):
        for j in range(i, n):
            out[i, j] = out[j, i] = (f(x + step[i] + step[j]) - f(x + step[i] - step[j])
                                     - f(x - step[i] + step[j]) + f(x - step[i] - step[j])) / (4 * h * h)
    return out


def test_item_table_standard_errors_match_an_independent_observed_information() -> None:
    n_students, n_items = 1500, 7
    sim = simulate(n_students, n_items, model="2pl", random_state=11)
    y = _matrix(sim, n_students, n_items)
    table = IRT(model="2pl", standard_errors="observed", tol=1e-7).fit(y).item_table()
    assert table.columns == ["item", "a", "b", "se_a", "se_b"]
    a, b = table["a"].to_numpy(), table["b"].to_numpy()

    patterns, counts = np.unique(y, axis=0, return_counts=True)

    def f(x: np.ndarray) -> float:
        return _marginal_loglik(patterns, counts, x[:n_items], x[n_items:])

    x = np.concatenate([a, b])
    hessian = _hessian(f, x)
    se = np.sqrt(np.diag(np.linalg.inv(-hessian)))
    # the estimates maximize the independent likelihood (gradient ~ 0 relative to the curvature) ...
    gradient = np.array([(f(x + 1e-5 * e) - f(x - 1e-5 * e)) / 2e-5 for e in np.eye(x.size)])
    assert np.all(np.abs(gradient) * se < 1e-4)
    # ... and their standard errors agree with the inverse of its observed information
    np.testing.assert_allclose(table["se_a"].to_numpy(), se[:n_items], rtol=1e-3)
    np.testing.assert_allclose(table["se_b"].to_numpy(), se[n_items:], rtol=1e-3)
    # the simulation's true parameters lie within the usual range of the estimates
    z = np.concatenate([(a - sim.a) / se[:n_items], (b - sim.b) / se[n_items:]])
    assert np.all(np.abs(z) < 3.5) and np.mean(z**2) < 2.5


def test_item_table_columns_follow_the_model() -> None:
    sim = simulate(600, 5, model="3pl", random_state=2)
    matrix = _matrix(sim, 600, 5)
    assert IRT(model="rasch").fit(matrix).item_table().columns == ["item", "b", "se_b"]
    table = IRT(model="3pl").fit(matrix).item_table()
    assert table.columns == ["item", "a", "b", "c", "se_a", "se_b", "se_c"]
    assert table["item"].to_list() == [f"item_{j}" for j in range(5)]
    assert ((table["c"] > 0) & (table["c"] < 0.5)).all()
    restored = IRT.from_dict(IRT(model="rasch").fit(pl.DataFrame(matrix, schema=["z", "y", "x", "w", "v"])).to_dict())
    assert restored.item_table()["item"].to_list() == ["z", "y", "x", "w", "v"]


# ---------------------------------------------------------------- 3. MetricFrame from y_true / y_pred
def _pairwise_auc(y: np.ndarray, p: np.ndarray) -> float:
    pos, neg = p[y >= 0.5], p[y < 0.5]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (pos.size * neg.size))


def _case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 45).astype(float)
    p = np.round(np.clip(0.35 * y + 0.65 * rng.random(45), 0, 1), 2)  # rounded: some ties
    group = np.array(["a"] * 12 + ["b"] * 15 + ["c"] * 18)
    return y, p, group


def test_array_form_equals_hand_computation() -> None:
    y, p, group = _case()
    # min_group_size 2: the true positive rate of a group of 12 rows describes only its positives (fewer than the
    # default 10), which the privacy rule would withhold; here the point is the arithmetic
    mf = MetricFrame(metrics=["auc", "accuracy", "rmse", "true_positive_rate"], y_true=y, y_pred=p,
                     sensitive_features=group, n_boot=50, min_group_size=2)
    hand = {}
    for g in "abc":
        yy, pp = y[group == g], p[group == g]
        hand[(g, "auc")] = _pairwise_auc(yy, pp)
        hand[(g, "accuracy")] = np.mean((yy >= 0.5) == (pp >= 0.5))
        hand[(g, "rmse")] = np.sqrt(np.mean((yy - pp) ** 2))
        hand[(g, "true_positive_rate")] = np.sum((yy >= 0.5) & (pp >= 0.5)) / np.sum(yy >= 0.5)
    table = mf.by_group
    assert table.height == 12 and set(table["attribute"]) == {"sensitive_feature_0"}
    for r in table.iter_rows(named=True):
        assert r["value"] == pytest.approx(hand[(r["group"], r["metric"])], rel=1e-12)
        assert r["n_students"] == r["n_rows"] == int(np.sum(group == r["group"]))
    overall = dict(mf.overall.select("metric", "value").iter_rows())
    assert overall["auc"] == pytest.approx(_pairwise_auc(y, p), rel=1e-12)
    assert overall["rmse"] == pytest.approx(np.sqrt(np.mean((y - p) ** 2)), rel=1e-12)
    for metric in ("auc", "rmse"):
        values = {g: hand[(g, metric)] for g in "abc"}
        top, low = max(values, key=values.get), min(values, key=values.get)
        diff = mf.difference("between_groups", metrics=[metric]).row(0, named=True)
        assert (diff["group"], diff["reference"]) == (top, low)
        assert diff["value"] == pytest.approx(values[top] - values[low], rel=1e-12)
        ratio = mf.ratio("between_groups", metrics=[metric]).row(0, named=True)
        assert ratio["value"] == pytest.approx(values[low] / values[top], rel=1e-12)
        assert mf.group_min().filter(pl.col("metric") == metric)["group"].item() == low
        assert mf.group_max().filter(pl.col("metric") == metric)["group"].item() == top


def test_array_form_takes_callables_named_features_and_students() -> None:
    y, p, group = _case()
    students = np.repeat(np.arange(15), 3)  # three rows per student; groups are constant within a student

    def accuracy(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        return accuracy_score(y_true >= 0.5, y_pred >= 0.5, sample_weight=sample_weight)

    mf = MetricFrame(metrics={"acc": accuracy, "auc": roc_auc_score}, y_true=y, y_pred=p,
                     sensitive_features=pl.DataFrame({"school": group}), students=students, min_group_size=4, n_boot=40)
    table = mf.by_group
    assert set(table["attribute"]) == {"school"}
    for r in table.iter_rows(named=True):
        mask = group == r["group"]
        expected = accuracy(y[mask], p[mask]) if r["metric"] == "acc" else _pairwise_auc(y[mask], p[mask])
        assert r["value"] == pytest.approx(expected, rel=1e-12)
        assert r["n_students"] == np.unique(students[mask]).size and r["n_rows"] == mask.sum()
        assert r["ci_low"] <= r["value"] <= r["ci_high"]


def test_array_form_suppresses_small_groups_as_the_roster_form() -> None:
    y, p, _ = _case()
    group = np.array(["a"] * 4 + ["b"] * 20 + ["c"] * 21)
    mf = MetricFrame(metrics="accuracy", y_true=y, y_pred=p, sensitive_features={"g": group}, n_boot=0)
    # "a" (4 < 10) is hidden, and with it the smallest shown group, so "a" cannot be recovered from the total
    assert {s["group"] for s in mf.suppressed} == {"a", "b"}
    assert mf.by_group["group"].to_list() == ["c"]
    rows = pl.DataFrame({"student_id": [str(i) for i in range(45)], "g": group, "hit": ((y >= 0.5) == (p >= 0.5)).astype(float)})
    roster_form = MetricFrame(rows, [RatioMetric("accuracy", "hit")], "g", n_boot=0)
    assert roster_form.by_group["value"].to_list() == mf.by_group["value"].to_list()


def test_array_form_bootstrap_se_of_a_rate_is_binomial() -> None:
    rng = np.random.default_rng(8)
    n = 400
    group = np.repeat(["x", "y"], n)
    y = np.ones(2 * n)
    p = (rng.random(2 * n) < np.repeat([0.7, 0.4], n)).astype(float)  # accuracy = P(p >= 0.5)
    table = MetricFrame(metrics="accuracy", y_true=y, y_pred=p, sensitive_features=group, n_boot=400).by_group
    for r in table.iter_rows(named=True):
        assert r["se"] == pytest.approx(np.sqrt(r["value"] * (1 - r["value"]) / n), rel=0.15)


def test_array_form_bad_input_is_named() -> None:
    y, p, group = _case()
    with pytest.raises(ConfigError, match="sensitive_features has 44 rows"):
        MetricFrame(metrics="auc", y_true=y, y_pred=p, sensitive_features=group[:-1])
    bad = p.copy()
    bad[2] = np.nan
    with pytest.raises(DataValidationError, match="row 3, column 'y_pred'"):
        MetricFrame(metrics="auc", y_true=y, y_pred=bad, sensitive_features=group)
    with pytest.raises(ConfigError, match="unknown metric 'f1'"):
        MetricFrame(metrics="f1", y_true=y, y_pred=p, sensitive_features=group)


# ---------------------------------------------------------------- 4. evaluate(model, data)
@pytest.fixture(scope="module")
def split() -> tuple[pl.DataFrame, pl.DataFrame]:
    return split_students(demo_dataset(n_students=120, attempts=20, seed=3).train, 0.3, seed=1)


def test_evaluate_equals_scikit_learn_on_the_same_predictions(split) -> None:
    train, test = split
    model = Elo().fit(train)
    before = model.difficulty_.copy()
    result = evaluate(model, test.sample(fraction=1.0, shuffle=True, seed=0))  # row order must not matter
    ordered = test.sort(["student_id", "seq"])
    y, p = ordered["correct"].to_numpy(), model.predict_proba(ordered)
    assert result["auc"] == pytest.approx(roc_auc_score(y, p), rel=1e-12)
    assert result["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, p)), rel=1e-12)
    assert result["logloss"] == pytest.approx(log_loss(y, p), rel=1e-9)
    assert result["accuracy"] == pytest.approx(accuracy_score(y >= 0.5, p >= 0.5), rel=1e-12)
    assert result["n_responses"] == test.height
    np.testing.assert_array_equal(model.difficulty_, before)  # nothing was refitted


def test_evaluate_scores_irt_on_a_matrix_as_on_the_long_frame() -> None:
    sim = simulate(300, 6, model="2pl", random_state=6)
    matrix = _matrix(sim, 300, 6)
    model = IRT().fit(matrix[:200])
    rows, cols = np.nonzero(~np.isnan(matrix[200:]))
    long = pl.DataFrame({"student_id": rows.astype(str), "item_id": [f"item_{c}" for c in cols],
                         "correct": matrix[200:][rows, cols], "seq": cols.astype(np.int64)})
    assert evaluate(model, matrix[200:]) == pytest.approx(evaluate(model, long))


def test_evaluate_bad_input_is_named(split) -> None:
    train, test = split
    model = GlobalMean().fit(train)
    with pytest.raises(ConfigError, match="'correct'"):
        evaluate(model, test.drop("correct"))
    with pytest.raises(DataValidationError, match="row 2, column 'correct'"):
        evaluate(model, test.with_columns(correct=pl.when(pl.int_range(pl.len()) == 1).then(2.0).otherwise(pl.col("correct"))))
    with pytest.raises(ConfigError, match="unknown metric"):
        evaluate(model, test, ["f1"])


# ---------------------------------------------------------------- 5. get_params / set_params / GridSearchCV
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_clones_and_sets_its_hyperparameters(name: str, split) -> None:
    model = MODELS[name]()
    params = model.get_params(deep=False)
    copy = clone(model)
    assert type(copy) is type(model) and copy is not model and copy.get_params(deep=False) == params
    for key, value in params.items():  # set_params writes each hyperparameter and returns the model
        assert copy.set_params(**{key: value}) is copy and getattr(copy, key) is value
    with pytest.raises(ValueError, match="has no hyperparameter 'nonsense'"):
        copy.set_params(nonsense=1)
    fitted = clone(model).fit(split[0].head(400))
    assert not [k for k in vars(clone(fitted)) if k.endswith("_") and not k.startswith("_")]  # a clone is unfitted


def test_elo_hyperparameters_are_its_constructor_arguments() -> None:
    model = Elo(alpha=0.3)
    assert model.get_params() == {"alpha": 0.3, "beta": 0.05, "skill_alpha": 0.8, "skill_beta": 0.1, "item_alpha": 1.0,
                                  "item_beta": 0.05, "epochs": 1, "random_state": None}
    assert model.set_params(beta=0.2, epochs=2).beta == 0.2 and model.epochs == 2
    assert Elo.from_dict(model.fit(demo_dataset(n_students=20).train).to_dict()).get_params() == model.get_params()


def test_grid_search_over_elo_matches_a_hand_written_grouped_cross_validation(split) -> None:
    data = pl.concat([split[0], split[1]])
    grid = [0.0, 0.5, 2.0]
    cv = GroupKFold(n_splits=3)
    search = GridSearchCV(Elo(), {"alpha": grid}, scoring=kt_scorer("auc"), cv=cv)
    search.fit(data, groups=data["student_id"].to_numpy())
    by_hand = []
    for alpha in grid:
        scores = []
        for train_idx, test_idx in cv.split(np.zeros(data.height), groups=data["student_id"].to_numpy()):
            train, test = data[train_idx], data[test_idx]
            assert not set(train["student_id"]) & set(test["student_id"])  # grouped by student
            ordered = test.sort(["student_id", "seq"])
            scores.append(roc_auc_score(ordered["correct"], Elo(alpha=alpha).fit(train).predict_proba(ordered)))
        by_hand.append(np.mean(scores))
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], by_hand, rtol=1e-12)
    assert search.best_params_ == {"alpha": grid[int(np.argmax(by_hand))]}
    assert search.best_estimator_.alpha == search.best_params_["alpha"] and hasattr(search.best_estimator_, "difficulty_")
    best = search.best_estimator_
    assert kt_scorer("rmse")(best, split[1]) == pytest.approx(-evaluate(best, split[1])["rmse"])  # greater is better
