"""What each served resource was followed by: the value of a resource measured from the service's own logs.

A platform shows a list; the student takes one entry, works through its resource and answers the entry's
item. An entry's outcome is therefore the student's next answer when it is on the entry's item: the answer
minus the item's predicted success when the list was served (`item_p`, made before the resource was used).
That is the residual `ResourceEffectiveness` learns from when the policy runs in process
(`EquilearnPolicy.observe`), so `model build --from-store` gives the service what the in-process policy
learns online, at every build.

Matching, per student, on the service's own clocks (`served_at`, `received_at`): each answer goes to the
newest list served before it arrived, and only the first answer after a list counts (a later one follows
other practice too). Answers on an item no entry of that list offered, entries without a prediction
(placement questions, lists logged before predictions were kept) and placement lists count for nothing.
When the answer names the resource the student used (`resource_id` on the event), the outcome goes to the entry of
that resource and item, and to none when the list paired that item with other resources only (the student reached it
another way); an answer naming none goes, when two entries offer its item, to the higher-ranked one.

The same matching says which answers the policy steered (`steered_answers`): an answer on an item the newest list
offered, whichever entry and whether first or not, answers an item the policy chose. `model build --from-store` marks
those (`engine.data.steering`) so that the item bank and the learning law are measured on the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from engine.data.steering import STEERED
from engine.recommend.effectiveness import ResourceEffectiveness
from engine.store.events import CHUNK_STUDENTS

OFFER_COLUMNS = {"served_id": pl.Int64, "student_id": pl.Utf8, "served_at": pl.Datetime("us", "UTC"), "rank": pl.Int64,
                 "resource_id": pl.Utf8, "item_id": pl.Utf8, "item_p": pl.Float64, "placement": pl.Boolean}
ANSWER_COLUMNS = {"student_id": pl.Utf8, "item_id": pl.Utf8, "correct": pl.Float64, "received_at": pl.Datetime("us", "UTC"),
                  "seq": pl.Int64, "resource_id": pl.Utf8}


def follow_up_outcomes(offers: pl.DataFrame, answers: pl.DataFrame) -> pl.DataFrame:
    """One row per served entry that its student's next answer followed (module docstring): `served_id`,
    `student_id`, `resource_id`, `residual` (correct - item_p). `offers`: one row per served entry
    (`engine.store.served.offers` rows: OFFER_COLUMNS); `answers`: the event log (ANSWER_COLUMNS, `seq` the
    append order; `resource_id`, the resource the answer names, may be absent)."""
    offers = offers.select([pl.col(c).cast(t) for c, t in OFFER_COLUMNS.items()])
    followed = (_after_lists(offers, answers).filter(pl.col("served_id").is_not_null())
                .unique(subset="served_id", keep="first", maintain_order=True))  # the first answer after each list
    entries = offers.filter(~pl.col("placement") & pl.col("item_p").is_not_null() & pl.col("resource_id").is_not_null())
    used = pl.col("used_resource")
    matched = (followed.select("served_id", "item_id", "correct", pl.col("resource_id").alias("used_resource"))
               .join(entries, on=["served_id", "item_id"], how="inner")
               .filter(used.is_null() | (used == pl.col("resource_id")))  # the entry the student took, when the answer says
               .sort("served_id", "rank").unique(subset="served_id", keep="first", maintain_order=True))
    return matched.select("served_id", "student_id", "resource_id",
                          (pl.col("correct") - pl.col("item_p")).clip(-1.0, 1.0).alias("residual"))


def _after_lists(offers: pl.DataFrame, answers: pl.DataFrame) -> pl.DataFrame:
    """Each answer (ANSWER_COLUMNS) with `served_id`, the newest list its student was served before it arrived (null:
    none), on the service's own clocks."""
    if "resource_id" not in answers.columns:  # a log from before answers named their resource
        answers = answers.with_columns(pl.lit(None, dtype=pl.Utf8).alias("resource_id"))
    answers = answers.select([pl.col(c).cast(t) for c, t in ANSWER_COLUMNS.items()])
    lists = offers.group_by("served_id").agg(pl.col("student_id").first(), pl.col("served_at").first()).sort("served_at")
    return (answers.sort("received_at", "seq")
            .join_asof(lists, left_on="received_at", right_on="served_at", by="student_id", strategy="backward",
                       check_sortedness=False))  # both sorted by time above, so within each student too


def steered_answers(offers: pl.DataFrame, answers: pl.DataFrame) -> pl.DataFrame:
    """(student_id, seq, steered) per answer: True when it answers an item that the newest list served to its student
    before it offered, placement questions included (the policy chose that item: `engine.data.steering`); False for
    answers on other items or before any list. `offers`, `answers`: as `follow_up_outcomes` takes them."""
    offers = offers.select([pl.col(c).cast(t) for c, t in OFFER_COLUMNS.items()])
    offered = offers.select("served_id", "item_id").unique().with_columns(pl.lit(True).alias(STEERED))
    return (_after_lists(offers, answers).join(offered, on=["served_id", "item_id"], how="left")
            .select("student_id", "seq", pl.col(STEERED).fill_null(False)))


def mark_steered(responses: pl.DataFrame, steered: pl.DataFrame) -> pl.DataFrame:
    """`responses` (with student_id and seq) with the `steered` column of `steered_answers` (False where it has no row)."""
    flags = steered.select(pl.col("student_id").cast(pl.Utf8), pl.col("seq").cast(pl.Int64), STEERED)
    return (responses.join(flags, on=["student_id", "seq"], how="left", maintain_order="left")
            .with_columns(pl.col(STEERED).fill_null(False)))


def offers_frame(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """`Store.served_offers` rows as a frame of OFFER_COLUMNS (empty when there are none)."""
    if not rows:
        return pl.DataFrame(schema=OFFER_COLUMNS)
    frame = pl.DataFrame(rows, schema_overrides=OFFER_COLUMNS, infer_schema_length=None)
    return frame.select([pl.col(c).cast(t) for c, t in OFFER_COLUMNS.items()])


OUTCOME_COLUMNS = {"served_id": pl.Int64, "student_id": pl.Utf8, "resource_id": pl.Utf8, "residual": pl.Float64}


def read_served_lists(store: Any, after_id: int = 0, chunk_students: int = CHUNK_STUDENTS
                      ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The entries of the lists a service's store (`engine.store.Store`) served with an id above `after_id` (OFFER_COLUMNS)
    and their students' answers (ANSWER_COLUMNS), the event log read `chunk_students` students at a time."""
    offers = offers_frame(store.served_offers(after_id=after_id))
    students = sorted(set(offers["student_id"].to_list()))
    return offers, store.events_frame_chunked(students, tuple(ANSWER_COLUMNS), chunk_students)


def read_store_outcomes(store: Any, after_id: int = 0, chunk_students: int = CHUNK_STUDENTS) -> pl.DataFrame:
    """`follow_up_outcomes` of the lists a service's store served with an id above `after_id` (`read_served_lists`).
    Empty when nothing was served."""
    return follow_up_outcomes(*read_served_lists(store, after_id, chunk_students))


@dataclass(frozen=True)
class MeasuredEffectiveness:
    """The statistics per resource, and what the outcomes held that the catalog does not."""

    effectiveness: ResourceEffectiveness
    outcomes: int  # outcomes counted
    unknown_resources: tuple[str, ...]  # resource ids of outcomes not in the catalog (not counted)
    through_id: int  # the newest served list with an outcome (0: none); lists above it are not counted here

    def summary(self) -> dict[str, object]:
        eff = self.effectiveness
        return {"outcomes": self.outcomes, "resources_measured": int((eff.count > 0).sum()),
                "unknown_resources": list(self.unknown_resources[:20]), "unknown_resources_total": len(self.unknown_resources),
                "served_through_id": self.through_id}


def measure_effectiveness(resource_ids: Sequence[str], outcomes: pl.DataFrame) -> MeasuredEffectiveness:
    """`ResourceEffectiveness` (its default prior) over the catalog's `resource_ids`, from `follow_up_outcomes` rows."""
    eff = ResourceEffectiveness(tuple(resource_ids))
    index = pl.DataFrame({"resource_id": list(eff.resource_ids), "row": np.arange(len(eff.resource_ids))},
                         schema={"resource_id": pl.Utf8, "row": pl.Int64})
    joined = outcomes.select("resource_id", "residual").join(index, on="resource_id", how="left")
    known = joined.filter(pl.col("row").is_not_null())
    eff.observe(known["row"].to_numpy(), known["residual"].to_numpy())
    unknown = tuple(sorted(joined.filter(pl.col("row").is_null())["resource_id"].unique().to_list()))
    through = outcomes["served_id"].max() if outcomes.height else 0
    return MeasuredEffectiveness(eff, known.height, unknown, int(through or 0))
