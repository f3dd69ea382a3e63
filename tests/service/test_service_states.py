"""The runtime's fast state (de)serialization writes exactly the engine's own per-student JSON."""

from __future__ import annotations

import numpy as np

from engine.catalog import demo_catalog
from engine.mastery import MasteryBatch, MasteryConfig, MasteryEngine, MasteryState
from engine.runtime.states import batch_from_dicts, batch_to_dicts


def test_service_state_documents_match_engine_serializer():
    cat = demo_catalog()
    engine = MasteryEngine(cat, config=MasteryConfig(resource_learning=0.7))  # resources teach: taught, p_answered apart
    rng = np.random.default_rng(5)
    batch = engine.new_batch([f"s{i}" for i in range(6)])
    for step in range(8):
        rows = rng.permutation(6)[:4]
        times = np.where(rng.random(4) < 0.5, np.nan, 100.0 + step)
        engine.update_batch(batch, rows, rng.integers(0, cat.n_items, 4), rng.choice([0.0, 0.5, 1.0], 4), times,
                            rng.integers(-1, cat.n_resources, 4))
    assert batch.taught.any() and (batch.p_answered != batch.p_learned).any()  # the documents carry both fields
    fast = batch_to_dicts(batch, cat.skill_ids)
    reference = [batch.state(i).to_dict(cat.skill_ids) for i in range(len(batch))]
    assert fast == reference
    partial = {**reference[0], "student_id": "partial", "skills": {s: v for s, v in list(reference[0]["skills"].items())[::2]}}
    ids = batch.student_ids + ["new", "partial"]  # a document without some skills: those keep the cold start
    rebuilt = batch_from_dicts(ids, fast + [None, partial], cat.skill_ids, engine.new_batch(ids))
    prior = engine.skill_model.initial(1)[0]
    expected = MasteryBatch.stack([MasteryState.from_dict(d, cat.skill_ids, prior) for d in reference]
                                  + [engine.new_state("new"), MasteryState.from_dict(partial, cat.skill_ids, prior)])
    for name in ("theta", "theta_sd", "p_learned", "evidence", "last_practice", "n_responses", "last_time",
                 "responses_since_progress", "first_time", "taught", "p_answered", "skill_theta", "skill_var",
                 "pace_score", "pace_info"):
        np.testing.assert_array_equal(getattr(rebuilt, name), getattr(expected, name), err_msg=name)
