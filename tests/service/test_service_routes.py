"""Every route: 401 without a key, 403 with a key lacking the route's scope, success with the right scope.

The scope of each route is the one the issue specifies (truth independent of the code under test)."""

from __future__ import annotations

import pytest

from tests.service.conftest import SCOPES, h

ITEM = "add_whole-01"


def _event_body(i: int = 0) -> dict:
    return {"events": [{"event_id": f"route-{i}", "student_id": "s-route", "item_id": ITEM, "correct": 1}]}


# (method, path, scope required, body, expected success status); scope None = any valid key.
ROUTES = [
    ("POST", "/v1/events", "ingest", _event_body(), 200),
    ("GET", "/v1/students/s-route/mastery", "recommend", None, 200),
    ("GET", "/v1/students/s-route/recommendations?k=3", "recommend", None, 200),
    ("GET", "/v1/catalog/skills", None, None, 200),
    ("GET", "/v1/catalog/items", None, None, 200),
    ("GET", "/v1/catalog/resources", None, None, 200),
    ("POST", "/v1/roster", "audit", {"students": [{"student_id": "s-route", "group": "A"}]}, 200),
    ("GET", "/v1/roster", "audit", None, 200),
    ("POST", "/v1/audits", "audit", {"status": "PASS", "report": {"note": "test"}}, 201),
    ("GET", "/v1/models", "admin", None, 200),
    ("POST", "/v1/models/reload", "admin", None, 200),
]


def _call(client, method, path, body, headers):
    return client.request(method, path, json=body, headers=headers)


@pytest.fixture
def seeded(client, keys):
    r = client.post("/v1/events", json=_event_body(99), headers=h(keys["ingest"]))
    assert r.status_code == 200, r.text
    return client


@pytest.mark.parametrize("method,path,scope,body,ok", ROUTES, ids=[f"{m} {p}" for m, p, *_ in ROUTES])
def test_service_route_scopes(seeded, keys, method, path, scope, body, ok):
    client = seeded
    r = _call(client, method, path, body, {})
    assert r.status_code == 401 and "API key" in r.json()["detail"]
    r = _call(client, method, path, body, h("eqk_0123456789abcdef_" + "x" * 43))
    assert r.status_code == 401
    for other in SCOPES:
        r = _call(client, method, path, body, h(keys[other]))
        if scope is None or other == scope:
            assert r.status_code == ok, (other, r.text)
        else:
            assert r.status_code == 403, (other, r.status_code, r.text)
            assert scope in r.json()["detail"]


def test_service_put_catalog_admin_only(client, keys):
    from engine.catalog import demo_catalog

    cat = demo_catalog()
    bundle = {"name": "tiny", "version": "2",
              "skills": [{"skill_id": "s1", "name": "One", "prerequisites": []},
                         {"skill_id": "s2", "name": "Two", "prerequisites": ["s1"]}],
              "items": [{"item_id": "i1", "skill_ids": ["s1"], "a": 1.0, "b": 0.0},
                        {"item_id": "i2", "skill_ids": ["s2"], "a": 1.2, "b": 0.5}],
              "resources": [{"resource_id": "r1", "kind": "practice_set", "skill_ids": ["s1"], "level": "core", "tier": 1, "minutes": 10, "capacity": 30},
                            {"resource_id": "r2", "kind": "video", "skill_ids": ["s2"], "level": "core", "tier": 1, "minutes": 5, "capacity": 30}]}
    assert client.put("/v1/catalog", json=bundle).status_code == 401
    for scope in ("ingest", "recommend", "audit"):
        assert client.put("/v1/catalog", json=bundle, headers=h(keys[scope])).status_code == 403
    bad = {**bundle, "items": [{"item_id": "i1", "skill_ids": ["nope"], "a": 1.0, "b": 0.0}]}
    r = client.put("/v1/catalog", json=bad, headers=h(keys["admin"]))
    assert r.status_code == 422 and "nope" in r.text
    assert client.get("/v1/catalog/skills", headers=h(keys["ingest"])).json()["count"] == cat.n_skills
    r = client.put("/v1/catalog", json=bundle, headers=h(keys["admin"]))
    assert r.status_code == 200, r.text
    assert r.json()["skills"] == 2
    rows = client.get("/v1/catalog/items", headers=h(keys["recommend"])).json()["rows"]
    assert sorted(x["item_id"] for x in rows) == ["i1", "i2"]


def test_service_health_endpoints_need_no_key(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["ready"] is True and body["database"] == "ok"
    assert body["model_set"]["name"] == "test-set" and body["model_set"]["audit_status"] == "PASS"
    text = client.get("/metrics").text
    assert "equilearn_http_requests_total" in text and 'audit_status="PASS"' in text


def test_service_roster_never_outside_audit_scope(client, keys):
    """Demographic values posted to the roster appear in no response of a non-audit key."""
    marker = "DEMOGRAPHIC-MARKER-7731"
    client.post("/v1/events", json=_event_body(1), headers=h(keys["ingest"]))
    r = client.post("/v1/roster", json={"students": [{"student_id": "s-route", "ethnicity": marker}]}, headers=h(keys["audit"]))
    assert r.status_code == 200
    assert marker in client.get("/v1/roster", headers=h(keys["audit"])).text
    for path in ("/v1/students/s-route/mastery", "/v1/students/s-route/recommendations", "/v1/models",
                 "/v1/catalog/resources", "/metrics", "/readyz"):
        for scope in ("ingest", "recommend", "admin"):
            assert marker not in client.get(path, headers=h(keys[scope])).text


def test_service_audit_get_and_unknown(client, keys):
    r = client.post("/v1/audits", json={"status": "INSUFFICIENT_EVIDENCE", "report": {"n": 3}}, headers=h(keys["audit"]))
    audit_id = r.json()["id"]
    got = client.get(f"/v1/audits/{audit_id}", headers=h(keys["audit"]))
    assert got.status_code == 200 and got.json()["report"] == {"n": 3}
    assert got.json()["model_set_version"] == "test-set/1"
    assert client.get(f"/v1/audits/{audit_id}", headers=h(keys["admin"])).status_code == 403
    assert client.get("/v1/audits/999999", headers=h(keys["audit"])).status_code == 404
    assert client.post("/v1/audits", json={"status": "MAYBE"}, headers=h(keys["audit"])).status_code == 422


def test_service_unknown_route_is_404_json(client):
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and r.json()["type"] == "http_error"


def test_service_unexpected_error_has_no_stack_trace(runtime, keys, monkeypatch):
    from fastapi.testclient import TestClient

    from service.app import create_app

    def broken(student_id):
        raise RuntimeError("internal detail /srv/secret/path.py line 12")

    monkeypatch.setattr(runtime, "mastery", broken)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as c:
        r = c.get("/v1/students/anyone/mastery", headers=h(keys["recommend"]))
    assert r.status_code == 500
    assert r.json()["type"] == "internal" and "incident" in r.json()["detail"]
    assert "secret" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text


def test_an_unexpected_error_logs_the_route_template_not_the_student_id(runtime, keys, monkeypatch, caplog):
    from fastapi.testclient import TestClient

    from service.app import create_app

    def broken(student_id):
        raise RuntimeError("boom")

    monkeypatch.setattr(runtime, "mastery", broken)
    with caplog.at_level("ERROR", logger="equilearn.service"), TestClient(create_app(runtime), raise_server_exceptions=False) as c:
        assert c.get("/v1/students/pupil-4711/mastery", headers=h(keys["recommend"])).status_code == 500
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/v1/students/{student_id}/mastery" in logged and "pupil-4711" not in logged
