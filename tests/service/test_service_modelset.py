"""The served model set: a registry fallback's warning reaches /readyz and every response; a FAILED set is
not served while the gate is on; reload picks up a new alias target."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from engine.errors import AuditGateError
from engine.registry import ModelSet
from engine.runtime import Runtime, load_service_settings
from engine.runtime import modelset as modelset_module
from tests.service.conftest import h, write_model_set

WARNING = "model set 'equilearn' version 3 (champion) FAILED its latest fairness audit; serving version 2"


class FakeRegistry:
    """Stands in for engine.registry: returns what the registry would after a fallback."""

    def __init__(self) -> None:
        self.version, self.warning, self.fail = "2", WARNING, False
        self.calls = []

    def load_model_set(self, name, alias="champion", settings=None, require_passing_audit=True, verdict=None,
                       allow_unaudited=False):
        self.calls.append((name, alias, require_passing_audit))
        if self.fail:
            raise AuditGateError("nothing passed")
        return ModelSet(name, self.version, {}, "sha256:x", "code", "PASS"), self.warning


@pytest.fixture
def registry(monkeypatch, isolated_home):
    fake = FakeRegistry()
    monkeypatch.delenv("EQUILEARN_MODEL_SET_FILE", raising=False)
    monkeypatch.setattr(modelset_module, "_registry", lambda: fake)
    return fake


def test_service_registry_fallback_warning_everywhere(registry):
    from service.app import create_app

    rt = Runtime.open(load_service_settings())
    key = rt.store.create_api_key("ingest,recommend,admin")[0]
    with TestClient(create_app(rt)) as c:
        ready = c.get("/readyz").json()
        assert ready["model_set"]["warning"] == WARNING and ready["model_set"]["version"] == "2"
        assert registry.calls == [("equilearn", "champion", True)]
        c.post("/v1/events", json={"events": [{"event_id": "1", "student_id": "s", "item_id": "add_whole-01", "correct": 1}]},
               headers=h(key))
        for path in ("/v1/students/s/recommendations", "/v1/students/s/mastery", "/v1/models"):
            body = c.get(path, headers=h(key)).json()
            assert body["model_set"]["warning"] == WARNING, path
        registry.version, registry.warning = "4", None
        body = c.post("/v1/models/reload", headers=h(key)).json()
        assert body["model_set"]["version"] == "4" and body["model_set"]["warning"] is None
        registry.fail = True
        r = c.post("/v1/models/reload", headers=h(key))
        assert r.status_code == 409 and "nothing passed" in r.json()["detail"]
        assert c.get("/v1/models", headers=h(key)).json()["model_set"]["version"] == "4"  # the old set stays
    rt.close()


def test_service_failed_model_set_file_not_served(isolated_home, monkeypatch):
    """A FAIL recorded in the service's audit table for the file's content blocks it (the file's own
    `audit_status` field is not evidence)."""
    from service.app import create_app

    monkeypatch.setenv("EQUILEARN_MODEL_SET_FILE", str(write_model_set(isolated_home, audit_status="FAIL")))
    rt = Runtime.open(load_service_settings())
    with TestClient(create_app(rt)) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and "failed its latest fairness audit" in r.json()["blocked"]
    rt.close()
    monkeypatch.setenv("EQUILEARN_REQUIRE_PASSING_AUDIT", "false")
    rt = Runtime.open(load_service_settings())
    with TestClient(create_app(rt)) as c:
        body = c.get("/readyz").json()
        assert body["ready"] is True and body["model_set"]["audit_status"] == "FAIL"
    rt.close()


def test_service_demo_model_set_is_audited_before_it_is_served(monkeypatch, isolated_home):
    """`make run`'s model set: registered in a real local MLflow store with the recommendation audit on
    simulated learners recorded, so the service serves it as PASS (not NOT_AUDITED)."""
    from engine.runtime.demo import prepare_demo_model_set

    monkeypatch.delenv("EQUILEARN_MODEL_SET_FILE", raising=False)
    where = prepare_demo_model_set(isolated_home)
    assert where.endswith("PASS")
    rt = Runtime.open(load_service_settings())
    try:
        info = rt.policy.model_set_info()
        assert (info["version"], info["audit_status"], info["warning"]) == ("1", "PASS", None)
    finally:
        rt.close()
