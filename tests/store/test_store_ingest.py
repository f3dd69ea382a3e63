"""Ingestion: idempotent by event id, conflict on a reused id, all-or-nothing batches, validation."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest

from engine.errors import ConflictError, DataValidationError
from engine.store import Event, Store, per_student
from engine.store.events import payload_hash


def ev(i: int, sid: str = "s1", correct: float = 1.0, **kw: object) -> Event:
    return Event(f"e{i}", sid, f"item{i % 3}", correct, **kw)


def test_ingest_stores_and_folds_in_order(store: Store, fold) -> None:
    result = store.ingest([ev(1), ev(2, correct=0.0), ev(3, "s2", 0.5)], fold)
    assert [r.status for r in result.results] == ["stored"] * 3
    assert [r.seq for r in result.results] == sorted(r.seq for r in result.results)
    assert store.get_state("s1").state == {"ids": ["e1", "e2"], "total": 1.0}
    assert store.get_state("s2").state == {"ids": ["e3"], "total": 0.5}
    assert store.get_state("s1").version == 1 and store.get_state("s1").last_seq == result.results[1].seq
    assert store.count_events() == 3 and store.student_ids() == ["s1", "s2"]


def test_resending_a_batch_stores_nothing_twice_and_answers_the_same(store: Store, fold) -> None:
    batch = [ev(1), ev(2, correct=0.0)]
    first = store.ingest(batch, fold)
    second = store.ingest(batch, fold)
    assert [r.status for r in second.results] == ["duplicate", "duplicate"]
    assert [(r.seq, r.received_at) for r in second.results] == [(r.seq, r.received_at) for r in first.results]
    assert second.states == {} and store.count_events() == 2
    state = store.get_state("s1")
    assert state.state["ids"] == ["e1", "e2"] and state.version == 1  # not folded again


def test_partly_new_batch_folds_only_the_new_events(store: Store, fold) -> None:
    store.ingest([ev(1)], fold)
    result = store.ingest([ev(1), ev(2), ev(2)], fold)
    assert [r.status for r in result.results] == ["duplicate", "stored", "duplicate"]
    assert result.results[1].seq == result.results[2].seq
    assert store.get_state("s1").state["ids"] == ["e1", "e2"]
    assert store.count_events() == 2


def test_reused_id_with_other_content_rejects_the_whole_batch(store: Store, fold) -> None:
    store.ingest([ev(1)], fold)
    with pytest.raises(ConflictError, match="'e1'") as info:
        store.ingest([ev(5), ev(1, correct=0.0), ev(6, "s3")], fold)  # e1 stored with correct=1
    assert "nothing was stored" in str(info.value)
    assert store.count_events() == 1
    assert store.get_state("s1").state["ids"] == ["e1"] and store.get_state("s3") is None
    with pytest.raises(ConflictError, match="'e9'"):  # the same id twice in one batch, different student
        store.ingest([ev(9), ev(9, "s2")], fold)
    assert store.count_events() == 1 and store.get_state("s2") is None


def test_timestamp_is_part_of_the_identity_and_round_trips_in_utc(store: Store, fold) -> None:
    local = datetime(2024, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    store.ingest([ev(1, timestamp=local)], fold)
    assert store.ingest([ev(1, timestamp=datetime(2024, 3, 1, 10, 0))], fold).results[0].status == "duplicate"  # naive = UTC
    with pytest.raises(ConflictError):
        store.ingest([ev(1, timestamp=local + timedelta(seconds=1))], fold)
    (logged,) = store.student_log("s1")
    assert logged.event.timestamp == datetime(2024, 3, 1, 10, 0, tzinfo=timezone.utc)
    assert logged.event.timestamp.tzinfo is not None


def test_resource_is_part_of_the_identity_and_round_trips(store: Store, fold) -> None:
    """The resource behind an answer is stored, read back, and compared on a retry; an event naming none hashes as it
    did before the column existed (the sha256 of its five fields, computed here by hand), so old retries still match."""
    plain = ev(1)
    by_hand = hashlib.sha256(json.dumps(["e1", "s1", "item1", 1.0, None], separators=(",", ":")).encode()).hexdigest()
    assert payload_hash(plain) == by_hand
    assert payload_hash(ev(1, resource_id="r-video")) != by_hand
    store.ingest([ev(1, resource_id="r-video"), ev(2)], fold)
    assert store.ingest([ev(1, resource_id="r-video")], fold).results[0].status == "duplicate"
    for clash in (ev(1), ev(1, resource_id="r-other")):
        with pytest.raises(ConflictError, match="resource"):
            store.ingest([clash], fold)
    assert [e.event.resource_id for e in store.student_log("s1")] == ["r-video", None]
    assert store.events_frame()["resource_id"].to_list() == ["r-video", None]
    assert store.answers_since(0)["resource_id"].to_list() == ["r-video", None]
    with pytest.raises(DataValidationError) as info:
        store.ingest([ev(3, resource_id=""), ev(4, resource_id="x" * 300)], fold)
    assert {(p.row, p.column) for p in info.value.problems} == {(1, "resource_id"), (2, "resource_id")}
    assert store.count_events() == 2


def test_failing_apply_function_stores_nothing(store: Store, fold) -> None:
    store.ingest([ev(1)], fold)

    def broken(current, new):
        if "s2" in new:
            raise RuntimeError("model exploded")
        return fold(current, new)

    with pytest.raises(RuntimeError):
        store.ingest([ev(2), ev(3, "s2")], broken)
    assert store.count_events() == 1 and store.get_state("s2") is None
    assert store.get_state("s1").state["ids"] == ["e1"] and store.get_state("s1").version == 1


def test_invalid_events_are_all_listed_and_nothing_is_stored(store: Store, fold) -> None:
    bad = [ev(1), Event("e2", "", "i", 0.5), Event("e3", "s1", "i", 1.5), Event("e4", "s1", "i", float("nan")),
           Event("x" * 300, "s1", "i", 1.0)]
    with pytest.raises(DataValidationError) as info:
        store.ingest(bad, fold)
    rows = {(p.row, p.column) for p in info.value.problems}
    assert rows == {(2, "student_id"), (3, "correct"), (4, "correct"), (5, "event_id")}
    assert store.count_events() == 0


def test_per_student_adapter_and_events_frame(store: Store) -> None:
    seen = []

    def apply(sid, state, events):
        seen.append((sid, state, [e.event_id for e in events]))
        return {"n": (state or {"n": 0})["n"] + len(events)}

    store.ingest([ev(1), ev(2, "s2"), ev(3)], per_student(apply))
    store.ingest([ev(4)], per_student(apply))
    assert seen[-1] == ("s1", {"n": 2}, ["e4"])
    frame = store.events_frame()
    assert frame["event_id"].to_list() == ["e1", "e2", "e3", "e4"]
    assert frame.filter(frame["student_id"] == "s1")["correct"].to_list() == [1.0, 1.0, 1.0]
    assert store.events_frame(["s2"])["event_id"].to_list() == ["e2"]


def test_put_state_compare_and_set(store: Store) -> None:
    created = store.put_state("s1", {"p": 0.2}, expected_version=0)
    assert created.version == 1
    with pytest.raises(ConflictError):
        store.put_state("s1", {"p": 0.9}, expected_version=0)  # already exists
    updated = store.put_state("s1", {"p": 0.3}, expected_version=1)
    assert updated.version == 2
    with pytest.raises(ConflictError):
        store.put_state("s1", {"p": 0.4}, expected_version=1)  # stale
    assert store.get_state("s1").state == {"p": 0.3}
    assert store.put_state("s1", {"p": float("nan")}).state == {"p": None}  # JSON has no NaN
