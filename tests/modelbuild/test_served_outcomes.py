"""What followed each served resource (`engine.recommend.outcomes`), counted by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from engine.recommend.outcomes import OFFER_COLUMNS, follow_up_outcomes, measure_effectiveness

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def offer(served_id: int, student: str, minutes: float, rank: int, resource: str, item: str, p: float | None,
          placement: bool = False) -> dict:
    return {"served_id": served_id, "student_id": student, "served_at": at(minutes), "rank": rank, "resource_id": resource,
            "item_id": item, "item_p": p, "placement": placement}


def answer(student: str, item: str, correct: float, minutes: float, seq: int) -> dict:
    return {"student_id": student, "item_id": item, "correct": correct, "received_at": at(minutes), "seq": seq}


OFFERS = pl.DataFrame([
    offer(1, "a", 0, 1, "r1", "i1", 0.6), offer(1, "a", 0, 2, "r2", "i2", 0.5),
    offer(2, "b", 0, 1, "r1", "i1", 0.7),
    offer(3, "a", 10, 1, "r3", "i3", 0.2), offer(3, "a", 10, 2, "r4", "i3", 0.3),  # the same item twice: rank 1 gets it
    offer(4, "c", 0, 1, "r1", "i1", None, placement=True),
    offer(5, "d", 0, 1, "r1", "i1", 0.4), offer(6, "d", 1, 1, "r2", "i2", 0.9),  # a second list before any answer
    offer(7, "e", 0, 1, "gone", "i1", 0.25),
], schema=OFFER_COLUMNS)
ANSWERS = pl.DataFrame([
    answer("a", "i2", 1.0, 1, 1),  # follows list 1's second entry: 1 - 0.5
    answer("a", "i1", 0.0, 2, 2),  # a second answer after list 1: not its outcome
    answer("b", "i9", 1.0, 1, 3),  # an item list 2 did not offer
    answer("a", "i3", 1.0, 11, 4),  # list 3, rank 1: 1 - 0.2
    answer("c", "i1", 1.0, 1, 5),  # a placement list
    answer("d", "i1", 1.0, 2, 6),  # list 5's item, but list 6 is the newest before it and does not offer i1
    answer("e", "i1", 0.0, 1, 7),  # 0 - 0.25 for a resource the catalog no longer has
    answer("f", "i1", 1.0, 1, 8),  # never served anything
    answer("b", "i1", 1.0, -1, 9),  # before list 2 was served
])


def test_each_list_is_credited_with_the_first_answer_after_it_when_it_offered_that_item():
    got = follow_up_outcomes(OFFERS, ANSWERS).sort("served_id")
    assert got.select("served_id", "resource_id").rows() == [(1, "r2"), (3, "r3"), (7, "gone")]
    assert got["residual"].to_list() == pytest.approx([0.5, 0.8, -0.25])


def test_an_answer_naming_its_resource_is_credited_to_that_entry():
    """List 3 offers item i3 with r3 (rank 1) and r4 (rank 2). Answered naming r4: r4's outcome (1 - 0.3), not r3's;
    naming a resource no entry paired with i3: no outcome; naming none: rank 1, as before."""
    def outcomes(resource: str | None) -> list[tuple]:
        named = ANSWERS.with_columns(pl.when(pl.col("seq") == 4).then(pl.lit(resource)).otherwise(None)
                                     .cast(pl.Utf8).alias("resource_id"))
        got = follow_up_outcomes(OFFERS, named).filter(pl.col("served_id") == 3)
        return [(r, round(x, 9)) for r, x in got.select("resource_id", "residual").rows()]
    assert outcomes("r4") == [("r4", 0.7)]
    assert outcomes("r1") == []
    assert outcomes(None) == [("r3", 0.8)]


def test_the_statistics_count_the_catalog_resources_and_name_the_rest():
    measured = measure_effectiveness(["r1", "r2", "r3", "r4"], follow_up_outcomes(OFFERS, ANSWERS))
    eff = measured.effectiveness
    assert eff.count.tolist() == [0, 1, 1, 0] and eff.total == pytest.approx([0, 0.5, 0.8, 0])
    assert measured.outcomes == 2 and measured.unknown_resources == ("gone",)
    assert eff.mean[1] == pytest.approx(0.5 / (1 + eff.prior_strength))  # the prior's pseudo-observations shrink it


def test_no_offers_no_outcomes():
    empty = pl.DataFrame(schema=OFFER_COLUMNS)
    assert follow_up_outcomes(empty, ANSWERS).height == 0
    assert np.all(measure_effectiveness(["r1"], follow_up_outcomes(empty, ANSWERS)).effectiveness.count == 0)
