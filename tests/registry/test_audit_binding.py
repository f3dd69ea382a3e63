"""Audits are bound to what they audited (issue 15): the service serves a registered version only when its own
audit table holds a PASS for that version's content hash. Each walk-around of the gate is refused:

- an alias set through the MLflow client (as the MLflow UI does) on a version whose content was never audited:
  the previous champion keeps serving and /readyz says why;
- audit tags edited in MLflow: they decide nothing;
- `model promote --audit` with an audit of other content (or of no named content);
and `model audit` records one verdict bound to the version's content hash.

A real local MLflow store (session-wide) and the service's SQLite store under the test's EQUILEARN_HOME."""

from __future__ import annotations

import copy
import json
import uuid

import pytest
from fastapi.testclient import TestClient

from engine.cli import main
from engine.config import load_settings
from engine.errors import AuditGateError
from engine.recommend import RecommenderConfig
from engine.registry import promote, register_model_set
from engine.runtime import Runtime, load_service_settings
from engine.store import Store


def components(target_success: float) -> dict:
    """A small servable set (the recommender's settings on the demo catalog's defaults); content differs by value."""
    config = RecommenderConfig().to_dict()
    config["target_success"] = target_success
    return {"recommender": copy.deepcopy(config)}


@pytest.fixture
def gated(store_env, monkeypatch):
    """A fresh model-set name served from the registry; v1 audited (PASS for its content) and promoted, v2
    registered but never audited. Returns (name, v1, v2, store)."""
    name = f"gate-{uuid.uuid4().hex[:8]}"
    monkeypatch.delenv("EQUILEARN_MODEL_SET_FILE", raising=False)
    monkeypatch.setenv("EQUILEARN_MODEL_SET", name)
    monkeypatch.setenv("EQUILEARN_POLICY_CHECK_SECONDS", "0")  # the tests call refresh() as the watcher would
    v1 = register_model_set(name, components(0.75), "sha256:one", settings=store_env)
    v2 = register_model_set(name, components(0.70), "sha256:two", settings=store_env)
    store = Store.open(settings=load_settings())
    store.record_audit(f"{name}/{v1.version}", "PASS", {"audit": "model_set", "status": "PASS"},
                       content_sha256=v1.content_sha256)
    promote(name, v1.version, settings=store_env, verdict=store.content_verdict)
    yield name, v1, v2, store
    store.close()


def mlflow_client(settings):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=settings.mlflow_uri, registry_uri=settings.mlflow_uri)


def served(rt: Runtime) -> dict:
    return rt.policy.model_set_info()


def test_alias_set_in_mlflow_on_an_unaudited_version_is_refused(gated, store_env):
    name, v1, v2, store = gated
    rt = Runtime.open(load_service_settings())
    try:
        assert (served(rt)["version"], served(rt)["audit_status"], served(rt)["warning"]) == (v1.version, "PASS", None)
        assert served(rt)["source"] == "registry" and served(rt)["content"] == f"sha256:{v1.content_sha256[:12]}"
        mlflow_client(store_env).set_registered_model_alias(name, "champion", v2.version)  # the UI's alias editor
        assert rt.refresh() is True  # the moved alias is seen at the next policy check
        info = served(rt)
        assert info["version"] == v1.version and info["audit_status"] == "PASS"  # the previous champion keeps serving
        assert f"version {v2.version} (champion) is not served" in info["warning"]
        assert f"sha256:{v2.content_sha256[:12]}" in info["warning"] and "equilearn model audit" in info["warning"]
        from service.app import create_app

        key = rt.store.create_api_key("ingest,recommend")[0]
        with TestClient(create_app(rt)) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 200 and "is not served" in ready.json()["model_set"]["warning"]
            item = rt.policy.catalog.item_ids[0]
            client.post("/v1/events", headers={"X-API-Key": key},
                        json={"events": [{"event_id": "e1", "student_id": "s1", "item_id": item, "correct": 1}]})
            recs = client.get("/v1/students/s1/recommendations?k=2", headers={"X-API-Key": key}).json()
            assert recs["model_set"]["version"] == v1.version and "is not served" in recs["model_set"]["warning"]
        restarted = Runtime.open(load_service_settings())  # a process started now serves the previous champion too
        try:
            assert served(restarted)["version"] == v1.version and "is not served" in served(restarted)["warning"]
        finally:
            restarted.close()
        # once v2's content is audited (PASS recorded here), the alias is honoured at the next check
        store.record_audit(f"{name}/{v2.version}", "PASS", {"audit": "model_set", "status": "PASS"},
                           content_sha256=v2.content_sha256)
        assert rt.refresh() is True and served(rt)["version"] == v2.version and served(rt)["warning"] is None
    finally:
        rt.close()


def test_alias_on_an_unaudited_version_with_no_approved_fallback_is_not_ready(store_env, monkeypatch):
    name = f"gate-{uuid.uuid4().hex[:8]}"
    monkeypatch.delenv("EQUILEARN_MODEL_SET_FILE", raising=False)
    monkeypatch.setenv("EQUILEARN_MODEL_SET", name)
    only = register_model_set(name, components(0.72), "sha256:x", settings=store_env)
    mlflow_client(store_env).set_registered_model_alias(name, "champion", only.version)
    rt = Runtime.open(load_service_settings())
    try:
        ready, details = rt.readiness()
        assert not ready and details["model_set"] is None
        assert "AuditGateError" in details["error"] and f"equilearn model audit {name} {only.version}" in details["error"]
    finally:
        rt.close()


def test_edited_audit_tags_do_not_matter(gated, store_env, capsys):
    name, v1, v2, store = gated
    client = mlflow_client(store_env)
    for key in ("audit_status", "audit_status.model_set"):  # what the MLflow UI's tag editor can do
        client.set_model_version_tag(name, v2.version, key, "PASS")
        client.set_model_version_tag(name, v1.version, key, "FAIL")
    client.set_registered_model_alias(name, "champion", v2.version)
    rt = Runtime.open(load_service_settings())
    try:
        info = served(rt)
        assert info["version"] == v1.version and info["audit_status"] == "PASS"  # v1's tag says FAIL: ignored
        assert "is not served" in info["warning"]  # v2's tag says PASS: ignored
    finally:
        rt.close()
    client.set_registered_model_alias(name, "champion", v1.version)
    # `model promote` without --audit asks the service's audit table too, not the PASS tag
    assert main(["model", "promote", name, v2.version]) == 2
    assert "has no PASS in the service's audit table" in capsys.readouterr().err
    with pytest.raises(AuditGateError):
        promote(name, v2.version, settings=store_env, verdict=store.content_verdict)
    assert str(client.get_model_version_by_alias(name, "champion").version) == v1.version


def test_promote_refuses_an_audit_of_other_content(gated, store_env, tmp_path, capsys):
    name, v1, v2, store = gated
    other = tmp_path / "other.json"  # a PASS, but of v1's content
    other.write_text(json.dumps({"audit": "model_set", "status": "PASS", "content_sha256": v1.content_sha256}))
    unbound = tmp_path / "oulad.json"  # e.g. `audit model` of an unrelated OULAD model: names no content at all
    unbound.write_text(json.dumps({"audit": "model", "status": "PASS", "evidence": []}))
    assert main(["model", "promote", name, v2.version, "--audit", str(other)]) == 2
    assert "audited other content" in capsys.readouterr().err
    assert main(["model", "promote", name, v2.version, "--audit", str(unbound)]) == 2
    assert "names no model-set content" in capsys.readouterr().err
    assert store.content_verdict(v2.content_sha256) is None  # nothing was recorded for v2
    assert str(mlflow_client(store_env).get_model_version_by_alias(name, "champion").version) == v1.version
    bound = tmp_path / "bound.json"
    bound.write_text(json.dumps({"audit": "model_set", "status": "PASS", "content_sha256": v2.content_sha256}))
    assert main(["model", "promote", name, v2.version, "--audit", str(bound)]) == 0
    assert store.content_verdict(v2.content_sha256).status == "PASS"
    assert str(mlflow_client(store_env).get_model_version_by_alias(name, "champion").version) == v2.version


def test_model_audit_records_a_verdict_bound_to_the_content(gated, tmp_path, capsys):
    name, v1, v2, store = gated
    out = tmp_path / "report.json"
    code = main(["model", "audit", name, v2.version, "--sim-students", "300", "--sim-steps", "40",
                 "--suite-students", "60", "--suite-steps", "10", "--suite-settings", "bkt", "--out", str(out)])
    report = json.loads(out.read_text())
    assert code == {"PASS": 0, "FAIL": 1, "INSUFFICIENT_EVIDENCE": 2}[report["status"]]
    assert report["content_sha256"] == v2.content_sha256 and report["model_version"] == f"{name}/{v2.version}"
    assert set(report["part_status"]) == {"recommendations"}  # no log and roster: DIF and the model audit are not run
    assert report["learner_suite"]["settings"][0]["gain_by_group"]["equilearn"]  # the suite's per-group gains
    printed = capsys.readouterr()
    assert report["status"] in printed.out and "bound to content" in printed.err
    verdict = store.content_verdict(v2.content_sha256)
    assert verdict is not None and verdict.status == report["status"] and verdict.model_set_version == f"{name}/{v2.version}"
    assert verdict.content_sha256 == v2.content_sha256 and verdict.report["content_sha256"] == v2.content_sha256
    assert store.content_verdict(v1.content_sha256).id != verdict.id  # bound to v2's content only
    # promotion follows the recorded verdict
    assert main(["model", "promote", name, v2.version]) == (0 if report["status"] == "PASS" else 2)
