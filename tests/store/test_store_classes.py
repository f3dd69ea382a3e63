"""Classes and enrolments (OneRoster's model), teach keys bound to classes, teacher constraints and page sessions,
on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from engine.cli import main
from engine.errors import ConfigError, DataError, DataValidationError
from engine.store import Store


def test_classes_upload_replaces_the_listed_classes_enrolments_only(store: Store) -> None:
    assert store.upsert_classes([{"class_id": "7A", "title": "Maths 7A"}, {"class_id": "7B", "title": "Maths 7B"}],
                                [{"class_id": "7A", "student_id": "s1"}, {"class_id": "7A", "student_id": "s2"},
                                 {"class_id": "7B", "student_id": "s3"}]) == {"classes": 2, "enrolments": 3}
    store.upsert_classes([{"class_id": "7A", "title": "Maths 7A (set 1)"}], [{"class_id": "7A", "student_id": "s9"}])
    assert store.class_students(["7A", "7B", "8X"]) == {"7A": ["s9"], "7B": ["s3"], "8X": []}
    assert [(c["class_id"], c["title"], c["students"]) for c in store.list_classes()] == [("7A", "Maths 7A (set 1)", 1),
                                                                                         ("7B", "Maths 7B", 1)]
    assert store.student_classes("s3") == ["7B"] and store.student_classes("s1") == []
    with pytest.raises(DataValidationError) as err:  # all or nothing, every problem listed
        store.upsert_classes([{"class_id": " 7C", "title": "x"}, {"class_id": "7D", "title": ""}],
                             [{"class_id": "7Z", "student_id": "s1"}, {"class_id": "7D", "student_id": ""}])
    assert {(p.row, p.column) for p in err.value.problems} == {(1, "class_id"), (2, "title"), (1, "class_id"), (2, "student_id")}
    assert [c["class_id"] for c in store.list_classes()] == ["7A", "7B"]


def test_a_teach_key_is_bound_to_its_classes(store: Store) -> None:
    key, record = store.create_api_key("teach", "t", classes=["7A", "7B", "7A"])
    assert store.key_classes([record.id]) == {record.id: ["7A", "7B"]}
    with pytest.raises(ConfigError, match="needs the classes"):
        store.create_api_key("teach")
    with pytest.raises(ConfigError, match="only to keys with the teach scope"):
        store.create_api_key("recommend", classes=["7A"])
    assert store.verify_api_key(key, "teach").id == record.id


def test_teacher_constraints_are_kept_per_student(store: Store) -> None:
    assert store.get_teacher_constraints("s1") is None
    stored = store.update_teacher_constraints("s1", lambda d: {**d, "pinned_resources": ["r1", "r1"]}, by="key k1")
    assert stored == {"assigned_skills": [], "pinned_resources": ["r1"], "blocked_resources": []}
    assert store.teacher_constraints_of(["s1", "s2"]) == {"s1": stored}
    assert store.get_state_and_constraints("s1") == (None, stored)  # what a recommendation reads: no state yet
    store.put_state("s1", {"n": 1})
    state, constraints = store.get_state_and_constraints("s1")
    assert state.state == {"n": 1} and state.version == 1 and constraints == stored
    assert store.get_state_and_constraints("s2") == (None, None)
    with pytest.raises(DataError, match="both pinned and blocked"):
        store.update_teacher_constraints("s1", lambda d: {**d, "blocked_resources": ["r1"]})
    with pytest.raises(DataError, match="unknown teacher constraint"):
        store.update_teacher_constraints("s1", lambda d: {**d, "favourite": ["x"]})
    assert store.update_teacher_constraints("s1", lambda d: {k: [] for k in d}) == {
        "assigned_skills": [], "pinned_resources": [], "blocked_resources": []}
    assert store.get_teacher_constraints("s1") is None  # an empty document removes the row


def test_page_sessions_end_on_sign_out_and_expire(store: Store) -> None:
    _, record = store.create_api_key("audit", "lead")
    store.open_web_session("token-1", record.id, 3600)
    found = store.web_session("token-1")
    assert found is not None and found.key.id == record.id and found.classes == ()
    assert store.web_session("token-2") is None
    assert store.end_web_session("token-1") is True and store.web_session("token-1") is None
    store.open_web_session("token-3", record.id, -1)  # already expired
    assert store.web_session("token-3") is None
    store.open_web_session("token-4", record.id, 3600)
    store.revoke_api_key(record.id)
    assert not store.web_session("token-4").key.active  # the caller refuses a revoked key's session


def test_keys_cli_binds_classes(isolated_home, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--scope", "teach"]) == 2
    assert "--classes" in capsys.readouterr().err
    assert main(["keys", "create", "--scope", "teach", "--classes", "7A, 7B", "--name", "Ms R", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["classes"] == ["7A", "7B"] and created["scopes"] == ["teach"]
    assert main(["keys", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["classes"] == ["7A", "7B"]
    assert main(["keys", "list"]) == 0
    assert "7A,7B" in capsys.readouterr().out


def test_answers_offers_and_the_school_signature(store: Store) -> None:
    from datetime import datetime, timezone

    from engine.store import Event, per_student

    when = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
    before = store.school_signature()
    store.ingest([Event("e1", "s1", "i1", 1.0, when), Event("e2", "s1", "i2", 0.0, None)],
                 per_student(lambda sid, st, evs: {"n": len(evs)}))
    frame = store.answers_since(0)
    assert frame["student_id"].to_list() == ["s1", "s1"] and frame["correct"].to_list() == [1.0, 0.0]
    assert frame["ts"][0] == when and frame["ts"][1] is not None  # no timestamp: when it was received
    assert store.answers_since(int(frame["seq"][0])).height == 1
    record = store.record_served("s1", [{"rank": 1, "resource_id": "r1", "level": "advanced", "kind": "enrichment_project",
                                         "skill_ids": ["k1"], "skill_mastery": 0.9}],
                                 model_set_version="m/1", model_versions={}, context={"placement": False})
    offers = store.served_offers()
    assert [(o["served_id"], o["resource_id"], o["skill_id"], o["skill_mastery"], o["placement"]) for o in offers] == [
        (record.id, "r1", "k1", 0.9, False)]
    assert store.served_offers(after_id=record.id) == [] and store.served_offers(["s2"]) == []
    after = store.school_signature()
    assert after != before
    store.upsert_classes([{"class_id": "7A", "title": "7A"}], [{"class_id": "7A", "student_id": "s1"}])
    assert store.school_signature() != after
