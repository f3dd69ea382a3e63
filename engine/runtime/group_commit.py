"""Group commit for served-recommendation logs: requests that arrive while a write is in progress are
written together in the next transaction (one commit, one fsync), and each request still returns only
after its own record is committed.

Leader/follower, no background thread: the first waiting caller becomes the leader, takes everything
queued, writes it in one transaction and wakes the others; a caller whose record is still queued then
leads the next round. If a transaction fails, every caller in it gets the error (nothing of it was
written), so a request never reports a log entry that does not exist.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Slot(Generic[T]):
    item: T
    done: bool = False
    result: Any = None
    error: BaseException | None = None
    extra: dict = field(default_factory=dict)


class GroupCommitter(Generic[T, R]):
    """`submit(item)` -> the result for `item` from `write_all(items) -> results` (same order), batched."""

    def __init__(self, write_all: Callable[[Sequence[T]], Sequence[R]], max_batch: int = 256) -> None:
        self._write_all = write_all
        self._max_batch = max_batch
        self._queue: list[_Slot[T]] = []
        self._cond = threading.Condition()
        self._leading = False

    def submit(self, item: T) -> R:
        slot: _Slot[T] = _Slot(item)
        with self._cond:
            self._queue.append(slot)
            while not slot.done:
                if self._leading:
                    self._cond.wait()
                    continue
                self._leading = True
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch:]
                self._cond.release()
                try:
                    results = list(self._write_all([s.item for s in batch]))
                    error = None
                except BaseException as exc:  # noqa: BLE001 - handed to every caller of this batch
                    results, error = [None] * len(batch), exc
                finally:
                    self._cond.acquire()
                for s, r in zip(batch, results, strict=True):
                    s.result, s.error, s.done = r, error, True
                self._leading = False
                self._cond.notify_all()
        if slot.error is not None:
            raise slot.error
        return slot.result
