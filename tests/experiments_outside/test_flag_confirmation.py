"""The flag-confirmation table (`experiments.flag_confirmation`) against counts made by hand."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from engine.catalog import demo_catalog
from engine.mastery import MasteryEngine
from experiments import flag_confirmation as fc


def test_flag_quality_counts_precision_and_recall_by_hand() -> None:
    flags = np.array([[True, True, False], [True, False, False]])
    truly = np.array([[True, False, True], [True, True, False]])
    q = fc.flag_quality(flags, truly)
    # 3 flags, 2 of them truly mastered; 4 truly mastered pairs, 2 of them flagged
    assert q["flags"] == 3 and q["precision"] == pytest.approx(2 / 3) and q["recall"] == pytest.approx(0.5)
    wilson = stats.binomtest(2, 3).proportion_ci(method="wilson")
    assert (q["low"], q["high"]) == pytest.approx((wilson.low, wilson.high))
    none = fc.flag_quality(np.zeros((1, 2), dtype=bool), np.ones((1, 2), dtype=bool))
    assert none["flags"] == 0 and math.isnan(none["precision"]) and none["recall"] == 0.0


def test_table_rows_score_each_level_against_the_served_one() -> None:
    truly = np.array([[True, True], [False, True]])
    outcomes = {level: fc.LevelOutcome(np.array([[True, level < fc.SERVED], [level < 0.6, False]]), truly,
                                       np.array([0.1, 0.3]) + (0.02 if level < fc.SERVED else 0.0), 0.25)
                for level in fc.LEVELS}
    rows = {float(r.split("|")[2]): [c.strip() for c in r.split("|")[1:-1]] for r in fc.table_rows("w", outcomes, True)}
    served = rows[fc.SERVED]
    assert served[2:5] == ["1", "1.000 [0.207, 1.000]", "0.333"] and served[-1] == "(served)"
    lowest = rows[min(fc.LEVELS)]  # flags (0, 0), (0, 1), (1, 0): two of three right, two of three truly mastered found
    assert lowest[2] == "3" and lowest[3].startswith("0.667") and lowest[4] == "0.667"
    assert lowest[6] == "0.220" and lowest[7].startswith("+0.020")  # each student gains 0.02 more than served


def test_confirming_at_sets_the_level_and_leaves_the_rest_of_the_config() -> None:
    engine = MasteryEngine(demo_catalog())
    before = engine.config
    assert fc.confirming_at(engine, 0.55) is engine
    assert engine.config.ability_confirms_with_law == 0.55 and before.ability_confirms_with_law == fc.SERVED
    assert engine.config == dataclasses.replace(before, ability_confirms_with_law=0.55)
