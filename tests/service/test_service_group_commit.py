"""Group commit: every caller gets its own result only after its batch is written; callers waiting during
a write are written together; a failed write fails exactly its callers."""

from __future__ import annotations

import threading
import time

import pytest

from engine.runtime.group_commit import GroupCommitter


def test_service_group_commit_batches_and_returns_own_results():
    written: list[list[int]] = []
    first_started = threading.Event()
    release = threading.Event()

    def write_all(items):
        if not written:
            first_started.set()
            assert release.wait(10)
        written.append(list(items))
        return [i * 10 for i in items]

    gc = GroupCommitter(write_all)
    results: dict[int, int] = {}
    first = threading.Thread(target=lambda: results.__setitem__(0, gc.submit(0)))
    first.start()
    assert first_started.wait(10)
    others = [threading.Thread(target=lambda i=i: results.__setitem__(i, gc.submit(i))) for i in range(1, 16)]
    for t in others:
        t.start()
    deadline = time.monotonic() + 10
    while len(gc._queue) < 15 and time.monotonic() < deadline:  # all 15 queued behind the first write
        time.sleep(0.005)
    release.set()
    for t in [first, *others]:
        t.join(10)
    assert results == {i: i * 10 for i in range(16)}
    assert written[0] == [0] and sorted(written[1]) == list(range(1, 16)) and len(written) == 2


def test_service_group_commit_error_goes_to_its_callers_only():
    calls = []

    def write_all(items):
        calls.append(list(items))
        if "bad" in items:
            raise ValueError("rejected")
        return [f"ok:{i}" for i in items]

    gc = GroupCommitter(write_all)
    with pytest.raises(ValueError, match="rejected"):
        gc.submit("bad")
    assert gc.submit("good") == "ok:good"
    assert calls == [["bad"], ["good"]]
