"""Recommendation audit: every metric on a hand-made table, and the gate on biased vs fair recommenders."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from engine.fairness.gate import FAIL, INSUFFICIENT, PASS, load_policy
from engine.fairness.recommendation_audit import audit_recommendations
from engine.fairness.results import assemble
from tests.fairness import simulate as sim

RECOMMENDATION_CHECKS = ("advanced_exposure_ratio", "weighted_advanced_exposure_ratio", "ready_not_offered_gap",
                         "intervention_allocation_ratio", "remedial_to_advanced_ratio")


def _hand_table() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Ten students per group; every student gets the same two lists (day 1 low band, day 2 high band)."""
    rows = []
    for g, first_level, high_levels in (("A", "remedial", ("advanced", "core")), ("B", "core", ("core", "core"))):
        for s in range(10):
            sid = f"{g}{s}"
            rows += [{"student_id": sid, "list_id": f"{sid}-1", "timestamp": 1, "rank": 1, "level": first_level, "kind": "practice", "mastery_band": "low"},
                     {"student_id": sid, "list_id": f"{sid}-1", "timestamp": 1, "rank": 2, "level": "core",
                      "kind": "intervention" if g == "A" else "practice", "mastery_band": "low"},
                     {"student_id": sid, "list_id": f"{sid}-2", "timestamp": 2, "rank": 1, "level": high_levels[0], "kind": "practice", "mastery_band": "high"},
                     {"student_id": sid, "list_id": f"{sid}-2", "timestamp": 2, "rank": 2, "level": high_levels[1], "kind": "practice", "mastery_band": "high"}]
    roster = pl.DataFrame({"student_id": [f"{g}{s}" for g in "AB" for s in range(10)], "group": ["A"] * 10 + ["B"] * 10})
    return pl.DataFrame(rows), roster


def test_metrics_by_hand() -> None:
    served, roster = _hand_table()
    audit = audit_recommendations(served, roster, "group", n_boot=30)
    value = {(name, r["stratum"] if "stratum" in r else None, r["group"], r["metric"]): r["value"]
             for name, f in audit.frames.items() for r in f.by_group.iter_rows(named=True)}
    assert value[("exposure", "high", "A", "advanced_exposure")] == pytest.approx(0.5)
    assert value[("exposure", "high", "B", "advanced_exposure")] == pytest.approx(0.0)
    # advanced at rank 1 (weight 1/log2 2 = 1) out of weights 1 + 1/log2 3
    assert value[("exposure", "high", "A", "weighted_advanced_exposure")] == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert value[("ready_not_offered", None, "A", "ready_not_offered")] == pytest.approx(0.0)
    assert value[("ready_not_offered", None, "B", "ready_not_offered")] == pytest.approx(1.0)
    assert value[("intervention_rate", "low", "A", "intervention_rate")] == pytest.approx(1.0)
    assert value[("intervention_rate", "low", "B", "intervention_rate")] == pytest.approx(0.0)
    # only group A started on remedial material, and all of them were served advanced material later
    assert value[("remedial_to_advanced", None, "A", "remedial_to_advanced")] == pytest.approx(1.0)
    assert ("remedial_to_advanced", None, "B", "remedial_to_advanced") not in value
    # ... and all of them were served while ready later (day 2, high band)
    assert value[("remedial_to_advanced_once_ready", None, "A", "remedial_to_advanced_once_ready")] == pytest.approx(1.0)


def _track(group: str, n: int, ready: int, moved: int) -> list[dict]:
    """`n` students of `group` start on remedial work (day 1, low band); the first `ready` are served while ready on
    day 2 (high band), the first `moved` of those advanced material; the rest stay in the mid band on remedial work."""
    rows = []
    for s in range(n):
        sid = f"{group}{s}"
        later = ("advanced" if s < moved else "core", "high") if s < ready else ("remedial", "mid")
        rows += [{"student_id": sid, "timestamp": 1, "rank": 1, "level": "remedial", "kind": "practice", "mastery_band": "low"},
                 {"student_id": sid, "timestamp": 2, "rank": 1, "level": later[0], "kind": "practice", "mastery_band": later[1]}]
    return rows


def test_moving_on_from_remedial_work_is_compared_among_those_who_became_ready() -> None:
    """Of 100 remedial starters per group, A has 40 ready later, B 80, and 90% of the ready ones are moved to advanced
    work: unconditionally A moves 36/100 against B's 72/100 (ratio 0.5, the groups' starting points), once ready both
    0.9; the simulated gate compares the second and passes. With 12 of A's 40 ready students moved (0.3 against 0.9)
    it fails."""
    from engine.fairness.simulated import simulated_policy
    roster = pl.DataFrame({"student_id": [f"{g}{s}" for g in "AB" for s in range(100)], "group": ["A"] * 100 + ["B"] * 100})
    for moved_a, status in ((36, PASS), (12, FAIL)):
        served = pl.DataFrame(_track("A", 100, 40, moved_a) + _track("B", 100, 80, 72))
        audit = audit_recommendations(served, roster, "group", n_boot=200)
        value = {(r["metric"], r["group"]): r["value"] for f in audit.frames.values() for r in f.by_group.iter_rows(named=True)}
        assert value[("remedial_to_advanced", "A")] == pytest.approx(moved_a / 100)
        assert value[("remedial_to_advanced", "B")] == pytest.approx(0.72)
        assert value[("remedial_to_advanced_once_ready", "A")] == pytest.approx(moved_a / 40)
        assert value[("remedial_to_advanced_once_ready", "B")] == pytest.approx(0.9)
        payload = assemble(audit, simulated_policy())
        assert payload["check_status"]["remedial_to_advanced_once_ready_ratio"] == status


def _gate(served: pl.DataFrame, roster: pl.DataFrame, groups: str = "gender,ses") -> dict:
    audit = audit_recommendations(served, roster, groups, n_boot=100)
    return assemble(audit, load_policy())


def test_recommender_that_withholds_advanced_material_fails_the_gate() -> None:
    rng = np.random.default_rng(0)
    roster = sim.roster(800, rng)
    payload = _gate(sim.served(roster, rng, withhold_from="F", withhold_factor=0.5), roster)
    assert payload["status"] == FAIL
    assert payload["check_status"]["advanced_exposure_ratio"] == FAIL
    failing = [c for c in payload["checks"] if c["status"] == FAIL and c["name"] == "advanced_exposure_ratio"]
    assert {(c["attribute"], c["group"]) for c in failing} == {("gender", "F")}  # the withheld group, nobody else
    assert {c["stratum"] for c in failing} == {"mid", "high"}  # within the bands where it was withheld


def test_fair_recommender_passes_the_gate() -> None:
    rng = np.random.default_rng(1)
    roster = sim.roster(2000, rng)  # enough students for every interval to fall inside its bounds
    payload = _gate(sim.served(roster, rng), roster)
    assert {payload["check_status"][c] for c in RECOMMENDATION_CHECKS} == {PASS}
    assert payload["status"] == PASS


def test_too_few_students_gives_insufficient_evidence_not_a_pass() -> None:
    rng = np.random.default_rng(2)
    roster = sim.roster(16, rng)  # about 8 per gender: every group below the minimum size of 10
    payload = _gate(sim.served(roster, rng, withhold_from="F"), roster, groups="gender")
    assert payload["status"] == INSUFFICIENT
    assert payload["check_status"]["advanced_exposure_ratio"] == INSUFFICIENT
    assert "suppressed" in payload["check_notes"]["advanced_exposure_ratio"]
    assert all(c["status"] != PASS for c in payload["checks"])


def test_checks_with_nothing_to_compare_pass_with_their_reason() -> None:
    """A recommender that never starts anyone on remedial work and never serves an intervention leaves the
    remedial-to-advanced and intervention checks with nothing to compare: they pass, saying why, and the
    exposure checks still decide the verdict (a withheld group still fails)."""
    rng = np.random.default_rng(1)
    roster = sim.roster(2000, rng)
    plain = [pl.col("level").replace("remedial", "core"), pl.lit("practice").alias("kind")]
    payload = _gate(sim.served(roster, rng).with_columns(*plain), roster)
    for check in ("remedial_to_advanced_ratio", "intervention_allocation_ratio"):
        assert payload["check_status"][check] == PASS
        assert payload["check_notes"][check].startswith("not applicable")
    assert "no student of any group started on remedial material" in payload["check_notes"]["remedial_to_advanced_ratio"]
    assert payload["status"] == PASS
    withheld = _gate(sim.served(roster, rng, withhold_from="F", withhold_factor=0.5).with_columns(*plain), roster)
    assert withheld["check_status"]["advanced_exposure_ratio"] == FAIL
    assert withheld["check_status"]["remedial_to_advanced_ratio"] == PASS


def test_remedial_start_in_one_group_only_is_still_compared() -> None:
    """When some students started on remedial work the check is applicable: the group served it is compared."""
    served, roster = _hand_table()
    audit = audit_recommendations(served, roster, "group", n_boot=30)
    assert "remedial_to_advanced" not in audit.not_applicable
    assert any(r["metric"] == "remedial_to_advanced" and r["kind"] == "groups" for r in audit.evidence())


def test_ready_not_offered_is_lower_is_better_in_the_gate() -> None:
    # hand table: every ready list of group B holds no advanced resource (1.0), none of group A's (0.0). Fewer lists
    # without an offer is better, so A is the reference and B fails the gap check, never the other way round
    served, roster = _hand_table()
    payload = assemble(audit_recommendations(served, roster, "group", n_boot=30), load_policy())
    rows = [c for c in payload["checks"] if c["name"] == "ready_not_offered_gap"]
    assert payload["check_status"]["ready_not_offered_gap"] == FAIL
    assert [(c["group"], c["reference"], c["status"]) for c in rows if c["status"] == FAIL] == [("B", "A", FAIL)]
    assert all(c["group"] != "A" or c["status"] != FAIL for c in rows)
