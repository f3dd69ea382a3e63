"""Elo learner model: the update computed by hand, difficulty recovery, online == batch, JSON, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest
from scipy.special import expit

from models.elo import Elo

SCHEMA = {"student_id": pl.Utf8, "item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8), "correct": pl.Float64, "seq": pl.Int64}


def fitted(difficulty: dict[str, float]) -> Elo:
    """An Elo with given item difficulties and one skill k1 (through from_dict, no fitting)."""
    return Elo.from_dict({
        "model": "elo", "format_version": 1, "params": Elo().get_params(),
        "items": list(difficulty), "skills": ["k1"], "difficulty": list(difficulty.values()), "item_counts": [10.0] * len(difficulty),
    })


def sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_two_updates_match_hand_computation() -> None:
    model = fitted({"i1": 0.5, "i2": -0.5})  # defaults: U(n) = 1/(1+0.05n) student, 0.8/(1+0.1n) skill
    state = model.initial_state()
    p1 = sig(0.0 + 0.0 - 0.5)
    assert model.predict_next(state, "i1", ["k1"]) == pytest.approx(p1)
    model.update(state, {"item_id": "i1", "skill_ids": ["k1"], "correct": 1})
    theta, skill = 1.0 * (1 - p1), 0.8 * (1 - p1)
    assert state["theta"] == pytest.approx(theta) and state["skills"]["k1"][0] == pytest.approx(skill)
    p2 = sig(theta + skill + 0.5)
    assert model.predict_next(state, "i2", ["k1"]) == pytest.approx(p2)
    model.update(state, {"item_id": "i2", "skill_ids": ["k1"], "correct": 0})
    assert state["theta"] == pytest.approx(theta + 1.0 / (1 + 0.05) * (0 - p2))
    assert state["skills"]["k1"][0] == pytest.approx(skill + 0.8 / (1 + 0.1) * (0 - p2))
    # an unknown item has the average difficulty 0; an unknown skill adds nothing but counts in the mean
    z = state["theta"] + state["skills"]["k1"][0] / 2
    assert model.predict_next(state, "new-item", ["k1", "new-skill"]) == pytest.approx(sig(z))


def rasch_log(n_students: int = 800, n_items: int = 40, length: int = 30, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    b = np.linspace(-2, 2, n_items)
    theta = rng.normal(0, 1, n_students)
    students = np.repeat(np.arange(n_students), length)
    items = rng.integers(0, n_items, n_students * length)
    y = (rng.random(students.size) < expit(theta[students] - b[items])).astype(float)
    log = pl.DataFrame(
        {"student_id": [f"s{s}" for s in students], "item_id": [f"i{i:02d}" for i in items], "skill_ids": [["k"]] * students.size,
         "correct": y, "seq": np.tile(np.arange(length), n_students)},
        schema=SCHEMA,
    )
    return log, b


def test_fit_recovers_item_difficulty_order() -> None:
    log, b = rasch_log()
    model = Elo().fit(log)
    est = model.difficulty_[[model.items_.index(f"i{i:02d}") for i in range(b.size)]]
    assert np.corrcoef(est, b)[0, 1] > 0.95
    assert abs(est.mean()) < 1e-9  # centred


def test_batch_prediction_equals_online_updates_and_json_round_trip() -> None:
    log, _ = rasch_log(n_students=200)
    model = Elo().fit(log)
    one = log.filter(pl.col("student_id") == "s7").sort("seq")
    state = model.initial_state()
    online = []
    for row in one.iter_rows(named=True):
        online.append(model.predict_next(state, row["item_id"], row["skill_ids"]))
        model.update(state, row)
    assert online == pytest.approx(model.predict_proba(one).tolist(), abs=1e-12)
    again = Elo.from_dict(json.loads(json.dumps(model.to_dict())))
    assert again.predict_proba(log) == pytest.approx(model.predict_proba(log))
    json.dumps(state)


def test_bad_input() -> None:
    log, _ = rasch_log(n_students=20)
    with pytest.raises(ValueError, match="empty"):
        Elo().fit(log.head(0))
    with pytest.raises(ValueError, match="alpha"):
        Elo(alpha=-1).fit(log)
    model = Elo().fit(log)
    with pytest.raises(ValueError, match="correct"):
        model.update(model.initial_state(), {"item_id": "i01", "skill_ids": ["k"], "correct": 2})
    with pytest.raises(ValueError, match="expected a serialized"):
        Elo.from_dict({**model.to_dict(), "model": "bkt"})
