"""Cold start over HTTP: a student with no events gets placement questions (200), the list is logged, and
nothing is stored for the student by the GET; mastery of an unknown student stays 404."""

from __future__ import annotations

from engine.catalog import demo_catalog
from tests.service.conftest import h

CAT = demo_catalog()


def test_unknown_student_gets_a_placement_list_and_no_state(client, keys, runtime):
    r = client.get("/v1/students/newcomer/recommendations?k=3", headers=h(keys["recommend"]))
    assert r.status_code == 200, r.text
    body = r.json()
    recs = body["recommendations"]
    assert body["student_id"] == "newcomer" and 1 <= len(recs) <= 3
    for rec in recs:
        assert rec["item_id"] in CAT.item_ids and rec["resource_id"] in CAT.resource_ids
        assert CAT.item_skill[CAT.item_index(rec["item_id"])] == CAT.skill_index(rec["skill_ids"][0])
        assert "placement question" in rec["reason"].lower() and "don't know your level yet" in rec["reason"]
        assert rec["placement"] is True  # machine-readable, so a platform need not parse the reason
        assert 0 < rec["propensity"] <= 1 and 0 < rec["item_propensity"] <= 1
    assert len({rec["skill_ids"][0] for rec in recs}) == len(recs)  # one entry skill per question
    assert runtime.store.get_state("newcomer") is None and "newcomer" not in runtime.store.student_ids()
    served = runtime.store.served_for("newcomer")
    assert len(served) == 1 and served[0].id == body["served_id"]
    assert [x["item_id"] for x in served[0].items] == [x["item_id"] for x in recs]
    assert served[0].context["placement"] is True and served[0].context["weights"] == recs[0]["weights"]
    assert client.get("/v1/students/newcomer/mastery", headers=h(keys["recommend"])).status_code == 404


def test_placement_continues_after_the_first_answer(client, keys, runtime):
    """One answer leaves the ability uncertain: still placement, now from the stored state."""
    first = client.get("/v1/students/s-new/recommendations?k=1", headers=h(keys["recommend"])).json()["recommendations"][0]
    event = {"event_id": "cold-1", "student_id": "s-new", "item_id": first["item_id"], "correct": 1}
    assert client.post("/v1/events", json={"events": [event]}, headers=h(keys["ingest"])).status_code == 200
    assert runtime.store.get_state("s-new") is not None
    r = client.get("/v1/students/s-new/recommendations?k=2", headers=h(keys["recommend"]))
    assert r.status_code == 200
    recs = r.json()["recommendations"]
    assert recs and all("Placement question" in x["reason"] and "1 answer so far" in x["reason"] for x in recs)
    assert all(x["placement"] is True for x in recs)
    assert first["item_id"] not in {x["item_id"] for x in recs}  # a practised skill is not asked again first
