"""The resource behind an answer, sent on the event (JSON `resource_id`, xAPI context extension): stored with it,
part of its identity, checked against the catalog, and folded into the state as the model set says (the skills the
resource covers that the answer did not practise learn `resource_learning` of a step)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from engine.catalog import demo_catalog
from engine.recommend.learning import DifficultyProgress
from engine.runtime import Runtime, load_service_settings
from engine.runtime.xapi import RESOURCE_EXTENSION
from tests.service.conftest import h, write_model_set
from tests.service.test_service_events import assert_states_equal, xapi

CAT = demo_catalog()
SHARE = 0.6  # the set's measured cover learning: a resource teaches the other skills it covers 60% of a step


def _resource_with_two_skills() -> tuple[str, str, str]:
    """(resource, an item on the resource's first skill, another skill the resource covers)."""
    for rid, skills in zip(CAT.resource_ids, CAT.resources["skill_ids"].to_list(), strict=True):
        items = [i for i, own in zip(CAT.item_ids, CAT.items["skill_ids"].to_list(), strict=True) if own == [skills[0]]]
        if len(skills) >= 2 and items:
            return rid, items[0], skills[1]
    raise AssertionError("the demo catalog has no resource covering two skills")


RESOURCE, ITEM, OTHER_SKILL = _resource_with_two_skills()


@pytest.fixture
def served(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Runtime, TestClient, str]]:
    """A runtime serving a set whose policy learning measured cover learning SHARE; a client and an ingest key."""
    progress = DifficultyProgress()
    progress.cover_learning = {"share": SHARE, "delta": 0.1, "se": 0.02, "answers": 500}
    path = write_model_set(isolated_home, components={"policy_learning": progress.to_dict()})
    monkeypatch.setenv("EQUILEARN_MODEL_SET_FILE", str(path))
    runtime = Runtime.open(load_service_settings())
    from service.app import create_app

    try:
        with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
            yield runtime, client, runtime.store.create_api_key("ingest")[0]
    finally:
        runtime.close()


def test_a_resource_named_on_an_answer_teaches_the_other_skills_it_covers(served):
    runtime, client, key = served
    assert runtime.policy.engine.config.resource_learning == SHARE
    body = {"events": [{"event_id": "a1", "student_id": "with", "item_id": ITEM, "correct": 1, "resource_id": RESOURCE},
                       {"event_id": "b1", "student_id": "without", "item_id": ITEM, "correct": 1}]}
    r = client.post("/v1/events", json=body, headers=h(key))
    assert r.status_code == 200, r.text
    row = CAT.skill_params.filter(CAT.skill_params["skill_id"] == OTHER_SKILL).row(0, named=True)
    prior, learn = row["prior"], row["learn"]
    states = runtime.stored_states()
    # by hand: an unpractised covered skill takes the BKT transition with nothing observed, at SHARE of its rate
    assert states["with"]["skills"][OTHER_SKILL]["p_learned"] == pytest.approx(prior + (1 - prior) * SHARE * learn, rel=1e-12)
    assert states["without"]["skills"][OTHER_SKILL]["p_learned"] == pytest.approx(prior, rel=1e-12)
    assert states["with"]["skills"][OTHER_SKILL]["evidence"] == 0  # taught, not observed
    assert states["with"]["skills"][OTHER_SKILL]["taught"] is True and "taught" not in states["without"]["skills"][OTHER_SKILL]
    read = runtime.store.create_api_key("recommend")[0]
    shown = {s["skill_id"]: s for s in client.get("/v1/students/with/mastery", headers=h(read)).json()["skills"]}
    assert shown[OTHER_SKILL]["taught"] is True and shown[OTHER_SKILL]["mastered"] is False
    blind = {s["skill_id"]: s for s in client.get("/v1/students/without/mastery", headers=h(read)).json()["skills"]}
    # the claim's P is the answers' alone: what the student told no resource shows as P(learned)
    assert shown[OTHER_SKILL]["p_answered"] == pytest.approx(blind[OTHER_SKILL]["p_learned"], rel=1e-12)
    assert shown[OTHER_SKILL]["p_learned"] > shown[OTHER_SKILL]["p_answered"]
    first_skill = CAT.items.filter(CAT.items["item_id"] == ITEM)["skill_ids"][0][0]
    assert states["with"]["skills"][first_skill] == states["without"]["skills"][first_skill]  # the answered skill as before
    assert_states_equal(states, runtime.replay_states())  # a replay of the stored log folds the resources the same way


def test_resource_is_part_of_the_event_and_unknown_ones_are_refused(served):
    runtime, client, key = served
    event = {"event_id": "e1", "student_id": "s", "item_id": ITEM, "correct": 0, "resource_id": RESOURCE}
    assert client.post("/v1/events", json={"events": [event]}, headers=h(key)).json()["stored"] == 1
    assert client.post("/v1/events", json={"events": [event]}, headers=h(key)).json()["duplicates"] == 1
    other = next(r for r in CAT.resource_ids if r != RESOURCE)
    r = client.post("/v1/events", json={"events": [{**event, "resource_id": other}]}, headers=h(key))
    assert r.status_code == 409 and "resource" in r.json()["detail"]
    r = client.post("/v1/events", json={"events": [{**event, "event_id": "e2", "resource_id": None},
                                                   {**event, "event_id": "e3", "resource_id": "no-such-resource"}]},
                    headers=h(key))
    assert r.status_code == 422
    problem = r.json()["problems"][0]
    assert (problem["row"], problem["column"], problem["value"]) == (2, "resource_id", "no-such-resource")
    assert "/v1/catalog/resources" in problem["hint"]
    assert runtime.store.events_frame()["resource_id"].to_list() == [RESOURCE]  # nothing of the refused batch kept


def test_xapi_names_the_resource_in_a_context_extension(served):
    runtime, client, key = served
    by_iri = {**xapi(1), "context": {"extensions": {RESOURCE_EXTENSION: f"https://lms.example/resources/{RESOURCE}"}}}
    by_id = {**xapi(2), "context": {"extensions": {RESOURCE_EXTENSION: RESOURCE}}}
    r = client.post("/v1/events", json={"statements": [by_iri, by_id, xapi(3)]}, headers=h(key))
    assert r.status_code == 200, r.text
    assert runtime.store.events_frame()["resource_id"].to_list() == [RESOURCE, RESOURCE, None]
    bad = {**xapi(4), "context": {"extensions": {RESOURCE_EXTENSION: 7}}}
    r = client.post("/v1/events", json={"statements": [bad]}, headers=h(key))
    assert r.status_code == 422 and r.json()["problems"][0]["column"] == "context.extensions"
