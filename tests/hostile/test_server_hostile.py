"""The server against careless or hostile clients (issue 16, case 7): CORS allow-list, failed-key throttling,
no banner or backend name, and connections that stall are closed (a real uvicorn on 127.0.0.1)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from engine.errors import ConfigError
from engine.runtime import Runtime, load_service_settings
from tests.service.conftest import h, write_model_set

BAD_KEY = "eqk_0123456789abcdef_" + "x" * 43


@pytest.fixture
def runtime_with(isolated_home, monkeypatch):  # noqa: ANN001, ANN201
    """A factory: the service's runtime on SQLite with extra EQUILEARN_* settings."""
    opened: list[Runtime] = []

    def make(**env: str) -> Runtime:
        monkeypatch.setenv("EQUILEARN_MODEL_SET_FILE", str(write_model_set(isolated_home)))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        opened.append(Runtime.open(load_service_settings()))
        return opened[-1]

    yield make
    for rt in opened:
        rt.close()


def client_for(runtime: Runtime) -> TestClient:
    from service.app import create_app

    return TestClient(create_app(runtime), raise_server_exceptions=False)


PREFLIGHT = {"Origin": "https://app.example.org", "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "x-api-key, content-type"}


def test_cors_none_by_default_and_preflight_answered(runtime_with):
    with client_for(runtime_with()) as c:
        r = c.options("/v1/events", headers=PREFLIGHT)
        assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
        plain = c.get("/healthz", headers={"Origin": "https://app.example.org"})
        assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers


def test_cors_allow_list(runtime_with):
    with client_for(runtime_with(EQUILEARN_CORS_ORIGINS="https://app.example.org, http://localhost:3000")) as c:
        r = c.options("/v1/events", headers=PREFLIGHT)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example.org"
        assert "x-api-key" in r.headers["access-control-allow-headers"].lower()
        other = c.options("/v1/events", headers={**PREFLIGHT, "Origin": "https://evil.example"})
        assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
        assert c.get("/healthz", headers={"Origin": "http://localhost:3000"}).headers["access-control-allow-origin"] == \
            "http://localhost:3000"
    with pytest.raises(ConfigError, match="EQUILEARN_CORS_ORIGINS"):
        load_service_settings({"EQUILEARN_CORS_ORIGINS": "*"})


def test_failed_keys_are_throttled_per_address(runtime_with):
    runtime = runtime_with(EQUILEARN_FAILED_KEYS_PER_MINUTE="5", EQUILEARN_KEY_CACHE_SECONDS="0")
    good = runtime.store.create_api_key("recommend")[0]
    with client_for(runtime) as c:
        assert [c.get("/v1/catalog/skills", headers=h(BAD_KEY)).status_code for _ in range(5)] == [401] * 5
        r = c.get("/v1/catalog/skills", headers=h(BAD_KEY))
        assert r.status_code == 429 and r.json()["type"] == "throttled" and int(r.headers["retry-after"]) >= 1
        # while throttled, a valid key from that address waits too (else guessing would go on)
        assert c.get("/v1/catalog/skills", headers=h(good)).status_code == 429
        assert c.get("/healthz").status_code == 200  # no key, no throttle
        assert c.get("/v1/catalog/skills").status_code == 401  # no key given: not a guess, not charged


def test_throttle_refills_and_forgets():
    from service.throttle import FailedKeyThrottle

    now = [0.0]
    throttle = FailedKeyThrottle(per_minute=60, max_clients=4, clock=lambda: now[0])
    for _ in range(60):
        throttle.failed("a")
    assert throttle.retry_after("a") == 1 and throttle.retry_after("b") is None
    now[0] += 1.0
    assert throttle.retry_after("a") is None
    for client in "bcdefgh":
        throttle.failed(client)
    assert len(throttle._buckets) <= 4  # noqa: SLF001 - bounded memory


def test_no_backend_name_without_a_key(runtime_with):
    runtime = runtime_with()
    with client_for(runtime) as c:
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/v1/nothing", "/v1/events"):
            text = c.get(path).text.lower()
            assert "sqlite" not in text and "postgres" not in text and "psycopg" not in text, path


# ---- a real uvicorn ---------------------------------------------------------------------------------------------
@pytest.fixture
def live_server(runtime_with, monkeypatch) -> Iterator[tuple[str, int]]:  # noqa: ANN001
    import uvicorn

    from service.app import create_app
    from service.server import uvicorn_options

    runtime = runtime_with(EQUILEARN_READ_TIMEOUT_SECONDS="0.5", EQUILEARN_KEEP_ALIVE_SECONDS="0.5")
    options = uvicorn_options(runtime.settings)
    config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=0, log_level="warning", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    port = server.servers[0].sockets[0].getsockname()[1]
    yield "127.0.0.1", port
    server.should_exit = True
    thread.join(5)


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes `sock` within `seconds` (reads until EOF; any response bytes are skipped)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
        return True
    except (TimeoutError, socket.timeout):
        return False
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("sent", [b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
                                  b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                  b"Content-Length: 100\r\n\r\n{\"events\":"])
def test_stalled_connections_are_closed(live_server, sent):
    with socket.create_connection(live_server, timeout=5) as sock:
        if sent:
            sock.sendall(sent)
        start = time.monotonic()
        assert _closed_within(sock, 3.0)
        assert time.monotonic() - start < 2.5


def test_idle_keep_alive_is_closed_and_no_server_banner(live_server):
    with socket.create_connection(live_server, timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(3)
        head = sock.recv(4096).decode("latin-1").lower()
        assert head.startswith("http/1.1 200") and "\r\nserver:" not in head
        assert _closed_within(sock, 3.0)  # idle after the response: closed after the keep-alive time
