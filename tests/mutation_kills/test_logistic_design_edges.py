"""Logistic learner models' design matrices and fits (models/logistic/{design,estimator,classic}.py) against
independent truths: every column built by plain loops from the module docstrings (one-hots, log(1 + x)
counts of earlier attempts / wins per scope, per skill and summed over skills), scikit-learn's
`LogisticRegression` fitted on that hand-built matrix, and the online path replayed response by response.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from models.logistic.classic import AFM, IRTLR, PFA, BestLR
from models.logistic.design import FeatureSet, Layout, apply_transform, vocabulary_index
from models.logistic.estimator import LogisticKT, binary_targets, check_both_outcomes, vocabularies
from models.logistic.features import response_history, sequential_order, skill_history

SCHEMA = {"student_id": pl.Utf8, "item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8), "correct": pl.Float64, "seq": pl.Int64}


def make_log(n_students: int = 30, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    items = {"i1": ["k1"], "i2": ["k1", "k2"], "i3": ["k2"], "i4": ["k3"], "i5": [], "i6": ["k2", "k2"]}
    rows = []
    for s in range(n_students):
        for t in range(8):
            item = str(rng.choice(list(items)))
            rows.append((f"s{s:02d}", item, items[item], float(rng.random() < 0.3 + 0.05 * t), t))
    rng.shuffle(rows)
    return pl.DataFrame({k: [r[i] for r in rows] for i, k in enumerate(SCHEMA)}, schema=SCHEMA)


TRAIN = make_log()
TEST = pl.DataFrame({
    "student_id": ["x", "x", "y", "x", "y"], "item_id": ["i2", "i9", "i1", "i1", "i7"],
    "skill_ids": [["k1", "k2"], ["k9", "k1"], ["k1"], ["k1"], []], "correct": [1.0, 0.0, 1.0, 0.5, 1.0], "seq": [0, 1, 0, 2, 1],
}, schema=SCHEMA)


def plain_design(frame: pl.DataFrame, items: list, skills: list, blocks: list[tuple[str, str]], transform=math.log1p):
    """Rows in (student, seq) order; columns from `blocks` of (kind, stat) as the design module documents."""
    rows = sorted(frame.to_dicts(), key=lambda r: (r["student_id"], r["seq"]))
    out = []
    for t, row in enumerate(rows):
        before = [r for r in rows[:t] if r["student_id"] == row["student_id"]]
        own = list(dict.fromkeys(row["skill_ids"]))
        x = []
        for kind, stat in blocks:
            if kind == "onehot" and stat == "item":
                x += [1.0 if row["item_id"] == i else 0.0 for i in items]
            elif kind == "onehot":
                x += [1.0 if k in own else 0.0 for k in skills]
            elif kind == "scalar":
                scope, name = stat.split("_", 1)
                rel = before if scope == "total" else [r for r in before if r["item_id"] == row["item_id"]]
                x.append(transform(len(rel) if name == "attempts" else sum(r["correct"] for r in rel)))
            elif kind == "per_skill":
                name = stat.split("_", 1)[1]
                for k in skills:
                    rel = [r for r in before if k in r["skill_ids"]]
                    value = len(rel) if name == "attempts" else sum(r["correct"] for r in rel) if name == "wins" else len(rel) - sum(r["correct"] for r in rel)
                    x.append(transform(value) if k in own else 0.0)
            elif kind == "skill_sum":
                name = stat.split("_", 1)[1]
                total = 0.0
                for k in own:
                    rel = [r for r in before if k in r["skill_ids"]]
                    total += transform(len(rel) if name == "attempts" else sum(r["correct"] for r in rel))
                x.append(total)
        out.append(x)
    return np.array(out), rows


BEST_BLOCKS = [("onehot", "item"), ("onehot", "skill"), ("scalar", "item_attempts"), ("scalar", "item_wins"),
               ("scalar", "total_attempts"), ("scalar", "total_wins"), ("per_skill", "skill_attempts"), ("per_skill", "skill_wins")]
MODELS = [
    (BestLR(), BEST_BLOCKS, math.log1p),
    (IRTLR(), [("onehot", "item"), ("onehot", "skill")], math.log1p),
    (IRTLR(skill_backoff=False), [("onehot", "item")], math.log1p),
    (AFM(), [("onehot", "skill"), ("per_skill", "skill_attempts")], float),
    (PFA(recency=None), [("onehot", "skill"), ("per_skill", "skill_wins"), ("per_skill", "skill_fails")], math.log1p),
]


@pytest.mark.parametrize("model, blocks, transform", MODELS, ids=["best-lr", "irt-lr", "irt-lr-items", "afm", "pfa"])
def test_fit_equals_scikit_learn_on_the_hand_built_design(model: LogisticKT, blocks, transform) -> None:
    items, skills = sorted(TRAIN["item_id"].unique().to_list()), ["k1", "k2", "k3"]
    x, rows = plain_design(TRAIN, items, skills, blocks, transform)
    y = np.array([r["correct"] for r in rows])
    ref = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(x, y.astype(int))
    model.set_params(tol=1e-9).fit(TRAIN)
    assert model.layout_.items == items and model.layout_.skills == skills
    assert model.coef_.shape == (x.shape[1],)
    np.testing.assert_allclose(model.coef_, ref.coef_[0], atol=2e-5)
    assert model.intercept_ == pytest.approx(ref.intercept_[0], abs=2e-5)
    assert model.n_iter_ >= 1
    # test rows: unseen items / skills have no column; predictions aligned with the input rows
    xt, trows = plain_design(TEST, items, skills, blocks, transform)
    want = 1.0 / (1.0 + np.exp(-(xt @ model.coef_ + model.intercept_)))
    order = [next(j for j, r in enumerate(TEST.to_dicts()) if r == tr) for tr in trows]
    got = model.predict_proba(TEST)
    np.testing.assert_allclose(got[order], want, rtol=1e-10)
    np.testing.assert_allclose(model.decision_function(TEST)[order], np.log(want / (1 - want)), rtol=1e-8, atol=1e-10)
    # the online path replays the same numbers
    states: dict[str, dict] = {}
    for r, p in zip(trows, want):
        state = states.setdefault(r["student_id"], model.initial_state())
        assert model.predict_next(state, r["item_id"], r["skill_ids"]) == pytest.approx(p, rel=1e-10)
        assert model.update(state, r) is state
    # JSON round trip
    back = type(model).from_dict(model.to_dict())
    np.testing.assert_allclose(back.predict_proba(TEST), got, rtol=1e-12)
    assert back.n_iter_ == model.n_iter_ and back.get_params() == model.get_params()


def test_scikit_learn_solver_and_partial_credit() -> None:
    frame = TRAIN.with_columns(pl.when(pl.col("seq") == 3).then(0.5).otherwise(pl.col("correct")).alias("correct"))
    newton = PFA(recency=None, tol=1e-9).fit(frame)
    sk = PFA(recency=None, solver="lbfgs", tol=1e-10, max_iter=10000).fit(frame)
    np.testing.assert_allclose(sk.coef_, newton.coef_, atol=1e-4)
    assert sk.intercept_ == pytest.approx(newton.intercept_, abs=1e-4)
    assert isinstance(sk.n_iter_, int) and sk.n_iter_ >= 1
    assert sk.coefficients()["column"].to_list()[:3] == ["skill=k1", "skill=k2", "skill=k3"]


def test_binary_targets_and_outcome_checks() -> None:
    design = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]]))
    same, labels, weights = binary_targets(design, np.array([1.0, 0.0, 1.0]))
    assert same is design and labels.dtype == np.int8 and labels.tolist() == [1, 0, 1] and weights is None
    stacked, labels, weights = binary_targets(design, np.array([1.0, 0.25, 0.0]))
    # label 1 rows weighted c, label 0 rows weighted 1 - c; zero weights dropped
    assert labels.tolist() == [1, 1, 0, 0] and weights.tolist() == [1.0, 0.25, 0.75, 1.0]
    assert stacked.toarray().tolist() == [[1, 0], [0, 2], [0, 2], [3, 0]]
    check_both_outcomes(True, True)
    for flags in ((True, False), (False, True), (False, False)):
        with pytest.raises(ValueError, match=r"^training responses are all correct or all incorrect; a logistic model needs both$"):
            check_both_outcomes(*flags)
    ordered = sequential_order(TEST)
    assert vocabularies(ordered) == (["i1", "i2", "i7", "i9"], ["k1", "k2", "k9"])


def test_training_input_errors() -> None:
    with pytest.raises(ValueError, match=r"^cannot fit on an empty response frame$"):
        PFA().fit(TRAIN.head(0))
    for value in (0.0, 1.0):
        with pytest.raises(ValueError, match="all correct or all incorrect"):
            PFA().fit(TRAIN.with_columns(pl.lit(value).alias("correct")))
        with pytest.raises(ValueError, match="all correct or all incorrect"):
            PFA(solver="lbfgs").fit(TRAIN.with_columns(pl.lit(value).alias("correct")))
    PFA().fit(TRAIN.with_columns(pl.lit(0.5).alias("correct")))  # fractional only: both sides present
    with pytest.raises(RuntimeError, match="not fitted"):
        PFA().predict_proba(TEST)
    with pytest.raises(NotImplementedError, match=r"^LogisticKT must define feature_set\(\)$"):
        LogisticKT().fit(TRAIN)


def test_stored_payload_checks() -> None:
    payload = PFA().fit(TRAIN).to_dict()
    assert payload["model"] == "pfa" and payload["format_version"] == 1
    assert payload["params"] == {"C": 1.0, "max_iter": 1000, "recency": 0.5, "solver": "newton", "tol": 1e-6}
    with pytest.raises(ValueError, match=r"does not match this build's"):
        PFA.from_dict({**payload, "params": {**payload["params"], "recency": None}})
    with pytest.raises(ValueError, match=r"^pfa: 3 coefficients for \d+ columns$"):
        PFA.from_dict({**payload, "coef": [0.0, 1.0, 2.0]})
    with pytest.raises(ValueError):
        AFM.from_dict(payload)


# ---- feature sets and layouts -------------------------------------------------------------------------
def test_feature_set_validation_and_round_trip() -> None:
    fs = FeatureSet(onehot=("item",), scalar=("total_wins_r0",), per_skill=("skill_fails",), skill_sum=("skill_attempts",),
                    extra=("e",), decays=(0.0,), transform="identity")
    assert FeatureSet.from_dict(fs.to_dict()) == fs
    assert fs.to_dict()["decays"] == [0.0] and fs.to_dict()["transform"] == "identity"
    bad = [
        ({"transform": "log"}, r"^transform must be one of \('log1p', 'identity'\), got 'log'$"),
        ({"onehot": ("student",)}, r"^onehot entries must be 'item' or 'skill', got \['student'\]$"),
        ({"decays": (1.0,)}, r"^decay rates must lie in \[0, 1\), got \(1\.0,\)$"),
        ({"decays": (-0.1,)}, r"decay rates"),
        ({"scalar": ("skill_wins",)}, r"^unknown statistic\(s\) \['skill_wins'\]; known per scope: \['attempts', 'wins', 'fails'\]$"),
        ({"scalar": ("total_wins_r0",)}, r"unknown statistic"),
        ({"per_skill": ("total_wins",)}, r"unknown statistic"),
        ({"skill_sum": ("skill_bogus",)}, r"unknown statistic"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            FeatureSet(**kwargs)
    FeatureSet(decays=(0.0, 0.999), scalar=("item_fails_r1",))


def test_layout_offsets_names_matrix_and_row() -> None:
    fs = FeatureSet(onehot=("item", "skill"), scalar=("total_attempts",), per_skill=("skill_wins",), skill_sum=("skill_attempts",), extra=("e",))
    lay = Layout(fs, ["i1", "i2"], ["k1", "k2", "k3"])
    assert lay.offsets == {"onehot:item": 0, "onehot:skill": 2, "scalar:total_attempts": 5, "per_skill:skill_wins": 6,
                           "skill_sum:skill_attempts": 9, "extra:e": 10}
    assert lay.n_columns == 11
    assert lay.column_names() == ["item=i1", "item=i2", "skill=k1", "skill=k2", "skill=k3", "scalar:total_attempts",
                                  "skill_wins[k1]", "skill_wins[k2]", "skill_wins[k3]", "skill_sum:skill_attempts", "extra:e"]
    frame = pl.DataFrame({"student_id": ["a", "a", "a"], "item_id": ["i2", "i1", "i8"], "skill_ids": [["k1", "k9"], ["k1"], ["k2", "k1"]],
                          "correct": [1.0, 0.0, 1.0], "seq": [0, 1, 2]}, schema=SCHEMA)
    ordered = sequential_order(frame)
    m = lay.matrix(ordered["item_id"], response_history(ordered), skill_history(ordered), {"e": np.array([0.5, -1.0, 2.0])})
    l2 = math.log1p
    want = [
        [0, 1, 1, 0, 0, 0.0, 0.0, 0, 0, 0.0, 0.5],
        [1, 0, 1, 0, 0, l2(1), l2(1), 0, 0, l2(1) + 0.0, -1.0],  # k1 seen once (right); k9 none
        [0, 0, 1, 1, 0, l2(2), l2(1), 0.0, 0, l2(0) + l2(2), 2.0],  # unseen item i8: no item column
    ]
    np.testing.assert_allclose(m.toarray(), want, atol=1e-12)
    # the online row of the third response gives the same columns and values
    stats = {"total": {"attempts": 2.0, "wins": 1.0, "fails": 1.0}, "item": {"attempts": 0.0, "wins": 0.0, "fails": 0.0},
             "k2": {"attempts": 0.0, "wins": 0.0, "fails": 0.0}, "k1": {"attempts": 2.0, "wins": 1.0, "fails": 1.0}}
    cols, vals = lay.row("i8", ["k2", "k1", "k2"], stats, {"e": 2.0})
    dense = np.zeros(11)
    np.add.at(dense, cols, vals)
    np.testing.assert_allclose(dense, want[2], atol=1e-12)
    with pytest.raises(ValueError, match=r"^extra feature 'e' was not supplied$"):
        lay.matrix(ordered["item_id"], response_history(ordered), skill_history(ordered), None)
    with pytest.raises(ValueError, match=r"^extra feature 'e' was not supplied$"):
        lay.row("i1", [], stats, {})
    empty = Layout(FeatureSet(), ["i1"], [])
    assert empty.n_columns == 0 and empty.matrix(ordered["item_id"], response_history(ordered), skill_history(ordered)).shape == (3, 0)
    assert empty.row("i1", ["k1"], stats) == ([], [])


def test_transforms_and_vocabulary_index() -> None:
    np.testing.assert_allclose(apply_transform(np.array([0.0, 1.0, 3.0]), "log1p"), np.log1p([0.0, 1.0, 3.0]))
    assert apply_transform(np.array([0.0, 3.0]), "identity").tolist() == [0.0, 3.0]
    got = vocabulary_index(pl.Series(["b", "z", "a", "b"]), {"a": 0, "b": 1})
    assert got.tolist() == [1, -1, 0, 1]
    assert vocabulary_index(pl.Series([1, 2]), {"2": 0}).tolist() == [-1, 0]
