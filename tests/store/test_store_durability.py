"""A writer killed with SIGKILL mid-stream: every acknowledged batch is stored once, no batch is stored in
part, states equal a replay of the log, and resending everything completes the log without duplicates."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

from engine.store import Event, Store

from .conftest import count_apply  # noqa: TID252

BATCHES = 120
SIZE = 10


def batch(b: int) -> list[Event]:
    return [Event(f"b{b}-{k}", f"s{(b + k) % 7}", f"i{k}", float(k % 2)) for k in range(SIZE)]


def writer(url: str, acks: str) -> None:
    """Ingest batches in order, appending each batch number to `acks` only after `ingest` returned."""
    fd = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    with Store.open(url, migrate=False) as store:
        for b in range(BATCHES):
            store.ingest(batch(b), count_apply)
            os.write(fd, f"{b}\n".encode())
            time.sleep(0.002)  # leaves the parent time to kill us well before the last batch


def check_consistent(store: Store) -> set[str]:
    log = store.events_frame()
    assert log["event_id"].n_unique() == log.height  # nothing stored twice
    for sid in log["student_id"].unique().to_list():
        assert store.get_state(sid).state["ids"] == log.filter(log["student_id"] == sid)["event_id"].to_list()
    return set(log["event_id"].to_list())


def test_sigkill_mid_stream_then_resend(db_url: str, tmp_path: Path) -> None:
    Store.open(db_url).close()
    acks = tmp_path / "acks.txt"
    child = multiprocessing.get_context("fork").Process(target=writer, args=(db_url, str(acks)))
    child.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not acks.exists() or acks.read_text().count("\n") < 20):
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    acknowledged = [int(x) for x in acks.read_text().split()]
    assert len(acknowledged) >= 20 and child.exitcode == -signal.SIGKILL

    with Store.open(db_url, migrate=False) as store:
        stored = check_consistent(store)
        for b in range(BATCHES):  # all or nothing per batch, and every acknowledged batch is there
            present = {e.event_id in stored for e in batch(b)}
            assert len(present) == 1, f"batch {b} stored in part"
            if b in acknowledged:
                assert present == {True}, f"acknowledged batch {b} lost"
        assert len(stored) < BATCHES * SIZE  # the kill really was mid-stream
        for b in range(BATCHES):  # resend everything (acknowledged or not): duplicates are not stored again
            store.ingest(batch(b), count_apply)
        assert len(check_consistent(store)) == BATCHES * SIZE == store.count_events()
