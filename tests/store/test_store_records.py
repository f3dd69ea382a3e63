"""Roster, audits, served recommendations and health: round trips and validation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine.errors import DataError, DataValidationError, NotFoundError, UnavailableError
from engine.store import Event, Store


def test_roster_upsert_replaces_and_reads_back(store: Store) -> None:
    assert store.audit_scope_upsert_roster([{"student_id": "s1", "gender": "F", "ell": True},
                                            {"student_id": "s2", "gender": "M", "age": 12}]) == 2
    store.audit_scope_upsert_roster([{"student_id": "s1", "gender": "X"}])  # replaces s1 entirely
    frame = store.audit_scope_read_roster()
    assert frame.columns == ["student_id", "age", "gender"]  # no student has `ell` any more
    assert frame.rows() == [("s1", None, "X"), ("s2", 12, "M")]
    assert store.audit_scope_read_roster(["s2"])["gender"].to_list() == ["M"]
    assert store.audit_scope_delete_roster(["s2", "zz"]) == 1


def test_roster_rejects_bad_records_entirely(store: Store) -> None:
    with pytest.raises(DataValidationError) as info:
        store.audit_scope_upsert_roster([{"student_id": "ok", "g": "a"}, {"student_id": "", "g": "b"},
                                         {"student_id": "s3", "g": [1]}, {"student_id": "ok", "g": "c"}])
    assert {(p.row, p.column) for p in info.value.problems} == {(2, "student_id"), (3, "g"), (4, "student_id")}
    assert store.audit_scope_read_roster().height == 0


def test_roster_records_without_student_id_are_each_reported(store: Store) -> None:
    with pytest.raises(DataValidationError) as info:
        store.audit_scope_upsert_roster([{"g": "a"}, {"g": "b"}])
    assert {(p.row, p.column) for p in info.value.problems} == {(1, "student_id"), (2, "student_id")}


def test_audits_latest_and_not_found(store: Store) -> None:
    first = store.save_audit("v1", "FAIL", {"checks": ["a"]})
    second = store.save_audit("v1", "PASS", {"checks": ["a", "b"]})
    store.save_audit("v2", "INSUFFICIENT_EVIDENCE", {})
    assert store.get_audit(first.id).report == {"checks": ["a"]} and store.get_audit(first.id).status == "FAIL"
    assert store.latest_audit("v1").id == second.id
    assert {v: a.status for v, a in store.latest_audits(["v1", "v2", "v3"]).items()} == {"v1": "PASS", "v2": "INSUFFICIENT_EVIDENCE"}
    assert [a.id for a in store.list_audits("v1")] == [second.id, first.id]
    with pytest.raises(NotFoundError):
        store.get_audit(second.id + 100)
    with pytest.raises(DataError, match="status"):
        store.save_audit("v1", "MAYBE", {})


def test_served_recommendations_round_trip(store: Store) -> None:
    audit = store.save_audit("v1", "PASS", {})
    items = [{"item_id": "i1", "reason": "next step on fractions", "propensity": 0.7},
             {"resource_id": "r1", "reason": "review", "propensity": 0.3}]
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    served = store.record_served("s1", items, model_set_version="v1", model_versions={"mastery": "3"},
                                 audit_status="PASS", audit_id=audit.id, context={"k": 2}, served_at=when)
    (back,) = store.served_for("s1")
    assert back == served
    assert back.items == items and back.served_at == when and back.audit_id == audit.id
    assert store.served_between(when, when + timedelta(seconds=1)) == [served]
    assert store.served_between(end=when) == []
    with pytest.raises(DataError):
        store.record_served("s1", [1, 2], model_set_version="v1", model_versions={})


def test_health_reports_an_unreachable_database(tmp_path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'gone' / 'x.db'}", migrate=False)
    (tmp_path / "gone" / "x.db").unlink(missing_ok=True)
    (tmp_path / "gone").rmdir()
    health = store.health()
    assert not health.ok and health.schema_version is None and "unreachable" in health.detail
    assert health.to_dict()["latest_version"] >= 1


def test_unreachable_postgresql_is_unavailable_not_a_crash() -> None:
    store = Store.open("postgresql://nobody:secret@127.0.0.1:1/none", migrate=False)  # nothing listens on port 1
    health = store.health()
    assert not health.ok and "unreachable" in health.detail and "secret" not in health.detail
    with pytest.raises(UnavailableError):
        store.get_state("s1")
    with pytest.raises(UnavailableError):
        store.put_state("s1", {})
    assert "secret" not in store.url


def test_served_rows_written_together_get_each_their_own_id(store: Store) -> None:
    """The service's group commit writes several lists in one multi-row INSERT: each returned record must
    carry the id under which its own row was stored (not a neighbour's)."""
    from engine.store import served
    from engine.store.database import run_write

    rows = [served.served_row(f"s{i}", [{"resource_id": f"r{i}", "propensity": 0.5}], model_set_version="v1",
                              model_versions={"recommender": "1"}, context={"k": 1, "n": i}) for i in range(7)]
    records = run_write(store.engine, lambda conn: served.record_many(conn, rows))
    assert len({r.id for r in records}) == 7
    for i, record in enumerate(records):
        (back,) = store.served_for(f"s{i}")
        assert back.id == record.id and back.items == [{"resource_id": f"r{i}", "propensity": 0.5}] and back.context["n"] == i


def test_the_service_follows_both_logs_on_each_backend(store: Store) -> None:
    """`FollowUps` over a real store: a list recorded and the answer stored after it pair at the next step (each once),
    an answer before any list and the events a start already read do not; `events_frame_after` reads from a seq on."""
    from engine.runtime.followups import SETTLE_SECONDS, FollowUps
    from engine.store.types import utc_now

    def answer(event_id: str, student: str, item: str, correct: float) -> None:
        store.ingest([Event(event_id, student, item, correct, None, "json", None)], lambda cur, new: {s: {} for s in new})

    entries = [{"rank": 1, "resource_id": "r1", "item_id": "i1", "item_p": 0.25},
               {"rank": 2, "resource_id": "r2", "item_id": "i2", "item_p": 0.5}]
    answer("e0", "s1", "i1", 1.0)  # before any list: no outcome
    store.record_served("s1", entries, model_set_version="v1", model_versions={}, context={"placement": False})
    follower, outcomes = FollowUps.start(store, 0, max_lists=10)
    assert outcomes.height == 0 and len(follower) == 1
    answer("e1", "s1", "i2", 1.0)
    answer("e2", "s1", "i1", 0.0)  # a second answer: not the list's outcome
    assert store.events_frame_after(follower.event_mark, ("seq", "event_id"))["event_id"].to_list() == ["e1", "e2"]
    settled = utc_now() + timedelta(seconds=SETTLE_SECONDS)
    got = follower.step(settled)
    assert got.select("resource_id", "residual").rows() == [("r2", 0.5)] and len(follower) == 0
    assert follower.step(settled).height == 0
