"""BKT's EM steps over partitions (models/bkt/{em,partition}.py) at their edges, against independent truths:
ratios worked by hand (num / den clipped to the box [lo, 1 - lo], the old value where there is no evidence),
the convergence rule of the `run_em` docstring driven by a scripted E-step, counts made by hand for a
partition lacking one of the driver's skills, the mean of `correct` for empty partitions, and the local
`BKT.fit` (the partitioned fit's documented reference).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import polars as pl
import pytest

from engine.distributed.bkt import fit_inline
from models.bkt import BKT
from models.bkt.em import Bounds, ExpectedCounts, m_step, run_em
from models.bkt.partition import SkillSequences, _class_of
from models.bkt.simulate import simulate_bkt

NAMES = ("prior", "learn", "forget", "guess", "slip")
SKILL = [{"prior": 0.2, "learn": 0.15, "guess": 0.2, "slip": 0.1, "forget": 0.05}]
SCHEMA = {"student_id": pl.Utf8, "item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8), "correct": pl.Float64}


def counts(shape: tuple[int, int], **given: float) -> ExpectedCounts:
    """Statistics of `shape` for every field, 0 unless given."""
    return ExpectedCounts(**{name: np.full(shape, float(given.get(name, 0.0)))
                             for name in ("ll", "n_ul", "n_u", "n_lu", "n_l", "g_num", "g_den", "s_num", "s_den",
                                          "pr_num", "pr_den")})


def start(shape: tuple[int, int]) -> dict[str, np.ndarray]:
    return {name: np.full(shape, value) for name, value in zip(NAMES, (0.3, 0.2, 0.05, 0.25, 0.15))}


# ---- m_step --------------------------------------------------------------------------------------------

def test_no_evidence_keeps_every_parameter_and_divides_nothing() -> None:
    """All denominators 0 (a pair no sequence reaches, or a retired one): nothing to estimate from, so every
    parameter keeps its value, with one class per skill (class_skill None) and without dividing by zero."""
    at = start((2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a 0/0 would warn ("invalid value encountered in divide")
        m_step(counts((2, 3)), at, np.ones((2, 3), dtype=bool), Bounds(True, 1e-6, 0.4999, 0.4999))
    for name, value in zip(NAMES, (0.3, 0.2, 0.05, 0.25, 0.15)):
        np.testing.assert_array_equal(at[name], np.full((2, 3), value), err_msg=name)


def test_one_class_per_skill_takes_num_over_den_and_clips_at_one_minus_lo() -> None:
    """class_skill None (the default: class = skill). Every ratio by hand; a ratio of 1 is clipped to
    1 - lo for learn, forget and prior, and to max_guess / max_slip for guess / slip; a prior class
    holding one sequence (den exactly 1) is updated; pair (0, 1) is not asked and keeps its values."""
    c = counts((1, 2), n_ul=3.0, n_u=3.0, n_lu=1.0, n_l=4.0, g_num=2.0, g_den=2.0, s_num=1.0, s_den=8.0,
               pr_num=1.0, pr_den=1.0)
    c.pr_num[0, 0] = 0.5
    at = start((1, 2))
    m_step(c, at, np.array([[True, False]]), Bounds(True, 0.01, 0.3, 0.4))
    np.testing.assert_allclose(at["learn"], [[0.99, 0.2]], rtol=1e-12)  # 3 / 3 = 1, clipped to 1 - 0.01
    assert at["forget"].tolist() == [[0.25, 0.05]]  # 1 / 4
    assert at["guess"].tolist() == [[0.3, 0.25]]  # 2 / 2 = 1, clipped to max_guess
    assert at["slip"].tolist() == [[0.125, 0.15]]  # 1 / 8
    assert at["prior"].tolist() == [[0.5, 0.3]]  # 0.5 / 1: one sequence is evidence
    c.pr_num[0, 0] = 1.0
    m_step(c, at, np.array([[True, False]]), Bounds(True, 0.01, 0.3, 0.4))
    np.testing.assert_allclose(at["prior"], [[0.99, 0.3]], rtol=1e-12)  # 1 / 1 clipped to 1 - lo


def test_classes_with_skills_keep_their_values_without_evidence() -> None:
    """With class_skill given, classes of an updated skill with a zero denominator keep their values too."""
    c = counts((1, 1), n_ul=1.0, n_u=2.0)
    c.g_num, c.g_den = np.array([[1.6, 0.0]]), np.array([[4.0, 0.0]])
    c.s_num, c.s_den = np.array([[0.0, 1.0]]), np.array([[0.0, 5.0]])
    c.pr_num, c.pr_den = np.array([[0.0, 3.0]]), np.array([[0.0, 4.0]])
    at = {"prior": np.full((1, 2), 0.3), "learn": np.full((1, 1), 0.2), "forget": np.zeros((1, 1)),
          "guess": np.full((1, 2), 0.25), "slip": np.full((1, 2), 0.15)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m_step(c, at, np.array([[True]]), Bounds(False, 1e-6, 0.4999, 0.4999), (np.zeros(2, np.int64), np.zeros(2, np.int64)))
    assert at["guess"].tolist() == [[0.4, 0.25]] and at["slip"].tolist() == [[0.15, 0.2]]
    assert at["prior"].tolist() == [[0.3, 0.75]] and at["learn"].tolist() == [[0.5]] and at["forget"].tolist() == [[0.0]]


# ---- run_em: the convergence rule of its docstring -------------------------------------------------------

class Scripted:
    """An E-step whose log-likelihood per call is read from a list; the statistics make learn = 0.1 * call."""

    def __init__(self, lls: list[float]) -> None:
        self.lls, self.calls, self.seen = lls, 0, []

    def __call__(self, params: dict[str, np.ndarray], active: np.ndarray) -> ExpectedCounts:
        self.seen.append(float(params["learn"][0, 0]))
        self.calls += 1
        return counts((1, 1), ll=self.lls[self.calls - 1], n_ul=0.1 * self.calls, n_u=1.0)


def fit(lls: list[float], max_iter: int, tol: float) -> tuple[Scripted, np.ndarray, np.ndarray, dict, list]:
    e_step, at, calls = Scripted(lls), start((1, 1)), []
    ll, iters = run_em(e_step, at, Bounds(False, 1e-6, 0.4999, 0.4999), max_iter, tol,
                       lambda it, most: calls.append((it, most)))
    return e_step, ll, iters, at, calls


def test_max_iter_iterations_when_the_loglik_keeps_moving() -> None:
    e_step, ll, iters, at, calls = fit([-100.0, -50.0, -20.0, -10.0, -5.0, -1.0], max_iter=4, tol=1e-3)
    assert e_step.calls == 4 and iters.tolist() == [[4]]
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]  # the progress callback: (iteration, max_iter)
    assert ll.tolist() == [[-10.0]]  # "the log-likelihood of the ones before" the last M-step
    assert at["learn"][0, 0] == pytest.approx(0.4)  # "the last M-step's parameters"
    assert json.dumps(iters.tolist()) == "[[4]]"  # an iteration count is a whole number


def test_a_change_of_exactly_tol_is_not_convergence() -> None:
    """"Stop when the log-likelihood changes by less than tol": changes 0.5, 0.25, 0.125 with tol 0.25
    (all exact in binary) stop at iteration 4, keeping the parameters that gave it (learn 0.3)."""
    e_step, ll, iters, at, _ = fit([-10.0, -9.5, -9.25, -9.125, -9.0], max_iter=10, tol=0.25)
    assert iters.tolist() == [[4]] and ll.tolist() == [[-9.125]] and e_step.calls == 4
    assert at["learn"][0, 0] == pytest.approx(0.3) and e_step.seen[-1] == pytest.approx(0.3)


def test_an_unchanged_loglik_stops_at_the_second_iteration() -> None:
    e_step, ll, iters, at, calls = fit([-7.0] * 5, max_iter=10, tol=1e-3)
    assert iters.tolist() == [[2]] and e_step.calls == 2 and calls == [(1, 10), (2, 10)]
    assert ll.tolist() == [[-7.0]] and at["learn"][0, 0] == pytest.approx(0.1)


def test_no_partition_statistics_is_an_error() -> None:
    with pytest.raises(ValueError, match="no partition statistics"):
        ExpectedCounts.total_of([])


# ---- SkillSequences ---------------------------------------------------------------------------------------

def test_a_partition_is_coded_with_the_drivers_skills() -> None:
    """A share with skill "b" only, against the driver's ["a", "b"]: its 3 responses (one sequence) count
    for code 1, and its statistics sit in column 1; code 0 has none."""
    frame = pl.DataFrame({"student_id": ["u", "u", "u"], "item_id": ["x", "y", "x"], "skill_ids": [["b"]] * 3,
                          "correct": [1.0, 0.0, 1.0]}, schema=SCHEMA)
    part = SkillSequences(frame)
    pair_n, seq_n = part.prepare(["a", "b"])
    assert pair_n.tolist() == [0, 3] and seq_n.tolist() == [0, 1]
    got = part.expected_counts(start((1, 2)), np.ones((1, 2), dtype=bool))
    assert got.pr_den[0, 0] == 0.0 and got.pr_den[0, 1] == pytest.approx(1.0)
    assert got.g_den[0, 0] == 0.0 and got.g_den[0, 1] + got.s_den[0, 1] == pytest.approx(3.0)


def test_a_skill_outside_the_drivers_list_is_refused() -> None:
    frame = pl.DataFrame({"student_id": ["u"], "item_id": ["x"], "skill_ids": [["c"]], "correct": [1.0]}, schema=SCHEMA)
    with pytest.raises(ValueError, match="not in the driver's skill list"):
        SkillSequences(frame).prepare(["a", "b"])


def test_the_e_step_needs_prepare_first() -> None:
    frame = pl.DataFrame({"student_id": ["u"], "item_id": ["x"], "skill_ids": [["a"]], "correct": [1.0]}, schema=SCHEMA)
    with pytest.raises(RuntimeError, match=r"prepare\(\) must run"):
        SkillSequences(frame).expected_counts(start((1, 1)), np.ones((1, 1), dtype=bool))


def test_empty_and_skill_less_shares_count_nothing() -> None:
    empty = SkillSequences(pl.DataFrame(schema=SCHEMA))
    assert (empty.n_rows, empty.sum_correct, empty.n_no_skill) == (0, 0.0, 0)
    none = SkillSequences(pl.DataFrame({"student_id": ["u", "v"], "item_id": ["x", "x"], "skill_ids": [[], []],
                                        "correct": [1.0, 0.5]}, schema=SCHEMA))
    assert (none.n_rows, none.sum_correct, none.n_no_skill) == (2, 1.5, 2)


def test_empty_partitions_leave_the_mean_and_the_skill_less_count_alone() -> None:
    frame = simulate_bkt(SKILL, 3, 6, seed=2)  # 3 students over 6 partitions: at least 3 are empty
    frame = pl.concat([frame, pl.DataFrame({"student_id": ["u0"], "item_id": ["z"], "skill_ids": [[]], "correct": [1.0],
                                            "seq": [99]}, schema=frame.schema)])
    mine = fit_inline(BKT(min_responses=1), frame, 6)
    assert mine.global_mean_ == pytest.approx(sum(frame["correct"].to_list()) / frame.height, abs=1e-15)
    assert mine.n_no_skill_ == 1


def test_a_partitioned_fit_saves_the_local_fits_iteration_counts() -> None:
    """One partition gives the local fit bit for bit (test_bkt_partitions.py), down to the saved model:
    iteration counts are saved as whole numbers, as the local fit saves them."""
    frame = simulate_bkt(SKILL, 30, 6, seed=3)
    local, mine = BKT().fit(frame).to_dict(), fit_inline(BKT(), frame, 1).to_dict()
    assert json.dumps(mine["n_iter"]) == json.dumps(local["n_iter"])
    assert all(isinstance(n, int) for n in mine["n_iter"])


def test_a_null_label_joins_its_own_class_in_the_drivers_table() -> None:
    """`_class_of` matches a null label to the table's null class (nulls compare equal). The responses cannot carry a
    null item id any more (`check_responses` refuses it, naming the row), so this is the join on its own."""
    table = pl.DataFrame({"__class": [0, 1, 2], "__code": [0, 0, 0], "item_id": [None, "x", "y"]},
                         schema={"__class": pl.UInt32, "__code": pl.Int64, "item_id": pl.Utf8})
    keys = pl.DataFrame({"__code": np.array([0, 0, 0], dtype=np.int64), "item_id": ["y", None, "x"]},
                        schema={"__code": pl.Int64, "item_id": pl.Utf8})
    assert _class_of(keys, table, "item_id").tolist() == [2, 0, 1]


def test_a_class_missing_from_the_drivers_table_is_refused() -> None:
    table = pl.DataFrame({"__class": [0, 1], "__code": [0, 0], "item_id": ["x", "y"]},
                         schema={"__class": pl.UInt32, "__code": pl.Int64, "item_id": pl.Utf8})
    keys = pl.DataFrame({"__code": np.array([0, 0], dtype=np.int64), "item_id": ["y", "z"]})
    with pytest.raises(ValueError, match="not in the driver's class table"):
        _class_of(keys, table, "item_id")
    assert _class_of(keys.head(1), table, "item_id").tolist() == [1]
