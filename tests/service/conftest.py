"""Fixtures for the service tests: a runtime on a fresh SQLite home, keys per scope, a TestClient."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from engine.runtime import Runtime, load_service_settings

SCOPES = ("ingest", "recommend", "audit", "admin")


def write_model_set(home: Path, audit_status: str | None = "PASS", version: str = "1",
                    database_url: str | None = None, components: dict | None = None) -> Path:
    """A local model-set file (default `components`: none, i.e. catalog priors, N(0, 1) ability): no MLflow needed. Unless
    `audit_status` is None, that verdict is recorded for the set's content in the service's audit table
    (`database_url`, default the one the environment configures now), as `equilearn model audit` would: the
    service serves only content whose newest audit is a PASS."""
    path = home / "model_set.json"
    home.mkdir(parents=True, exist_ok=True)
    components = dict(components or {})
    path.write_text(json.dumps({"name": "test-set", "version": version, "components": components,
                                "data_fingerprint": "sha256:test", "code_version": "test"}))
    if audit_status is not None:
        record_verdict(f"test-set/{version}", components, audit_status, database_url)
    return path


def record_verdict(version: str, components: dict, status: str, database_url: str | None = None) -> int:
    """Record `status` for the content of `components` in the service's audit table; the audit's id."""
    from engine.config import load_settings
    from engine.registry.model_set import content_sha256
    from engine.store import Store

    with Store.open(database_url or load_settings().database_url) as store:
        record, _ = store.record_audit(version, status, {"audit": "test", "status": status},
                                       content_sha256=content_sha256(components))
    return record.id


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """A fresh database on the server of EQUILEARN_TEST_POSTGRES_URL, dropped afterwards (skip if unset)."""
    base = os.environ.get("EQUILEARN_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("EQUILEARN_TEST_POSTGRES_URL is not set (CI sets it)")
    import psycopg

    name = f"eq_service_{secrets.token_hex(4)}"
    admin = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def runtime(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("EQUILEARN_MODEL_SET_FILE", str(write_model_set(isolated_home)))
    rt = Runtime.open(load_service_settings())
    yield rt
    rt.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_backend_runtime(request: pytest.FixtureRequest, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """The runtime on SQLite, and on a scratch PostgreSQL database when EQUILEARN_TEST_POSTGRES_URL is set."""
    with ExitStack() as stack:
        if request.param == "postgresql":
            monkeypatch.setenv("EQUILEARN_DATABASE_URL", stack.enter_context(scratch_postgres()))
        monkeypatch.setenv("EQUILEARN_MODEL_SET_FILE", str(write_model_set(isolated_home)))
        rt = Runtime.open(load_service_settings())
        stack.callback(rt.close)
        yield rt


@pytest.fixture
def keys(runtime: Runtime) -> dict[str, str]:
    """One key per scope, plus `all` holding every scope."""
    out = {scope: runtime.store.create_api_key(scope)[0] for scope in SCOPES}
    out["all"] = runtime.store.create_api_key(",".join(SCOPES))[0]
    return out


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    from service.app import create_app

    with TestClient(create_app(runtime), raise_server_exceptions=False) as c:
        yield c


def h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}
