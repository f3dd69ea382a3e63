"""The `IRT` estimator over response frames: sequential prediction without look-ahead, online update,
unseen items, JSON round trip, and the `kt evaluate` registration."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

import models.irt.estimator as estimator_module
from models.irt import IRT, OnlineAbility
from models.irt.simulate import simulate


def _frame(seed: int, n_students: int = 300, n_items: int = 15, per: int | None = None) -> pl.DataFrame:
    sim = simulate(n_students, n_items, per, "2pl", random_state=seed)
    seq = np.tile(np.arange(len(sim.item) // n_students), n_students)
    return pl.DataFrame({
        "student_id": [f"s{v}" for v in sim.student], "item_id": [f"i{v}" for v in sim.item],
        "correct": sim.correct.astype(float), "seq": seq,
    })


@pytest.fixture(scope="module")
def fitted() -> IRT:
    return IRT(model="2pl", standard_errors="none").fit(_frame(0))


def test_irt_predictions_use_only_earlier_responses(fitted: IRT) -> None:
    test = _frame(1, n_students=20)
    p = fitted.predict_proba(test)
    # flipping a student's later answers leaves that student's earlier predictions unchanged
    flipped = test.with_columns(
        pl.when((pl.col("student_id") == "s3") & (pl.col("seq") >= 7)).then(1.0 - pl.col("correct")).otherwise(pl.col("correct")).alias("correct")
    )
    q = fitted.predict_proba(flipped)
    early = ((test["student_id"] == "s3") & (test["seq"] <= 7)).to_numpy()
    np.testing.assert_allclose(p[early], q[early], rtol=0, atol=1e-12)  # equal up to rounding
    assert not np.allclose(p[~early & (test["student_id"] == "s3").to_numpy()], q[~early & (test["student_id"] == "s3").to_numpy()])
    # first response of each student: the prior's EAP (0) plugged in
    a, b, c = fitted.item_parameters(test["item_id"])
    first = (test["seq"] == 0).to_numpy()
    np.testing.assert_allclose(p[first], 1 / (1 + np.exp(a[first] * b[first])), atol=1e-6)


def test_irt_predictions_match_the_online_update_and_survive_chunking(fitted: IRT, monkeypatch: pytest.MonkeyPatch) -> None:
    test = _frame(2, n_students=6).sample(fraction=1.0, shuffle=True, seed=1)  # rows in any order
    p = fitted.predict_proba(test)
    online = OnlineAbility()
    for sid in test["student_id"].unique():
        rows = test.with_row_index("r").filter(pl.col("student_id") == sid).sort("seq")
        state = online.initial_state()
        for r, item, y in zip(rows["r"], rows["item_id"], rows["correct"]):
            a, b, c = (float(v[0]) for v in fitted.item_parameters([item]))
            theta = online.summary(state)[0]
            assert p[r] == pytest.approx(c + (1 - c) / (1 + np.exp(-a * (theta - b))), abs=1e-9)
            state = online.update(state, a, b, c, y)
    monkeypatch.setattr(estimator_module, "PREDICT_CHUNK", 7)  # students straddle chunk borders
    np.testing.assert_allclose(fitted.predict_proba(test), p, atol=1e-12)


def test_irt_unseen_items_get_the_bank_mean(fitted: IRT) -> None:
    a, b, c = fitted.item_parameters(["never-seen"])
    assert a[0] == pytest.approx(np.mean(fitted.bank_.a)) and b[0] == pytest.approx(np.mean(fitted.bank_.b))


def test_irt_update_and_json_round_trip(fitted: IRT) -> None:
    state = fitted.update(fitted.initial_state(), {"item_id": "i0", "correct": 1})
    theta, sd = fitted.ability(state)
    assert theta > 0 and sd < 1
    back = IRT.from_dict(json.loads(json.dumps(fitted.to_dict())))
    test = _frame(3, n_students=10)
    np.testing.assert_array_equal(back.predict_proba(test), fitted.predict_proba(test))
    with pytest.raises(ValueError, match="expected a serialized 'irt'"):
        IRT.from_dict({"model": "bkt", "format_version": 1})


def test_irt_is_registered_for_kt_evaluate() -> None:
    from engine.evaluation.zoo import make_model

    model = make_model("irt")
    assert isinstance(model, IRT)
    train = _frame(4, n_students=200, n_items=30, per=8)
    p = model.fit(train).predict_proba(_frame(5, n_students=20, n_items=30, per=8))
    assert np.all((p > 0) & (p < 1))
