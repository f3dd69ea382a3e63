"""Bad input for BKT: tiny skills, out-of-order rows, unknown skills, ties, bad values, skill-less rows."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.errors import DataValidationError
from models.bkt import BKT
from models.bkt.simulate import simulate_bkt


@pytest.fixture(scope="module")
def data() -> pl.DataFrame:
    truth = [dict(prior=0.3, learn=0.15, guess=0.2, slip=0.1), dict(prior=0.6, learn=0.05, guess=0.3, slip=0.15)]
    return simulate_bkt(truth, 200, 10, seed=5)


def one_row(student: str, skill: str, correct: float, seq: int) -> pl.DataFrame:
    return pl.DataFrame({"student_id": [student], "item_id": [skill], "skill_ids": [[skill]], "correct": [correct], "seq": [seq]},
                        schema={"student_id": pl.Utf8, "item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8), "correct": pl.Float64, "seq": pl.Int64})


def test_bkt_skill_with_one_response_uses_pooled_parameters(data: pl.DataFrame) -> None:
    model = BKT().fit(pl.concat([data, one_row("u0", "tiny", 1.0, 999)]))
    k = model.skills_.index("tiny")
    assert model.sparse_skills_ == ["tiny"]
    for name in ("prior", "learn", "guess", "slip"):
        values = getattr(model, f"{name}_")
        assert values[k] == pytest.approx(np.median(values[[0, 1]]))  # pooled = median of the supported skills


def test_bkt_rows_out_of_order_give_the_same_predictions(data: pl.DataFrame) -> None:
    model = BKT().fit(data)
    shuffled = data.sample(fraction=1.0, shuffle=True, seed=3)
    p_sorted = model.predict_proba(data)
    p_shuffled = model.predict_proba(shuffled)
    back = shuffled.with_columns(p=p_shuffled).join(data.with_columns(q=p_sorted), on=["student_id", "seq"])
    np.testing.assert_allclose(back["p"].to_numpy(), back["q"].to_numpy(), rtol=1e-12)
    # fitting is order-free too
    np.testing.assert_allclose(BKT().fit(shuffled).learn_, model.learn_, rtol=1e-9)


def test_bkt_unknown_skill_at_predict_uses_pooled_parameters_and_is_traced(data: pl.DataFrame) -> None:
    model = BKT().fit(data)
    new = pl.concat([one_row("new", "never-seen", 1.0, 0), one_row("new", "never-seen", 1.0, 1)])
    p = model.predict_proba(new)
    pooled = model.prior_[-1] * (1 - model.slip_[-1]) + (1 - model.prior_[-1]) * model.guess_[-1]
    assert p[0] == pytest.approx(pooled)
    assert p[1] > p[0]  # a correct answer raised the estimate


def test_bkt_tied_seq_on_one_skill_is_refused(data: pl.DataFrame) -> None:
    model = BKT().fit(data)
    tied = pl.concat([one_row("x", "s0", 1.0, 0), one_row("x", "s0", 0.0, 0)])
    with pytest.raises(DataValidationError, match="row 2.*seq"):
        model.predict_proba(tied)


def test_bkt_bad_correct_and_missing_column_are_refused(data: pl.DataFrame) -> None:
    bad = data.with_columns(pl.when(pl.int_range(pl.len()) == 4).then(1.5).otherwise(pl.col("correct")).alias("correct"))
    with pytest.raises(DataValidationError, match="row 5.*correct"):
        BKT().fit(bad)
    with pytest.raises(DataValidationError, match="skill_ids"):
        BKT().fit(data.drop("skill_ids"))


def test_bkt_row_without_skill_gets_the_training_mean(data: pl.DataFrame) -> None:
    model = BKT().fit(data)
    row = one_row("y", "s0", 1.0, 0).with_columns(pl.lit([], dtype=pl.List(pl.Utf8)).alias("skill_ids"))
    assert model.predict_proba(row)[0] == pytest.approx(float(data["correct"].mean()))


def test_bkt_missing_seq_is_refused(data: pl.DataFrame) -> None:
    missing = pl.concat([one_row("x", "s0", 1.0, 0), one_row("x", "s0", 0.0, 1).with_columns(pl.lit(None, dtype=pl.Int64).alias("seq"))])
    with pytest.raises(DataValidationError, match=f"row {data.height + 2}, column 'seq'"):
        BKT().fit(pl.concat([data, missing]))


def test_bkt_unknown_skills_are_traced_apart(data: pl.DataFrame) -> None:
    # two skills unseen in training, interleaved in one student's rows: each is its own sequence, so its
    # predictions are the ones it gets alone
    model = BKT().fit(data)
    rows = [("new-b", 1.0), ("new-a", 0.0), ("new-b", 1.0), ("new-a", 1.0), ("new-b", 0.0), ("new-a", 1.0)]
    both = pl.concat([one_row("z", skill, c, t) for t, (skill, c) in enumerate(rows)])
    p = model.predict_proba(both)
    for skill in ("new-a", "new-b"):
        alone = model.predict_proba(pl.concat([one_row("z", s, c, t) for t, (s, c) in enumerate(rows) if s == skill]))
        np.testing.assert_allclose(p[[s == skill for s, _ in rows]], alone, rtol=1e-12)
    assert p[2] > p[0]  # skill new-b was traced: a correct answer raised its estimate


@pytest.mark.parametrize("column", ["item_id", "student_id"])
def test_bkt_empty_ids_are_refused_naming_the_row_by_both_engines(data: pl.DataFrame, column: str) -> None:
    # A null item id once reached the KT-IDEM kernels as class -2**63 (an out-of-bounds read) and the partitioned
    # fit made it a class of its own, so the two engines disagreed; a null student id failed inside polars.
    from engine.distributed.bkt import fit_inline

    bad = data.with_row_index("i").with_columns(
        pl.when(pl.col("i") == 7).then(None).otherwise(pl.col(column)).alias(column)).drop("i")
    with pytest.raises(DataValidationError, match=f"row 8, column '{column}': is empty"):
        BKT(item_params=True).fit(bad)
    with pytest.raises(ValueError, match=f"(?s)rows counted within this partition.*column '{column}': is empty"):
        fit_inline(BKT(item_params=True), bad, 2)  # the partition's own row number
