"""Answers the adaptive policy chose (`steered`) stay out of the item bank and the learning law.

Truths: hand-worked histories for the prefix rule and for matching answers to served lists; and, for the fits, the
same fit run on the unsteered answers alone (a log whose steered answers belong to other students must give the
law and the bank exactly what the unsteered log gives by itself)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from engine.catalog import load_catalog
from engine.data.steering import STEERED, check_steered, unsteered_prefix
from engine.errors import DataError
from engine.mastery import MasteryEngine
from engine.modelbuild import build_model_set
from engine.recommend.learning import fit_from_log
from engine.recommend.outcomes import mark_steered, steered_answers
from engine.runtime.modelset import build_policy
from engine.simulate.suite import random_practice_log, setting_by_name


def test_a_history_stops_counting_at_its_first_steered_answer() -> None:
    student = np.array([0, 0, 0, 0, 1, 1, 0])
    skill = np.array([5, 5, 7, 5, 5, 5, 7])
    steered = np.array([0, 1, 0, 0, 0, 0, 1], dtype=bool)
    # student 0, skill 5: rows 0 (before), 1 (steered), 3 (after: out); skill 7: rows 2 (before), 6 (steered); student 1
    # never steered
    assert unsteered_prefix(student, skill, steered).tolist() == [True, False, True, False, True, True, False]
    assert unsteered_prefix(student, skill, np.zeros(7, dtype=bool)).all()


def test_the_steered_column_takes_booleans_or_0_1_and_names_a_bad_row() -> None:
    log = pl.DataFrame({"student_id": ["a", "a", "b"], "item_id": ["i", "j", "i"], "correct": [1.0, 0.0, 1.0]})
    assert check_steered(log.with_columns(pl.Series(STEERED, [1, 0, 1])))[STEERED].to_list() == [True, False, True]
    with pytest.raises(DataError, match=r"row 2 \(student 'a'\): steered must be true/false or 1/0"):
        check_steered(log.with_columns(pl.Series(STEERED, [1, 2, 0])))
    with pytest.raises(DataError, match=r"row 3 \(student 'b'\): steered is missing"):
        check_steered(log.with_columns(pl.Series(STEERED, [True, False, None])))


def test_an_answer_on_an_item_the_newest_list_offered_is_steered() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    at = [t0 + timedelta(minutes=m) for m in range(10)]
    offers = pl.DataFrame({  # list 1 to student a at minute 1 (items x, y; y a placement question), list 2 at minute 5 (z)
        "served_id": [1, 1, 2], "student_id": ["a", "a", "a"], "served_at": [at[1], at[1], at[5]], "rank": [1, 2, 1],
        "resource_id": ["r1", "r2", "r3"], "item_id": ["x", "y", "z"], "item_p": [0.7, None, 0.6],
        "placement": [False, True, False]})
    answers = pl.DataFrame({  # before any list; x and y after list 1; w (not offered); x after list 2 (not offered there)
        "student_id": ["a", "a", "a", "a", "a", "b"], "item_id": ["x", "x", "y", "w", "x", "x"],
        "correct": [1.0, 0.0, 1.0, 1.0, 0.0, 1.0], "received_at": [at[0], at[2], at[3], at[4], at[6], at[2]],
        "seq": [0, 1, 2, 3, 4, 0]})
    flags = steered_answers(offers, answers).sort("student_id", "seq")
    assert flags[STEERED].to_list() == [False, True, True, False, False, False]
    responses = answers.select("student_id", "item_id", "correct", "seq")
    assert mark_steered(responses, flags.filter(pl.col("student_id") == "a"))[STEERED].to_list() == \
        [False, True, True, False, False, False]  # a student with no served list is not steered


@pytest.fixture(scope="module")
def logs() -> tuple[object, pl.DataFrame, pl.DataFrame]:
    catalog = load_catalog(None)
    setting = setting_by_name("proficiency-peak60")
    unsteered = random_practice_log(setting, catalog, 60, 30, seed=4)
    other = random_practice_log(setting, catalog, 40, 30, seed=5).with_columns(("s" + pl.col("student_id")).alias("student_id"))
    return catalog, unsteered, other


def test_the_law_is_fitted_on_the_answers_before_the_policy_steered(logs) -> None:
    catalog, unsteered, other = logs
    alone = fit_from_log(MasteryEngine(catalog), unsteered)["law"]
    notes: list[str] = []
    marked = pl.concat([unsteered.with_columns(pl.lit(False).alias(STEERED)), other.with_columns(pl.lit(True).alias(STEERED))])
    law = fit_from_log(MasteryEngine(catalog), marked, notes=notes)["law"]
    assert law["gamma"] == pytest.approx(alone["gamma"], abs=1e-9) and law["se"] == pytest.approx(alone["se"], abs=1e-9)
    assert notes == [f"learning law: fitted on the {unsteered.height} of its {marked.height} answers that came before the "
                     "adaptive policy steered the student's skill (engine.data.steering)"]
    unmarked = fit_from_log(MasteryEngine(catalog), marked.drop(STEERED))["law"]
    assert unmarked["gamma"] != pytest.approx(alone["gamma"], abs=1e-3)  # the steered students would have counted
    every = fit_from_log(MasteryEngine(catalog), marked.with_columns(pl.lit(True).alias(STEERED)), notes=notes)["law"]
    assert every["gamma"] == pytest.approx(unmarked["gamma"], abs=1e-9)  # nothing unsteered: every answer, and said
    assert "fitted on every answer, steered ones too" in notes[-1]


def test_the_bank_is_calibrated_on_the_answers_the_policy_did_not_choose(logs) -> None:
    catalog, unsteered, other = logs
    options = {"predictor": "irt", "test_fraction": 0, "irt_model": "2pl", "min_item_responses": 5}
    alone, _ = build_model_set(catalog, unsteered, **options)
    marked = pl.concat([unsteered.with_columns(pl.lit(0).alias(STEERED)), other.with_columns(pl.lit(1).alias(STEERED))])
    built, diagnostics = build_model_set(catalog, marked, **options)
    mixed, _ = build_model_set(catalog, marked.drop(STEERED), **options)

    def params(model_set) -> np.ndarray:  # the served items' calibrated (a, b)
        served = build_policy(catalog, model_set.components)[0].catalog
        return np.stack([served.item_a, served.item_b])

    assert np.array_equal(params(built), params(alone)) and not np.allclose(params(mixed), params(alone), atol=1e-3)
    assert diagnostics.n_responses == marked.height  # the skill model still sees every answer
    assert f"item bank: calibrated on the {unsteered.height} answers the adaptive policy did not choose, of " \
           f"{marked.height} (engine.data.steering)" in diagnostics.notes
