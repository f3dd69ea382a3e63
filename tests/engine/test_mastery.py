"""Mastery engine: BKT and EAP updates against hand/quadrature values, forgetting, cold start, batches."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import integrate, stats

from engine.catalog import demo_catalog
from engine.errors import ConfigError, DataError, DataValidationError, NotFoundError
from engine.mastery import BKTParams, BKTSkillModel, GridEAP, MasteryBatch, MasteryConfig, MasteryEngine, MasteryState
from engine.mastery.bkt import bkt_posterior, bkt_transition


@pytest.fixture(scope="module")
def catalog():
    return demo_catalog()


@pytest.fixture(scope="module")
def engine(catalog):
    return MasteryEngine(catalog)


def test_bkt_update_matches_the_hand_computed_case() -> None:
    # prior 0.3, guess 0.2, slip 0.1, learn 0.15, forget 0
    right = 0.3 * 0.9 / (0.3 * 0.9 + 0.7 * 0.2)  # 0.65854
    wrong = 0.3 * 0.1 / (0.3 * 0.1 + 0.7 * 0.8)  # 0.05085
    assert bkt_posterior(np.array(0.3), np.array(1.0), 0.2, 0.1) == pytest.approx(right)
    assert bkt_posterior(np.array(0.3), np.array(0.0), 0.2, 0.1) == pytest.approx(wrong)
    assert bkt_transition(np.array(right), 0.15, 0.0) == pytest.approx(right + (1 - right) * 0.15)
    assert bkt_transition(np.array(0.8), 0.15, 0.1) == pytest.approx(0.8 * 0.9 + 0.2 * 0.15)
    model = BKTSkillModel(BKTParams.defaults(["x", "y"], prior=0.3, learn=0.15, guess=0.2, slip=0.1))
    p = model.update(np.array([[0.3, 0.3]]), np.array([[True, False]]), np.array([0.5]))
    half = 0.5 * right + 0.5 * wrong  # a fractional score weighs the two posteriors
    assert p[0, 0] == pytest.approx(half + (1 - half) * 0.15) and p[0, 1] == 0.3


def test_bkt_params_reject_impossible_values() -> None:
    with pytest.raises(DataValidationError, match="guess \\+ slip"):
        BKTParams.defaults(["x"], guess=0.6, slip=0.5)
    with pytest.raises(DataValidationError, match="must be in \\[0, 1\\]"):
        BKTParams.defaults(["x"], learn=1.5)
    table = pl.DataFrame({"skill_id": ["y"], "learn": [0.4]})
    params = BKTParams.from_frame(table, ["x", "y"])
    assert params.learn.tolist() == [0.15, 0.4] and params.prior.tolist() == [0.3, 0.3]
    again = BKTParams.from_dict(params.to_dict())
    assert again.learn.tolist() == [0.15, 0.4] and again.fingerprint() == params.fingerprint()


def test_one_step_eap_equals_the_quadrature_posterior_mean() -> None:
    a, b = 1.2, 0.3
    for y in (0.0, 1.0):
        def post(t, k):
            p = 1 / (1 + math.exp(-a * (t - b)))
            return t**k * stats.norm.pdf(t) * (p if y else 1 - p)

        z = integrate.quad(lambda t: post(t, 0), -10, 10)[0]
        mean = integrate.quad(lambda t: post(t, 1), -10, 10)[0] / z
        sd = math.sqrt(integrate.quad(lambda t: post(t, 2), -10, 10)[0] / z - mean**2)
        m, s = GridEAP(drift=0.0).update(np.array([0.0]), np.array([1.0]), np.array([a]), np.array([b]), np.array([0.0]), np.array([y]))
        assert m[0] == pytest.approx(mean, abs=1e-4) and s[0] == pytest.approx(sd, abs=1e-4)


def test_online_eap_recovers_a_known_ability() -> None:
    rng = np.random.default_rng(5)
    model, theta = GridEAP(drift=0.0), 1.0
    a, b = rng.uniform(0.8, 2.0, 300), rng.normal(0.5, 1.0, 300)
    y = (rng.random(300) < 1 / (1 + np.exp(-a * (theta - b)))).astype(float)
    m, s = np.array([0.0]), np.array([1.0])
    for i in range(300):
        m, s = model.update(m, s, a[i : i + 1], b[i : i + 1], np.zeros(1), y[i : i + 1])
    assert abs(m[0] - theta) < 3 * s[0] and s[0] < 0.15


def test_cold_start_uses_the_population_priors(catalog, engine) -> None:
    state = engine.new_state("new")
    priors = dict(zip(catalog.skill_params["skill_id"].to_list(), catalog.skill_params["prior"].to_list()))
    assert state.p_learned.tolist() == [priors[s] for s in catalog.skill_ids]
    assert (state.theta, state.theta_sd, state.n_responses) == (0.0, 1.0, 0)
    assert np.isnan(state.last_practice).all() and (state.evidence == 0).all()


def test_update_records_evidence_time_and_ability(catalog, engine) -> None:
    state = engine.new_state("s")
    after = engine.update(state, "add_whole-01", 1.0, time=3.0)
    k = catalog.skill_index("add_whole")
    assert after.evidence[k] == 1 and after.last_practice[k] == 3.0 and after.n_responses == 1
    assert after.p_learned[k] > state.p_learned[k] and after.theta > 0 and after.theta_sd < 1
    assert state.evidence[k] == 0  # the input state is not modified
    with pytest.raises(NotFoundError, match="unknown item 'nope'"):
        engine.update(state, "nope", 1.0)
    with pytest.raises(DataError):
        engine.update(state, "add_whole-01", 1.5)


def test_forgetting_follows_the_retention_formula(catalog, engine) -> None:
    k = catalog.skill_index("add_whole")
    state = engine.new_state("s")
    for t in range(3):
        state = engine.update(state, f"add_whole-0{t + 1}", 1.0, time=float(t))
    batch = MasteryBatch.stack([state])
    stability = 60.0 * (1 + 3) ** 0.5  # defaults: 60 days, growth 0.5, evidence 3
    expected = state.p_learned[k] * math.exp(-30.0 / stability)
    assert engine.p_now(batch, 32.0)[0, k] == pytest.approx(expected)
    assert engine.p_now(batch, 2.0)[0, k] == pytest.approx(state.p_learned[k])


def test_the_reported_flag_ages_by_the_claims_forgetting_and_the_recommenders_does_not(catalog) -> None:
    k = catalog.skill_index("add_whole")
    served = MasteryEngine(catalog, config=MasteryConfig(stability_days=3650.0, claim_stability_days=20.0))
    state = served.new_state("s")
    for t in range(8):
        state = served.update(state, f"add_whole-0{t % 3 + 1}", 1.0, time=float(t))
    batch = MasteryBatch.stack([state])
    start = state.p_learned[k]
    assert served.flagged(served.p_now(batch, 7.0), batch)[0, k]  # mastered right after the answers
    for days, now in ((3650.0, 67.0), (20.0, 67.0)):  # 60 days later, evidence 8: stability days x 3
        assert served.retention(batch.last_practice, batch.evidence, now, days)[0, k] == pytest.approx(
            math.exp(-60.0 / (days * 3.0)))
    assert served.p_claim(batch, 67.0)[0, k] == pytest.approx(start * math.exp(-60.0 / 60.0))
    assert served.p_now(batch, 67.0)[0, k] == pytest.approx(start * math.exp(-60.0 / 10950.0))
    assert served.flagged(served.p_now(batch, 67.0), batch)[0, k]  # the recommender still moves on from it
    assert not served.claimed(batch, 67.0)[0, k]  # but it is not reported mastered after 60 days unanswered
    assert served.claimed(batch, 7.0)[0, k]  # no time since the last answer: the claim stands
    unset = MasteryEngine(catalog, config=MasteryConfig(stability_days=3650.0))
    assert np.array_equal(unset.p_claim(batch, 67.0), unset.p_now(batch, 67.0))
    slower = MasteryEngine(catalog, config=MasteryConfig(stability_days=60.0, claim_stability_days=3650.0))
    assert np.array_equal(slower.p_claim(batch, 67.0), slower.p_now(batch, 67.0))  # never slower than the served
    with pytest.raises(ConfigError, match="claim_stability_days"):
        MasteryConfig(claim_stability_days=0.0)


def test_unpractised_skills_follow_the_ability_estimate(catalog) -> None:
    eng = MasteryEngine(catalog)
    batch = eng.new_batch(["low", "mid", "high"])
    batch.theta[:] = [-1.0, 0.0, 1.5]
    batch.theta_sd[:] = 0.3
    p = eng.p_now(batch)
    prior = batch.p_learned[0]
    assert np.allclose(p[1], prior) and (p[0] < prior).all() and (p[2] > prior).all()
    off = MasteryEngine(catalog, config=MasteryConfig(ability_slope=0.0))
    assert np.allclose(off.p_now(batch), batch.p_learned)


def test_progress_counter_resets_when_a_skill_becomes_mastered(engine) -> None:
    state = engine.new_state("s")
    state = engine.update(state, "systems-01", 0.0, time=0.0)
    assert state.responses_since_progress == 1
    for t in range(1, 6):
        state = engine.update(state, f"add_whole-0{t}", 1.0, time=float(t))
        if state.p_learned[0] >= 0.95:
            break
    assert state.p_learned[0] >= 0.95 and state.responses_since_progress == 0


def test_batch_update_equals_one_by_one_and_replay(catalog, engine) -> None:
    rng = np.random.default_rng(2)
    rows = []
    for student in ("u1", "u2", "u3"):
        for seq in range(12):
            rows.append({"student_id": student, "item_id": catalog.item_ids[int(rng.integers(catalog.n_items))],
                         "correct": float(rng.random() < 0.6), "seq": seq})
    log = pl.DataFrame(rows)
    replayed = engine.replay(log)
    for i, student in enumerate(replayed.student_ids):
        state = engine.new_state(student)
        for row in log.filter(pl.col("student_id") == student).iter_rows(named=True):
            state = engine.update(state, row["item_id"], row["correct"])
        assert np.allclose(state.p_learned, replayed.p_learned[i]) and state.theta == pytest.approx(replayed.theta[i])
    with pytest.raises(DataValidationError, match="ghost"):
        engine.replay(pl.DataFrame({"student_id": ["x"], "item_id": ["ghost"], "correct": [1.0], "seq": [0]}))


def test_states_round_trip_through_json(tmp_path, catalog, engine) -> None:
    state = engine.update(engine.new_state("s"), "prime-02", 1.0, time=4.0)
    back = MasteryState.from_dict(state.to_dict(catalog.skill_ids), catalog.skill_ids, engine.skill_model.initial(1)[0])
    assert np.array_equal(back.p_learned, state.p_learned) and back.theta == state.theta and back.first_time == 4.0
    path = tmp_path / "states.json"
    engine.save_states(MasteryBatch.stack([state]), path)
    loaded = engine.load_states(path)
    assert loaded.student_ids == ["s"] and np.array_equal(loaded.evidence[0], state.evidence)
    with pytest.raises(NotFoundError, match="unknown student 'zz'"):
        loaded.row_of("zz")
    with pytest.raises(ConfigError):
        engine.states_from_dict({"format": "something-else"})


def test_skill_model_must_match_the_catalog(catalog) -> None:
    with pytest.raises(ConfigError, match="not aligned"):
        MasteryEngine(catalog, skill_model=BKTSkillModel(BKTParams.defaults(["x"])))


@pytest.mark.parametrize("students", [5, 200])  # the graph bounds over closure pairs, and level by level
def test_an_update_given_the_predictions_start_leaves_the_states_it_computes_itself(catalog, engine, students) -> None:
    rng = np.random.default_rng(students)
    own, given = engine.new_batch([f"s{n}" for n in range(students)]), engine.new_batch([f"s{n}" for n in range(students)])
    for step in range(12):  # each step some of the students, in a shuffled order
        rows = rng.permutation(students)[: max(2, students * 3 // 4)]
        items = rng.integers(0, catalog.n_items, rows.size)
        y = (rng.random(rows.size) < 0.6).astype(float)
        now = np.full(rows.size, float(step))
        start = engine.p_start(given.rows(rows))
        np.testing.assert_array_equal(engine.p_now(given.rows(rows), now, start), engine.p_now(own.rows(rows), now))
        engine.update_batch(own, rows, items, y, now)
        engine.update_batch(given, rows, items, y, now, start=start)
    for field in ("theta", "theta_sd", "p_learned", "p_answered", "evidence", "skill_theta", "skill_var", "pace_score"):
        np.testing.assert_array_equal(getattr(given, field), getattr(own, field))
    assert (own.evidence > 0).sum() > students  # the replay practised several skills a student
