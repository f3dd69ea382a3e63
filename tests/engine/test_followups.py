"""The running service pairs each list it served with the student's next stored answer (engine.runtime.followups),
counted by hand."""

from __future__ import annotations

import pytest

from engine.runtime.followups import FollowUps
from engine.store.records import Event


def row(student: str, items: list[tuple[str, str, float | None]], placement: bool = False) -> dict:
    return {"student_id": student, "context": {"placement": placement},
            "items": [{"rank": k + 1, "resource_id": r, "item_id": i, "item_p": p} for k, (r, i, p) in enumerate(items)]}


def event(student: str, item: str, correct: float) -> Event:
    return Event(f"{student}-{item}-{correct}", student, item, correct, None, "json", None)


def test_the_first_stored_answer_after_a_list_measures_the_entry_that_offered_its_item():
    f = FollowUps()
    f.served([row("a", [("r1", "i1", 0.6), ("r2", "i2", 0.5), ("r3", "i2", 0.1)]),  # i2 twice: rank 2 gets it
              row("b", [("r1", "i1", 0.7)]),
              row("c", [("r1", "i1", 0.4)]), row("c", [("r2", "i2", 0.3)]),  # c's newer list replaces the older
              row("d", [("r1", "i1", 0.2)]), row("d", [("r1", "i1", None)], placement=True)])  # placement: nothing waits
    got = f.answered([event("a", "i2", 1.0), event("a", "i1", 0.0), event("b", "i9", 1.0), event("b", "i1", 1.0),
                      event("c", "i1", 1.0), event("d", "i1", 1.0), event("e", "i1", 1.0)],
                     [True, True, True, True, True, True, True])
    assert [r for r, _ in got] == ["r2"] and got[0][1] == pytest.approx(0.5)  # a's second answer, b's and c's count nothing
    assert len(f) == 0


def test_a_duplicate_event_does_not_end_the_wait_or_count():
    f = FollowUps()
    f.served([row("a", [("r1", "i1", 0.25)])])
    assert f.answered([event("a", "i1", 1.0)], [False]) == []  # already stored before: not an answer to this list
    assert f.answered([event("a", "i1", 0.0)], [True]) == [("r1", pytest.approx(-0.25))]
