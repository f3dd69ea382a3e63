"""The gap decomposition (`experiments.outside_gap`) against counts made by hand, and a small run whose recorder agrees
with the driver and with the world's own learning rule."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import outside_gap as og
from experiments.outside_check.driver import run_policy
from experiments.outside_check.policies import GreedyOracle
from experiments.outside_check.world import Learners
from experiments.outside_inproc import cohort_setting


def test_policy_row_means_and_success_bands_by_hand() -> None:
    # columns: true success, gate, bump, on mastered, served, evidence
    rec = np.array([[0.2, 1.0, 0.5, 0, np.nan, np.nan], [0.5, 0.5, 1.0, 1, np.nan, np.nan],
                    [0.95, 0.8, 0.1, 1, np.nan, np.nan], [0.31, 0.2, 0.9, 0, np.nan, np.nan]])
    row = og.policy_row("p", 0.1, rec)
    assert row["gate"] == pytest.approx(0.625) and row["bump"] == pytest.approx(0.625)
    assert row["product"] == pytest.approx((0.5 + 0.5 + 0.08 + 0.18) / 4) and row["on_mastered"] == 0.5
    assert row["bands"] == pytest.approx([0.25, 0.25, 0.25, 0.0, 0.0, 0.25])  # 0.2 | 0.31 | 0.5 | 0.95


def test_dispersion_by_the_answers_on_the_skill() -> None:
    rec = np.array([[0.2, 1, 1, 0, 0.5, 0], [0.8, 1, 1, 0, 0.5, 0], [0.6, 1, 1, 0, 0.6, 4], [0.9, 1, 1, 0, 0.7, 12]])
    rows = {r["answers"]: r for r in og.dispersion_rows(rec)}
    first = rows["0"]
    assert first["share"] == 0.5 and first["served"] == 0.5 and first["true"] == pytest.approx(0.5)
    assert first["sd"] == pytest.approx(0.3) and first["below"] == 0.5 and first["above"] == 0.5
    assert rows["3-5"]["sd"] == pytest.approx(0.0) and rows["10+"]["above"] == 1.0 and "1-2" not in rows


def test_the_recorder_agrees_with_the_driver_and_the_worlds_learning_rule() -> None:
    world, cohort, uniforms = cohort_setting("peak65", 30, 8, 3, 1)
    learners = Learners(world, cohort)
    recorder = og.StepRecorder(GreedyOracle(learners), learners, world)
    theta_before = []
    original = recorder.choose

    def choose(step: int) -> np.ndarray:
        theta_before.append(learners.theta.copy())
        return original(step)

    recorder.choose = choose  # type: ignore[method-assign]
    run = run_policy(world, cohort, recorder, uniforms, learners)
    rec = recorder.records()
    assert rec[:, 3].mean() == pytest.approx(run.on_mastered.mean())  # the driver counts the same steps on mastered skills
    # the first step's learning is rate x bump x gate on the practised skill (nothing forgotten yet at the start)
    first = rec[: cohort.size]
    rows = np.arange(cohort.size)
    skill = world.item_skill[GreedyOracle(Learners(world, cohort)).choose(0)]
    learners_again = Learners(world, cohort)
    gain = learners_again.learning(first[:, 0], first[:, 1], cohort.rate)
    assert gain == pytest.approx(cohort.rate * first[:, 2] * first[:, 1])
    assert (theta_before[1][rows, skill] - theta_before[0][rows, skill]) == pytest.approx(gain)
