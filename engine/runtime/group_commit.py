"""Group commit for served-recommendation logs: requests that arrive while a write is in progress are
written together in the next transaction (one commit, one fsync), and each request still returns only
after its own record is committed.

The callers are the service's request handlers on one asyncio event loop: items queue on the loop, and
one drain task at a time hands everything queued to `write_all` in a worker thread (the write blocks on
commit and fsync), so a transaction costs one thread hand-off however many requests it carries. If a
transaction fails, every caller in it gets the error (nothing of it was written), so a request never
reports a log entry that does not exist.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import anyio

T = TypeVar("T")
R = TypeVar("R")


class AsyncGroupCommitter(Generic[T, R]):
    """`await submit(item)` -> the result for `item` from `write_all(items) -> results` (same order), batched
    with the items queued meanwhile (module docstring)."""

    def __init__(self, write_all: Callable[[Sequence[T]], Sequence[R]], max_batch: int = 256) -> None:
        self._write_all = write_all
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._drain_task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._drain_task is None:
            self._drain_task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch:]
                try:
                    results = list(await anyio.to_thread.run_sync(self._write_all, [item for item, _ in batch]))
                    if len(results) != len(batch):
                        raise RuntimeError(f"write_all returned {len(results)} results for {len(batch)} items")
                except Exception as exc:  # noqa: BLE001 - handed to every caller of this batch
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():  # a caller that went away (cancelled) still had its item written
                        future.set_result(result)
        finally:
            self._drain_task = None
