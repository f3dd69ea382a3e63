"""BKT forward step against hand computation, online update = batch prediction, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from models.bkt import BKT


def hand_model(forget: float = 0.0) -> BKT:
    """Skill A: prior 0.4, learn 0.2, guess 0.25, slip 0.1. Skill B: prior 0.5, learn 0, guess 0.5, slip 0.5."""
    params = {"prior": [0.4, 0.5, 0.3], "learn": [0.2, 0.0, 0.1], "forget": [forget, 0.0, 0.0],
              "guess": [0.25, 0.5, 0.2], "slip": [0.1, 0.5, 0.1]}
    return BKT.from_dict({
        "model": "bkt", "format_version": 1, "params": BKT(forgets=forget > 0).get_params(), "skills": ["A", "B"],
        **params, "n_responses": [100, 100], "loglik": [0.0, 0.0], "n_iter": [1, 1], "sparse_skills": [],
        "item_guess_slip": None, "group_prior": None, "global_mean": 0.6, "n_no_skill": 0,
    })


def frame(student: list[str], skills: list[list[str]], correct: list[float], seq: list[int] | None = None) -> pl.DataFrame:
    return pl.DataFrame({
        "student_id": student, "item_id": ["i"] * len(student), "skill_ids": skills, "correct": correct,
        "seq": seq if seq is not None else list(range(len(student))),
    }, schema={"student_id": pl.Utf8, "item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8), "correct": pl.Float64, "seq": pl.Int64})


def test_bkt_forward_step_by_hand() -> None:
    # P(c1) = 0.4*0.9 + 0.6*0.25 = 0.51
    # after a correct answer: P(L|c) = 0.36/0.51 = 12/17; P(L2) = 12/17 + (5/17)*0.2 = 13/17
    #   P(c2) = (13/17)*0.9 + (4/17)*0.25 = 12.7/17
    # after a wrong answer: P(L|w) = 0.04/0.49 = 4/49; P(L2) = 4/49 + (45/49)*0.2 = 13/49
    #   P(c2) = (13/49)*0.9 + (36/49)*0.25 = 20.7/49
    model = hand_model()
    p = model.predict_proba(frame(["s", "s", "t", "t"], [["A"]] * 4, [1.0, 1.0, 0.0, 1.0]))
    np.testing.assert_allclose(p, [0.51, 12.7 / 17, 0.51, 20.7 / 49], rtol=1e-12)


def test_bkt_forgetting_step_by_hand() -> None:
    # forget 0.1: P(L2) = (12/17)*0.9 + (5/17)*0.2 = 11.8/17; P(c2) = (11.8/17)*0.9 + (5.2/17)*0.25 = 11.92/17
    model = hand_model(forget=0.1)
    p = model.predict_proba(frame(["s", "s"], [["A"]] * 2, [1.0, 0.0]))
    np.testing.assert_allclose(p, [0.51, 11.92 / 17], rtol=1e-12)


def test_bkt_multi_skill_row_is_the_mean_of_its_skills() -> None:
    # row 1 tags A and B: mean(0.51, 0.5*0.5 + 0.5*0.5) = 0.505; the correct answer then updates both skills:
    # A as above (12.7/17); B has guess = 1 - slip, so it carries no evidence and stays at 0.5
    model = hand_model()
    p = model.predict_proba(frame(["s", "s", "s"], [["A", "B"], ["A"], ["B"]], [1.0, 0.0, 1.0]))
    np.testing.assert_allclose(p, [0.505, 12.7 / 17, 0.5], rtol=1e-12)


def test_bkt_online_update_matches_batch() -> None:
    model = hand_model(forget=0.05)
    rng = np.random.default_rng(0)
    skills = [["A"], ["B"], ["A", "B"], ["C"], ["A"]] * 6
    correct = rng.integers(0, 2, len(skills)).astype(float).tolist()
    batch = model.predict_proba(frame(["s"] * len(skills), skills, correct))
    state = model.initial_state()
    online = []
    for sk, c in zip(skills, correct):
        online.append(model.predict_next(state, "i", sk))
        state = model.update(state, {"item_id": "i", "skill_ids": sk, "correct": c})
    np.testing.assert_allclose(online, batch, rtol=1e-12)
    json.dumps(state)  # the state is JSON-ready


def test_bkt_long_run_keeps_precision() -> None:
    # each correct answer multiplies the odds U:L by at most 0.8 * 0.25 / 0.9 = 0.22, so 40 of them bring
    # P(unlearned) below 1e-26 (1 - p would round it to 0: mastery stuck at exactly 1.0 for ever); each
    # wrong answer multiplies the odds by about 0.8 * 0.75 / 0.1 = 6 and 6**60 > 1e46, so after 60 wrong
    # answers P(correct) is back at its floor under learn = 0.2 (P(L) -> 0.2306, P(correct) -> 0.40)
    model = hand_model()
    correct = [1.0] * 40 + [0.0] * 60
    p = model.predict_proba(frame(["s"] * 100, [["A"]] * 100, correct))
    assert p[39] == pytest.approx(0.9) and p[-1] == pytest.approx(0.40, abs=0.01)


def test_bkt_json_round_trip_fitted() -> None:
    rng = np.random.default_rng(1)
    n = 400
    data = frame([f"u{i // 10}" for i in range(n)], [["A"] if i % 3 else ["B"] for i in range(n)],
                 rng.integers(0, 2, n).astype(float).tolist())
    for model in (BKT(forgets=True), BKT(item_params=True)):
        model.fit(data)
        again = BKT.from_dict(json.loads(json.dumps(model.to_dict())))
        np.testing.assert_array_equal(again.predict_proba(data), model.predict_proba(data))


def test_bkt_mastery_table_matches_online_state() -> None:
    model = hand_model()
    data = frame(["s", "s", "s", "t"], [["A"], ["Z"], ["A"], ["B"]], [1.0, 1.0, 0.0, 1.0])
    table = model.mastery(data)
    state = model.initial_state()
    for sk, c in [(["A"], 1.0), (["Z"], 1.0), (["A"], 0.0)]:
        model.update(state, {"item_id": "i", "skill_ids": sk, "correct": c})
    got = {(r["student_id"], r["skill_id"]): r["p_learned"] for r in table.iter_rows(named=True)}
    assert set(got) == {("s", "A"), ("s", "Z"), ("t", "B")}
    assert got[("s", "A")] == pytest.approx(model.mastery_of(state, "A"))
    assert got[("s", "Z")] == pytest.approx(model.mastery_of(state, "Z"))  # unseen skill Z: pooled parameters
    assert got[("t", "B")] == pytest.approx(0.5)  # skill B carries no evidence (guess = 1 - slip), learn = 0
