"""Per-skill ability on the IRT scale (Kalman/Laplace step), the two-model mastered flag, and the learned
difficulty statistics (stratified so that who practises at a band does not pass for what the band teaches)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from engine.catalog import load_catalog
from engine.mastery import MasteryBatch, MasteryEngine
from engine.mastery.engine import MasteryConfig
from engine.recommend.learning import DifficultyProgress, fit_from_log
from engine.simulate import make_world
from engine.simulate.proficiency import ProficiencyLearners


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(None)


def test_first_answer_on_a_skill_is_one_laplace_step_by_hand(catalog) -> None:
    engine = MasteryEngine(catalog)
    item = next(i for i in range(catalog.n_items) if catalog.item_c[i] == 0)
    a, b = float(catalog.item_a[item]), float(catalog.item_b[item])
    skill = int(catalog.item_skill[item])
    batch = engine.new_batch(["s"])
    theta0, sd0 = float(batch.theta[0]), float(batch.theta_sd[0])
    engine.update_batch(batch, np.array([0]), np.array([item]), np.array([1.0]))
    # by hand: prior N(theta0, sd0^2 + spread^2), plus one step of drift, then one Newton step on the 2PL
    v = sd0**2 + engine.config.skill_spread**2 + engine.config.skill_drift
    p = 1 / (1 + math.exp(-a * (theta0 - b)))
    v_new = 1 / (1 / v + a * a * p * (1 - p))
    m_new = theta0 + v_new * a * (1 - p)
    assert batch.skill_theta[0, skill] == pytest.approx(m_new, abs=1e-12)
    assert batch.skill_var[0, skill] == pytest.approx(v_new, abs=1e-12)
    others = np.arange(catalog.n_skills) != skill
    assert np.isnan(batch.skill_theta[0, others]).all()  # other skills still follow the general ability


def test_an_answer_moves_the_other_practised_skills_by_the_general_share_by_hand(catalog) -> None:
    engine = MasteryEngine(catalog, config=MasteryConfig(share_general=True))
    first = next(i for i in range(catalog.n_items) if catalog.item_c[i] == 0)
    second = next(i for i in range(catalog.n_items)
                  if catalog.item_c[i] == 0 and catalog.item_skill[i] != catalog.item_skill[first])
    s1, s2 = int(catalog.item_skill[first]), int(catalog.item_skill[second])
    batch = engine.new_batch(["s"])
    engine.update_batch(batch, np.array([0]), np.array([first]), np.array([0.0]))
    m1, v1 = float(batch.skill_theta[0, s1]), float(batch.skill_var[0, s1])
    theta0, sd0 = float(batch.theta[0]), float(batch.theta_sd[0])
    engine.update_batch(batch, np.array([0]), np.array([second]), np.array([1.0]))
    # by hand: skill 2 is met now (prior N(theta0, sd0^2 + spread^2) plus drift) and moves by d after one 2PL step;
    # the general part of d is sd0^2 / (sd0^2 + spread^2) x d, and skill 1 takes the share v1 / (sd0^2 + spread^2) of it
    a, b = float(catalog.item_a[second]), float(catalog.item_b[second])
    prior = sd0**2 + engine.config.skill_spread**2
    v = prior + engine.config.skill_drift
    p = 1 / (1 + math.exp(-a * (theta0 - b)))
    d = 1 / (1 / v + a * a * p * (1 - p)) * a * (1 - p)
    assert batch.skill_theta[0, s1] == pytest.approx(m1 + v1 / prior * sd0**2 / prior * d, abs=1e-12)
    assert batch.skill_var[0, s1] == v1  # its variance is not touched
    off = MasteryEngine(catalog)  # the default: off
    kept = off.new_batch(["s"])
    off.update_batch(kept, np.array([0]), np.array([first]), np.array([0.0]))
    off.update_batch(kept, np.array([0]), np.array([second]), np.array([1.0]))
    assert kept.skill_theta[0, s1] == pytest.approx(m1, abs=1e-12)  # switched off: skill 1 keeps its estimate


def test_sharing_the_general_ability_predicts_better_when_skills_share_it(catalog) -> None:
    """Students whose skills are general + N(0, 1) deviation (the engine's own model, no learning) answer one item
    on each of 8 skills in turn, 4 rounds: each answer predicted before it is seen. Letting the practised skills
    follow the general part of every answer has the smaller log-loss, switched off the larger."""
    rng = np.random.default_rng(5)
    n, skills = 400, [0, 3, 6, 9, 12, 15, 18, 21]
    general = rng.standard_normal(n)
    truth = general[:, None] + rng.standard_normal((n, catalog.n_skills))
    table = catalog.items_by_skill
    plan = [table[s, rng.integers(0, (table[s] >= 0).sum(), n)] for _ in range(4) for s in skills]
    draws = rng.random((len(plan), n))
    rows = np.arange(n)
    loss = {}
    for share in (True, False):
        engine = MasteryEngine(catalog, config=MasteryConfig(share_general=share))
        batch = engine.new_batch([f"s{i}" for i in range(n)])
        total = 0.0
        for items, u in zip(plan, draws):
            th = truth[rows, catalog.item_skill[items]]
            c = catalog.item_c[items]
            p_true = c + (1 - c) / (1 + np.exp(-catalog.item_a[items] * (th - catalog.item_b[items])))
            y = (u < p_true).astype(float)
            p = np.clip(engine.predict_skill_pairs(batch, items), 1e-6, 1 - 1e-6)
            total -= np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))
            engine.update_batch(batch, rows, items, y)
        loss[share] = total / (n * len(plan))
    assert loss[True] < loss[False] - 0.002


def test_skill_abilities_recover_skills_that_differ_from_the_general_level(catalog) -> None:
    """300 students whose skills sit N(0, 1) around their general level answer 12 items of each of 4 skills
    (2PL with the catalog's own parameters): the per-skill estimates track the per-skill truth, and their
    predictions for a further answer are calibrated in the large."""
    rng = np.random.default_rng(3)
    engine = MasteryEngine(catalog)
    n, skills = 300, [0, 5, 10, 20]
    general = rng.standard_normal(n)
    truth = general[:, None] + rng.standard_normal((n, catalog.n_skills))
    batch = engine.new_batch([f"s{i}" for i in range(n)])
    rows = np.arange(n)

    def answer(items: np.ndarray) -> np.ndarray:
        th = truth[rows, catalog.item_skill[items]]
        p = catalog.item_c[items] + (1 - catalog.item_c[items]) / (1 + np.exp(-catalog.item_a[items] * (th - catalog.item_b[items])))
        return (rng.random(n) < p).astype(float)

    table = catalog.items_by_skill
    for _ in range(12):
        for s in skills:
            items = table[s, rng.integers(0, (table[s] >= 0).sum(), n)]
            engine.update_batch(batch, rows, items, answer(items))
    est = batch.skill_theta[:, skills]
    assert np.corrcoef(est.ravel(), truth[:, skills].ravel())[0, 1] > 0.8
    # they beat the general ability as an estimate of each skill
    assert np.mean((est - truth[:, skills]) ** 2) < np.mean((batch.theta[:, None] - truth[:, skills]) ** 2)
    predicted, observed = [], []
    for s in skills:
        items = table[s, rng.integers(0, (table[s] >= 0).sum(), n)]
        predicted.append(engine.predict_skill_pairs(batch, items))
        observed.append(answer(items))
    assert abs(np.mean(predicted) - np.mean(observed)) < 0.03


def test_mastered_flag_needs_the_skill_ability_to_agree(catalog) -> None:
    engine = MasteryEngine(catalog)
    batch = engine.new_batch(["strong", "lucky"])
    s = 3
    batch.p_learned[:, s] = 0.99  # the skill model says mastered for both
    a, b = engine.typical_items  # the typical item the flag refers to
    level = b[s] + math.log(0.8 / 0.2) / a[s]
    batch.skill_theta[:, s] = [level + 1.5, level - 1.5]  # the ability says: far above, far below the 80% level
    batch.skill_var[:, s] = 0.1
    p = engine.p_now(batch)
    assert engine.mastered(p)[:, s].tolist() == [True, True]  # the skill model alone
    assert engine.mastered(p, batch)[:, s].tolist() == [True, False]


def test_stratified_band_values_are_not_fooled_by_who_practises_where() -> None:
    """Two strata of standing with different baseline surprise (a miscalibrated predictor): weak students
    (surprise -0.2) mostly practise in band 0, strong ones (+0.2) mostly in band 3. Within each stratum band 1
    teaches 0.1 more than the others. A plain mean per band would rank band 3 first; the stratified value
    ranks band 1 first and puts bands 0 and 3 level."""
    prog = DifficultyProgress(prior_strength=1e-9, cell_prior=1e-9)
    strata, bands, values = [], [], []
    for stratum, base, counts in ((1, -0.2, {0: 900, 1: 100, 3: 100}), (4, 0.2, {0: 100, 1: 100, 3: 900})):
        for band, n in counts.items():
            strata += [stratum] * n
            bands += [band] * n
            values += [base + (0.1 if band == 1 else 0.0)] * n
    prog.observe(np.array(strata), np.array(bands), np.array(values))
    naive = [np.mean([v for b, v in zip(bands, values) if b == k]) for k in (0, 1, 3)]
    assert np.argmax(naive) == 2  # band 3 looks best to a plain mean
    mean = prog.mean
    assert np.argmax(mean) == 1
    assert mean[0] == pytest.approx(mean[3], abs=1e-6)
    assert mean[1] - mean[0] == pytest.approx(0.1, abs=1e-6)
    again = DifficultyProgress.from_dict(prog.to_dict())
    assert np.allclose(again.mean, mean)


def test_no_band_looks_better_when_nothing_is_learned(catalog) -> None:
    """A random-practice log of a world where answers teach nothing: every band's value is within 3 SD of 0."""
    n, steps = 300, 40
    world = make_world(catalog, n, seed=9)
    learners = ProficiencyLearners(world, rate_scale=0.0, resource_weight=0.0, forgetting=0.0)
    rng = np.random.default_rng(4)
    frames = []
    for t in range(steps):
        items = rng.integers(0, catalog.n_items, n)
        y = learners.step(np.zeros(n, dtype=np.int64), items, rng)
        frames.append(pl.DataFrame({"student_id": [f"s{i}" for i in range(n)], "item_id": np.array(catalog.item_ids)[items],
                                    "correct": y, "seq": np.full(n, t)}))
    prog = DifficultyProgress.from_dict(fit_from_log(MasteryEngine(catalog), pl.concat(frames)))
    used = prog.n > 200
    assert used.sum() >= 4
    assert np.all(np.abs(prog.mean[used]) < 3 * prog.sd[used]), prog.summary()


def test_states_keep_skill_abilities_through_json(catalog) -> None:
    engine = MasteryEngine(catalog)
    state = engine.update(engine.new_state("x"), catalog.item_ids[0], 1.0, 0.0)
    again = engine.state_from_dict(engine.state_to_dict(state))
    assert np.array_equal(np.isnan(again.skill_theta), np.isnan(state.skill_theta))
    assert np.allclose(again.skill_theta[~np.isnan(state.skill_theta)], state.skill_theta[~np.isnan(state.skill_theta)])
    assert MasteryBatch.stack([again]).rows(np.array([0])).skill_var.shape == (1, catalog.n_skills)


def test_knowledge_of_unpractised_skills_follows_the_prerequisite_graph(catalog) -> None:
    """Hand case on the demo graph: a practised skill at P = 0.9 lifts each of its (transitive) prerequisites
    to at least 0.9 x 0.9; a practised prerequisite at P = 0.05 caps every skill built on it at 0.15."""
    engine = MasteryEngine(catalog)
    anc = catalog.graph.ancestors
    deep = int(np.argmax(anc.sum(axis=1)))  # the skill with most prerequisites
    pre = np.flatnonzero(anc[deep])
    batch = engine.new_batch(["knows-deep", "misses-root"])
    batch.p_learned[0, deep], batch.evidence[0, deep] = 0.9, 3
    root = int(pre[0])
    batch.p_learned[1, root], batch.evidence[1, root] = 0.05, 3
    p = engine.p_now(batch)
    assert np.all(p[0, pre] >= 0.81 - 1e-12)
    built_on_root = np.flatnonzero(anc[:, root])
    assert built_on_root.size and np.all(p[1, built_on_root] <= 0.15 + 1e-12)
    off = MasteryEngine(catalog, config=engine.config.__class__(graph_confidence=0.0)).p_now(batch)
    assert np.all(off[0, pre] < 0.81)  # without the graph the prior alone is lower
