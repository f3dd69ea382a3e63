"""The README's "From your log to a served model set" commands, run as written on a generated catalog and
log: `model build`, `model audit` and `keys create` through `.venv/bin/equilearn`, `serve` as the app it would
start (TestClient with the command's environment); the set is served audited (PASS for its content), and the
key it printed sends an event and gets recommendations."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
from fastapi.testclient import TestClient

from tests.modelbuild.conftest import World
from tests.service.conftest import h

ROOT = Path(__file__).resolve().parents[2]
HEADING = "## From your log to a served model set"


def readme_commands() -> list[str]:
    """The first ```sh block under the section's heading, one command a line."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(HEADING):]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, f"no ```sh block under {HEADING!r}"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def split(command: str) -> tuple[dict[str, str], list[str]]:
    """(leading VAR=value assignments, argv) of one shell command line."""
    words = shlex.split(command)
    env = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return env, words


def test_readme_commands_take_a_log_to_a_served_model_set(world: World, tmp_path, isolated_home, monkeypatch):
    commands = readme_commands()
    assert 1 <= len(commands) <= 5
    shutil.copytree(world.catalog, tmp_path / "my-catalog")
    shutil.copy(world.log, tmp_path / "my-log.csv")
    monkeypatch.chdir(tmp_path)
    exe = str(Path(sys.executable).with_name("equilearn"))
    key, serve_env, audited = None, None, False
    for command in commands:
        env, argv = split(command)
        assert argv[0] == "equilearn", command
        if argv[1:2] == ["serve"]:
            serve_env = env
            continue
        done = subprocess.run([exe, *argv[1:]], cwd=tmp_path, env={**os.environ, **env}, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"{command}\n{done.stderr}"
        if argv[1:3] == ["keys", "create"]:
            key = done.stdout.splitlines()[0].strip()
        if argv[1:3] == ["model", "build"]:
            assert "items with too little data" in done.stdout and "held-out predictor" in done.stdout
        if argv[1:3] == ["model", "audit"]:
            audited = True
            assert ": PASS" in done.stdout.splitlines()[0] and "recorded: audit #" in done.stderr
    assert key and serve_env is not None and audited, "the section must audit the set, create a key and serve"

    from engine.runtime import Runtime, load_service_settings
    from service.app import create_app

    for name, value in serve_env.items():
        monkeypatch.setenv(name, value)
    runtime = Runtime.open(load_service_settings())
    with TestClient(create_app(runtime)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["model_set"]["catalog"] == "platform-maths/v1"
        info = ready.json()["model_set"]
        assert (info["audit_status"], info["warning"], info["source"]) == ("PASS", None, "file")
        items = pl.DataFrame(client.get("/v1/catalog/items", headers=h(key)).json()["rows"])
        assert items.height == 120 and (items["a"] != 1.0).sum() == 120 - len(world.low_data)
        item = items["item_id"][3]
        sent = client.post("/v1/events", headers=h(key),
                           json={"events": [{"event_id": "r1", "student_id": "readme-1", "item_id": item, "correct": 0}]})
        assert sent.status_code == 200, sent.text
        recs = client.get("/v1/students/readme-1/recommendations?k=2", headers=h(key))
        assert recs.status_code == 200 and len(recs.json()["recommendations"]) == 2
    runtime.close()
