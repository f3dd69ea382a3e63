"""A small per-process cache for what the pages compute over the whole school (MTSS allocation, equity
statistics).

An entry is fresh while the served policy (the same object) and the school's data (`Store.school_signature`:
newest event, served list, roster and enrolment writes, newest audit) are unchanged. In a school in use the
data change all the time, so an entry may also be served *stale*, up to `max_stale_s` seconds after it was
computed, while one background thread computes the new one; with `background=True` a page never waits for
the computation at all (it shows the last result, or says that the first one is being computed). Pages say
when what they show was computed.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Entry:
    policy: Any
    signature: Any
    value: Any
    computed_at: datetime
    monotonic: float
    seconds: float


@dataclass
class Slot:
    lock: threading.Lock
    entry: Entry | None = None
    running: bool = False
    error: str | None = None


_slots: weakref.WeakKeyDictionary[Any, dict[str, Slot]] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def _slot(runtime: Any, name: str) -> Slot:
    with _guard:
        return _slots.setdefault(runtime, {}).setdefault(name, Slot(threading.Lock()))


def _compute(slot: Slot, policy: Any, signature: Any, compute: Callable[[], Any]) -> Entry:
    started = time.perf_counter()
    value = compute()
    entry = Entry(policy, signature, value, datetime.now(timezone.utc), time.monotonic(), time.perf_counter() - started)
    slot.entry, slot.error = entry, None
    return entry


def _start(slot: Slot, policy: Any, signature: Any, compute: Callable[[], Any]) -> None:
    """Compute in a background thread unless one is running already."""
    with _guard:
        if slot.running:
            return
        slot.running = True

    def work() -> None:
        try:
            with slot.lock:
                _compute(slot, policy, signature, compute)
        except Exception as exc:  # noqa: BLE001 - shown on the page; the previous result stays
            # the exception's text may quote data (a roster value in a driver's or polars' message): the log gets
            # its type and where it was raised, the page only its type
            frames = "\n".join(f"  {f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__))
            log.error("page statistics could not be computed: %s, raised at\n%s", type(exc).__qualname__, frames)
            slot.error = f"{type(exc).__name__} (details in the server log)"
        finally:
            slot.running = False

    threading.Thread(target=work, name="equilearn-pagecache", daemon=True).start()


def get(runtime: Any, name: str, compute: Callable[[], Any], *, max_stale_s: float = 0.0,
        background: bool = False, min_interval_s: float = 0.0) -> tuple[Entry | None, dict[str, Any]]:
    """(entry or None, status): the entry's `value` is `compute()`'s result for the current data, or an older
    one (status `stale`) while a newer one is computed in the background. With `background=False` a missing
    or too old entry is computed before returning; with `background=True` never (None until the first is
    done). A background refresh starts at most once per `min_interval_s` after the last computation ended (a
    long computation, repeated on every new answer of a busy school, would otherwise occupy a core for good)."""
    policy = runtime.policy
    signature = runtime.store.school_signature()
    slot = _slot(runtime, name)
    entry = slot.entry
    usable = entry is not None and entry.policy is policy
    if usable and entry.signature == signature:
        return entry, {"stale": False, "refreshing": slot.running, "error": slot.error}
    age = time.monotonic() - entry.monotonic if usable else 0.0
    if usable and (background or age <= max_stale_s):
        if age >= min_interval_s:
            _start(slot, policy, signature, compute)
        return entry, {"stale": True, "refreshing": slot.running, "error": slot.error,
                       "next_in_s": max(0.0, min_interval_s - age)}
    if background:
        _start(slot, policy, signature, compute)
        return None, {"stale": False, "refreshing": True, "error": slot.error}
    with slot.lock:
        entry = slot.entry
        if entry is not None and entry.policy is policy and entry.signature == signature:
            return entry, {"stale": False, "refreshing": False, "error": None}
        return _compute(slot, policy, signature, compute), {"stale": False, "refreshing": False, "error": None}


def cached(runtime: Any, name: str, compute: Callable[[], Any], *, max_stale_s: float = 0.0) -> Any:
    """The value of `get(...)` computed in the foreground when needed."""
    entry, _ = get(runtime, name, compute, max_stale_s=max_stale_s)
    assert entry is not None
    return entry.value


def warm(runtime: Any, name: str, compute: Callable[[], Any], min_interval_s: float = 0.0) -> None:
    """Start computing `name` in the background if it is missing or out of date (e.g. at sign-in)."""
    get(runtime, name, compute, background=True, min_interval_s=min_interval_s)


def wait(runtime: Any, name: str, timeout_s: float = 600.0) -> None:
    """Block until no background computation of `name` runs (tests, benchmarks)."""
    slot = _slot(runtime, name)
    deadline = time.monotonic() + timeout_s
    while slot.running and time.monotonic() < deadline:
        time.sleep(0.02)


def clear(runtime: Any, name: str | None = None) -> None:
    """Forget one entry (or all of this runtime's): the next page computes it again."""
    with _guard:
        if name is None:
            _slots.pop(runtime, None)
        elif name in _slots.get(runtime, {}):
            _slots[runtime][name].entry = None
