"""`KeyCache`: verified API-key records kept in memory for a few seconds, so a request does not read the
database to authenticate when the same key was checked moments ago.

Only keys that the database verified are kept (a wrong or unknown key always goes to the database), under
the SHA-256 digest of the key rather than its text. What the cache trades: a key revoked by another process
(the CLI, another server) keeps working here for at most `ttl_s` seconds; a revocation through this
process's `Store` clears the cache at once. `ttl_s = 0` turns the cache off (every check reads the database).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from engine.store.keys import digest
from engine.store.records import ApiKey

MAX_ENTRIES = 10_000  # more live keys than this in one process: the cache starts over rather than grow


class KeyCache:
    def __init__(self, ttl_s: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_s < 0:
            raise ValueError(f"key cache lifetime must be >= 0 seconds, got {ttl_s}")
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, ApiKey]] = {}

    def get(self, key_id: str, secret: str) -> ApiKey | None:
        """The record verified for this exact key less than `ttl_s` ago, else None."""
        if self.ttl_s <= 0:
            return None
        entry = self._entries.get(digest(key_id, secret))
        if entry is None or self._clock() >= entry[0]:
            return None
        return entry[1]

    def put(self, key_id: str, secret: str, record: ApiKey) -> None:
        """Remember `record`, which the database just verified for this key (revoked records included)."""
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest(key_id, secret)] = (self._clock() + self.ttl_s, record)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
