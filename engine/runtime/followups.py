"""The running service's half of learning each resource's value: the answers that follow the lists it served.

In process the policy observes every step's outcome (`EquilearnPolicy.observe`); the service sees lists and
answers arrive, often in different server processes. Every process therefore reads both durable logs, the served
lists and the events of all processes, as they grow, and applies to them the rule `model build --from-store` applies
(`engine.recommend.outcomes.follow_up_outcomes`): each answer goes to its student's newest list served before it,
only the first answer after a list counts, on an item the list offered. So every process learns every outcome once,
whichever process served the list or stored the answer, and what it learns is what the next build counts.

`FollowUps.start` counts the lists served after a set's build (at a load; the newest `max_lists` at most); each
`step` (`Runtime.catch_up`, at every policy check) reads the lists and events appended since, up to `SETTLE_SECONDS`
ago: a row whose transaction committed after a later row's (ids are given at insert, not at commit) is still read in
order, unless its commit took longer than that, in which case the next load's recount counts it. Per student the
newest list with no answer yet waits in memory (at most `max_lists` of them).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from engine.recommend.outcomes import (ANSWER_COLUMNS, OFFER_COLUMNS, OUTCOME_COLUMNS, follow_up_outcomes, offers_frame,
                                       read_served_lists)
from engine.store.events import CHUNK_STUDENTS
from engine.store.types import utc_now

SETTLE_SECONDS = 1.0  # rows younger than this are read at the next step (a transaction still committing)


def _settled(frame: pl.DataFrame, id_column: str, time_column: str, horizon: datetime) -> pl.DataFrame:
    """The rows before the first one (in id order) at or after `horizon`: what can be read now without skipping a row
    whose transaction commits later with a lower id."""
    frame = frame.sort(id_column)
    late = frame[time_column] >= horizon
    return frame if not late.any() else frame.head(int(late.arg_true()[0]))


class FollowUps:
    """Pairs served lists with the answers that follow them, reading the store's logs incrementally (module
    docstring). Thread-safe: one step at a time."""

    def __init__(self, store: Any, list_mark: int, event_mark: int, max_lists: int) -> None:
        self.store = store
        self.list_mark, self.event_mark, self.max_lists = list_mark, event_mark, max_lists
        self.pending = pl.DataFrame(schema=OFFER_COLUMNS)  # the entries of each student's newest list not answered yet
        self.counted = 0  # outcomes this follower has given (its start's and every step's)
        self._lock = threading.Lock()

    @classmethod
    def start(cls, store: Any, after_id: int, max_lists: int, chunk_students: int = CHUNK_STUDENTS
              ) -> tuple[FollowUps, pl.DataFrame]:
        """The follower of lists served after `after_id` (the newest `max_lists` at most), and the outcomes those lists
        already have: each of their students' answers is read up to the newest event now (`read_served_lists`, as a
        build reads them)."""
        event_mark = store.newest_event_seq()  # first: an answer stored meanwhile is read by the next step, once
        list_mark = store.newest_served_id()
        follower = cls(store, list_mark, event_mark, max_lists)
        offers, answers = read_served_lists(store, max(after_id, list_mark - max_lists), chunk_students)
        with follower._lock:
            outcomes = follower._pair(offers.filter(pl.col("served_id") <= list_mark),
                                      answers.filter(pl.col("seq") <= event_mark))
        return follower, outcomes

    def step(self, now: datetime | None = None) -> pl.DataFrame:
        """The outcomes of the lists and answers appended since the last step, up to SETTLE_SECONDS before `now`."""
        horizon = (now or utc_now()) - timedelta(seconds=SETTLE_SECONDS)
        with self._lock:
            offers = _settled(offers_frame(self.store.served_offers(after_id=self.list_mark)), "served_id", "served_at", horizon)
            answers = self.store.events_frame_after(self.event_mark, tuple(ANSWER_COLUMNS))
            answers = _settled(answers, "seq", "received_at", horizon)
            if offers.height:
                self.list_mark = int(offers["served_id"].max())
            if answers.height:
                self.event_mark = int(answers["seq"].max())
            if not offers.height and not answers.height:
                return pl.DataFrame(schema=OUTCOME_COLUMNS)
            return self._pair(pl.concat([self.pending, offers]), answers)

    def _pair(self, offers: pl.DataFrame, answers: pl.DataFrame) -> pl.DataFrame:
        """Outcomes of `offers` (the waiting lists and new ones) against new `answers`; keeps as waiting each student's
        newest list that no answer followed (the newest `max_lists` lists at most)."""
        outcomes = follow_up_outcomes(offers, answers)
        self.counted += outcomes.height
        lists = offers.group_by("served_id").agg(pl.col("student_id").first(), pl.col("served_at").first())
        newest = lists.sort("served_at", "served_id").group_by("student_id").agg(pl.all().last())
        last_answer = answers.group_by("student_id").agg(pl.col("received_at").max().alias("answered_at"))
        waiting = (newest.join(last_answer, on="student_id", how="left")
                   .filter(pl.col("answered_at").is_null() | (pl.col("answered_at") < pl.col("served_at")))
                   .sort("served_id").tail(self.max_lists))
        self.pending = offers.join(waiting.select("served_id"), on="served_id", how="semi")
        return outcomes

    def summary(self) -> dict[str, int]:
        """What it has read and counted (`GET /v1/models`, `learning`)."""
        with self._lock:
            return {"outcomes_since_build": self.counted, "lists_waiting": len(self),
                    "served_read_through_id": self.list_mark, "events_read_through_seq": self.event_mark}

    def __len__(self) -> int:
        """Lists waiting for their answer."""
        return self.pending["served_id"].n_unique()
