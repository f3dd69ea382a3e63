"""A build's grid choice departs from the setting assumed without evidence only beyond the noise of its held-out
sample (`engine.modelbuild.predictor.clearly_smaller`), checked by hand on small replays, and on a small log of a
world whose students barely forget: the outside check's world (forgetting 0.005 of a gain per step) with a log of
150 students, where the shortest stability had the smallest held-out log-loss by noise and, served, sent the
recommender back to review what the students knew (its top quartile 0.036 below the curriculum in that world)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.catalog import load_catalog
from engine.data import load
from engine.errors import ConfigError
from engine.modelbuild import build_model_set
from engine.modelbuild import predictor
from engine.modelbuild.forgetting import STABILITY_DAYS
from engine.modelbuild.predictor import HeldOut, clearly_smaller
from experiments.outside_check.world import WorldSpec
from experiments.outside_inproc import cohort_of, pipeline_inputs


def _held(y: list[float], student: list[int]) -> HeldOut:
    y_ = np.array(y)
    return HeldOut(y_, np.full(y_.size, 0.5), np.full(y_.size, 0.5), int(max(student)) + 1, np.array(student))


def test_the_paired_difference_against_its_student_clustered_standard_error_by_hand() -> None:
    held = _held([1, 1, 0, 1, 0, 1], [0, 0, 1, 1, 2, 2])
    base = np.full(6, 0.5)
    better = np.array([0.8, 0.7, 0.4, 0.6, 0.3, 0.9])
    # each response's log-loss difference, then summed per student
    d = np.array([-math.log(p) if y else -math.log(1 - p) for y, p in zip(held.y, better)]) - math.log(2)
    sums = np.array([d[0] + d[1], d[2] + d[3], d[4] + d[5]])
    se = math.sqrt(3 * np.var(sums, ddof=1)) / 6
    assert d.mean() < 0
    z_at = -d.mean() / se  # the number of standard errors by which `better` beats the base
    assert clearly_smaller(held, better, held, base, z=z_at - 1e-9)
    assert not clearly_smaller(held, better, held, base, z=z_at + 1e-9)
    assert not clearly_smaller(held, base, held, better, z=0.0)  # worse is never clearly smaller


def test_a_comparison_needs_the_same_responses_and_their_students() -> None:
    held = _held([1, 0, 1], [0, 1, 1])
    with pytest.raises(ConfigError, match="same held-out responses"):
        clearly_smaller(HeldOut(held.y, held.p_irt, held.p_skill, 2), held.y, held, held.y, 2.0)
    with pytest.raises(ConfigError, match="same held-out responses"):
        clearly_smaller(held, held.y, _held([0, 0, 1], [0, 1, 1]), held.y, 2.0)


def test_a_small_log_of_students_who_barely_forget_is_served_no_forgetting() -> None:
    world, *_ = cohort_of(WorldSpec(), 10, 5, world_seed=13, seed=0)
    with pipeline_inputs(world, 0, log_students=150, log_steps=60) as (catalog_dir, log):
        model_set, _ = build_model_set(load_catalog(catalog_dir), load(log, "generic").responses, seed=0)
    forgetting = model_set.components["build"]["forgetting"]
    tried = {t["stability_days"]: t["logloss"] for t in forgetting["tried"]}
    longest = max(STABILITY_DAYS)
    # the argmin over the grid is a shorter stability (the noise the rule guards against) ...
    assert min(tried, key=tried.get) < longest and min(tried.values()) < tried[longest]
    # ... but not beyond the noise of 30 held-out students, so the build serves next to no forgetting
    assert forgetting["stability_days"] == longest
    assert model_set.components["mastery"]["mastery"]["stability_days"] == longest
    # the mastered flag (a claim) needs one SE, not two: the week the argmin points to is still noise at one SE, a
    # shorter stability than the served one is not (540 days), and the claim assumes that
    claim = forgetting["claim_stability_days"]
    assert claim is not None and min(tried, key=tried.get) < claim < longest
    assert model_set.components["mastery"]["mastery"]["claim_stability_days"] == claim


def test_one_replay_gives_the_served_choice_at_two_standard_errors_and_the_claims_at_one(monkeypatch) -> None:
    y, student = [1, 1, 0, 1, 0, 1, 1, 0], [0, 0, 1, 1, 2, 2, 3, 3]
    null = np.full(8, 0.5)
    better = np.array([0.7, 0.6, 0.45, 0.6, 0.4, 0.65, 0.45, 0.55])  # better for three students, worse for the fourth
    held = _held(y, student)
    d = np.array([-math.log(p) if t else -math.log(1 - p) for t, p in zip(y, better)]) - math.log(2)
    sums = np.bincount(student, weights=d)
    z_at = -d.mean() / (math.sqrt(4 * np.var(sums, ddof=1)) / 8)  # how many SEs `better` beats the null by, by hand
    assert 1.0 < z_at < 2.0
    replays = {"null": null, "better": better}
    monkeypatch.setattr(predictor, "sample_students", lambda frame, seed=0: frame)
    monkeypatch.setattr(predictor, "sequential_predictions", lambda engine, sample: HeldOut(
        held.y, replays[engine], replays[engine], held.n_students, held.student))
    chosen, losses = predictor.replay_choices({"better": "better", "null": "null"}, None, lambda h: h.p_irt, "null", (2.0, 1.0))
    assert chosen == {2.0: "null", 1.0: "better"} and losses["better"] < losses["null"]
