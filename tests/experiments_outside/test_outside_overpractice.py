"""The over-practice breakdown (`experiments.outside_overpractice`) against counts made by hand, and a small run
whose recorded steps agree with the driver's own share of steps on mastered skills."""

from __future__ import annotations

import numpy as np
import pytest

from engine.catalog.schema import ADVANCED, CORE, REMEDIAL
from experiments import outside_overpractice as op
from experiments.outside_check.driver import Run


def test_by_level_splits_the_steps_on_mastered_skills_as_counted_by_hand() -> None:
    # two steps x three students: levels, and which steps land on a truly mastered skill
    level = np.array([[CORE, CORE, REMEDIAL], [ADVANCED, CORE, CORE]])
    on = np.array([[True, False, False], [True, True, False]])
    rec = op.StepRecords(level=level, evidence=np.array([[4, 0, 1], [8, 2, 3]]),
                         last_answer=np.array([[1.0, -1.0, 0.0], [1.0, 0.0, 1.0]]),
                         flagged=np.array([[False, False, False], [True, False, False]]),
                         predicted=np.array([[0.6, 0.5, 0.4], [0.9, 0.7, 0.3]]),
                         true_level=np.array([[0.85, 0.3, 0.2], [0.95, 0.81, 0.5]]), on_mastered=on,
                         served=np.zeros((2, 3)), true_success=np.zeros((2, 3)), answers_before=np.zeros((2, 3)),
                         mastered_at_start=np.zeros((2, 3), dtype=bool))
    rows = {r["level"]: r for r in op.by_level(rec)}
    assert set(rows) == {"remedial", "core", "advanced"}
    core = rows["core"]  # 4 core steps, 2 on mastered skills (evidence 4 and 2), of the 3 steps on mastered skills
    assert core["steps"] == pytest.approx(4 / 6) and core["on_mastered"] == pytest.approx(0.5)
    assert core["of_all_on_mastered"] == pytest.approx(2 / 3)
    assert core["evidence"] == pytest.approx(3.0) and core["flagged"] == 0.0
    assert core["predicted"] == pytest.approx(0.65) and core["true_level"] == pytest.approx(0.83)
    assert core["after_right"] == pytest.approx(0.5)  # of its two steps on mastered skills, one followed a right answer
    assert rows["advanced"]["flagged"] == 1.0 and rows["advanced"]["of_all_on_mastered"] == pytest.approx(1 / 3)
    assert rows["remedial"]["on_mastered"] == 0.0 and np.isnan(rows["remedial"]["evidence"])


def test_by_served_band_counts_steps_and_truth_per_band_of_the_prediction() -> None:
    served = np.array([[0.35, 0.5, 0.55], [0.7, 0.95, 0.1]])  # bands 30-45, 45-60, 45-60, 60-75, 90-100, 0-30
    true = np.array([[0.4, 0.6, 0.4], [0.9, 0.8, 0.2]])
    on = np.array([[False, True, False], [True, True, False]])
    blank = np.zeros((2, 3))
    rec = op.StepRecords(level=blank, evidence=blank, last_answer=blank, flagged=blank, predicted=blank,
                         true_level=blank, on_mastered=on, served=served, true_success=true, answers_before=blank,
                         mastered_at_start=blank.astype(bool))
    bands = {b["band"]: b for b in op.by_served_band(rec)}
    middle = bands["45%-60%"]
    assert middle["steps"] == pytest.approx(2 / 6) and middle["predicted"] == pytest.approx(0.525)
    assert middle["true"] == pytest.approx(0.5) and middle["on_mastered"] == pytest.approx(0.5)
    assert bands["90%-100%"]["on_mastered"] == 1.0 and bands["0%-30%"]["true"] == pytest.approx(0.2)
    assert np.isnan(bands["75%-90%"]["predicted"]) and bands["75%-90%"]["steps"] == 0.0
    assert sum(b["steps"] for b in bands.values()) == pytest.approx(1.0)


def test_by_history_splits_the_steps_on_mastered_skills_by_the_answers_before_them() -> None:
    # two steps x four students: earlier answers on the practised skill 0, 2, 4, 7 / 1, 0, 6, 9
    before = np.array([[0, 2, 4, 7], [1, 0, 6, 9]])
    on = np.array([[True, False, True, True], [False, False, True, False]])
    start = np.array([[True, False, False, False], [False, False, True, False]])
    blank = np.zeros((2, 4))
    rec = op.StepRecords(level=blank, evidence=blank, last_answer=blank, flagged=blank, predicted=blank,
                         true_level=blank, on_mastered=on, served=blank, true_success=blank, answers_before=before,
                         mastered_at_start=start)
    rows = {r["answers"]: r for r in op.by_history(rec)}
    assert list(rows) == ["0", "1-2", "3-5", "6+"]
    assert rows["0"]["steps"] == pytest.approx(2 / 8) and rows["0"]["on_mastered"] == pytest.approx(0.5)
    assert rows["0"]["on_mastered_of_all"] == pytest.approx(1 / 8) and rows["0"]["from_start"] == 1.0
    assert rows["1-2"]["on_mastered"] == 0.0 and np.isnan(rows["1-2"]["from_start"])
    six = rows["6+"]  # steps with 7, 6, 9 earlier answers: two on mastered skills, one of them mastered from the start
    assert six["steps"] == pytest.approx(3 / 8) and six["on_mastered"] == pytest.approx(2 / 3)
    assert six["from_start"] == pytest.approx(0.5)
    assert sum(r["on_mastered_of_all"] for r in rows.values()) == pytest.approx(on.mean())


def test_by_quartile_splits_steps_gains_and_predictions_by_prior_achievement_as_counted_by_hand() -> None:
    # three steps x eight students, two a quartile (students 2k and 2k + 1 in quartile k)
    quartile = np.repeat(np.arange(4), 2)
    on = np.zeros((3, 8), dtype=bool)
    on[:, 6:] = [[True, False], [True, True], [False, True]]  # Q4: 4 of its 6 steps on mastered skills
    on[2, 0] = True  # Q1: 1 of 6
    start = np.zeros((3, 8), dtype=bool)
    start[0, 6] = start[1, 7] = True  # two of Q4's four were mastered before the run
    before = np.tile(np.arange(3)[:, None], (1, 8))  # every student: first answer at step 0, later ones after
    served = np.full((3, 8), 0.6)
    served[0] = 0.5
    true = np.tile(np.linspace(0.2, 0.9, 8), (3, 1))
    blank = np.zeros((3, 8))
    rec = op.StepRecords(level=blank, evidence=blank, last_answer=blank, flagged=blank, predicted=blank,
                         true_level=blank, on_mastered=on, served=served, true_success=true, answers_before=before,
                         mastered_at_start=start)
    zero = np.zeros(8)

    def run(name: str, gain: np.ndarray, on_mastered: np.ndarray) -> Run:
        return Run(name, zero, gain, on_mastered, zero, np.zeros((8, 2), dtype=bool))

    runs = {"equilearn": run("equilearn", np.arange(8) / 10, zero),
            "gated curriculum": run("gated curriculum", np.full(8, 0.3), np.linspace(0, 0.7, 8)),
            "oracle": run("oracle", zero, np.full(8, 0.25))}
    practised = np.zeros((8, 2), dtype=bool)
    practised[0] = practised[1, 0] = practised[7, 1] = True  # Q1: three practised skills; Q4: one
    estimate, level = np.arange(16).reshape(8, 2) / 20, np.full((8, 2), 0.5)
    rows = op.by_quartile(rec, quartile, runs, estimate, level, practised)
    assert [r["quartile"] for r in rows] == ["Q1", "Q2", "Q3", "Q4"]
    q1, q4 = rows[0], rows[3]
    assert q1["on_mastered"] == pytest.approx(1 / 6) and q4["on_mastered"] == pytest.approx(4 / 6)
    assert q4["from_start"] == pytest.approx(0.5) and q1["from_start"] == 0.0
    assert q4["gain"] == pytest.approx(0.65) and q1["gain_curriculum"] == pytest.approx(0.3)
    assert q4["on_mastered_curriculum"] == pytest.approx(0.65) and q1["on_mastered_oracle"] == pytest.approx(0.25)
    assert q1["first_served"] == pytest.approx(0.5) and q1["later_served"] == pytest.approx(0.6)
    assert q1["first_true"] == pytest.approx(0.25) and q4["later_true"] == pytest.approx(0.85)
    assert np.isnan(rows[1]["from_start"])  # no step of Q2 on a mastered skill
    assert q1["end_estimate"] == pytest.approx((0 + 1 + 2) / 60) and q4["end_estimate"] == pytest.approx(15 / 20)
    assert q1["end_level"] == 0.5 and np.isnan(rows[1]["end_estimate"])  # Q2 practised nothing


def test_flag_recall_by_the_evidence_behind_each_truly_mastered_skill() -> None:
    evidence = np.array([[1, 2, 3, 7, 12, 0]])
    truly = np.array([[True, True, True, True, True, True]])
    flagged = np.array([[True, False, True, False, True, True]])
    bands = {b["answers"]: b for b in op.flag_by_evidence(flagged, truly, evidence)}
    assert bands["1-2"] == {"answers": "1-2", "truly_mastered": 2, "recall": 0.5}
    assert bands["3-5"]["recall"] == 1.0 and bands["6-9"]["recall"] == 0.0 and bands["10+"]["truly_mastered"] == 1
    assert sum(b["truly_mastered"] for b in bands.values()) == 5  # the unanswered skill is in no band


def test_a_small_run_records_what_the_driver_counts() -> None:
    r = op.run_setting("peak65", students=40, steps=12, world_seed=3, seed=1)
    steps = sum(x["steps"] for x in r["levels"])
    assert steps == pytest.approx(1.0)
    on_mastered = sum(x["steps"] * x["on_mastered"] for x in r["levels"])
    assert on_mastered == pytest.approx(r["ours"])  # the recorder's truth is the driver's
    assert sum(x["on_mastered_of_all"] for x in r["history"]) == pytest.approx(r["ours"])
    first = r["history"][0]["from_start"]  # a skill not yet practised in the run can only be mastered from the start
    assert np.isnan(first) or first == 1.0
    assert 0.0 <= r["oracle"] <= 1.0 and r["flags_set"] >= 0
    shares = [x["on_mastered"] for x in r["quartiles"]]  # the quartiles are equal in size: their shares average to ours
    assert np.mean(shares) == pytest.approx(r["ours"])
