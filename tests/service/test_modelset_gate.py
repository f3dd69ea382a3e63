"""The audit gate as the service applies it (issue 15):

- a model set served from a file without a PASS for its content is not served (not ready, /readyz says what
  to run) unless the development flag is set, and then every mastery and recommendation response and /readyz
  carry the warning "unaudited model set, development only";
- no response names the model-set file's path (or any path of this machine);
- `equilearn model audit --file` records a verdict bound to the file's content, which a running server picks up;
- a second build from a newer log, audited and promoted, is served by every server process within the policy
  check interval, with no restart (two runtimes with their watchers on one database, SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from engine.cli import main
from engine.registry.model_set import content_sha256
from engine.runtime import Runtime, load_service_settings
from tests.service.conftest import h, record_verdict, scratch_postgres, write_model_set

UNAUDITED = "unaudited model set, development only"


def app_client(rt: Runtime) -> TestClient:
    from service.app import create_app

    return TestClient(create_app(rt), raise_server_exceptions=False)


def hidden_set(tmp_path: Path, audit_status: str | None) -> Path:
    """The test set in a folder with a recognisable name, so any leak of the path is found."""
    folder = tmp_path / "secret-folder-7f3a" / "sets"
    path = write_model_set(folder, audit_status=audit_status)
    return path


def test_file_set_without_a_pass_is_not_ready_and_says_what_to_run(tmp_path, monkeypatch):
    path = hidden_set(tmp_path, audit_status=None)
    monkeypatch.setenv("EQUILEARN_MODEL_SET_FILE", str(path))
    rt = Runtime.open(load_service_settings())
    key = rt.store.create_api_key("ingest,recommend,admin")[0]
    with app_client(rt) as c:
        r = c.get("/readyz")
        body = r.json()
        assert r.status_code == 503 and body["ready"] is False and body["model_set"] is None
        assert "has no PASS in this service's audit table (no audit)" in body["error"]
        assert "equilearn model audit --file" in body["error"] and "EQUILEARN_ALLOW_UNAUDITED=true" in body["error"]
        assert str(path) not in r.text and "secret-folder-7f3a" not in r.text
        sent = c.post("/v1/events", headers=h(key),
                      json={"events": [{"event_id": "e1", "student_id": "s", "item_id": "add_whole-01", "correct": 1}]})
        assert sent.status_code == 503 and rt.store.count_events() == 0
        assert c.get("/v1/students/s/recommendations", headers=h(key)).status_code == 503
    rt.close()
    # INSUFFICIENT_EVIDENCE is not a PASS either: loaded, not ready, recommendations refused; an admin's PASS with a
    # reason overrides it (recorded under `override`)
    record_verdict("test-set/1", {}, "INSUFFICIENT_EVIDENCE")
    rt = Runtime.open(load_service_settings())
    admin = rt.store.create_api_key("ingest,recommend,audit,admin")[0]
    try:
        ready, details = rt.readiness()
        assert not ready and "INSUFFICIENT_EVIDENCE" in details["blocked"] and "override" in details["blocked"]
        with app_client(rt) as c:
            c.post("/v1/events", headers=h(admin),
                   json={"events": [{"event_id": "e1", "student_id": "s", "item_id": "add_whole-01", "correct": 1}]})
            assert c.get("/v1/students/s/recommendations", headers=h(admin)).status_code == 503
            r = c.post("/v1/audits", headers=h(admin), json={"status": "PASS", "reason": "reviewed by the equity board"})
            assert r.status_code == 201 and r.json()["content_sha256"] == content_sha256({})
            assert r.json()["report"]["override"]["reason"] == "reviewed by the equity board"
            assert r.json()["report"]["override"]["over"] == "INSUFFICIENT_EVIDENCE"
            assert c.get("/readyz").status_code == 200
            assert c.get("/v1/students/s/recommendations", headers=h(admin)).status_code == 200
    finally:
        rt.close()


def test_unaudited_file_set_is_served_with_the_flag_and_flagged_in_every_response(tmp_path, monkeypatch):
    path = hidden_set(tmp_path, audit_status=None)
    monkeypatch.setenv("EQUILEARN_MODEL_SET_FILE", str(path))
    monkeypatch.setenv("EQUILEARN_ALLOW_UNAUDITED", "true")
    rt = Runtime.open(load_service_settings())
    key = rt.store.create_api_key("ingest,recommend,admin")[0]
    with app_client(rt) as c:
        ready = c.get("/readyz")
        assert ready.status_code == 200 and ready.json()["model_set"]["audit_status"] == "NOT_AUDITED"
        assert ready.json()["model_set"]["warning"].startswith(UNAUDITED)
        sent = c.post("/v1/events", headers=h(key),
                      json={"events": [{"event_id": "e1", "student_id": "s", "item_id": "add_whole-01", "correct": 1}]})
        assert sent.status_code == 200
        for route in ("/v1/students/s/mastery", "/v1/students/s/recommendations?k=2", "/v1/students/new/recommendations",
                      "/v1/models"):
            r = c.get(route, headers=h(key))
            assert r.status_code == 200, (route, r.text)
            assert UNAUDITED in r.json()["model_set"]["warning"], route
            assert "EQUILEARN_ALLOW_UNAUDITED=true" in r.json()["model_set"]["warning"]
        served = rt.store.served_for("s")
        assert served and served[0].audit_status == "NOT_AUDITED"
    rt.close()
    # the flag does not lift a FAIL: that content stays blocked
    record_verdict("test-set/1", {}, "FAIL")
    rt = Runtime.open(load_service_settings())
    try:
        ready, details = rt.readiness()
        assert not ready and "failed its latest fairness audit" in details["blocked"]
    finally:
        rt.close()


def test_serve_allow_unaudited_flag_sets_the_development_setting(monkeypatch):
    from engine.cli import serve as serve_cli

    monkeypatch.setenv("EQUILEARN_ALLOW_UNAUDITED", "false")  # restored after the test (the command sets it to true)
    seen = {}

    def fake_run(*args, **kwargs):  # noqa: ANN002, ANN003 - stands in for uvicorn.run
        seen["allow"] = load_service_settings().allow_unaudited

    monkeypatch.setattr("uvicorn.run", fake_run)
    monkeypatch.setattr(serve_cli, "check_port", lambda host, port: None)
    assert main(["serve", "--allow-unaudited", "--port", "8765"]) == 0
    assert seen["allow"] is True


def test_no_response_names_the_model_set_files_path(tmp_path, monkeypatch):
    path = hidden_set(tmp_path, audit_status="PASS")
    monkeypatch.setenv("EQUILEARN_MODEL_SET_FILE", str(path))
    rt = Runtime.open(load_service_settings())
    key = rt.store.create_api_key("ingest,recommend,admin,audit")[0]
    texts = []
    with app_client(rt) as c:
        c.post("/v1/events", headers=h(key),
               json={"events": [{"event_id": "e1", "student_id": "s", "item_id": "add_whole-01", "correct": 1}]})
        for route in ("/readyz", "/healthz", "/metrics", "/v1/students/s/mastery", "/v1/students/s/recommendations?k=3",
                      "/v1/models", "/v1/catalog/items"):
            r = c.get(route, headers=h(key))
            assert r.status_code == 200, route
            texts.append(r.text)
        texts.append(c.post("/v1/models/reload", headers=h(key)).text)
        texts.append(c.post("/v1/audits", headers=h(key), json={"status": "PASS", "report": {"again": True}}).text)
        info = c.get("/readyz").json()["model_set"]
        assert info["source"] == "file" and info["content"] == f"sha256:{content_sha256({})[:12]}"
        assert info["name"] == "test-set" and info["version"] == "1"
    rt.close()
    path.write_text("{not json")  # a broken file: the error in /readyz names the setting, not the path
    rt = Runtime.open(load_service_settings())
    with app_client(rt) as c:
        broken = c.get("/readyz")
        assert broken.status_code == 503 and "EQUILEARN_MODEL_SET_FILE" in broken.json()["error"]
        texts.append(broken.text)
    rt.close()
    for text in texts:
        assert str(path) not in text and "secret-folder-7f3a" not in text and str(tmp_path) not in text, text[:300]


def test_model_audit_file_records_a_bound_verdict_that_a_running_server_picks_up(tmp_path, monkeypatch, capsys):
    path = hidden_set(tmp_path, audit_status=None)
    monkeypatch.setenv("EQUILEARN_MODEL_SET_FILE", str(path))
    rt = Runtime.open(load_service_settings())
    try:
        assert rt.readiness()[0] is False
        out = tmp_path / "audit.json"
        code = main(["model", "audit", "--file", str(path), "--sim-students", "200", "--sim-steps", "40",
                     "--suite-students", "0", "--out", str(out)])
        report = json.loads(out.read_text())
        assert code == 0 and report["status"] == "PASS", report["findings"]
        assert report["content_sha256"] == content_sha256({}) and report["model_set"]["source"] == "file"
        verdict = rt.store.content_verdict(content_sha256({}))
        assert verdict.status == "PASS" and verdict.model_set_version == "test-set/1" and verdict.id == rt.store.list_audits()[0].id
        assert rt.refresh() is True  # the new audit id is the change the policy check sees
        ready, details = rt.readiness()
        assert ready and details["model_set"]["audit_status"] == "PASS" and details["model_set"]["audit_id"] == verdict.id
        assert details["model_set"]["warning"] is None
        # another file with other content is not covered by that PASS
        other = json.loads(path.read_text())
        other["components"] = {"recommender": {"target_success": 0.7}}
        path.write_text(json.dumps(other))
        assert rt.reload is not None
        with pytest.raises(Exception, match="has no PASS"):
            rt.reload()
        assert rt.policy.model.content_sha256 == content_sha256({})  # the audited set stays served
    finally:
        rt.close()


def _world(tmp_path: Path):
    from tests.modelbuild.conftest import make_world

    world = make_world(tmp_path / "platform")
    log = pl.read_csv(world.log)
    older = tmp_path / "older.csv"
    log.filter(pl.col("student_id") < "p0300").write_csv(older)  # the platform's first cohort
    return world, older, world.log  # the newer log: every cohort so far


def _built_version(capsys) -> str:
    err = capsys.readouterr().err
    marker = "registered model set 'platform' version "
    return err[err.index(marker) + len(marker):].split()[0]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_second_build_is_served_by_every_process_without_restart(backend, tmp_path, monkeypatch, capsys):
    world, older, newer = _world(tmp_path)
    monkeypatch.delenv("EQUILEARN_MODEL_SET_FILE", raising=False)
    monkeypatch.setenv("EQUILEARN_MODEL_SET", "platform")
    monkeypatch.setenv("EQUILEARN_POLICY_CHECK_SECONDS", "0.2")
    with ExitStack() as stack:
        if backend == "postgresql":
            monkeypatch.setenv("EQUILEARN_DATABASE_URL", stack.enter_context(scratch_postgres()))
        common = ["--catalog", str(world.catalog), "--format", "generic", "--predictor", "irt", "--test-fraction", "0"]
        small = ["--sim-students", "500", "--sim-steps", "80", "--suite-students", "0"]
        assert main(["model", "build", "--data", str(older), "--register", "platform", *common]) == 0
        first = _built_version(capsys)
        assert main(["model", "audit", "platform", first, *small]) == 0
        assert main(["model", "promote", "platform", first]) == 0
        runtimes = [stack.enter_context(_closing(Runtime.open(load_service_settings()))) for _ in range(2)]
        clients = [stack.enter_context(app_client(rt)) for rt in runtimes]  # each with its policy watcher
        key = runtimes[0].store.create_api_key("admin,recommend,ingest")[0]
        for c in clients:
            assert c.get("/v1/models", headers=h(key)).json()["model_set"]["version"] == first
        items_before = clients[0].get("/v1/catalog/items", headers=h(key)).json()["rows"]

        assert main(["model", "build", "--data", str(newer), "--register", "platform", *common]) == 0
        second = _built_version(capsys)
        assert second != first
        assert main(["model", "promote", "platform", second]) == 2  # not audited yet: refused, nothing changes
        assert main(["model", "audit", "platform", second, *small]) == 0
        promoted_at = time.monotonic()
        assert main(["model", "promote", "platform", second]) == 0
        pending = set(range(len(clients)))
        while pending and time.monotonic() - promoted_at < 10:
            for i in list(pending):
                if clients[i].get("/v1/models", headers=h(key)).json()["model_set"]["version"] == second:
                    pending.discard(i)
            time.sleep(0.05)
        waited = time.monotonic() - promoted_at
        assert not pending, f"processes {sorted(pending)} still serve version {first} after {waited:.1f} s"
        print(f"[{backend}] version {second} served by both processes {waited:.2f} s after `model promote` returned")
        for c in clients:
            info = c.get("/readyz").json()["model_set"]
            assert info["version"] == second and info["audit_status"] == "PASS" and info["warning"] is None
        items_after = clients[1].get("/v1/catalog/items", headers=h(key)).json()["rows"]
        assert items_after != items_before  # the newer build's item bank is what is served now


class _closing:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def __enter__(self) -> Runtime:
        return self.rt

    def __exit__(self, *exc: object) -> None:
        self.rt.close()
