"""Elo (models/elo.py) against a plain-Python reading of its module docstring, response by response.

The reference below is written from the documented model only: logit = theta_s + mean over the item's
distinct skills of theta_sk - d_i; U(n) = alpha / (1 + beta n) per parameter kind; students' t-th
responses form step t; within a step each item gets one update with the mean error of its responses;
`epochs` passes with counts (and students) restarting, difficulties carried over and centred at the end;
at prediction difficulties are fixed, unseen items have difficulty 0, unseen skills count in the mean
with value 0 and are never updated. It shares no code with the vectorized implementation.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import polars as pl
import pytest

from models.elo import Elo

SCHEMA = {"student_id": pl.Utf8, "item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8), "correct": pl.Float64, "seq": pl.Int64}
PARAMS = {"alpha": 0.7, "beta": 0.3, "skill_alpha": 0.5, "skill_beta": 0.2, "item_alpha": 0.9, "item_beta": 0.4}
DEFAULTS = {"alpha": 1.0, "beta": 0.05, "skill_alpha": 0.8, "skill_beta": 0.1, "item_alpha": 1.0, "item_beta": 0.05}

# rows given out of order; a, b and c all answer i1 at their first step (one item update, mean error);
# a response with a repeated skill, one with no skill, partial credit 0.5
# and the last row in (student, seq) order ("d") has no skill at all
TRAIN = pl.DataFrame({
    "student_id": ["a", "b", "a", "c", "b", "a", "c", "b", "a", "d"],
    "item_id": ["i1", "i1", "i2", "i1", "i3", "i3", "i2", "i2", "i1", "i3"],
    "skill_ids": [["k1"], ["k1"], ["k1", "k2"], ["k1"], ["k2", "k2"], [], ["k1", "k2"], ["k1", "k2"], ["k1"], []],
    "correct": [1.0, 0.0, 0.0, 1.0, 1.0, 0.5, 1.0, 1.0, 0.0, 0.0],
    "seq": [0, 1, 1, 2, 2, 2, 3, 3, 3, 0],
}, schema=SCHEMA)
TEST = pl.DataFrame({
    "student_id": ["y", "x", "x", "y", "x", "z"],
    "item_id": ["i2", "i9", "i1", "i3", "i2", "i1"],  # i9 was never seen in training
    "skill_ids": [["k2"], ["k9", "k1"], ["k1"], ["k2", "k1"], ["k9"], []],  # k9 neither; z's row has no skill
    "correct": [1.0, 1.0, 0.0, 1.0, 0.0, 1.0],
    "seq": [5, 1, 0, 7, 4, 0],
}, schema=SCHEMA)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _reference(train: pl.DataFrame, test: pl.DataFrame, params: dict[str, float], epochs: int) -> tuple[dict, list]:
    """(difficulty by item after centring, P(correct) per test row in input order)."""
    def sequences(frame: pl.DataFrame) -> dict[str, list[tuple[int, dict]]]:
        by_student: dict[str, list[tuple[int, dict]]] = defaultdict(list)
        for row_number, row in enumerate(frame.iter_rows(named=True)):
            by_student[row["student_id"]].append((row_number, row))
        return {s: sorted(rows, key=lambda r: r[1]["seq"]) for s, rows in by_student.items()}

    def run(seqs: dict, d: dict[str, float], learn_items: bool, known_skills: set[str]) -> dict[int, float]:
        theta, n_theta = defaultdict(float), defaultdict(int)
        skill, n_skill = defaultdict(float), defaultdict(int)
        n_item: dict[str, int] = defaultdict(int)
        prob: dict[int, float] = {}
        for t in range(max(len(rows) for rows in seqs.values())):
            item_errors: dict[str, list[float]] = defaultdict(list)
            for s, rows in seqs.items():
                if t >= len(rows):
                    continue
                row_number, row = rows[t]
                skills = list(dict.fromkeys(row["skill_ids"]))
                mean_skill = sum(skill[s, k] for k in skills) / max(len(skills), 1)
                p = _sigmoid(theta[s] + mean_skill - d.get(row["item_id"], 0.0))
                prob[row_number] = p
                err = row["correct"] - p
                theta[s] += params["alpha"] / (1 + params["beta"] * n_theta[s]) * err
                n_theta[s] += 1
                for k in skills:
                    if k in known_skills:
                        skill[s, k] += params["skill_alpha"] / (1 + params["skill_beta"] * n_skill[s, k]) * err
                        n_skill[s, k] += 1
                item_errors[row["item_id"]].append(err)
            if learn_items:
                for item, errors in item_errors.items():
                    d[item] -= params["item_alpha"] / (1 + params["item_beta"] * n_item[item]) * sum(errors) / len(errors)
                    n_item[item] += 1
        return prob

    skills = {k for ks in train["skill_ids"].to_list() for k in ks}
    d = {item: 0.0 for item in train["item_id"].to_list()}
    for _ in range(epochs):
        run(sequences(train), d, True, skills)
    mean = sum(d.values()) / len(d)
    d = {item: value - mean for item, value in d.items()}
    prob = run(sequences(test), dict(d), False, skills)
    return d, [prob[i] for i in range(test.height)]


@pytest.mark.parametrize(("params", "epochs"), [(PARAMS, 1), (PARAMS, 3), (DEFAULTS, 1)])
def test_fit_and_prediction_equal_the_documented_updates(params: dict[str, float], epochs: int) -> None:
    model = Elo(**params, epochs=epochs) if params is not DEFAULTS else Elo()
    model.fit(TRAIN)
    difficulty, prob = _reference(TRAIN, TEST, params, epochs)
    assert model.items_ == ["i1", "i2", "i3"] and model.skills_ == ["k1", "k2"]
    np.testing.assert_allclose(model.difficulty_, [difficulty[i] for i in model.items_], rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.predict_proba(TEST), prob, rtol=0, atol=1e-12)
    # the training log itself, predicted with the fitted difficulties
    np.testing.assert_allclose(model.predict_proba(TRAIN), _reference(TRAIN, TRAIN, params, epochs)[1], rtol=0, atol=1e-12)


def test_item_counts_are_the_updates_of_the_last_epoch() -> None:
    """A step is a position in each student's sequence (not a `seq` value): i1 is answered at steps 0
    (a, b and c together) and 3, i2 at 1 (a, c) and 2 (b), i3 at 0 (d), 1 (b) and 2 (a): 2, 2 and 3
    updates from 4, 3 and 3 responses; the counts restart with each epoch."""
    model = Elo(epochs=2).fit(TRAIN)
    assert model.item_counts_.tolist() == [2.0, 2.0, 3.0]
    assert Elo.from_dict(model.to_dict()).item_counts_.tolist() == [2.0, 2.0, 3.0]


def test_online_updates_equal_the_reference_for_a_new_student() -> None:
    model = Elo(**PARAMS).fit(TRAIN)
    _, prob = _reference(TRAIN, TEST, PARAMS, 1)
    state = model.initial_state()
    x_rows = [i for i in np.argsort(TEST["seq"].to_numpy()) if TEST["student_id"][int(i)] == "x"]
    for i in x_rows:
        row = TEST.row(int(i), named=True)
        assert model.predict_next(state, row["item_id"], row["skill_ids"]) == pytest.approx(prob[int(i)], abs=1e-12)
        model.update(state, row)
    assert state["n"] == 3
    assert set(state["skills"]) == {"k1"}  # k9 is unseen: no parameter, as in the batch path
    assert state["skills"]["k1"][1] == 2  # and k1, listed after k9, is still updated


def test_parameters_round_trip_for_scikit_learn() -> None:
    """`clone` rebuilds the estimator from `get_params`: every constructor argument must come back as given."""
    from sklearn.base import clone

    model = Elo(**PARAMS, epochs=2, random_state=3)
    assert model.get_params() == {**PARAMS, "epochs": 2, "random_state": 3}
    assert clone(model).get_params() == model.get_params()


def test_from_dict_rejects_a_difficulty_count_that_differs_from_the_item_count() -> None:
    payload = Elo().fit(TRAIN).to_dict()
    with pytest.raises(ValueError, match="2 difficulties for 3 items"):
        Elo.from_dict({**payload, "difficulty": payload["difficulty"][:2]})


def test_parameter_checks_accept_zero_and_reject_infinite_or_negative_values() -> None:
    Elo(alpha=0.0, beta=0.0, skill_alpha=0.0, skill_beta=0.0, item_alpha=0.0, item_beta=0.0).fit(TRAIN)
    for name in DEFAULTS:
        with pytest.raises(ValueError, match=name):
            Elo(**{name: math.inf}).fit(TRAIN)
        with pytest.raises(ValueError, match=name):
            Elo(**{name: -0.1}).fit(TRAIN)
    with pytest.raises(ValueError, match="epochs"):
        Elo(epochs=0).fit(TRAIN)
    with pytest.raises(ValueError, match="correct"):
        Elo().fit(TRAIN).update(Elo().initial_state(), {"item_id": "i1", "skill_ids": [], "correct": -0.1})
