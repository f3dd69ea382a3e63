"""Over HTTP: the answer that follows a served list is learned at the next catch-up, and GET /v1/models says so."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.runtime import Runtime
from engine.runtime.followups import SETTLE_SECONDS
from engine.store.types import utc_now
from tests.service.conftest import h


def test_the_answer_to_a_served_entry_is_counted_once_and_shown(runtime: Runtime, client, keys) -> None:
    items = runtime.policy.catalog.item_ids
    events = [{"event_id": f"warm-{k}", "student_id": "s1", "item_id": items[k % len(items)], "correct": float(k % 2)}
              for k in range(20)]  # placement ends after at most 20 answers: the next list is a recommendation
    assert client.post("/v1/events", json={"events": events}, headers=h(keys["ingest"])).status_code == 200
    listed = client.get("/v1/students/s1/recommendations?k=3", headers=h(keys["recommend"])).json()["recommendations"]
    first = listed[0]
    assert not first["placement"] and 0 < first["item_p"] < 1
    answer = [{"event_id": "after", "student_id": "s1", "item_id": first["item_id"], "correct": 1.0}]
    assert client.post("/v1/events", json={"events": answer}, headers=h(keys["ingest"])).status_code == 200
    before = client.get("/v1/models", headers=h(keys["admin"])).json()["learning"]
    assert before["outcomes_since_build"] == 0 and before["lists_waiting"] == 0  # nothing read since the load
    settled = utc_now() + timedelta(seconds=SETTLE_SECONDS)
    assert runtime.catch_up(settled) == 1 and runtime.catch_up(settled) == 0
    learning = client.get("/v1/models", headers=h(keys["admin"])).json()["learning"]
    assert learning["outcomes_since_build"] == 1 and learning["outcomes"] == before["outcomes"] + 1
    assert learning["lists_waiting"] == 0 and learning["served_read_through_id"] >= 1
    assert learning["events_read_through_seq"] == 21
    index = runtime.policy.catalog.resource_ids.index(first["resource_id"])
    assert runtime.policy.recommender.effectiveness.total[index] == pytest.approx(1.0 - first["item_p"])
