"""BKT's E-step over student partitions (in this process): statistics that add up, a hand-computed case,
and a partitioned fit equal to the local `BKT.fit` (bit for bit with one partition, to rounding with several)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.distributed.bkt import check_distributable, fit_inline, split_responses
from engine.errors import ConfigError
from models.bkt import BKT, bkt_idem
from models.bkt.em import ExpectedCounts
from models.bkt.partition import SkillSequences
from models.bkt.simulate import simulate_bkt

SKILLS = [
    {"prior": 0.2, "learn": 0.15, "guess": 0.2, "slip": 0.1, "forget": 0.05},
    {"prior": 0.4, "learn": 0.1, "guess": 0.25, "slip": 0.15, "forget": 0.02},
    {"prior": 0.1, "learn": 0.3, "guess": 0.15, "slip": 0.05},
]
FITTED = ("prior", "learn", "forget", "guess", "slip", "loglik")


def params(r: int, k: int, prior: float = 0.3, learn: float = 0.2, forget: float = 0.05, guess: float = 0.2,
           slip: float = 0.1) -> dict[str, np.ndarray]:
    return {name: np.full((r, k), value) for name, value in
            zip(("prior", "learn", "forget", "guess", "slip"), (prior, learn, forget, guess, slip))}


def e_step(frame: pl.DataFrame, skills: list[str], at: dict[str, np.ndarray]) -> ExpectedCounts:
    part = SkillSequences(frame)
    part.prepare(skills)
    return part.expected_counts(at, np.ones(at["learn"].shape, dtype=bool))


def test_one_response_gives_the_hand_computed_posterior() -> None:
    frame = pl.DataFrame({"student_id": ["a"], "item_id": ["q"], "skill_ids": [["s"]], "correct": [1.0]})
    got = e_step(frame, ["s"], params(1, 1))
    evidence = 0.3 * 0.9 + 0.7 * 0.2  # P(correct) = prior (1 - slip) + (1 - prior) guess
    posterior = 0.3 * 0.9 / evidence
    assert got.ll[0, 0] == pytest.approx(np.log(evidence), abs=1e-15)
    assert got.pr_num[0, 0] == pytest.approx(posterior, abs=1e-15) and got.pr_den[0, 0] == pytest.approx(1.0, abs=1e-15)
    assert got.g_num[0, 0] == pytest.approx(1 - posterior, abs=1e-15)  # unlearned and right: a guess
    assert got.s_num[0, 0] == 0.0 and got.n_u[0, 0] == 0.0  # no slip, and no transition in one step


def test_partition_statistics_add_up_to_the_whole_logs() -> None:
    frame = simulate_bkt(SKILLS, 120, 8, seed=1)
    skills = ["s0", "s1", "s2"]
    at = params(2, 3)
    at["learn"][1] = 0.35  # a second restart elsewhere
    whole = e_step(frame, skills, at)
    parts = ExpectedCounts.total_of([e_step(part, skills, at) for part in split_responses(frame, 3)])
    for name in vars(whole):
        np.testing.assert_allclose(getattr(parts, name), getattr(whole, name), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("forgets", [False, True])
def test_partitioned_fit_gives_the_local_fit(forgets: bool) -> None:
    frame = simulate_bkt(SKILLS, 300, 12, seed=3)
    local = BKT(forgets=forgets).fit(frame)
    one = fit_inline(BKT(forgets=forgets), frame, 1)
    three = fit_inline(BKT(forgets=forgets), frame, 3)
    for name in FITTED:
        np.testing.assert_array_equal(getattr(one, f"{name}_"), getattr(local, f"{name}_"))  # the same sums, in order
        np.testing.assert_allclose(getattr(three, f"{name}_"), getattr(local, f"{name}_"), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(three.n_iter_, local.n_iter_)
    np.testing.assert_array_equal(three.n_responses_, local.n_responses_)
    assert three.skills_ == local.skills_ and three.global_mean_ == pytest.approx(local.global_mean_, abs=1e-12)
    np.testing.assert_allclose(three.predict_proba(frame), local.predict_proba(frame), atol=1e-6)


def test_sparse_skills_and_rows_without_skills_are_handled_as_locally() -> None:
    frame = simulate_bkt(SKILLS, 200, 10, seed=4)
    extra = pl.DataFrame({"student_id": ["u0", "u1", "u1"], "item_id": ["x", "x", "y"], "skill_ids": [["rare"], ["rare"], []],
                          "correct": [1.0, 0.0, 1.0], "seq": [1000, 1000, 1001]}, schema=frame.schema)
    frame = pl.concat([frame, extra])
    local = BKT(forgets=True).fit(frame)
    mine = fit_inline(BKT(forgets=True), frame, 2)
    assert mine.sparse_skills_ == local.sparse_skills_ == ["rare"] and mine.n_no_skill_ == local.n_no_skill_ == 1
    for name in FITTED[:-1]:
        np.testing.assert_allclose(getattr(mine, f"{name}_"), getattr(local, f"{name}_"), atol=1e-6)


def test_a_partitions_bad_answer_is_named_and_kt_idem_is_refused() -> None:
    frame = simulate_bkt(SKILLS[:1], 20, 3).with_columns(pl.when(pl.col("seq") == 2).then(2.0).otherwise(pl.col("correct")).alias("correct"))
    with pytest.raises(ValueError, match=r"(?s)partition \d of 2 .*row 3, column .correct., value 2.0"):
        fit_inline(BKT(), frame, 2)
    with pytest.raises(ConfigError, match="KT-IDEM"):
        check_distributable(bkt_idem())
    with pytest.raises(ConfigError, match="prior_groups='band'"):
        check_distributable(BKT(prior_groups="band"))


def test_empty_partitions_change_nothing() -> None:
    frame = simulate_bkt(SKILLS[:1], 3, 15, seed=2)  # 3 students, 6 partitions: at least 3 are empty
    local = BKT(min_responses=1).fit(frame)
    mine = fit_inline(BKT(min_responses=1), frame, 6)
    np.testing.assert_array_equal(mine.n_iter_, local.n_iter_)
    for name in FITTED:
        np.testing.assert_allclose(getattr(mine, f"{name}_"), getattr(local, f"{name}_"), rtol=0, atol=1e-6)
