"""Baselines, the model protocol helpers and the validation selection (models/{baselines,base}.py,
models/ensemble/selection.py) against hand-computed values and scikit-learn's `roc_auc_score`.
"""

from __future__ import annotations

import logging

import numpy as np
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from models.base import Hyperparameters, check_fitted, check_format, json_params
from models.baselines import GlobalMean, SmoothedItemMean
from models.ensemble.selection import choose, select_on_validation, validation_auc, validation_split

TRAIN = pl.DataFrame({"student_id": ["a", "a", "b", "b", "c"], "item_id": ["i1", "i2", "i1", "i1", "i2"],
                      "correct": [1.0, 0.0, 1.0, 0.5, 1.0]})
TEST = pl.DataFrame({"student_id": ["x", "x", "y"], "item_id": ["i2", "i9", "i1"], "correct": [1.0, 0.0, 1.0]})


def test_global_mean() -> None:
    model = GlobalMean().fit(TRAIN)
    assert model.mean_ == pytest.approx(3.5 / 5)
    assert model.predict_proba(TEST).tolist() == pytest.approx([0.7] * 3)
    assert model.predict_proba(TEST.head(0)).shape == (0,)
    payload = model.to_dict()
    assert payload == {"model": "baseline-mean", "format_version": 1, "mean": pytest.approx(0.7)}
    assert GlobalMean.from_dict(payload).mean_ == pytest.approx(0.7)
    with pytest.raises(RuntimeError, match=r"^GlobalMean is not fitted yet; call fit\(responses\) first$"):
        GlobalMean().predict_proba(TEST)
    with pytest.raises(ValueError, match="expected a serialized 'baseline-mean' model"):
        GlobalMean.from_dict({**payload, "model": "baseline-item"})
    assert GlobalMean().get_params() == {}


def test_smoothed_item_mean_by_hand() -> None:
    mean = 0.7
    model = SmoothedItemMean(prior_weight=2.0).fit(TRAIN)
    # i1: (1 + 1 + 0.5 + 2 * 0.7) / (3 + 2); i2: (0 + 1 + 2 * 0.7) / (2 + 2); unseen i9: the global mean
    want = {"i1": (2.5 + 2 * mean) / 5, "i2": (1.0 + 2 * mean) / 4}
    assert model.item_p_ == pytest.approx(want)
    assert model.global_mean_ == pytest.approx(mean)
    assert model.predict_proba(TEST).tolist() == pytest.approx([want["i2"], mean, want["i1"]])
    default = SmoothedItemMean().fit(TRAIN)
    assert default.prior_weight == 5.0
    assert default.item_p_["i1"] == pytest.approx((2.5 + 5 * mean) / 8)
    payload = model.to_dict()
    assert payload["model"] == "baseline-item" and payload["format_version"] == 1 and payload["prior_weight"] == 2.0
    back = SmoothedItemMean.from_dict(payload)
    assert back.prior_weight == 2.0 and back.item_p_ == pytest.approx(want) and back.global_mean_ == pytest.approx(mean)
    np.testing.assert_allclose(back.predict_proba(TEST), model.predict_proba(TEST))
    with pytest.raises(RuntimeError, match="SmoothedItemMean is not fitted yet"):
        SmoothedItemMean().to_dict()
    with pytest.raises(ValueError, match=r"^baseline-item: unsupported format_version 2 \(this build reads 1\)$"):
        SmoothedItemMean.from_dict({**payload, "format_version": 2})
    assert SmoothedItemMean(prior_weight=3.0).get_params() == {"prior_weight": 3.0}
    assert clone(SmoothedItemMean(prior_weight=3.0)).prior_weight == 3.0


class Inner(Hyperparameters):
    def __init__(self, alpha: float = 1.0, beta: str = "x") -> None:
        self.alpha, self.beta = alpha, beta


class Outer(Hyperparameters):
    def __init__(self, inner: Inner | None = None, zeta: int = 3, kind: type = int) -> None:
        self.inner, self.zeta, self.kind = inner, zeta, kind


def test_hyperparameters_get_and_set() -> None:
    outer = Outer(Inner(2.0, "y"), 4)
    assert outer.get_params(deep=False) == {"inner": outer.inner, "kind": int, "zeta": 4}
    assert outer.get_params() == {"inner__alpha": 2.0, "inner__beta": "y", "inner": outer.inner, "kind": int, "zeta": 4}
    assert list(outer.get_params()) == ["inner__alpha", "inner__beta", "inner", "kind", "zeta"]
    assert outer.set_params(zeta=9, inner__alpha=5.0) is outer
    assert outer.zeta == 9 and outer.inner.alpha == 5.0 and outer.inner.beta == "y"
    with pytest.raises(ValueError, match=r"^Outer has no hyperparameter 'gamma'; valid ones: inner, kind, zeta$"):
        outer.set_params(gamma=1)
    with pytest.raises(ValueError, match=r"^GlobalMean has no hyperparameter 'x'; valid ones: \(none\)$"):
        GlobalMean().set_params(x=1)
    copy = clone(outer)
    assert copy is not outer and copy.inner is not outer.inner and copy.inner.alpha == 5.0

    class Star(Hyperparameters):
        def __init__(self, *args: int) -> None:
            self.args = args

    with pytest.raises(TypeError, match=r"^Star.__init__ takes \*args/\*\*kwargs; hyperparameters must be named arguments$"):
        Star().get_params()
    tags = Outer().__sklearn_tags__()
    assert tags.target_tags.required is False and tags.estimator_type is None


def test_format_checks_and_json_params() -> None:
    check_format({"model": "m", "format_version": 2}, "m", 2)
    with pytest.raises(ValueError, match=r"^expected a serialized 'm' model, got None$"):
        check_format({}, "m", 1)
    with pytest.raises(ValueError, match=r"^m: unsupported format_version None \(this build reads 1\)$"):
        check_format({"model": "m"}, "m", 1)
    check_fitted(GlobalMean().fit(TRAIN), "mean_")
    assert json_params({"a": (1, 2), "b": [3], "c": None}) == {"a": [1, 2], "b": [3], "c": None}


# ---- validation selection --------------------------------------------------------------------------
FRAME = pl.DataFrame({"student_id": [f"s{i}" for i in range(10) for _ in range(2)], "correct": [1.0, 0.0] * 10})


def test_validation_split_by_student() -> None:
    fit, held = validation_split(FRAME, 0.2, seed=0)
    students = np.sort(FRAME["student_id"].unique().to_numpy())
    want = set(np.random.default_rng(0).permutation(students)[:2])
    assert set(held["student_id"].unique().to_list()) == want
    assert fit.height + held.height == FRAME.height and not set(fit["student_id"]) & want
    assert held["student_id"].to_list() == [s for s in FRAME["student_id"].to_list() if s in want]  # order kept
    assert validation_split(FRAME, 0.01)[1]["student_id"].n_unique() == 1  # at least one
    assert validation_split(FRAME, 0.99)[0]["student_id"].n_unique() == 2  # at least two to fit on
    assert validation_split(FRAME, 0.25)[1]["student_id"].n_unique() == 2  # round(2.5) = 2
    assert validation_split(FRAME, 0.35)[1]["student_id"].n_unique() == 4  # round(3.5) = 4
    three = FRAME.filter(pl.col("student_id").is_in(["s0", "s1", "s2"]))
    assert validation_split(three, 0.9)[1]["student_id"].n_unique() == 1
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match=rf"^validation_fraction must be in \(0, 1\), got {bad!r}$"):
            validation_split(FRAME, bad)
    with pytest.raises(ValueError, match=r"needs at least 3 training students \(2 to fit, 1 to validate\), got 2$"):
        validation_split(FRAME.filter(pl.col("student_id").is_in(["s0", "s1"])))


def test_validation_auc_and_choice(caplog: pytest.LogCaptureFixture) -> None:
    y = np.array([1.0, 0.5, 0.4, 0.0])
    p = np.array([0.2, 0.9, 0.1, 0.3])
    assert validation_auc(y, p) == pytest.approx(roc_auc_score([1, 1, 0, 0], p))
    assert validation_auc(np.array([0.5, 1.0]), p[:2]) is None
    assert validation_auc(np.array([0.0, 0.49]), p[:2]) is None
    assert choose([0.6, None, 0.7, 0.7, float("nan")]) == 2
    assert choose([float("nan"), 0.1]) == 1
    with caplog.at_level(logging.WARNING, logger="models.ensemble.selection"):
        assert choose([None, float("nan")]) == 0
    assert "no candidate has a defined validation AUC" in caplog.text
    assert choose([-5.0]) == 0


def test_select_on_validation_scores_every_candidate() -> None:
    frame = pl.DataFrame({"student_id": [f"s{i}" for i in range(6) for _ in range(4)],
                          "item_id": ["i1", "i2", "i3", "i4"] * 6,
                          "correct": [1.0, 1.0, 0.0, 0.0] * 3 + [1.0, 0.0, 1.0, 0.0] * 3})
    sel = select_on_validation([{"prior_weight": 1.0}, {"prior_weight": 50.0}], lambda c: SmoothedItemMean(**c), frame, 0.34, seed=1)
    fit, held = validation_split(frame, 0.34, 1)
    want = [validation_auc(held["correct"].to_numpy(), SmoothedItemMean(prior_weight=w).fit(fit).predict_proba(held))
            for w in (1.0, 50.0)]
    assert sel.validation_auc == pytest.approx(want)
    assert sel.chosen == choose(want) and sel.chosen_config == sel.candidates[sel.chosen]
    assert (sel.fit_students, sel.validation_students, sel.validation_responses) == (4, 2, 8)
    assert sel.validation_fraction == 0.34 and sel.seed == 1
    assert sel.to_dict()["candidates"] == [{"prior_weight": 1.0}, {"prior_weight": 50.0}]
    with pytest.raises(ValueError, match=r"^select_on_validation needs at least one candidate$"):
        select_on_validation([], lambda c: SmoothedItemMean(), frame)


def test_smoothed_item_mean_without_items_predicts_the_global_mean() -> None:
    # a payload whose item table is empty (every item unseen): each row gets the global mean
    model = SmoothedItemMean.from_dict({"model": "baseline-item", "format_version": 1, "prior_weight": 5.0,
                                        "global_mean": 0.6, "item_p": {}})
    assert model.predict_proba(TEST).tolist() == pytest.approx([0.6, 0.6, 0.6])
