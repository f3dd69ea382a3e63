"""experiments.placement_cost's variants do what they say: "first list only" gives a brand-new student placement
questions and a student with one answer (ability SD still above 0.5) the policy's own list; served gives both
placement questions; "none" gives neither."""

from __future__ import annotations

import numpy as np

from engine.catalog import demo_catalog
from engine.mastery import MasteryEngine
from engine.recommend import Recommender
from engine.recommend.placement import PLACEMENT_SD
from experiments.placement_cost import VARIANTS


def test_each_variant_places_whom_it_says() -> None:
    engine = MasteryEngine(demo_catalog())
    rec = Recommender(engine)
    fresh = engine.new_state("new")
    one_answer = engine.update(fresh, engine.catalog.item_ids[0], 1.0)
    assert one_answer.theta_sd > PLACEMENT_SD  # the shipped rule still places this student
    expected = {"served": (True, True), "first list only": (True, False), "none": (False, False)}
    assert set(VARIANTS) == set(expected)
    for name, variant in VARIANTS.items():
        with variant():
            lists = [rec.recommend(state, 3, rng=np.random.default_rng(0)) for state in (fresh, one_answer)]
        assert all(lists), name
        assert tuple(all(r.placement for r in recs) for recs in lists) == expected[name], name
