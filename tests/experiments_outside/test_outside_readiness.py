"""The outside check's "offered within 5 steps" clock, against event sequences counted by hand."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from experiments.outside_check.readiness import ReadinessClock, offered_mask
from experiments.outside_check.world import WorldSpec, make_world

# skill 0 a root, skill 1 built on 0, skill 2 built on 0 and 1; items 0-1 on skill 0, 2 on skill 1, 3 on skill 2
WORLD = SimpleNamespace(prerequisites=[[], [0], [0, 1]], n_skills=3, item_skill=np.array([0, 0, 1, 2]))
NONE = np.zeros((1, 3), dtype=bool)


def _mastered(*skills: int) -> np.ndarray:
    m = np.zeros((1, 3), dtype=bool)
    m[0, list(skills)] = True
    return m


def _offer(skill: int) -> np.ndarray:
    m = NONE.copy()
    m[0, skill] = True
    return m


def test_an_offer_within_five_steps_of_turning_ready_is_a_hit_and_one_after_is_a_miss() -> None:
    for offered_at, hits in ((5, 1), (6, 0)):  # skill 1 turns ready at step 1: steps 1..5 are its window
        clock = ReadinessClock(WORLD, _mastered())  # skill 0 ready from the start: not an event
        clock.step(0, _mastered(), NONE)
        for t in range(1, 8):
            clock.step(t, _mastered(0), _offer(1) if t == offered_at else NONE)
        assert (clock.result.hits, clock.result.events) == (hits, 1)


def test_readiness_at_the_start_is_not_counted_and_readiness_lost_before_an_offer_is_dropped() -> None:
    clock = ReadinessClock(WORLD, _mastered(0))  # skill 1 ready from the start
    for t in range(8):
        clock.step(t, _mastered(0), NONE)
    assert clock.result.events == 0
    clock.step(8, _mastered(0, 1), NONE)  # skill 1 mastered without being offered here (dropped); 2 turns ready
    clock.step(9, _mastered(0, 1, 2), NONE)  # ... and 2 mastered by itself the step after: dropped too
    for t in range(10, 20):
        clock.step(t, _mastered(0, 1, 2), NONE)
    assert clock.result.events == 0
    clock.step(20, _mastered(0, 1), _offer(2))  # skill 2 forgotten: ready again, and offered at once
    assert (clock.result.hits, clock.result.events) == (1, 1)


def test_a_missed_event_that_began_with_the_skill_forgotten_is_a_dip() -> None:
    clock = ReadinessClock(WORLD, _mastered(0, 1))  # skill 2 ready from the start
    clock.step(0, _mastered(0, 1), NONE)
    clock.step(1, _mastered(0), NONE)  # skill 1 forgotten just below the line: ready again, by a dip (2 unready)
    for t in range(2, 8):
        clock.step(t, _mastered(0), NONE)  # never offered: a miss
    clock.step(8, _mastered(0, 1), NONE)  # skill 1 back: skill 2, never mastered, turns ready by its prerequisites
    for t in range(9, 15):
        clock.step(t, _mastered(0, 1), NONE)  # never offered: a miss, not a dip
    assert (clock.result.hits, clock.result.events, clock.result.dips) == (0, 2, 1)


def test_the_listed_mask_counts_any_place_of_the_list_by_the_items_true_skill() -> None:
    mask = offered_mask(WORLD, np.array([[3, -1, 2], [0, 1, -1]]))
    assert mask.tolist() == [[False, True, True], [True, False, False]]
    world = make_world(WorldSpec(), seed=7)
    mistagged = int(np.flatnonzero(world.catalog_skill != world.item_skill)[0])
    tagged = offered_mask(world, np.array([[mistagged]]))
    assert tagged[0, world.item_skill[mistagged]] and not tagged[0, world.catalog_skill[mistagged]]
