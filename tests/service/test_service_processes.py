"""Several service processes on one database serve the same policy: a reload, a catalog upload or an
audit made through one process reaches the others at their next policy check (`Runtime.refresh`).

Two runtimes opened on the same home and database stand for two server processes (each has its own
store, pool and in-memory policy, exactly as two uvicorn workers do)."""

from __future__ import annotations

import asyncio

import pytest

from engine.errors import UnavailableError
from engine.runtime import Runtime, load_service_settings
from service.app import watch_policy

TINY = {"name": "tiny", "version": "2",
        "skills": [{"skill_id": "s1", "name": "One", "prerequisites": []}],
        "items": [{"item_id": "i1", "skill_ids": ["s1"], "a": 1.0, "b": 0.0}],
        "resources": [{"resource_id": "r1", "kind": "practice_set", "skill_ids": ["s1"], "level": "core",
                       "tier": 1, "minutes": 10, "capacity": 30}]}


def test_changes_made_through_one_process_reach_the_other(any_backend_runtime: Runtime) -> None:
    a = any_backend_runtime
    b = Runtime.open(load_service_settings())
    try:
        item = a.policy.catalog.item_ids[0]
        a.ingest(a.events_from_json([{"event_id": "e1", "student_id": "s", "item_id": item, "correct": 1}]))
        assert b.refresh() is False  # nothing changed: no reload
        version = f"{a.policy.model.name}/{a.policy.model.version}"

        a.create_audit(version, "FAIL", {"why": "gap"})
        with pytest.raises(UnavailableError, match="failed its latest fairness audit"):
            a.compute_recommendations("s", 3)
        assert b.compute_recommendations("s", 3)  # b has not checked yet
        assert b.refresh() is True and b.refresh() is False
        with pytest.raises(UnavailableError, match="failed its latest fairness audit"):
            b.compute_recommendations("s", 3)
        assert b.readiness()[0] is False

        a.create_audit(version, "PASS", {}, may_lift=True, reason="re-audited")
        assert b.refresh() is True and b.compute_recommendations("s", 3)

        a.put_catalog(TINY)
        assert b.policy.catalog.name != "tiny"
        assert b.refresh() is True and b.policy.catalog.name == "tiny"
        assert a.refresh() is False  # its own upload is nothing new to it

        b.reload()
        assert a.refresh() is True and b.refresh() is False
    finally:
        b.close()


def test_the_watcher_keeps_checking_and_learning_after_failures() -> None:
    """A failed policy check does not stop the learning from served lists, nor a failed catch-up the checks."""
    class FlakyRuntime:
        refreshes = catch_ups = 0

        def refresh(self) -> bool:
            self.refreshes += 1
            if self.refreshes % 2 == 0:
                raise RuntimeError("registry unreachable")
            return False

        def catch_up(self) -> int:
            self.catch_ups += 1
            if self.catch_ups % 3 == 0:
                raise RuntimeError("database busy")
            return 0

    async def scenario(runtime: FlakyRuntime) -> None:
        task = asyncio.create_task(watch_policy(runtime, 0.001))  # type: ignore[arg-type]
        while runtime.refreshes < 7:
            await asyncio.sleep(0.001)
        task.cancel()

    runtime = FlakyRuntime()
    asyncio.run(asyncio.wait_for(scenario(runtime), 10))
    assert runtime.refreshes >= 7 and runtime.catch_ups >= 6  # each round calls both, whatever the other did
