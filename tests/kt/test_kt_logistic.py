"""Logistic learner models: parameter recovery on simulated data, online == batch, JSON, bad input."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from scipy.special import expit

from models.logistic import AFM, IRTLR, PFA, BestLR

SCHEMA = {"student_id": pl.Utf8, "item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8), "correct": pl.Float64, "seq": pl.Int64}


def frame(students: np.ndarray, skills: np.ndarray, correct: np.ndarray, steps: np.ndarray, items: np.ndarray | None = None) -> pl.DataFrame:
    items = skills if items is None else items
    return pl.DataFrame(
        {
            "student_id": [f"s{s}" for s in students],
            "item_id": [f"i{i}" for i in items],
            "skill_ids": [[f"k{k}"] for k in skills],
            "correct": correct.astype(float),
            "seq": steps.astype(np.int64),
        },
        schema=SCHEMA,
    )


def simulate(kind: str, beta: np.ndarray, gamma: np.ndarray, rho: np.ndarray, n_students: int = 1500, length: int = 20, seed: int = 0) -> pl.DataFrame:
    """Responses drawn from AFM (identity attempt counts) or PFA (log(1 + x) win / fail counts),
    one step at a time for all students at once; each response practises one random skill."""
    rng = np.random.default_rng(seed)
    n_skills = beta.size
    wins = np.zeros((n_students, n_skills))
    fails = np.zeros((n_students, n_skills))
    cols: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    students = np.arange(n_students)
    for t in range(length):
        k = rng.integers(0, n_skills, n_students)
        w, f = wins[students, k], fails[students, k]
        if kind == "afm":
            z = beta[k] + gamma[k] * (w + f)
        else:
            z = beta[k] + gamma[k] * np.log1p(w) + rho[k] * np.log1p(f)
        y = (rng.random(n_students) < expit(z)).astype(float)
        wins[students, k] += y
        fails[students, k] += 1 - y
        cols.append((students, k, y, np.full(n_students, t)))
    return frame(*(np.concatenate(c) for c in zip(*cols)))


def skill_coefs(model, stat: str) -> np.ndarray:
    table = dict(model.coefficients().iter_rows())
    return np.array([table[f"{stat}[k{k}]"] for k in range(3)])


def test_afm_recovers_simulated_learning_rates() -> None:
    beta, gamma = np.array([-1.0, 0.0, 0.8]), np.array([0.15, 0.05, 0.25])
    model = AFM(C=1e4).fit(simulate("afm", beta, gamma, np.zeros(3)))
    easiness = model.intercept_ + np.array([dict(model.coefficients().iter_rows())[f"skill=k{k}"] for k in range(3)])
    assert easiness == pytest.approx(beta, abs=0.12)
    assert skill_coefs(model, "skill_attempts") == pytest.approx(gamma, abs=0.03)


def test_pfa_recovers_simulated_success_and_failure_weights() -> None:
    beta, gamma, rho = np.array([-0.5, 0.0, 0.5]), np.array([0.6, 0.3, 0.9]), np.array([-0.3, 0.1, -0.6])
    model = PFA(C=1e4, recency=None).fit(simulate("pfa", beta, gamma, rho))
    easiness = model.intercept_ + np.array([dict(model.coefficients().iter_rows())[f"skill=k{k}"] for k in range(3)])
    assert easiness == pytest.approx(beta, abs=0.12)
    assert skill_coefs(model, "skill_wins") == pytest.approx(gamma, abs=0.12)
    assert skill_coefs(model, "skill_fails") == pytest.approx(rho, abs=0.12)


def small_log(seed: int = 1) -> pl.DataFrame:
    """A few hundred responses over 6 items / 3 skills with a learning trend (for contract tests)."""
    rng = np.random.default_rng(seed)
    n, length = 60, 12
    students = np.repeat(np.arange(n), length)
    steps = np.tile(np.arange(length), n)
    items = rng.integers(0, 6, n * length)
    correct = (rng.random(n * length) < expit(-0.5 + 0.15 * steps + 0.2 * items - 0.5)).astype(float)
    return frame(students, items % 3, correct, steps, items)


@pytest.mark.parametrize("cls", [IRTLR, AFM, PFA, BestLR])
def test_online_updates_reproduce_batch_predictions(cls) -> None:
    log = small_log()
    model = cls().fit(log)
    one = log.filter(pl.col("student_id") == "s3").sort("seq")
    batch = model.predict_proba(one)
    state = model.initial_state()
    online = []
    for row in one.iter_rows(named=True):
        online.append(model.predict_next(state, row["item_id"], row["skill_ids"]))
        model.update(state, row)
    assert online == pytest.approx(batch.tolist(), abs=1e-9)
    json.dumps(state)  # the state is JSON-ready


@pytest.mark.parametrize("cls", [IRTLR, AFM, PFA, BestLR])
def test_json_round_trip_predicts_the_same(cls) -> None:
    log = small_log()
    model = cls().fit(log)
    again = cls.from_dict(json.loads(json.dumps(model.to_dict())))
    assert again.predict_proba(log) == pytest.approx(model.predict_proba(log))
    with pytest.raises(ValueError, match="expected a serialized"):
        cls.from_dict({**model.to_dict(), "model": "something-else"})


def test_prediction_ignores_later_answers_and_handles_unseen_items() -> None:
    log = small_log()
    model = BestLR().fit(log)
    test = log.filter(pl.col("student_id").is_in(["s1", "s2"])).with_columns(
        pl.when(pl.col("seq") == 5).then(pl.lit("never-seen")).otherwise(pl.col("item_id")).alias("item_id"),
        pl.when(pl.col("seq") == 6).then(pl.lit(["new-skill"])).otherwise(pl.col("skill_ids")).alias("skill_ids"),
    )
    p = model.predict_proba(test)
    assert np.all(np.isfinite(p))
    late = test.with_columns(pl.when(pl.col("seq") >= 8).then(1.0 - pl.col("correct")).otherwise(pl.col("correct")).alias("correct"))
    early = (test["seq"] <= 8).to_numpy()  # row seq 8 may use answers up to seq 7 only
    assert model.predict_proba(late)[early] == pytest.approx(p[early])
    assert not np.allclose(model.predict_proba(late)[~early], p[~early])


def test_bad_training_input_is_refused() -> None:
    log = small_log()
    with pytest.raises(ValueError, match="empty"):
        BestLR().fit(log.head(0))
    with pytest.raises(ValueError, match="all correct or all incorrect"):
        PFA().fit(log.with_columns(pl.lit(1.0).alias("correct")))
    with pytest.raises(ValueError, match="lack column"):
        AFM().fit(log.drop("seq"))
    with pytest.raises(RuntimeError, match="not fitted"):
        BestLR().predict_proba(log)
