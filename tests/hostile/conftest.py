"""Fixtures for the hostile-input tests: the service on SQLite and, with EQUILEARN_TEST_POSTGRES_URL, on a
scratch PostgreSQL database (the service tests' `any_backend_runtime`), with one key per scope."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from engine.runtime import Runtime
from tests.service.conftest import SCOPES, any_backend_runtime, h  # noqa: F401 - any_backend_runtime is a fixture

MARKERS = ("ROSTERMARK-7f3a", "ROSTERMARK-91bc", "ROSTERMARK-e05d")  # planted roster values


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]
    runtime: Runtime

    def post(self, path: str, scope: str, json=None, content=None):  # noqa: ANN001, ANN201
        headers = {**h(self.keys[scope]), "content-type": "application/json"}
        return self.client.post(path, json=json, content=content, headers=headers)

    def get(self, path: str, scope: str):  # noqa: ANN201
        return self.client.get(path, headers=h(self.keys[scope]))


@pytest.fixture
def api(any_backend_runtime: Runtime) -> Iterator[Api]:  # noqa: F811
    from service.app import create_app

    runtime = any_backend_runtime
    keys = {scope: runtime.store.create_api_key(scope)[0] for scope in SCOPES}
    keys["all"] = runtime.store.create_api_key(",".join(SCOPES))[0]
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield Api(client, keys, runtime)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record of every logger at INFO and above, SQLAlchemy's statement log included (at INFO it
    logs every statement with its parameters, unless the engine hides them)."""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # SQLAlchemy sets its own loggers to WARNING
    return caplog


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the captured records would print, tracebacks included."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    return "\n".join(handler.format(r) for r in caplog.records)
