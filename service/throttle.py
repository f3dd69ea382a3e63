"""Failed-key throttling: a token bucket per client address, in memory (per server process).

Every request that presents a wrong API key (malformed, unknown or revoked: a 401) costs its client address
one token; a client holds at most `per_minute` tokens (its burst) and gets them back at `per_minute` per
minute. A client without a token gets 429 with `Retry-After` for every keyed request, a valid key included
(else guessing would simply go on), until a token is back. Requests without a key and valid keys cost nothing.

Behind a reverse proxy every client has the proxy's address: run uvicorn with `--forwarded-allow-ips` for
the proxy so the address is the client's, or set `EQUILEARN_FAILED_KEYS_PER_MINUTE=0` and throttle at the proxy.
"""

from __future__ import annotations

import math
import threading
import time


class FailedKeyThrottle:
    def __init__(self, per_minute: int, max_clients: int = 10_000, clock=time.monotonic) -> None:  # noqa: ANN001
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._lock = threading.Lock()

    def _tokens(self, client: str, now: float) -> float:
        tokens, at = self._buckets.get(client, (self.capacity, now))
        return min(self.capacity, tokens + (now - at) * self.rate)

    def retry_after(self, client: str) -> int | None:
        """Whole seconds `client` must wait before its next keyed request, or None if it may go on."""
        if client not in self._buckets:  # the common case: no failure on record
            return None
        with self._lock:
            tokens = self._tokens(client, self.clock())
        return None if tokens >= 1.0 else max(1, math.ceil((1.0 - tokens) / self.rate))

    def failed(self, client: str) -> None:
        """Charge `client` one token for a wrong key."""
        with self._lock:
            now = self.clock()
            tokens = self._tokens(client, now)
            if client not in self._buckets and len(self._buckets) >= self.max_clients:
                self._forget_refilled(now)
            self._buckets[client] = (max(tokens - 1.0, 0.0), now)

    def _forget_refilled(self, now: float) -> None:
        """Drop clients whose bucket is full again (they owe nothing); if none is, the oldest half."""
        full = [c for c in self._buckets if self._tokens(c, now) >= self.capacity]
        for client in full or sorted(self._buckets, key=lambda c: self._buckets[c][1])[: len(self._buckets) // 2]:
            del self._buckets[client]
