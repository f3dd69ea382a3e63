"""Two service processes on one PostgreSQL database. Fed concurrently with events for the same students (and some
batches sent to both): no lost update, every event stored once, states equal a replay of the log. Lists served by one
and answered through the other: both learn every outcome once. Runs only when EQUILEARN_TEST_POSTGRES_URL is set (CI)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import numpy as np
import pytest

from engine.catalog import demo_catalog
from engine.runtime import Runtime, load_service_settings
from tests.service.conftest import scratch_postgres, write_model_set
from tests.service.test_service_durability import ROOT, free_port, start_server
from tests.service.test_service_events import assert_states_equal


@contextmanager
def two_servers(home, monkeypatch, scopes: str, **env_extra: str) -> Iterator[tuple[str, list[int], Callable[[], None]]]:
    """Two uvicorn processes serving one scratch PostgreSQL database (skipped without one), set in the environment:
    a key with `scopes`, their ports, and a function that stops them (the database lives until the block ends)."""
    with scratch_postgres() as url:
        monkeypatch.setenv("EQUILEARN_DATABASE_URL", url)
        monkeypatch.setenv("EQUILEARN_MODEL_SET_FILE", str(write_model_set(home)))
        rt = Runtime.open(load_service_settings())
        key = rt.store.create_api_key(scopes)[0]
        rt.close()
        env = {**os.environ, "PYTHONPATH": str(ROOT), **env_extra}
        ports = [free_port(), free_port()]
        servers = [start_server(env, p) for p in ports]

        def stop() -> None:
            for server in servers:
                server.kill()
                server.wait()

        try:
            yield key, ports, stop
        finally:
            stop()


@pytest.mark.timeout(180)
def test_service_two_processes_one_postgres(isolated_home, monkeypatch):
    with two_servers(isolated_home, monkeypatch, "ingest") as (key, ports, stop):
        rng = np.random.default_rng(2)
        items = demo_catalog().item_ids
        n = 4000
        sid, it = rng.integers(0, 40, n), rng.integers(0, len(items), n)  # 40 students: heavy overlap
        events = [{"event_id": f"m{i}", "student_id": f"p{sid[i]}", "item_id": items[it[i]],
                   "correct": int(rng.integers(0, 2))} for i in range(n)]
        batches = [events[i:i + 50] for i in range(0, n, 50)]
        errors: list[str] = []

        def client(port: int, mine: list[list[dict]]) -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}, timeout=60) as http:
                for b in mine:
                    r = http.post("/v1/events", json={"events": b})
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {r.text[:200]}")

        # each batch goes to one process; every 5th batch is also sent to the other (a retry racing its original)
        plan = {0: [], 1: []}
        for j, b in enumerate(batches):
            plan[j % 2].append(b)
            if j % 5 == 0:
                plan[1 - j % 2].append(b)
        threads = [threading.Thread(target=client, args=(ports[k], plan[k][h::2])) for k in (0, 1) for h in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
        stop()
        rt = Runtime.open(load_service_settings())
        try:
            log = rt.store.events_frame()
            assert log.height == n and log["event_id"].n_unique() == n
            online, replay = rt.stored_states(), rt.replay_states()
            assert sum(s["n_responses"] for s in online.values()) == n
            assert_states_equal(online, replay)
        finally:
            rt.close()


@pytest.mark.timeout(180)
def test_a_list_served_by_one_process_and_answered_through_the_other_is_learned_by_both(isolated_home, monkeypatch):
    """Each process follows the shared logs at its policy checks: every answer that followed a list counts once in each,
    whichever process served the list and whichever stored the answer."""
    with two_servers(isolated_home, monkeypatch, "ingest,recommend,admin",
                     EQUILEARN_POLICY_CHECK_SECONDS="0.2") as (key, ports, _):
        http = [httpx.Client(base_url=f"http://127.0.0.1:{p}", headers={"X-API-Key": key}, timeout=60) for p in ports]
        items = demo_catalog().item_ids
        students = [f"f{k}" for k in range(6)]
        warm = [{"event_id": f"w{s}-{k}", "student_id": s, "item_id": items[k % len(items)], "correct": k % 2}
                for s in students for k in range(20)]  # past placement (at most 20 answers)
        assert http[0].post("/v1/events", json={"events": warm}).status_code == 200
        for n, s in enumerate(students):
            first = http[n % 2].get(f"/v1/students/{s}/recommendations?k=3").json()["recommendations"][0]
            assert first["item_p"] is not None
            answer = {"event_id": f"a{s}", "student_id": s, "item_id": first["item_id"], "correct": 1}
            assert http[1 - n % 2].post("/v1/events", json={"events": [answer]}).status_code == 200
        deadline, learned = time.monotonic() + 30, [None, None]
        while time.monotonic() < deadline:
            learned = [c.get("/v1/models").json()["learning"] for c in http]
            if all(x["outcomes_since_build"] >= len(students) for x in learned):
                break
            time.sleep(0.2)
        assert [x["outcomes_since_build"] for x in learned] == [len(students)] * 2, learned
        assert learned[0]["outcomes"] == learned[1]["outcomes"] and learned[0]["lists_waiting"] == 0
        for c in http:
            c.close()
