"""experiments.placement_cost's variants do what they say: "first list only" gives a brand-new student placement
questions and a student with one answer (ability SD still above 0.5) the policy's own list; served gives both
placement questions; "none" gives neither; "ready skills only" gives both, on skills whose direct prerequisites are
probably learned only (served also asks on skills barely plausible)."""

from __future__ import annotations

import numpy as np

from engine.catalog import demo_catalog
from engine.mastery import MasteryBatch, MasteryEngine
from engine.recommend import Recommender
from engine.recommend.placement import PLACEMENT_SD, readiness
from experiments.placement_cost import READY_ONLY, VARIANTS


def test_each_variant_places_whom_it_says() -> None:
    engine = MasteryEngine(demo_catalog())
    rec = Recommender(engine)
    fresh = engine.new_state("new")
    one_answer = engine.update(fresh, engine.catalog.item_ids[0], 1.0)
    assert one_answer.theta_sd > PLACEMENT_SD  # the shipped rule still places this student
    expected = {"served": (True, True), "first list only": (True, False), "none": (False, False),
                "ready skills only": (True, True)}
    assert set(VARIANTS) == set(expected)
    for name, variant in VARIANTS.items():
        with variant():
            lists = [rec.recommend(state, 3, rng=np.random.default_rng(0)) for state in (fresh, one_answer)]
        assert all(lists), name
        assert tuple(all(r.placement for r in recs) for recs in lists) == expected[name], name


def test_ready_skills_only_asks_on_skills_the_student_is_probably_ready_for() -> None:
    engine = MasteryEngine(demo_catalog())
    rec = Recommender(engine)
    fresh = engine.new_state("new")
    ready = readiness(engine, MasteryBatch.stack([fresh]))[0]  # P(every direct prerequisite learned), per skill

    def lowest(name: str) -> float:
        with VARIANTS[name]():
            skills = [engine.catalog.skill_index(r.skill_ids[0]) for seed in range(20)
                      for r in rec.recommend(fresh, 5, rng=np.random.default_rng(seed))]
        return min(ready[k] for k in skills)

    assert lowest("ready skills only") >= READY_ONLY
    assert lowest("served") < READY_ONLY  # the shipped rule also asks on skills that are barely plausible
