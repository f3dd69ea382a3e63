"""Stored teacher constraints reach `Runtime.compute_recommendations` (the recommendations API): pins first, blocks
never, assignments limit the skills; ids the catalog no longer has are skipped; the served log records them."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError, NotFoundError


@pytest.fixture
def student(runtime) -> str:
    items = runtime.policy.catalog.item_ids
    runtime.ingest(runtime.events_from_json([{"event_id": f"c{i}", "student_id": "s-c", "item_id": items[i * 5],
                                              "correct": float(i % 2)} for i in range(25)]))
    return "s-c"


def test_stored_constraints_shape_the_served_list(runtime, student, monkeypatch) -> None:
    cat = runtime.policy.catalog
    pin, block = cat.resource_ids[40], cat.resource_ids[0]
    runtime.update_teacher_constraints(student, lambda d: {**d, "pinned_resources": [pin], "blocked_resources": [block]}, by="t")
    for _ in range(5):
        response, served = runtime.compute_recommendations(student, 5)
        ids = [r["resource_id"] for r in response["recommendations"]]
        assert ids[0] == pin and block not in ids
    assert served["context"]["constraints"]["pinned_resources"] == [pin]
    assert all(0.0 <= item["skill_mastery"] <= 1.0 for item in served["items"])  # logged for exposure audits by band
    # a stored id the served catalog lacks (the catalog changed) is skipped, not an error
    stale = {"assigned_skills": ["gone-skill"], "pinned_resources": ["gone", pin], "blocked_resources": []}
    monkeypatch.setattr(runtime.store, "get_state_and_constraints", lambda sid: (runtime.store.get_state(sid), stale))
    response, served = runtime.compute_recommendations(student, 3)
    assert response["recommendations"][0]["resource_id"] == pin
    assert served["context"]["constraints"] == {"assigned_skills": [], "pinned_resources": [pin], "blocked_resources": []}


def test_constraints_are_checked_against_the_catalog_when_set(runtime, student) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        runtime.update_teacher_constraints(student, lambda d: {**d, "pinned_resources": ["nope"]})
    with pytest.raises(NotFoundError, match="no-skill"):
        runtime.update_teacher_constraints(student, lambda d: {**d, "assigned_skills": ["no-skill"]})
    assert runtime.teacher_constraints(student) == {"assigned_skills": [], "pinned_resources": [], "blocked_resources": []}
    response, served = runtime.compute_recommendations(student, 3)
    assert "constraints" not in served["context"]


def test_blocked_for_everyone_cannot_be_pinned(runtime, student) -> None:
    cat = runtime.policy.catalog
    config = runtime.policy.recommender.config
    object.__setattr__(config, "blocked_resources", (cat.resource_ids[3],))  # as a model set blocking it would
    try:
        with pytest.raises(ConfigError, match="blocked for everyone"):
            runtime.update_teacher_constraints(student, lambda d: {**d, "pinned_resources": [cat.resource_ids[3]]})
    finally:
        object.__setattr__(config, "blocked_resources", ())
