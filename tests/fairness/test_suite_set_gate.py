"""A model set built from a suite log that records the resource behind each answer passes the deployment gate's
simulated recommendation audit (`experiments.suite_set_gate`, the recommendation part of `model audit`)."""

from __future__ import annotations

import pytest

from engine.fairness.gate import PASS
from experiments.suite_set_gate import gate_row


@pytest.mark.slow  # about 30 s: a model build on a 300-student log, then 500 simulated learners x 80 steps
def test_ready_students_of_both_groups_get_advanced_work_from_a_set_built_on_the_bkt_log() -> None:
    """The suite's BKT log measures a remedial use at about twice a core use. Before remedial work stopped at the
    advanced threshold, the set built from it served remedial work to ready students in place of advanced work, more
    often to the lower-opportunity group: its advanced exposure in the ready band was 0.45 of the higher group's, a
    FAIL against the gate's 0.8. The gate's own bounds decide the verdict here."""
    row = gate_row("bkt", 300, 1)
    assert row["status"] == PASS, row
    assert row["advanced_exposure_ratio"] >= 0.8
    assert row["remedial_to_advanced_once_ready_ratio"] >= 0.8
