"""Ingestion: bad input is a 4xx naming the problem and stores nothing; retries are idempotent; xAPI maps
onto the same events; online states equal a replay of the stored log."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.catalog import demo_catalog
from tests.service.conftest import h

CAT = demo_catalog()
ITEMS = CAT.item_ids


def ev(i, student="s1", item=None, correct=1.0, ts=None):
    e = {"event_id": f"e{i}", "student_id": student, "item_id": item or ITEMS[i % len(ITEMS)], "correct": correct}
    if ts is not None:
        e["timestamp"] = ts
    return e


def count(runtime):
    return runtime.store.count_events()


@pytest.fixture
def runtime(any_backend_runtime):
    """Every test of this module runs on SQLite and (when configured) PostgreSQL."""
    return any_backend_runtime


@pytest.fixture
def ingest(client, keys):
    def post(body, **kw):
        return client.post("/v1/events", json=body, headers=h(keys["ingest"]), **kw)
    return post


def test_service_malformed_json_is_400(client, keys, runtime):
    r = client.post("/v1/events", content=b'{"events": [', headers={**h(keys["ingest"]), "content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["detail"]
    assert count(runtime) == 0


@pytest.mark.parametrize("bad,field", [
    ({"correct": 1.5}, "correct"), ({"correct": -0.1}, "correct"), ({"correct": "yes"}, "correct"),
    ({"correct": "true"}, "correct"), ({"event_id": ""}, "event_id"), ({"student_id": "x" * 300}, "student_id"),
    ({"timestamp": "yesterday"}, "timestamp"), ({"extra": 1}, "extra"),
    ({"resource_id": ""}, "resource_id"), ({"resource_id": "a\x00b"}, "resource_id"), ({"resource_id": 5}, "resource_id"),
    ({"resource_id": "no-such-resource"}, "resource_id"),
])
def test_service_bad_event_rejects_whole_batch(ingest, runtime, bad, field):
    body = {"events": [ev(1), {**ev(2), **bad}, ev(3)]}
    r = ingest(body)
    assert r.status_code == 422, r.text
    assert field in r.text
    assert count(runtime) == 0 and runtime.store.student_ids() == []


def test_service_reads_json_booleans_as_one_and_zero(ingest, runtime):
    """`"correct": true` / `false` (a platform recording right and wrong as booleans) is stored as 1 / 0, as the same
    events sent with numbers are; the text "true" stays an error (above)."""
    r = ingest({"events": [{**ev(1), "correct": True}, {**ev(2), "correct": False}, {**ev(3), "correct": 1}]})
    assert r.status_code in (200, 201, 202), r.text
    stored = runtime.store.events_frame().sort("event_id")
    assert stored["correct"].to_list() == [1.0, 0.0, 1.0]


def test_service_unknown_item_rejects_batch(ingest, runtime):
    r = ingest({"events": [ev(1), ev(2, item="no-such-item")]})
    assert r.status_code == 422
    assert "no-such-item" in r.json()["detail"] and r.json()["problems"][0]["row"] == 2
    assert count(runtime) == 0


def test_service_oversized_batch_and_body(ingest, client, keys, runtime):
    r = ingest({"events": [ev(i) for i in range(1001)]})
    assert r.status_code == 422 and "1000" in r.text
    big = b'{"events": [' + b" " * (5 * 1024 * 1024) + b"]}"
    r = client.post("/v1/events", content=big, headers={**h(keys["ingest"]), "content-type": "application/json"})
    assert r.status_code == 413
    assert count(runtime) == 0


def test_service_empty_or_ambiguous_body(ingest):
    assert ingest({"events": []}).status_code == 422
    assert ingest({}).status_code == 422
    assert ingest({"events": [ev(1)], "statements": [{}]}).status_code == 422


def test_service_unknown_student_is_404(client, keys):
    for path in ("/v1/students/ghost/mastery",):  # recommendations answer a new student with placement (test_cold_start)
        r = client.get(path, headers=h(keys["recommend"]))
        assert r.status_code == 404 and "ghost" in r.json()["detail"]


def test_service_retry_is_idempotent_and_reuse_conflicts(ingest, runtime):
    batch = {"events": [ev(i, ts="2024-01-01T10:00:00Z") for i in range(5)]}
    first = ingest(batch).json()
    assert first["stored"] == 5
    state_before = runtime.store.get_state("s1")
    again = ingest(batch).json()
    assert again["stored"] == 0 and again["duplicates"] == 5
    assert [r["seq"] for r in again["results"]] == [r["seq"] for r in first["results"]]
    assert [r["received_at"] for r in again["results"]] == [r["received_at"] for r in first["results"]]
    assert runtime.store.get_state("s1").version == state_before.version
    # the same id with other content: 409, nothing of the batch stored (e100 is new and must not be kept)
    clash = {"events": [ev(100), {**ev(2, ts="2024-01-01T10:00:00Z"), "correct": 0.0}]}
    r = ingest(clash)
    assert r.status_code == 409 and "e2" in r.json()["detail"]
    assert count(runtime) == 5
    assert runtime.store.get_state("s1").version == state_before.version


def test_service_mastery_matches_hand_bkt(ingest, client, keys):
    """One correct answer on a one-skill item moves P(learned) by the BKT formula with the catalog's priors."""
    item = next(i for i, row in zip(CAT.item_ids, CAT.items.iter_rows(named=True)) if len(row["skill_ids"]) == 1)
    skill = CAT.items.filter(CAT.items["item_id"] == item)["skill_ids"][0][0]
    row = CAT.skill_params.filter(CAT.skill_params["skill_id"] == skill).row(0, named=True)
    prior, learn, guess, slip = row["prior"], row["learn"], row["guess"], row["slip"]
    forget = row.get("forget") or 0.0
    post = prior * (1 - slip) / (prior * (1 - slip) + (1 - prior) * guess)
    expected = post * (1 - forget) + (1 - post) * learn
    ingest({"events": [{"event_id": "x1", "student_id": "hand", "item_id": item, "correct": 1}]})
    body = client.get("/v1/students/hand/mastery", headers=h(keys["recommend"])).json()
    got = next(s for s in body["skills"] if s["skill_id"] == skill)
    assert got["p_learned"] == pytest.approx(expected, rel=1e-9)
    assert got["evidence"] == 1 and body["n_responses"] == 1
    assert got["sd"] == pytest.approx(math.sqrt(expected * (1 - expected)))
    # the per-skill ability the flag also needs, against its definitions: a typical item of median a and b of
    # the skill's items (probit approximation of the posterior average), and the posterior mass above the level
    # where that item is answered right 80% of the time
    own = CAT.item_skill == CAT.skill_index(skill)
    a, b = float(np.median(CAT.item_a[own])), float(np.median(CAT.item_b[own]))
    theta, sd = got["ability"]["theta"], got["ability"]["sd"]
    assert got["ability"]["theta"] > body["ability"]["theta"] - 1e-9  # a right answer lifts the skill's own ability
    a_eff = a / math.sqrt(1 + math.pi * a**2 * sd**2 / 8)
    assert got["typical_success"] == pytest.approx(1 / (1 + math.exp(-a_eff * (theta - b))), rel=1e-9)
    level = b + math.log(0.8 / 0.2) / a
    assert got["p_ability_mastered"] == pytest.approx(0.5 * math.erfc(-(theta - level) / (sd * math.sqrt(2))), rel=1e-9)
    assert got["mastered"] is (got["p_learned"] >= body["mastery_threshold"] and got["p_ability_mastered"] >= 0.5)


def test_service_states_equal_replay(ingest, runtime):
    rng = np.random.default_rng(3)
    events = []
    for i in range(300):
        events.append({"event_id": f"r{i}", "student_id": f"s{rng.integers(12)}", "item_id": ITEMS[rng.integers(len(ITEMS))],
                       "correct": float(rng.choice([0.0, 1.0, 0.5])),
                       "timestamp": f"2024-02-{1 + i // 20:02d}T{i % 20:02d}:00:00Z" if i % 3 else None})
    for start in range(0, 300, 37):
        assert ingest({"events": events[start:start + 37]}).status_code == 200
    online, replay = runtime.stored_states(), runtime.replay_states()
    assert set(online) == set(replay) and len(online) == 12
    assert_states_equal(online, replay)


def assert_states_equal(a: dict, b: dict) -> None:
    for sid in a:
        x, y = a[sid], b[sid]
        assert x["n_responses"] == y["n_responses"]
        assert x["theta"] == pytest.approx(y["theta"], abs=1e-9)
        assert x["theta_sd"] == pytest.approx(y["theta_sd"], abs=1e-9)
        for skill, v in x["skills"].items():
            assert v["evidence"] == y["skills"][skill]["evidence"]
            assert v["p_learned"] == pytest.approx(y["skills"][skill]["p_learned"], abs=1e-9)


def xapi(i, student="x1", item=None, **result):
    return {"id": f"5f0c8a44-0000-4000-8000-{i:012d}", "actor": {"account": {"homePage": "https://lms.example", "name": student}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
            "object": {"id": f"https://lms.example/items/{item or ITEMS[i]}"},
            "result": result or {"success": True}, "timestamp": "2024-03-01T09:00:00Z"}


def test_service_xapi_statements(ingest, runtime, client, keys):
    body = {"statements": [xapi(1), xapi(2, success=False), xapi(3, score={"scaled": 0.25})]}
    r = ingest(body)
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 3
    log = runtime.store.events_frame()
    assert log["item_id"].to_list() == [ITEMS[1], ITEMS[2], ITEMS[3]]
    assert log["correct"].to_list() == [1.0, 0.0, 0.25]
    assert set(log["student_id"].to_list()) == {"x1"} and set(log["source"].to_list()) == {"xapi"}
    assert ingest(body).json()["duplicates"] == 3  # statement ids make retries idempotent


@pytest.mark.parametrize("bad", [
    {"verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"}},
    {"result": {"score": {"scaled": -0.5}}},
    {"result": {}},
    {"actor": {"name": "no id"}},
    {"id": None},
])
def test_service_xapi_bad_statement_rejects_batch(ingest, runtime, bad):
    st = {**xapi(2), **bad}
    r = ingest({"statements": [xapi(1), st]})
    assert r.status_code == 422 and r.json()["problems"][0]["row"] == 2
    assert count(runtime) == 0


def test_service_recommendations_carry_versions_and_audit(ingest, client, keys, runtime):
    ingest({"events": [ev(i, student="rec") for i in range(10)]})
    r = client.get("/v1/students/rec/recommendations?k=4", headers=h(keys["recommend"]))
    body = r.json()
    assert r.status_code == 200 and len(body["recommendations"]) == 4
    assert body["model_set"]["audit_status"] == "PASS" and body["model_set"]["version"] == "1"
    for rec in body["recommendations"]:
        assert 0 < rec["propensity"] <= 1 and rec["reason"] and rec["model_versions"]
        assert rec["placement"] is ("Placement question" in rec["reason"])  # the flag says what the reason says
    served = runtime.store.served_for("rec")
    assert len(served) == 1 and served[0].id == body["served_id"] and served[0].audit_status == "PASS"
    assert [x["resource_id"] for x in served[0].items] == [x["resource_id"] for x in body["recommendations"]]
    # the log keeps what OPE needs per item, and the versions and weights (the same for every item) once per row
    assert [x["propensity"] for x in served[0].items] == [x["propensity"] for x in body["recommendations"]]
    assert served[0].model_versions == body["model_versions"]
    assert all(served[0].context["weights"] == x["weights"] for x in body["recommendations"])
    assert client.get("/v1/students/rec/recommendations?k=0", headers=h(keys["recommend"])).status_code == 422


def test_service_failed_audit_blocks_recommendations(ingest, client, keys):
    ingest({"events": [ev(1, student="gate")]})
    r = client.post("/v1/audits", json={"status": "FAIL", "report": {"why": "gap"}}, headers=h(keys["audit"]))
    assert r.status_code == 201
    r = client.get("/v1/students/gate/recommendations", headers=h(keys["recommend"]))
    assert r.status_code == 503 and "failed its latest fairness audit" in r.json()["detail"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["model_set"]["audit_status"] == "FAIL"
    # an audit key alone cannot lift the FAIL; a key with the admin scope too can, with a reason (issue 16)
    assert client.post("/v1/audits", json={"status": "PASS"}, headers=h(keys["audit"])).status_code == 403
    lifted = client.post("/v1/audits", json={"status": "PASS", "reason": "re-audited on the full cohort"},
                         headers=h(keys["all"]))
    assert lifted.status_code == 201 and lifted.json()["report"]["lifted_fail"]["reason"] == "re-audited on the full cohort"
    assert client.get("/v1/students/gate/recommendations", headers=h(keys["recommend"])).status_code == 200
