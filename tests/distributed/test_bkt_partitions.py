"""BKT's E-step over student partitions (in this process): statistics that add up, a hand-computed case,
and a partitioned fit equal to the local `BKT.fit` (bit for bit with one partition, to rounding with several),
for BKT, BKT with forgetting, KT-IDEM and multiprior BKT."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.distributed.bkt import fit_inline, split_responses
from models.bkt import BKT, bkt_idem
from models.bkt.em import Bounds, ExpectedCounts, m_step
from models.errors import ConfigError
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


def test_a_partitions_bad_answer_is_named() -> None:
    frame = simulate_bkt(SKILLS[:1], 20, 3).with_columns(pl.when(pl.col("seq") == 2).then(2.0).otherwise(pl.col("correct")).alias("correct"))
    with pytest.raises(ValueError, match=r"(?s)partition \d of 2 .*row 3, column .correct., value 2.0"):
        fit_inline(BKT(), frame, 2)


def test_empty_partitions_change_nothing() -> None:
    frame = simulate_bkt(SKILLS[:1], 3, 15, seed=2)  # 3 students, 6 partitions: at least 3 are empty
    local = BKT(min_responses=1).fit(frame)
    mine = fit_inline(BKT(min_responses=1), frame, 6)
    np.testing.assert_array_equal(mine.n_iter_, local.n_iter_)
    for name in FITTED:
        np.testing.assert_allclose(getattr(mine, f"{name}_"), getattr(local, f"{name}_"), rtol=0, atol=1e-6)


# ---- KT-IDEM and multiprior: classes per (skill, item) and per (skill, group) ------------------------------

def test_m_step_updates_a_class_with_its_skill() -> None:
    """Emission classes 0, 1 belong to skill 0 and class 2 to skill 1; prior classes 0 -> skill 1, 1 -> skill 0.
    Only (restart 0, skill 0) updates: its classes take num / den, the others keep their values."""
    ones = np.ones((1, 2))
    counts = ExpectedCounts(ll=0 * ones, n_ul=ones, n_u=4 * ones, n_lu=0 * ones, n_l=ones,
                            g_num=np.array([[1.0, 3.0, 1.0]]), g_den=np.full((1, 3), 10.0),
                            s_num=np.array([[2.0, 1.0, 1.0]]), s_den=np.full((1, 3), 10.0),
                            pr_num=np.array([[1.0, 3.0]]), pr_den=np.full((1, 2), 4.0))
    at = {"prior": np.full((1, 2), 0.5), "learn": np.full((1, 2), 0.5), "forget": np.zeros((1, 2)),
          "guess": np.full((1, 3), 0.5), "slip": np.full((1, 3), 0.5)}
    m_step(counts, at, np.array([[True, False]]), Bounds(False, 1e-6, 0.4999, 0.4999),
           (np.array([0, 0, 1]), np.array([1, 0])))
    np.testing.assert_array_equal(at["guess"], [[0.1, 0.3, 0.5]])
    np.testing.assert_array_equal(at["slip"], [[0.2, 0.1, 0.5]])
    np.testing.assert_array_equal(at["prior"], [[0.5, 0.75]])
    np.testing.assert_array_equal(at["learn"], [[0.25, 0.5]])


ITEM_GUESS = [[0.05, 0.2, 0.35], [0.1, 0.3]]


def banded_log(n_students: int, n_steps: int, seed: int) -> pl.DataFrame:
    """A KT-IDEM log (per-item guess) with a student-level `band` column (the multiprior groups)."""
    frame = simulate_bkt(SKILLS[:2], n_students, n_steps, seed=seed, item_guess=ITEM_GUESS)
    rng = np.random.default_rng(seed)
    bands = {f"u{i}": str(rng.choice(["lo", "mid", "hi"])) for i in range(n_students)}
    return frame.with_columns(pl.col("student_id").replace_strict(bands).alias("band"))


def assert_same_classes(mine: BKT, local: BKT, atol: float) -> None:
    for name in FITTED:
        np.testing.assert_allclose(getattr(mine, f"{name}_"), getattr(local, f"{name}_"), rtol=0, atol=atol)
    np.testing.assert_array_equal(mine.n_iter_, local.n_iter_)
    np.testing.assert_array_equal(mine.n_responses_, local.n_responses_)
    assert (mine.item_guess_slip_ is None) == (local.item_guess_slip_ is None)
    if local.item_guess_slip_ is not None:
        assert mine.item_guess_slip_["skill"] == local.item_guess_slip_["skill"]
        assert mine.item_guess_slip_["item"] == local.item_guess_slip_["item"]
        assert mine.item_guess_slip_["n"] == local.item_guess_slip_["n"]
        for key in ("guess", "slip"):
            np.testing.assert_allclose(mine.item_guess_slip_[key], local.item_guess_slip_[key], rtol=0, atol=atol)
    assert (mine.group_prior_ is None) == (local.group_prior_ is None)
    if local.group_prior_ is not None:
        assert mine.group_prior_["skill"] == local.group_prior_["skill"]
        assert mine.group_prior_["group"] == local.group_prior_["group"]
        np.testing.assert_allclose(mine.group_prior_["prior"], local.group_prior_["prior"], rtol=0, atol=atol)


@pytest.mark.parametrize("hyper", [{"item_params": True}, {"prior_groups": "band"},
                                   {"item_params": True, "prior_groups": "band", "forgets": True}])
def test_kt_idem_and_multiprior_partitioned_give_the_local_fit(hyper: dict) -> None:
    frame = banded_log(240, 8, seed=5)
    local = BKT(**hyper).fit(frame)
    assert_same_classes(fit_inline(BKT(**hyper), frame, 1), local, atol=0.0)  # one partition: the same sums, bit for bit
    three = fit_inline(BKT(**hyper), frame, 3)
    assert_same_classes(three, local, atol=1e-12)
    np.testing.assert_allclose(three.predict_proba(frame), local.predict_proba(frame), rtol=0, atol=1e-12)
    if "prior_groups" in hyper:  # the groups reached the workers: three bands per skill, each with its own prior
        assert sorted(set(three.group_prior_["group"])) == ["hi", "lo", "mid"]
        assert len(set(np.round(three.group_prior_["prior"], 9))) > 2


def test_classes_present_in_one_partition_only_and_empty_partitions() -> None:
    frame = banded_log(60, 6, seed=6)
    parts = split_responses(frame, 7)
    full = [k for k, p in enumerate(parts) if p.height]
    only_a, only_b = (parts[full[0]]["student_id"].unique().to_list(), parts[full[1]]["student_id"].unique().to_list())
    frame = frame.with_columns(  # an item only partition a's students answer, a group only partition b's have
        pl.when(pl.col("student_id").is_in(only_a) & (pl.col("item_id") == "s0-i0")).then(pl.lit("s0-a-only"))
        .otherwise(pl.col("item_id")).alias("item_id"),
        pl.when(pl.col("student_id").is_in(only_b)).then(pl.lit("b-only")).otherwise(pl.col("band")).alias("band"),
    )
    hyper = {"item_params": True, "prior_groups": "band", "min_responses": 1}
    local = BKT(**hyper).fit(frame)
    assert "s0-a-only" in local.item_guess_slip_["item"] and "b-only" in local.group_prior_["group"]
    assert any(p.height == 0 for p in split_responses(frame, 100))
    for n_parts in (7, 100):  # 100 partitions for 60 students: most are empty
        assert_same_classes(fit_inline(BKT(**hyper), frame, n_parts), local, atol=1e-12)


def test_kt_idem_on_partitions_recovers_the_simulated_item_guesses() -> None:
    truth = [0.05, 0.35]
    frame = simulate_bkt([{"prior": 0.3, "learn": 0.1, "guess": 0.2, "slip": 0.1}], 1500, 10, seed=11, item_guess=[truth])
    fit = fit_inline(bkt_idem(), frame, 3)
    got = dict(zip(fit.item_guess_slip_["item"], fit.item_guess_slip_["guess"]))
    assert got["s0-i0"] == pytest.approx(truth[0], abs=0.04) and got["s0-i1"] == pytest.approx(truth[1], abs=0.05)
    assert fit.slip_[0] == pytest.approx(0.1, abs=0.04)


def test_multiprior_needs_its_column_as_locally() -> None:
    frame = simulate_bkt(SKILLS[:1], 20, 3)
    with pytest.raises(ConfigError, match="prior_groups='band'.*no such column"):
        BKT(prior_groups="band").fit(frame)
    with pytest.raises(ConfigError, match="prior_groups='band'.*no such column"):
        fit_inline(BKT(prior_groups="band"), frame, 2)
