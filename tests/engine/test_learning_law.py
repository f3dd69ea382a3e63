"""The learning law recovers known per-band learning from a simulated additive-factors log, and the policy's
multiplier follows it (independent truth: the simulation's own parameters)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.recommend.law import LearningLaw, fit_law
from engine.recommend.learning import BAND_EDGES

TRUE_GAMMA = np.array([0.0, 0.05, 0.25, 0.15, 0.0, 0.0])  # learning peaks in the band 0.45-0.6


def _simulated_log(n_students: int = 400, steps: int = 60, n_skills: int = 6, seed: int = 0):
    """Each step practises a random skill at a random band; P(correct) follows the additive-factors model."""
    rng = np.random.default_rng(seed)
    n_bands = len(BAND_EDGES) - 1
    alpha = rng.normal(0, 1, n_students)
    beta = rng.normal(0, 0.5, n_skills)
    student = np.repeat(np.arange(n_students), steps)
    skill = rng.integers(0, n_skills, student.size)
    band = rng.integers(0, n_bands, student.size)
    easiness = rng.normal(0, 1, student.size)
    counts = np.zeros((student.size, n_bands))
    running = np.zeros((n_students, n_skills, n_bands))
    for t in range(student.size):  # a test's simulation: clarity over speed
        counts[t] = running[student[t], skill[t]]
        running[student[t], skill[t], band[t]] += 1
    logit = alpha[student] + beta[skill] + easiness + counts @ TRUE_GAMMA
    correct = (rng.random(student.size) < 1 / (1 + np.exp(-logit))).astype(float)
    return student, skill, easiness, counts, correct, band


def test_fit_recovers_the_simulated_learning_per_band() -> None:
    student, skill, easiness, counts, correct, band = _simulated_log()
    law = fit_law(student, skill, easiness, counts, correct, band, BAND_EDGES)
    gamma, se = np.array(law.gamma), np.array(law.se)
    assert np.all(se > 0) and np.all(se < 0.05)
    assert np.all(np.abs(gamma - TRUE_GAMMA) < 3.5 * se + 0.01), (gamma, se)
    assert int(np.argmax(gamma)) == 2  # the band where learning peaks
    assert sum(law.n) == correct.size  # every step counted in its band
    assert law.floor == 0.0  # answers without guessing: no floor


def test_a_guessing_floor_is_found_and_the_learning_under_it_recovered() -> None:
    """Answers right by guessing a fifth of the time (P = 0.2 + 0.8 sigmoid(logit)): the fit picks the floor 0.2 and
    recovers the simulated gammas; fitted without a floor, the learning reads lower (the logit scale is compressed)."""
    student, skill, easiness, counts, _, band = _simulated_log(n_students=600)
    logit = np.random.default_rng(1).normal(0, 1, 600)[student] + easiness + counts @ TRUE_GAMMA
    correct = (np.random.default_rng(2).random(student.size) < 0.2 + 0.8 / (1 + np.exp(-logit))).astype(float)
    law = fit_law(student, skill, easiness, counts, correct, band, BAND_EDGES)
    gamma, se = np.array(law.gamma), np.array(law.se)
    assert law.floor == 0.2
    assert np.all(np.abs(gamma - TRUE_GAMMA) < 3.5 * se + 0.01), (gamma, se)
    plain = fit_law(student, skill, easiness, counts, correct, band, BAND_EDGES, floors=(0.0,))
    assert plain.floor == 0.0 and plain.gamma[2] < gamma[2]  # without the floor, what the best band teaches reads lower


def test_multiplier_prefers_the_band_that_teaches_and_is_neutral_without_evidence() -> None:
    law = LearningLaw(BAND_EDGES, (0.0, 0.05, 0.25, 0.15, 0.0, 0.0), (0.01,) * 6, (1000,) * 6)
    m = law.multiplier(np.array([0.1, 0.5, 0.65, 0.95]))
    # by hand (DerSimonian-Laird): w = 1 / 0.01^2 = 10,000 each, mean 0.075, Q = 10,000 x 0.05375 = 537.5,
    # tau^2 = (537.5 - 5) / (60,000 - 10,000) = 0.01065, shrink 0.01065 / (0.01065 + 0.0001) = 0.99070:
    # 0 -> 0.000698, 0.25 -> 0.248372, 0.15 -> 0.149302; the average step stays 0.075
    assert law.shrunk_gamma == pytest.approx([0.000698, 0.050233, 0.248372, 0.149302, 0.000698, 0.000698], abs=2e-6)
    assert m == pytest.approx(np.array([0.000698, 0.248372, 0.149302, 0.000698]) / 0.075, rel=1e-3)
    assert m[1] > 1 > m[0]
    # a rare band's high estimate is pulled most of the way back to the average step: the well-measured peak stays
    # the best (by hand: average (450 + 40 x 0.3) / 5040 = 0.0917, the rare band's factor about 0.0106 / 0.1006)
    noisy = LearningLaw(BAND_EDGES, (0.0, 0.05, 0.25, 0.15, 0.0, 0.3), (0.01, 0.01, 0.01, 0.01, 0.01, 0.3), (1000,) * 5 + (40,))
    assert noisy.average == pytest.approx(462 / 5040)
    assert noisy.average < noisy.shrunk_gamma[5] < noisy.average + 0.2 * (0.3 - noisy.average)
    assert int(np.argmax(noisy.band_multipliers)) == 2
    no_learning = LearningLaw(BAND_EDGES, (-0.01,) * 6, (0.01,) * 6, (1000,) * 6)
    assert np.all(no_learning.multiplier(np.array([0.1, 0.5])) == 1.0)
    too_few = LearningLaw(BAND_EDGES, (0.0, 0.05, 0.25, 0.15, 0.0, 0.0), (0.01,) * 6, (10,) * 6)
    assert np.all(too_few.multiplier(np.array([0.1, 0.5])) == 1.0)


def test_a_band_whose_se_the_fit_could_not_measure_is_served_as_the_average_step() -> None:
    """A band of two steps from one student gets a clustered SE of 0 (seen on a 40-student log): it was taken as
    infinitely precise, the shrinkage divided 0 by 0 and every band's multiplier came out NaN. By hand: the last band
    carries no weight; the other five are the first test's bands 1-5 (0.0, 0.05, 0.25, 0.15, 0.0 at SE 0.01): mean
    0.09, Q = 10,000 x 0.047 = 470, tau^2 = (470 - 4) / (50,000 - 10,000) = 0.01165, shrink 0.01165 / 0.01175."""
    law = LearningLaw(BAND_EDGES, (0.0, 0.05, 0.25, 0.15, 0.0, 0.7), (0.01,) * 5 + (0.0,), (1000,) * 5 + (2,))
    shrink = 0.01165 / 0.01175
    average = law.average  # (50 + 250 + 150 + 2 x 0.7) / 5002
    expected = [average + shrink * (g - average) for g in (0.0, 0.05, 0.25, 0.15, 0.0)] + [average]
    assert law.shrunk_gamma == pytest.approx(expected, abs=1e-9)
    assert np.all(np.isfinite(law.band_multipliers)) and int(np.argmax(law.band_multipliers)) == 2
    one_measured = LearningLaw(BAND_EDGES, (0.0, 0.3, 0.0, 0.0, 0.0, 0.0), (0.0, 0.01, 0.0, 0.0, 0.0, 0.0), (100,) * 6)
    assert one_measured.shrunk_gamma == pytest.approx([one_measured.average] * 6)  # nothing to tell the bands apart by
    # a band measured far more precisely than the others (SE 1e-9 against 0.3) dwarfs their weights: sum w - sum w^2 /
    # sum w cancelled to 0 in floating point and tau^2 came out infinite (NaN again); the pairwise form stays finite
    dwarfing = LearningLaw(BAND_EDGES, (0.3, 0.1, 0.4, 0.2, 0.5, 0.01), (0.3, 0.3, 0.25, 0.3, 0.3, 1e-9),
                           (300,) * 3 + (200, 100, 5))
    assert np.all(np.isfinite(dwarfing.band_multipliers))
    flat = LearningLaw(BAND_EDGES, (-0.01,) * 6, (0.01,) * 6, (1000,) * 6)  # no learning on average: not informative
    assert np.array_equal(flat.band_multipliers, np.ones(6))


def test_a_law_whose_bands_differ_no_more_than_their_noise_is_served_flat() -> None:
    """Fits `model build` made in the outside world (experiments/outside_check/world.py, world seed 7, peak 65%, a
    random-practice log of 300 students x 60 steps). With 30 skills the bands differ by about what their standard
    errors allow (Q = 5.0 on 5 degrees of freedom), so the policy serves every band alike; the one-SE rule this
    replaced made the rarest band (253 steps, 0.30 +- 0.19) the best. With 12 skills the bands differ far beyond
    their noise (Q = 17.4), and the 60-75% band, where that world's learning peaks, stays the best."""
    thin = LearningLaw(BAND_EDGES, (-0.067, 0.151, 0.166, 0.059, 0.15, 0.296), (0.106, 0.093, 0.083, 0.077, 0.086, 0.194),
                       (9616, 2958, 2314, 1729, 1130, 253))
    assert thin.band_multipliers == pytest.approx(np.ones(6), abs=0.02)
    rich = LearningLaw(BAND_EDGES, (-0.038, 0.128, 0.109, 0.193, 0.115, -0.055), (0.047, 0.042, 0.037, 0.039, 0.041, 0.097),
                       (6903, 3205, 2745, 2559, 2089, 499))
    assert int(np.argmax(rich.band_multipliers)) == 3 and rich.band_multipliers[3] > 1.3 * np.median(rich.band_multipliers)


def test_a_band_the_log_cannot_place_keeps_part_of_the_average_steps_value() -> None:
    """The law `model build` fits on tests/modelbuild's generated platform: learning only in the hardest bands,
    three bands well below zero, and a rare 90-100% band at -0.003 +- 0.073. Believed as far as the bands' spread
    allows around the log's average step (0.026), that band keeps part of an average step's value; pulled toward
    the bands' precision-weighted mean instead (about 0, the negative bands weighing in) it was written off, which
    left strong students nothing worth practising but advanced work and failed the advanced-exposure audit."""
    law = LearningLaw(BAND_EDGES, (0.071, 0.045, -0.026, -0.057, -0.072, -0.003), (0.026, 0.024, 0.023, 0.025, 0.03, 0.073),
                      (6561, 6226, 6679, 5872, 3813, 849))
    m = law.band_multipliers
    assert int(np.argmax(m)) == 0 and np.all(m[2:5] == 0.0)
    assert 0.3 < m[5] < 1.0


def test_expected_multiplier_averages_the_bands_over_the_ability_posterior() -> None:
    law = LearningLaw(BAND_EDGES, (0.0, 0.05, 0.25, 0.15, 0.0, 0.0), (0.01,) * 6, (1000,) * 6)
    a, b, c = np.array([1.2, 1.0, 0.8, 1.5]), np.array([0.0, 0.3, -0.2, 0.5]), np.array([0.2, 0.0, 0.25, 0.1])
    mean = np.array([[-1.0, 0.0, 0.5, 2.0], [0.3, -0.4, 1.0, 0.0]])
    # a sure ability: the multiplier at the item's success c + (1 - c) / (1 + exp(-a (mean - b)))
    sure = law.expected_multiplier(mean, np.full_like(mean, 1e-10), a, b, c)
    assert sure == pytest.approx(law.multiplier(c + (1 - c) / (1 + np.exp(-a * (mean - b)))))
    # an uncertain ability (variance 1): the Monte Carlo mean of the multiplier over abilities ~ N(mean, 1)
    draws = mean[None] + np.random.default_rng(0).standard_normal((400_000, *mean.shape))
    monte_carlo = law.multiplier(c + (1 - c) / (1 + np.exp(-a * (draws - b)))).mean(axis=0)
    assert law.expected_multiplier(mean, np.ones_like(mean), a, b, c) == pytest.approx(monte_carlo, abs=0.01)
    # an unshown skill whose expected success sits in the best band is worth less than one known to be there
    point = c[1] + (1 - c[1]) / (1 + np.exp(-a[1] * (0.5 - b[1])))
    assert 0.45 <= point < 0.6
    assert law.expected_multiplier(np.array([0.5]), np.array([2.0]), a[1:2], b[1:2], c[1:2])[0] < law.multiplier(np.array([point]))[0]
    uninformative = LearningLaw(BAND_EDGES, (0.0, 0.05, 0.25, 0.15, 0.0, 0.0), (0.01,) * 6, (10,) * 6)
    assert np.all(uninformative.expected_multiplier(mean, np.ones_like(mean), a, b, c) == 1.0)


def test_round_trip_and_malformed_payloads() -> None:
    law = LearningLaw(BAND_EDGES, (0.0, 0.05, 0.25, 0.15, 0.0, 0.0), (0.01,) * 6, (1000,) * 6, floor=0.2)
    assert LearningLaw.from_dict(law.to_dict()) == law
    written_before_floors = {k: v for k, v in law.to_dict().items() if k != "floor"}
    assert LearningLaw.from_dict(written_before_floors).floor == 0.0
    with pytest.raises(ConfigError):
        LearningLaw.from_dict({**law.to_dict(), "floor": 1.0})
    with pytest.raises(ConfigError):
        LearningLaw.from_dict({**law.to_dict(), "gamma": [0.1, 0.2]})
    with pytest.raises(ConfigError):
        LearningLaw.from_dict({**law.to_dict(), "format_version": 99})


def test_newton_fit_matches_scikit_learn_on_the_same_penalised_likelihood() -> None:
    """The block Newton solver against scikit-learn's LogisticRegression on the explicit one-hot design."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    student, skill, easiness, counts, correct, band = _simulated_log(n_students=120, steps=40, seed=3)
    law = fit_law(student, skill, easiness, counts, correct, band, BAND_EDGES, penalty=0.1)
    n = correct.size
    design = sparse.hstack([sparse.csr_matrix((np.ones(n), (np.arange(n), student))),
                            sparse.csr_matrix((np.ones(n), (np.arange(n), skill))),
                            sparse.csr_matrix(easiness[:, None]), sparse.csr_matrix(counts)]).tocsr()
    reference = LogisticRegression(C=10.0, fit_intercept=False, tol=1e-10, max_iter=10000).fit(design, correct)
    assert np.array(law.gamma) == pytest.approx(reference.coef_[0][-counts.shape[1]:], abs=1e-4)


def test_clustered_standard_errors_match_statsmodels_cluster_robust_covariance() -> None:
    """The student-clustered sandwich against statsmodels' `cov_cluster` on the unpenalised logistic fit of the
    explicit design (student dummies, skill dummies but one, easiness, counts), without its small-sample factor
    ((N - 1) / (N - K), which counts the student dummies) and with the G / (G - 1) the law uses."""
    import statsmodels.api as sm
    from scipy import sparse
    from statsmodels.stats.sandwich_covariance import cov_cluster

    student, skill, easiness, counts, correct, band = _simulated_log(n_students=60, steps=40, seed=5)
    law = fit_law(student, skill, easiness, counts, correct, band, BAND_EDGES, penalty=1e-9)
    n = correct.size
    design = sparse.hstack([sparse.csr_matrix((np.ones(n), (np.arange(n), student))),
                            sparse.csr_matrix((np.ones(n), (np.arange(n), skill)))[:, 1:],
                            sparse.csr_matrix(easiness[:, None]), sparse.csr_matrix(counts)]).toarray()
    fit = sm.GLM(correct, design, family=sm.families.Binomial()).fit(tol=1e-12)
    groups = np.unique(student).size
    reference = np.sqrt(np.diag(cov_cluster(fit, student, use_correction=False))[-counts.shape[1]:] * groups / (groups - 1))
    assert np.array(law.gamma) == pytest.approx(fit.params[-counts.shape[1]:], abs=1e-5)
    assert np.array(law.se) == pytest.approx(reference, rel=1e-4)


def test_clustered_standard_errors_follow_the_spread_of_refits_when_students_learn_at_different_rates() -> None:
    """Students whose learning rate differs (x N(1, 1) on three times the simulated gammas) leave residuals
    correlated within a student that the model does not describe. Over 80 independent logs, the spread of the
    estimates (the truth here) is what the clustered SE reports; the Hessian's understates it on the bands
    that teach."""
    from engine.recommend.law import _newton, shared_design

    estimates, clustered, hessian = [], [], []
    for seed in range(100, 180):
        rng = np.random.default_rng(seed)
        student, skill, easiness, counts, _, band = _simulated_log(n_students=150, steps=60, seed=seed)
        rate = rng.normal(1.0, 1.0, 150)[student]
        logit = rng.normal(0, 1, 150)[student] + easiness + rate * (counts @ (3 * TRUE_GAMMA))
        correct = (rng.random(student.size) < 1 / (1 + np.exp(-logit))).astype(float)
        law = fit_law(student, skill, easiness, counts, correct, band, BAND_EDGES, floors=(0.0,))  # the model's SEs, no choice
        estimates.append(law.gamma)
        clustered.append(law.se)
        inverse_schur = _newton(student, shared_design(skill, easiness, counts), correct, 0.1)[2]
        hessian.append(np.sqrt(np.diag(inverse_schur)[-counts.shape[1]:]))
    spread = np.std(estimates, axis=0, ddof=1)
    ratio_clustered, ratio_hessian = np.mean(clustered, axis=0) / spread, np.mean(hessian, axis=0) / spread
    assert np.all((ratio_clustered > 0.8) & (ratio_clustered < 1.25)), ratio_clustered
    assert np.all(ratio_hessian[[2, 3]] < 0.75), ratio_hessian  # the bands that teach carry the students' differing rates


def test_the_tracked_ability_rises_by_the_laws_expected_learning() -> None:
    """With a law, a practised skill's ability moves by gamma x P(direct prerequisites learned) / a (the skill's
    median discrimination) on top of the Kalman step; equal gammas in every band make the band irrelevant."""
    from engine.catalog import load_catalog
    from engine.mastery import MasteryEngine

    catalog = load_catalog(None)
    plain, with_law = MasteryEngine(catalog), MasteryEngine(catalog)
    with_law.law = LearningLaw(BAND_EDGES, (0.2,) * 6, (0.01,) * 6, (1000,) * 6)
    root = next(s for s in range(catalog.n_skills) if not catalog.graph.direct[s].any() and (catalog.item_skill == s).any())
    child = next(s for s in range(catalog.n_skills) if catalog.graph.direct[s].sum() == 1 and (catalog.item_skill == s).any())
    for skill in (root, child):
        item = int(np.flatnonzero(catalog.item_skill == skill)[0])
        a_median = float(np.median(catalog.item_a[catalog.item_skill == skill]))
        prereqs = np.flatnonzero(catalog.graph.direct[skill])
        batches = [engine.new_batch(["s"]) for engine in (plain, with_law)]
        ready = float(np.prod(plain.p_now(batches[0])[0, prereqs]))  # 1 for a root
        for engine, batch in zip((plain, with_law), batches):
            engine.update_batch(batch, np.array([0]), np.array([item]), np.array([1.0]))
        rise = batches[1].skill_theta[0, skill] - batches[0].skill_theta[0, skill]
        assert rise == pytest.approx(0.2 * ready / a_median, rel=1e-9)
        assert 0 < ready <= 1
    assert with_law.law.informative


def test_the_pace_follows_the_answers_on_practised_skills_by_hand() -> None:
    """A second answer on a skill tests the drift the law added after the first: pace score a d (y - p) and
    information (a d)^2 p (1 - p) by hand (p: the 3PL at the skill's ability, probit-averaged over its
    variance plus one step of drift), and the pace 1 + score / (1 / 0.5^2 + information)."""
    import math

    from engine.catalog import load_catalog
    from engine.mastery import MasteryEngine

    catalog = load_catalog(None)
    engine = MasteryEngine(catalog)
    engine.law = LearningLaw(BAND_EDGES, (0.2,) * 6, (0.01,) * 6, (1000,) * 6)
    root = next(s for s in range(catalog.n_skills) if not catalog.graph.direct[s].any() and (catalog.item_skill == s).sum() >= 2)
    first, second = np.flatnonzero(catalog.item_skill == root)[:2]
    batch = engine.new_batch(["s"])
    engine.update_batch(batch, np.array([0]), np.array([first]), np.array([1.0]))
    assert batch.pace_score[0] == 0.0 and batch.pace_info[0] == 0.0  # a first answer tests no drift
    mean, var = float(batch.skill_theta[0, root]), float(batch.skill_var[0, root]) + engine.config.skill_drift
    a, b, c = float(catalog.item_a[second]), float(catalog.item_b[second]), float(catalog.item_c[second])
    a_eff = a / math.sqrt(1 + math.pi * a * a * var / 8)
    p = c + (1 - c) / (1 + math.exp(-a_eff * (mean - b)))
    d = 0.2 / float(np.median(catalog.item_a[catalog.item_skill == root]))
    engine.update_batch(batch, np.array([0]), np.array([second]), np.array([0.0]))
    assert batch.pace_score[0] == pytest.approx(a * d * (0.0 - p), rel=1e-9)
    assert batch.pace_info[0] == pytest.approx((a * d) ** 2 * p * (1 - p), rel=1e-9)
    expected = 1 + a * d * (0.0 - p) / (4.0 + (a * d) ** 2 * p * (1 - p))
    assert engine.pace(batch)[0] == pytest.approx(expected, rel=1e-9)
    assert engine.pace(batch)[0] < 1  # a wrong answer where the drift predicted better: slower than the law


def test_a_slow_learner_is_credited_with_less_learning_than_a_fast_one() -> None:
    from engine.catalog import load_catalog
    from engine.mastery import MasteryEngine

    catalog = load_catalog(None)
    engine = MasteryEngine(catalog)
    engine.law = LearningLaw(BAND_EDGES, (0.2,) * 6, (0.01,) * 6, (1000,) * 6)
    root = next(s for s in range(catalog.n_skills) if not catalog.graph.direct[s].any() and (catalog.item_skill == s).sum() >= 3)
    items = np.flatnonzero(catalog.item_skill == root)
    batch = engine.new_batch(["slow", "fast"])
    for t in range(12):
        engine.update_batch(batch, np.array([0, 1]), np.array([items[t % items.size]] * 2), np.array([float(t < 2), 1.0]))
    slow, fast = engine.pace(batch)
    assert slow < 1 < fast
    assert 0.2 <= slow and fast <= 3.0


def test_with_a_law_the_mastered_flag_needs_a_surer_ability() -> None:
    """P(ability mastered) = 0.65 with P(learned) 0.99: mastered without a law (needs 0.5), not with one (0.8)."""
    import math

    from scipy.stats import norm

    from engine.catalog import load_catalog
    from engine.mastery import MasteryEngine

    catalog = load_catalog(None)
    plain, with_law = MasteryEngine(catalog), MasteryEngine(catalog)
    with_law.law = LearningLaw(BAND_EDGES, (0.2,) * 6, (0.01,) * 6, (1000,) * 6)
    batch = plain.new_batch(["s"])
    a, b = plain.typical_items
    level = b[0] + math.log(0.8 / 0.2) / a[0]  # ability at which the typical item is answered right 80% of the time
    batch.p_learned[0, 0], batch.evidence[0, 0] = 0.99, 5
    batch.skill_theta[0, 0], batch.skill_var[0, 0] = level + norm.ppf(0.65), 1.0
    assert plain.ability_mastery(batch)[0, 0] == pytest.approx(0.65)
    assert plain.mastered(batch.p_learned, batch)[0, 0]
    assert not with_law.mastered(batch.p_learned, batch)[0, 0]
