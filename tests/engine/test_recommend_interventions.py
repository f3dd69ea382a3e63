"""MTSS: who is flagged (stalled, missing prerequisites) and allocation under weekly capacity."""

from __future__ import annotations

from collections import Counter

import numpy as np
import polars as pl
import pytest

from engine.catalog import demo_catalog
from engine.mastery import MasteryEngine
from engine.recommend.interventions import MTSSConfig, MTSSFlag, allocate, flag_students

INTERVENTIONS = pl.DataFrame({
    "intervention_id": ["tutor", "group-a", "group-b", "conf"],
    "kind": ["individual_tutoring", "small_group", "small_group", "teacher_conference"],
    "tier": [3, 2, 2, 2],
    "capacity_per_week": [2, 3, 1, 2],
})


def flag(student: str, severity: float, tier: int) -> MTSSFlag:
    return MTSSFlag(student, tier == 3, 0, (), severity, tier, "test")


def test_allocation_never_exceeds_capacity_and_serves_the_most_severe_first() -> None:
    flags = [flag(f"s{i:02d}", severity=float(i), tier=3 if i >= 6 else 2) for i in range(12)]
    result = allocate(flags, INTERVENTIONS)
    used = Counter(a.intervention_id for a in result.assignments)
    capacity = dict(zip(INTERVENTIONS["intervention_id"], INTERVENTIONS["capacity_per_week"]))
    assert all(used[i] <= capacity[i] for i in capacity)
    assert len(result.assignments) == sum(capacity.values()) == 8 and len(result.waitlist) == 4
    assert {a.student_id for a in result.assignments if a.intervention_id == "tutor"} == {"s11", "s10"}
    # the rest go down the severity order into groups, then conferences; the four least severe wait
    assert {f.student_id for f in result.waitlist} == {"s00", "s01", "s02", "s03"}
    assert result.remaining_capacity == {"tutor": 0, "group-a": 0, "group-b": 0, "conf": 0}
    fallback = next(a for a in result.assignments if a.student_id == "s09")
    assert fallback.kind == "small_group" and "full" in fallback.reason


def test_tier_2_needs_never_take_tutoring_places() -> None:
    result = allocate([flag("a", 5.0, 2), flag("b", 4.0, 2)], INTERVENTIONS)
    assert {a.kind for a in result.assignments} == {"small_group"} and result.remaining_capacity["tutor"] == 2


def test_flags_for_stalled_students_and_missing_prerequisites() -> None:
    catalog = demo_catalog()
    engine = MasteryEngine(catalog)
    batch = engine.new_batch(["fine", "stalled", "gaps", "both"])
    batch.last_time[:] = 5.0
    batch.responses_since_progress[:] = [2, 15, 1, 20]
    eq = catalog.skill_index("eq_two_steps")
    for row in (2, 3):  # working on two-step equations without its prerequisites in place
        batch.evidence[row, eq], batch.last_practice[row, eq] = 3, 5.0
    batch.p_learned[0] = 0.99
    batch.evidence[0] = 2
    batch.last_practice[0] = 5.0
    flags = {f.student_id: f for f in flag_students(engine, batch, now=5.0, config=MTSSConfig())}
    assert set(flags) == {"stalled", "gaps", "both"}
    ancestors = {catalog.skill_ids[s] for s in np.flatnonzero(catalog.graph.ancestors[eq])}
    assert set(flags["gaps"].missing_prerequisites) == ancestors  # population priors are all below 0.8
    assert flags["stalled"].recommended_tier == 2 and flags["both"].recommended_tier == 3
    assert flags["gaps"].recommended_tier == 3  # len(ancestors) >= tier3_missing
    assert "no skill newly mastered in the last 20 responses" in flags["both"].reason
    assert [f.student_id for f in flag_students(engine, batch, now=5.0)][0] == "both"  # most severe first


def test_bad_mtss_settings_are_rejected() -> None:
    from engine.errors import ConfigError

    with pytest.raises(ConfigError):
        MTSSConfig(missing_prerequisites=5, tier3_missing=2)
