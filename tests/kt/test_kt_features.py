"""Causal history features: values computed by hand on a tiny log, and no look-ahead."""

from __future__ import annotations

import polars as pl
import pytest

from models.logistic.features import response_history, sequential_order, skill_history


def tiny_log() -> pl.DataFrame:
    """Student a answers 4 items (rows deliberately out of order), student b one item in between."""
    rows = [
        # student, item, skills, correct, seq
        ("a", "i1", ["k1"], 0.0, 3),
        ("b", "i1", ["k1"], 1.0, 0),
        ("a", "i1", ["k1"], 1.0, 0),
        ("a", "i1", ["k2"], 1.0, 2),
        ("a", "i2", ["k1", "k2"], 0.0, 1),
    ]
    return pl.DataFrame(
        {k: [r[i] for r in rows] for i, k in enumerate(["student_id", "item_id", "skill_ids", "correct", "seq"])},
        schema={"student_id": pl.Utf8, "item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8), "correct": pl.Float64, "seq": pl.Int64},
    )


def test_total_and_item_counts_match_hand_computation() -> None:
    ordered = sequential_order(tiny_log())
    assert ordered["student_id"].to_list() == ["a"] * 4 + ["b"]
    assert ordered["seq"].to_list() == [0, 1, 2, 3, 0]
    h = response_history(ordered, decays=(0.5,))
    # student a answers 1, 0, 1, 0 (seq 0..3); b's only response has no history
    assert h["total_attempts"].to_list() == [0, 1, 2, 3, 0]
    assert h["total_wins"].to_list() == [0, 1, 1, 2, 0]
    assert h["total_fails"].to_list() == [0, 0, 1, 1, 0]
    # decayed (r = 0.5): latest earlier response weighs 1, the one before 0.5, then 0.25
    assert h["total_wins_r0"].to_list() == pytest.approx([0, 1, 0.5, 1 + 0 * 0.5 + 1 * 0.25, 0])
    assert h["total_fails_r0"].to_list() == pytest.approx([0, 0, 1, 0 + 1 * 0.5 + 0, 0])
    # item i1 for a: seq 0 (first), seq 2 (after one win), seq 3 (after two wins); i2 first at seq 1
    assert h["item_attempts"].to_list() == [0, 0, 1, 2, 0]
    assert h["item_wins"].to_list() == [0, 0, 1, 2, 0]


def test_skill_counts_match_hand_computation() -> None:
    ordered = sequential_order(tiny_log())
    s = skill_history(ordered).sort(["pos", "skill_id"])
    got = {(p, k): (a, w) for p, k, a, w in s.select("pos", "skill_id", "skill_attempts", "skill_wins").iter_rows()}
    assert got == {
        (0, "k1"): (0, 0),  # a seq0: first k1
        (1, "k1"): (1, 1),  # a seq1 (i2: k1 and k2): one earlier k1 answer, correct
        (1, "k2"): (0, 0),
        (2, "k2"): (1, 0),  # a seq2: earlier k2 answer at seq1 was wrong
        (3, "k1"): (2, 1),  # a seq3: k1 at seq0 (right) and seq1 (wrong)
        (4, "k1"): (0, 0),  # b: nothing earlier, a's answers do not count
    }


def test_features_never_look_ahead() -> None:
    """Changing a later answer leaves every earlier row's features unchanged."""
    base = tiny_log()
    flipped = base.with_columns(pl.when(pl.col("seq") == 3).then(1.0 - pl.col("correct")).otherwise(pl.col("correct")).alias("correct"))
    h0 = response_history(sequential_order(base), decays=(0.5, 0.9))
    h1 = response_history(sequential_order(flipped), decays=(0.5, 0.9))
    assert h0.equals(h1)  # seq 3 is a's last answer: no row's history includes it


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="skill_ids"):
        sequential_order(tiny_log().drop("skill_ids"))
    with pytest.raises(ValueError, match="null"):
        sequential_order(tiny_log().with_columns(pl.when(pl.col("seq") == 1).then(None).otherwise(pl.col("correct")).alias("correct")))
    assert response_history(sequential_order(tiny_log().head(0))).height == 0
