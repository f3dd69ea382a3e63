"""The session lookup cache (engine.runtime.signin.viewer) never outlives the session it caches."""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

from engine.runtime import signin
from engine.store.types import utc_now


class _Store:
    """Answers a session lookup as the database would: the record until it ends, then None."""

    def __init__(self, expires_at) -> None:
        self.expires_at = expires_at
        self.lookups = 0

    def web_session(self, token: str):
        self.lookups += 1
        if utc_now() >= self.expires_at:
            return None
        key = SimpleNamespace(id=7, name="Teacher", scopes=("teach",), active=True)
        return SimpleNamespace(key=key, classes=("7A",), expires_at=self.expires_at)


def test_a_cached_session_past_its_end_is_looked_up_again_and_refused() -> None:
    store = _Store(utc_now() + timedelta(milliseconds=200))
    runtime = SimpleNamespace(settings=SimpleNamespace(key_cache_seconds=60.0), store=store)
    token = "tok-" + str(time.time_ns())
    assert signin.viewer(runtime, token) is not None and signin.viewer(runtime, token) is not None
    assert store.lookups == 1  # the second answer came from the cache
    time.sleep(0.3)
    assert signin.viewer(runtime, token) is None  # within the cache's 60 s, but the session has ended
    assert store.lookups == 2


class _Runtime:
    """What engine.runtime.pagecache reads of a runtime: the served policy and the school's data signature."""

    def __init__(self) -> None:
        self.policy = object()
        self.store = SimpleNamespace(school_signature=lambda: ("sig", 1))


def test_a_failed_page_statistic_shows_its_type_and_logs_no_data_value(caplog) -> None:
    from engine.runtime import pagecache

    def compute():
        raise ValueError("could not parse roster value 'Jane Doe, free lunch'")

    runtime = _Runtime()
    with caplog.at_level("ERROR", logger="engine.runtime.pagecache"):
        pagecache.warm(runtime, "equity", compute)
        pagecache.wait(runtime, "equity")
    _, status = pagecache.get(runtime, "equity", compute, background=True)
    assert status["error"].startswith("ValueError") and "Jane" not in status["error"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ValueError" in logged and "Jane" not in logged
    pagecache.wait(runtime, "equity")
