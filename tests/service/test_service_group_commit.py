"""Group commit: every caller gets its own result only after its batch is written; callers arriving during
a write are written together; a failed write fails exactly its callers."""

from __future__ import annotations

import asyncio
import threading

import pytest

from engine.runtime.group_commit import AsyncGroupCommitter


def test_service_group_commit_batches_and_returns_own_results():
    written: list[list[int]] = []
    first_started = threading.Event()
    release = threading.Event()

    def write_all(items):  # runs in a worker thread; the first write blocks until 15 more callers queued
        if not written:
            first_started.set()
            assert release.wait(10)
        written.append(list(items))
        return [i * 10 for i in items]

    async def scenario() -> list[int]:
        gc = AsyncGroupCommitter(write_all)
        first = asyncio.create_task(gc.submit(0))
        while not first_started.is_set():
            await asyncio.sleep(0.001)
        others = [asyncio.create_task(gc.submit(i)) for i in range(1, 16)]
        await asyncio.sleep(0.01)
        release.set()
        return await asyncio.gather(first, *others)

    assert asyncio.run(scenario()) == [i * 10 for i in range(16)]
    assert written == [[0], list(range(1, 16))]  # one transaction for everything queued during the first


def test_service_group_commit_error_goes_to_its_callers_only():
    calls = []

    def write_all(items):
        calls.append(list(items))
        if "bad" in items:
            raise ValueError("rejected")
        return [f"ok:{i}" for i in items]

    async def scenario() -> None:
        gc = AsyncGroupCommitter(write_all)
        with pytest.raises(ValueError, match="rejected"):
            await gc.submit("bad")
        assert await gc.submit("good") == "ok:good"

    asyncio.run(scenario())
    assert calls == [["bad"], ["good"]]


def test_service_group_commit_rejects_a_writer_that_loses_results():
    async def scenario() -> None:
        gc = AsyncGroupCommitter(lambda items: [1])
        with pytest.raises(RuntimeError, match="1 results for 2 items"):
            await asyncio.gather(gc.submit("a"), gc.submit("b"))

    asyncio.run(scenario())
