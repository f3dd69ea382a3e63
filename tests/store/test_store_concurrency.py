"""Concurrent writers on the same students lose no update (threads and processes, SQLite and PostgreSQL).

Truth: a student's state lists the ids of the events folded into it, in fold order. With no lost update
that list is exactly the student's events in log order (each stored event folded once, none dropped);
a lost update would drop the ids folded by the overwritten transaction.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from typing import Any

import pytest

from engine.errors import ConflictError
from engine.store import Event, Store

from .conftest import count_apply  # noqa: TID252 - importlib mode resolves the package-relative import

WORKERS = 4
BATCHES = 12
SIZE = 4


def slow_fold(current: dict[str, Any], new: dict[str, list[Event]]) -> dict[str, dict[str, Any]]:
    """`count_apply`, slowed a little so that unsynchronised read-modify-writes would overlap."""
    time.sleep(0.003)
    return count_apply(current, new)


def worker_batches(w: int) -> list[list[Event]]:
    """Worker w's batches: every event goes to the shared student `hot` or to `hot2`/`own-w`."""
    return [[Event(f"w{w}-b{b}-{k}", "hot" if k % 2 == 0 else ("hot2" if b % 2 else f"own-{w}"), f"i{k}", float((w + b + k) % 2))
             for k in range(SIZE)] for b in range(BATCHES)]


def run_worker(url: str, w: int) -> None:
    """Send my batches and, interleaved, a retry of my neighbour's (identical duplicates racing originals)."""
    with Store.open(url, migrate=False) as store:
        mine, theirs = worker_batches(w), worker_batches((w + 1) % WORKERS)
        for b in range(BATCHES):
            store.ingest(mine[b], slow_fold)
            store.ingest(theirs[b], slow_fold)


def check_no_lost_update(store: Store) -> None:
    assert store.count_events() == WORKERS * BATCHES * SIZE
    log = store.events_frame()
    for sid in ["hot", "hot2", *(f"own-{w}" for w in range(WORKERS))]:
        mine = log.filter(log["student_id"] == sid)
        state = store.get_state(sid)
        assert state.state["ids"] == mine["event_id"].to_list(), sid
        assert state.state["total"] == pytest.approx(mine["correct"].sum())
        assert state.last_seq == mine["seq"].max()


def test_threads_lose_no_update(db_url: str) -> None:
    with Store.open(db_url) as store:
        errors: list[BaseException] = []

        def target(w: int) -> None:
            try:
                run_worker(db_url, w)
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=target, args=(w,)) for w in range(WORKERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        check_no_lost_update(store)


def test_processes_lose_no_update(db_url: str) -> None:
    Store.open(db_url).close()  # migrate once, then fork with no open connections
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=run_worker, args=(db_url, w)) for w in range(WORKERS)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * WORKERS
    with Store.open(db_url, migrate=False) as store:
        check_no_lost_update(store)


def test_update_state_and_compare_and_set_lose_no_increment(db_url: str) -> None:
    """Row-locked `update_state` and optimistic `put_state(expected_version)` retried on conflict."""
    rounds = 15
    with Store.open(db_url) as store:
        def locked(_: int) -> None:
            for _ in range(rounds):
                store.update_state("c", lambda s: {"n": (s or {"n": 0})["n"] + 1, "cas": (s or {}).get("cas", 0)})

        def optimistic(_: int) -> None:
            for _ in range(rounds):
                while True:
                    current = store.get_state("c")
                    state = dict(current.state)
                    time.sleep(0.001)
                    state["cas"] = state.get("cas", 0) + 1
                    try:
                        store.put_state("c", state, expected_version=current.version)
                        break
                    except ConflictError:
                        continue

        store.put_state("c", {"n": 0, "cas": 0}, expected_version=0)
        threads = [threading.Thread(target=f, args=(i,)) for i, f in enumerate([locked, locked, optimistic, optimistic])]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        final = store.get_state("c")
        assert final.state == {"n": 2 * rounds, "cas": 2 * rounds}
        assert final.version == 1 + 4 * rounds
