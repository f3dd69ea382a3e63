"""Fixtures for the pages: a small demo school (two classes of simulated students with roster groups, two weeks
of answers and served lists, a DIF audit on file), keys for a teacher of 7A, an equity lead and others; a
TestClient; and for the browser tests a real uvicorn on a free port of 127.0.0.1 plus Debian's chromium driven
by Playwright (module-scoped: one server and one browser for all browser tests)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROSTER_WORDS = ("gender", "female", "free_lunch", "english_learner", "lower_opportunity", "higher_opportunity")


@dataclass
class School:
    home: Path
    env: dict[str, str]
    keys: dict[str, str]
    class_a: list[str]
    class_b: list[str]
    dif_items: list[str]


def school_env(home: Path) -> dict[str, str]:
    model_set = home / "model_set.json"
    home.mkdir(parents=True, exist_ok=True)
    model_set.write_text(json.dumps({"name": "web-test", "version": "1", "components": {}, "data_fingerprint": "sha256:web",
                                     "code_version": "test"}))
    return {"EQUILEARN_HOME": str(home), "EQUILEARN_MODEL_SET_FILE": str(model_set),
            "EQUILEARN_ALLOW_UNAUDITED": "true",  # a test model set: served flagged (the audit gate is tested elsewhere)
            "EQUILEARN_KEY_CACHE_SECONDS": "0", "EQUILEARN_POLICY_CHECK_SECONDS": "0", "MLFLOW_DISABLE_TELEMETRY": "true",
            "EQUILEARN_FAILED_KEYS_PER_MINUTE": "1000"}


def build_school(home: Path) -> School:
    from engine.fairness.tracking import store_audit
    from engine.runtime import Runtime, load_service_settings
    from engine.runtime.demo_school import dif_audit, fill_demo_school

    env = school_env(home)
    runtime = Runtime.open(load_service_settings({**os.environ, **env}))
    try:
        fill_demo_school(runtime, students=28, weeks=2, steps_per_day=5)
        store = runtime.store
        keys = {"teacher": store.create_api_key("teach", "Teacher of 7A", classes=["7A"])[0],
                "lead": store.create_api_key("audit", "Equity lead")[0],
                "recommend": store.create_api_key("recommend", "platform")[0],
                "admin": store.create_api_key("admin", "admin")[0],
                "both": store.create_api_key("teach,audit", "Head of maths", classes=["7A", "7B"])[0]}
        members = store.class_students(["7A", "7B"])
        dif = dif_audit(runtime.policy.catalog, n_students=800, skills=4)
        store_audit(dif)  # as `equilearn audit dif --store` keeps it (EQUILEARN_HOME is home)
    finally:
        runtime.close()
    return School(home, env, keys, members["7A"], members["7B"], dif["data"]["planted_dif"])


@pytest.fixture(scope="session")
def school(tmp_path_factory: pytest.TempPathFactory) -> Iterator[School]:
    """The demo school, built once per worker. Its settings are in the environment only while it is built (the DIF
    audit is stored under EQUILEARN_HOME): left there for the session they would reach whatever test this worker runs
    next (the audit gate's tests then found EQUILEARN_ALLOW_UNAUDITED set); the tests pass `school.env` explicitly."""
    home = tmp_path_factory.mktemp("web-school")
    mp = pytest.MonkeyPatch()
    try:
        for name, value in school_env(home).items():
            mp.setenv(name, value)
        built = build_school(home)
    finally:
        mp.undo()
    yield built


@pytest.fixture(scope="module")
def web_runtime(school: School) -> Iterator[object]:
    from engine.runtime import Runtime, load_service_settings

    runtime = Runtime.open(load_service_settings({**os.environ, **school.env}))
    yield runtime
    runtime.close()


@pytest.fixture
def runtime(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A fresh runtime on its own home (default model set, served flagged as unaudited), no school."""
    from engine.runtime import Runtime, load_service_settings

    for name, value in school_env(isolated_home).items():
        monkeypatch.setenv(name, value)
    rt = Runtime.open(load_service_settings())
    yield rt
    rt.close()


@pytest.fixture
def client(web_runtime: object) -> Iterator[object]:
    from fastapi.testclient import TestClient

    from service.app import create_app

    with TestClient(create_app(web_runtime), raise_server_exceptions=True, base_url="http://testserver") as c:
        yield c


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def sign_in(client: object, key: str) -> object:
    """Sign `client` in with `key` through the form; returns the POST response (not followed)."""
    page = client.get("/app/signin")
    return client.post("/app/signin", data={"csrf_token": csrf_of(page.text), "api_key": key, "next": "/app/"},
                       follow_redirects=False)


# ---- a real server and a real browser ---------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(school: School) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, **school.env}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start in 60 s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); .ci/run does it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page_for(browser: object, server: str) -> Iterator[object]:
    """`page_for(key)`: a fresh browser context signed in with `key` (None: signed out); every request any page
    makes is recorded in `page.requests`, so tests can check that nothing leaves the service."""
    contexts = []

    def make(key: str | None, width: int = 1280):
        ctx = browser.new_context(viewport={"width": width, "height": 900}, base_url=server)
        contexts.append(ctx)
        page = ctx.new_page()
        page.requests = []
        page.on("request", lambda r: page.requests.append(r.url))
        if key is not None:
            page.goto("/app/signin")
            page.get_by_label("Your key").fill(key)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/app/")
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def shot(page: object, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
