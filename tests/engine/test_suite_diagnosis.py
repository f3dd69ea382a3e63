"""experiments/suite_diagnosis.py: the paired-progress estimator against known simulation parameters, the
true-state engine's wiring, the world's true learning law and the steps by quartile and kind by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.catalog import load_catalog
from engine.mastery import MasteryEngine
from engine.recommend.law import LearningLaw
from engine.simulate.suite import Setting, random_practice_log, setting_by_name
from engine.catalog.schema import ADVANCED, CORE, REMEDIAL
from engine.simulate.runner import PLACEMENT_RESPONSES
from experiments.suite_diagnosis import (TRUTH_PARTS, RecordingSpec, StepLog, learning_by_kind, paired_progress, partly_true,
                                        true_law, true_state)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(None)


def _pooled(bp) -> tuple[float, float]:
    n = np.asarray(bp.n, dtype=float)
    mean = float((n * np.asarray(bp.mean)).sum() / n.sum())
    var = float((n**2 * np.asarray(bp.se) ** 2).sum() / n.sum() ** 2)
    return mean, math.sqrt(var)


def test_paired_progress_is_zero_without_learning_and_positive_with_it(catalog):
    # Without learning (rate 0, no forgetting) the predictor's miscalibration at a state cancels in the paired
    # difference: every step adds nothing. With fast ungated learning every step adds success.
    still = Setting("still", "proficiency", {"rate_scale": 0.0, "forgetting": 0.0, "resource_weight": 0.0})
    fast = Setting("fast", "proficiency", {"rate_scale": 0.8, "gating": 0.0, "peak_success": 0.5, "forgetting": 0.0,
                                           "resource_weight": 0.0})
    none_mean, none_se = _pooled(paired_progress(MasteryEngine(catalog), random_practice_log(still, catalog, 200, 40, 5)))
    fast_mean, fast_se = _pooled(paired_progress(MasteryEngine(catalog), random_practice_log(fast, catalog, 200, 40, 5)))
    assert abs(none_mean) < 3 * none_se
    assert fast_mean > 5 * fast_se and fast_mean > none_mean + 0.03


def test_true_law_peaks_where_the_world_does_by_hand():
    built = LearningLaw((0.0, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0), (0.0,) * 6, (0.1,) * 6, (100,) * 6)
    law = true_law(setting_by_name("proficiency-peak40"), built)
    # band 30-45% (centre 0.375) at peak 40%, width 0.8 logits, rate 0.4: 0.4 exp(-0.5 ((ln .6 - ln(2/3)) / 0.8)^2)
    assert law.gamma[1] == pytest.approx(0.39654, abs=1e-4)
    assert int(np.argmax(law.gamma)) == 1 and law.n == built.n


def test_true_state_engine_reads_the_learners(catalog):
    setting = setting_by_name("proficiency-peak60")
    world = setting.world(catalog, 12, seed=2)
    truth = true_state(MasteryEngine(catalog))
    spec = RecordingSpec(setting, truth)
    learners = spec.learners(world)
    batch = truth.new_batch([f"s{i}" for i in range(12)])
    assert np.allclose(truth.p_now(batch), np.clip(learners.mastery(), 1e-6, 1 - 1e-6))
    assert np.array_equal(truth.mastered(truth.p_now(batch), batch), learners.known())
    items = np.arange(12) % catalog.n_items
    it = learners.items
    expected = it.c[items] + (1 - it.c[items]) / (1 + np.exp(-it.a[items] * (learners.theta[np.arange(12), it.skill[items]] - it.b[items])))
    assert np.allclose(truth.predict_skill_pairs(batch, items), expected)
    mean, var, (a, b, c) = truth.item_ability(batch)
    assert np.allclose(mean, learners.theta[:, it.skill]) and np.all(var < 1e-9)
    assert np.array_equal(b, it.b) and np.array_equal(a, it.a) and np.array_equal(c, it.c)
    with pytest.raises(RuntimeError, match="whole simulated cohort"):
        truth.p_now(batch.rows(np.arange(3)))


def test_partly_true_engine_reads_the_truth_only_where_asked(catalog):
    # the mastered flag from the learners, everything else the engine's own estimates (the cold-start prior here)
    setting = setting_by_name("proficiency-peak60")
    world = setting.world(catalog, 12, seed=2)
    own = MasteryEngine(catalog)
    flag_only = partly_true(own, TRUTH_PARTS["mastered flag"])
    learners = RecordingSpec(setting, flag_only).learners(world)
    batch = flag_only.new_batch([f"s{i}" for i in range(12)])
    reference = own.new_batch([f"s{i}" for i in range(12)])
    assert np.array_equal(flag_only.mastered(flag_only.p_now(batch), batch), learners.known())
    assert learners.known().any() and not own.mastered(own.p_now(reference), reference).any()  # the flags differ
    assert np.allclose(flag_only.p_now(batch), own.p_now(reference))  # P(learned) is still the estimate
    assert not np.allclose(flag_only.p_now(batch), learners.mastery())
    items = np.arange(12) % catalog.n_items
    assert np.allclose(flag_only.predict_skill_pairs(batch, items), own.predict_skill_pairs(reference, items))
    # the item predictions alone from the truth: P(learned) stays the estimate
    items_only = partly_true(own, TRUTH_PARTS["item predictions"])
    items_only.learners = learners
    it = learners.items
    expected = it.c[items] + (1 - it.c[items]) / (1 + np.exp(-it.a[items] * (learners.theta[np.arange(12), it.skill[items]] - it.b[items])))
    assert np.allclose(items_only.predict_skill_pairs(batch, items), expected)
    assert np.allclose(items_only.p_now(batch), own.p_now(reference))
    assert type(partly_true(own, ())) is MasteryEngine


def test_learning_by_kind_splits_steps_by_quartile_phase_and_kind_by_hand(catalog):
    """Four students, one per quartile (initial mastery 0.4, 0.1, 0.3, 0.2), 12 steps: student n learns (n + 1) x 1e-3
    per step at gate 0.5, except its steps after placement on a remedial resource, which learn nothing at gate 0.2.
    Student 1 (Q1) answers placement questions in its first 3 steps, then alternates remedial / core resources;
    student 0 (Q4) works on advanced resources throughout; the others on core resources."""
    from types import SimpleNamespace

    T, n = 12, 4
    remedial = int(np.flatnonzero(catalog.resource_level == REMEDIAL)[0])
    core = int(np.flatnonzero(catalog.resource_level == CORE)[0])
    advanced = int(np.flatnonzero(catalog.resource_level == ADVANCED)[0])
    actions = np.tile(np.array([[advanced], [core], [core], [core]]), (1, T))
    actions[1] = np.where(np.arange(T) % 2 == 0, remedial, core)
    placement = np.zeros((n, T), dtype=bool)
    placement[1, :3] = True
    rate = (np.arange(n) + 1) * 1e-3
    on_remedial = ((catalog.resource_level[actions] == REMEDIAL) & ~placement).T  # (T, N)
    log = StepLog(gate=list(np.where(on_remedial, 0.2, 0.5)), learned=list(np.where(on_remedial, 0.0, rate[None, :])))
    result = SimpleNamespace(initial=np.array([0.4, 0.1, 0.3, 0.2]), actions=actions, placement=placement)
    cells = learning_by_kind(result, log, catalog)
    q1 = {name: cells[(0, name)] for name in ("first steps", "after", "placement question", "remedial", "core", "advanced")}
    assert (q1["first steps"].steps, q1["after"].steps) == (PLACEMENT_RESPONSES, T - PLACEMENT_RESPONSES)
    assert (q1["placement question"].steps, q1["placement question"].learned) == (3, pytest.approx(2.0))
    # steps 3..11 after placement: remedial at 4, 6, 8, 10 (learn 0, gate 0.2), core at 3, 5, 7, 9, 11
    assert (q1["remedial"].steps, q1["remedial"].learned, q1["remedial"].gate) == (4, 0.0, pytest.approx(0.2))
    assert (q1["core"].steps, q1["core"].learned, q1["core"].gate) == (5, pytest.approx(2.0), pytest.approx(0.5))
    assert q1["advanced"].steps == 0 and math.isnan(q1["advanced"].learned)
    # Q1's first 10 steps: 3 placement + 3 remedial (4, 6, 8) + 4 core (3, 5, 7, 9): learning (7 x 2) / 10
    assert q1["first steps"].learned == pytest.approx(1.4)
    assert cells[(3, "advanced")].steps == T and cells[(3, "advanced")].learned == pytest.approx(1.0)  # student 0: Q4
    gated = learning_by_kind(SimpleNamespace(initial=result.initial, actions=None, placement=None), log, catalog)
    assert set(name for _, name in gated) == {"first steps", "after"}
