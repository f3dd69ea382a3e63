"""The running service follows the durable logs (engine.runtime.followups): read as they grow, step by step, they give
each list the outcome the build's rule gives it on the whole log, once."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from engine.recommend.outcomes import ANSWER_COLUMNS, OFFER_COLUMNS, follow_up_outcomes
from engine.runtime.followups import SETTLE_SECONDS, FollowUps
from tests.modelbuild.test_served_outcomes import ANSWERS, OFFERS, T0, answer, at, offer

AFTER_SETTLING = timedelta(seconds=SETTLE_SECONDS, microseconds=1)


class LogStore:
    """The two logs as a store shows them: only the rows `commit` made visible, read by id."""

    def __init__(self) -> None:
        self.offers: list[dict] = []
        self.answers: list[dict] = []

    def commit(self, offers: list[dict] = (), answers: list[dict] = ()) -> None:  # type: ignore[assignment]
        self.offers += offers
        self.answers += answers

    def served_offers(self, after_id: int = 0) -> list[dict]:
        return sorted((o for o in self.offers if o["served_id"] > after_id), key=lambda o: (o["served_at"], o["served_id"]))

    def newest_served_id(self) -> int:
        return max((o["served_id"] for o in self.offers), default=0)

    def newest_event_seq(self) -> int:
        return max((a["seq"] for a in self.answers), default=0)

    def _frame(self, rows: list[dict], columns: tuple[str, ...]) -> pl.DataFrame:
        return pl.DataFrame(sorted(rows, key=lambda a: a["seq"]), schema=ANSWER_COLUMNS).select(*columns)

    def events_frame_after(self, after_seq: int, columns: tuple[str, ...]) -> pl.DataFrame:
        return self._frame([a for a in self.answers if a["seq"] > after_seq], columns)

    def events_frame_chunked(self, students: list[str], columns: tuple[str, ...], chunk_students: int) -> pl.DataFrame:
        return self._frame([a for a in self.answers if a["student_id"] in set(students)], columns)


def in_time_order() -> tuple[list[dict], list[dict]]:
    """The hand-counted log of test_served_outcomes numbered as a store numbers it, in the order rows arrive: lists
    1, 2, 4, 5, 7 (minute 0), 6 (minute 1) and 3 (minute 10) become 1-5, 6 and 7; the answers' `seq` follows their time."""
    lists = sorted({(o["served_at"], o["served_id"]) for o in OFFERS.to_dicts()})
    new_id = {old: k + 1 for k, (_, old) in enumerate(lists)}
    answers = sorted(ANSWERS.to_dicts(), key=lambda a: a["received_at"])
    return ([{**o, "served_id": new_id[o["served_id"]]} for o in OFFERS.to_dicts()],
            [{**a, "seq": k + 1} for k, a in enumerate(answers)])


def outcome_rows(frame: pl.DataFrame) -> list[tuple]:
    return sorted((r["served_id"], r["resource_id"], round(r["residual"], 9)) for r in frame.to_dicts())


def test_read_minute_by_minute_the_logs_give_each_list_the_outcome_the_whole_log_gives_it_once():
    offers, answers = in_time_order()
    store, got = LogStore(), []
    follower, outcomes = FollowUps.start(store, 0, max_lists=100)
    assert outcomes.height == 0
    for minute in range(-2, 13):
        store.commit([o for o in offers if at(minute - 1) < o["served_at"] <= at(minute)],
                     [a for a in answers if at(minute - 1) < a["received_at"] <= at(minute)])
        got.append(follower.step(now=at(minute) + AFTER_SETTLING))
        got.append(follower.step(now=at(minute) + AFTER_SETTLING))  # a second read finds nothing new
    expected = follow_up_outcomes(pl.DataFrame(offers, schema=OFFER_COLUMNS), pl.DataFrame(answers, schema=ANSWER_COLUMNS))
    assert outcome_rows(pl.concat(got)) == outcome_rows(expected) == [(1, "r2", 0.5), (5, "gone", -0.25), (7, "r3", 0.8)]
    assert len(follower) == 0  # every student's newest list was followed by an answer


def test_a_row_that_commits_after_a_later_one_is_still_read_in_order():
    """List 1 gets its id first but commits after list 2 was read: rows younger than SETTLE_SECONDS wait."""
    store = LogStore()
    follower, _ = FollowUps.start(store, 0, max_lists=100)
    t = T0 + timedelta(seconds=0.5)
    store.commit([offer(2, "b", 0, 1, "r2", "i2", 0.25) | {"served_at": t}])
    assert follower.step(now=t + timedelta(seconds=0.2)).height == 0 and follower.list_mark == 0  # not settled: not read
    store.commit([offer(1, "a", 0, 1, "r1", "i1", 0.5)],
                 [answer("a", "i1", 1.0, 0, 1) | {"received_at": t}, answer("b", "i2", 1.0, 0, 2) | {"received_at": t}])
    got = follower.step(now=t + AFTER_SETTLING)
    assert outcome_rows(got) == [(1, "r1", 0.5), (2, "r2", 0.75)] and len(follower) == 0


def test_a_start_counts_the_lists_after_the_set_and_keeps_the_unanswered_one_waiting():
    offers, answers = in_time_order()
    store = LogStore()
    store.commit(offers, [a for a in answers if a["received_at"] <= at(5)])
    follower, outcomes = FollowUps.start(store, 1, max_lists=100)  # list 1 was counted by the set's build
    assert outcome_rows(outcomes) == [(5, "gone", -0.25)]
    assert follower.pending["served_id"].unique().to_list() == [7]  # a's list of minute 10 has no answer yet
    store.commit(answers=[a for a in answers if a["received_at"] > at(5)])
    assert outcome_rows(follower.step(now=at(12) + AFTER_SETTLING)) == [(7, "r3", 0.8)]
    assert len(follower) == 0


def test_at_most_max_lists_wait_and_a_start_reads_the_newest():
    store = LogStore()
    store.commit([offer(k, f"s{k}", k, 1, "r1", "i1", 0.5) for k in range(1, 6)])
    follower, _ = FollowUps.start(store, 0, max_lists=2)
    assert sorted(follower.pending["served_id"].to_list()) == [4, 5]
    store.commit(answers=[answer(f"s{k}", "i1", 1.0, 10, k) for k in range(1, 6)])
    assert outcome_rows(follower.step(now=at(10) + AFTER_SETTLING)) == [(4, "r1", 0.5), (5, "r1", 0.5)]
