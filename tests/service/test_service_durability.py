"""Durability: a real uvicorn on 127.0.0.1 is SIGKILLed while concurrent clients send 20,000 events; after a
restart and a resend of everything unacknowledged, every acknowledged event is stored exactly once (with
the seq it was acknowledged with) and every mastery state equals a replay of the log."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from engine.catalog import demo_catalog
from engine.runtime import Runtime, load_service_settings
from tests.service.conftest import write_model_set
from tests.service.test_service_events import assert_states_equal

ROOT = Path(__file__).resolve().parents[2]
N_EVENTS, BATCH, CLIENTS, KILL_AFTER = 20_000, 100, 4, 60  # SIGKILL once 60 of 200 batches are acknowledged


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not become ready in 60 s")


def make_batches() -> list[list[dict]]:
    rng = np.random.default_rng(11)
    items = demo_catalog().item_ids
    students = rng.integers(0, 400, N_EVENTS)
    chosen = rng.integers(0, len(items), N_EVENTS)
    correct = rng.integers(0, 2, N_EVENTS)
    events = [{"event_id": f"d{i}", "student_id": f"st{students[i]}", "item_id": items[chosen[i]], "correct": int(correct[i]),
               "timestamp": f"2024-05-01T00:00:{i % 60:02d}Z"} for i in range(N_EVENTS)]
    return [events[i:i + BATCH] for i in range(0, N_EVENTS, BATCH)]


def send_all(port: int, key: str, batches: dict[int, list[dict]], acked: dict[int, list[int]],
             on_ack=None) -> None:
    """Send batches from CLIENTS threads; record the seqs of acknowledged batches; stop a thread on transport errors."""
    todo = list(batches)
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}, timeout=30) as http:
            while True:
                with lock:
                    if not todo:
                        return
                    b = todo.pop()
                try:
                    r = http.post("/v1/events", json={"events": batches[b]})
                except httpx.TransportError:
                    return  # the server died: this batch stays unacknowledged
                if r.status_code != 200:
                    raise AssertionError(f"batch {b}: {r.status_code} {r.text[:300]}")
                with lock:
                    acked[b] = [x["seq"] for x in r.json()["results"]]
                    n = len(acked)
                if on_ack is not None:
                    on_ack(n)

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.mark.timeout(180)
def test_service_sigkill_mid_stream_loses_nothing(isolated_home, monkeypatch):
    monkeypatch.setenv("EQUILEARN_MODEL_SET_FILE", str(write_model_set(isolated_home)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rt = Runtime.open(load_service_settings())
    key = rt.store.create_api_key("ingest")[0]
    rt.close()
    batches = dict(enumerate(make_batches()))
    port = free_port()
    server = start_server(env, port)
    acked_first: dict[int, list[int]] = {}
    killed = threading.Event()

    def maybe_kill(n: int) -> None:
        if n >= KILL_AFTER and not killed.is_set():
            killed.set()
            os.kill(server.pid, signal.SIGKILL)

    try:
        send_all(port, key, batches, acked_first, on_ack=maybe_kill)
    finally:
        server.kill()
        server.wait()
    assert killed.is_set() and KILL_AFTER <= len(acked_first) < len(batches), len(acked_first)

    server = start_server(env, port)
    try:
        rest = {b: v for b, v in batches.items() if b not in acked_first}
        acked_second: dict[int, list[int]] = {}
        send_all(port, key, rest, acked_second)
        assert set(acked_second) == set(rest)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    rt = Runtime.open(load_service_settings())
    try:
        log = rt.store.events_frame()
        assert log.height == N_EVENTS and log["event_id"].n_unique() == N_EVENTS
        seq_of = dict(zip(log["event_id"].to_list(), log["seq"].to_list(), strict=True))
        for b, seqs in acked_first.items():  # acknowledged before the kill: stored with the acknowledged seq
            assert [seq_of[e["event_id"]] for e in batches[b]] == seqs
        online, replay = rt.stored_states(), rt.replay_states()
        assert set(online) == set(replay)
        assert sum(s["n_responses"] for s in online.values()) == N_EVENTS
        assert_states_equal(online, replay)
    finally:
        rt.close()
