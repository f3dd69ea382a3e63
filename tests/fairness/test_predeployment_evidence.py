"""The pre-deployment audit does not leave an auditor without a verdict for want of simulated learners: while the
recommendation gate answers INSUFFICIENT_EVIDENCE (groups below the minimum size), the simulation is rerun with
twice the learners, up to a cap (an outside check saw 2 of 6 built sets stuck at 500 learners)."""

from __future__ import annotations

from types import SimpleNamespace

from engine.catalog import demo_catalog
from engine.fairness.gate import INSUFFICIENT
from engine.fairness.predeployment import AuditOptions, simulated_recommendations
from engine.mastery import MasteryEngine
from engine.recommend import Recommender


def test_more_learners_are_simulated_until_the_gate_can_decide() -> None:
    engine = MasteryEngine(demo_catalog())
    recommender = Recommender(engine)
    no_learned_statistics = SimpleNamespace(components={})
    tiny = AuditOptions(sim_students=12, sim_students_max=12, sim_steps=40)
    alone = simulated_recommendations(no_learned_statistics, engine, recommender, tiny, "v")
    assert alone["status"] == INSUFFICIENT  # 12 learners in two groups: each below the minimum size of 10
    assert alone["data"]["students_tried"] == [12]

    grown = simulated_recommendations(no_learned_statistics, engine, recommender,
                                       AuditOptions(sim_students=12, sim_students_max=960, sim_steps=40), "v")
    tried = grown["data"]["students_tried"]
    assert tried[0] == 12 and all(b == min(2 * a, 960) for a, b in zip(tried, tried[1:]))
    assert len(tried) > 1
    assert grown["status"] != INSUFFICIENT or tried[-1] == 960
    assert grown["data"]["students"] == tried[-1]  # the verdict rests on the last, largest simulation
