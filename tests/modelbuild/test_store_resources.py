"""A set rebuilt from the service's own log measures what resources teach exactly as one built from the same log as a
file: the events carry the resource behind each answer (`resource_id`), and `read_store_log` gives it back."""

from __future__ import annotations

import pytest

from engine.catalog import load_catalog
from engine.modelbuild import build_model_set, read_store_log
from engine.runtime import Runtime, load_service_settings
from engine.simulate.suite import random_practice_log, setting_by_name
from tests.service.conftest import write_model_set


def test_a_set_built_from_the_store_measures_resources_as_one_built_from_the_file(isolated_home, monkeypatch):
    catalog = load_catalog(None)
    log = random_practice_log(setting_by_name("curve"), catalog, 150, 40, 7, resources=True)
    assert log["resource_id"].null_count() == 0
    monkeypatch.setenv("EQUILEARN_MODEL_SET_FILE", str(write_model_set(isolated_home)))
    runtime = Runtime.open(load_service_settings())
    try:
        rows = log.sort("student_id", "seq").select("student_id", "seq", "item_id", "correct", "timestamp", "resource_id")
        events = [{"event_id": f"{s}-{q}", "student_id": s, "item_id": i, "correct": y, "timestamp": t, "resource_id": r}
                  for s, q, i, y, t, r in rows.iter_rows()]
        for start in range(0, len(events), 1000):
            runtime.ingest(runtime.events_from_json(events[start:start + 1000]))
        stored = read_store_log(runtime.store)
    finally:
        runtime.close()
    assert stored.sort("student_id", "seq")["resource_id"].to_list() == rows["resource_id"].to_list()
    from_file, _ = build_model_set(catalog, log, predictor="irt", test_fraction=0, seed=3)
    from_store, _ = build_model_set(catalog, stored, predictor="irt", test_fraction=0, seed=3)
    measured = [s.components["policy_learning"] for s in (from_file, from_store)]
    assert measured[0]["cover_learning"]["answers"] > 0 and measured[0]["resource_value"]
    assert measured[1]["cover_learning"] == pytest.approx(measured[0]["cover_learning"], rel=1e-9)
    for rid, values in measured[0]["resource_value"].items():
        assert measured[1]["resource_value"][rid] == pytest.approx(values, rel=1e-9, nan_ok=True)
