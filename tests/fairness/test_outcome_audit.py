"""Outcome audit: gains by group and prior quartile against direct computation; "every row grows"."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.fairness.gate import FAIL, PASS, load_policy
from engine.fairness.outcome_audit import audit_outcomes, outcomes_from_log
from engine.fairness.results import assemble
from tests.fairness import simulate as sim


def test_gain_by_group_and_quartile_equal_direct_means() -> None:
    rng = np.random.default_rng(0)
    roster = sim.roster(400, rng)
    outcomes = sim.outcomes(roster, rng, gain=0.1)
    audit = audit_outcomes(outcomes, roster, "gender", n_boot=50)
    joined = outcomes.join(roster, on="student_id").with_columns((pl.col("post") - pl.col("pre")).alias("gain"))
    for r in audit.by_group.by_group.iter_rows(named=True):
        assert r["value"] == pytest.approx(joined.filter(pl.col("gender") == r["group"])["gain"].mean())
    cuts = np.quantile(joined["pre"].to_numpy(), [0.25, 0.5, 0.75])
    assert audit.quartile_cuts == pytest.approx(cuts.tolist())
    q1 = joined.filter(pl.col("pre") < cuts[0])
    row = audit.by_quartile.overall.filter(pl.col("stratum") == "Q1").row(0, named=True)
    assert row["value"] == pytest.approx(q1["gain"].mean()) and row["n_students"] == q1.height
    assert audit.every_row_grows()


def test_a_group_that_does_not_grow_fails_every_row_grows() -> None:
    rng = np.random.default_rng(1)
    roster = sim.roster(400, rng)
    flat = sim.outcomes(roster, rng, gain=0.1, group_gain={"F": -0.12})  # F students lose 2 points on average
    payload = assemble(audit_outcomes(flat, roster, "gender", n_boot=100), load_policy())
    assert payload["check_status"]["every_row_grows"] == FAIL
    failing = {(c["attribute"], c["group"], c["stratum"]) for c in payload["checks"] if c["status"] == FAIL}
    assert ("gender", "F", None) in failing and not any(g == "M" for _, g, _ in failing)
    grows = assemble(audit_outcomes(sim.outcomes(roster, rng, gain=0.1), roster, "gender", n_boot=100), load_policy())
    assert grows["check_status"]["every_row_grows"] == PASS


def test_pre_and_post_from_a_response_log() -> None:
    log = pl.DataFrame({"student_id": ["a"] * 6 + ["b"] * 3, "seq": [0, 1, 2, 3, 4, 5, 0, 1, 2],
                        "correct": [0, 0, 1, 1, 1, 1, 1, 0, 1]}).with_columns(pl.col("correct").cast(pl.Float64))
    table, left_out = outcomes_from_log(log, window=2)
    assert left_out == 1  # b has 3 responses, fewer than 2 * window
    assert table.row(0, named=True) == {"student_id": "a", "pre": 0.0, "post": 1.0}


def test_a_student_exactly_at_a_quartile_cut_goes_to_the_quartile_above() -> None:
    # prior scores 0.1 .. 0.5, 10 students each: the linear-interpolation quartiles of those 50 values fall on the
    # observed scores 0.2, 0.3 and 0.4, so 30 students sit exactly on a cut. By the documented rule (intervals closed
    # on the left) Q1 = {0.1}, Q2 = {0.2}, Q3 = {0.3}, Q4 = {0.4, 0.5}: 10, 10, 10 and 20 students.
    pre = np.repeat([0.1, 0.2, 0.3, 0.4, 0.5], 10)
    ids = [f"s{i:02d}" for i in range(pre.size)]
    outcomes = pl.DataFrame({"student_id": ids, "pre": pre, "post": pre + 0.05 + 0.1 * (pre == 0.2)})
    roster = pl.DataFrame({"student_id": ids, "gender": ["F", "M"] * (pre.size // 2)})
    audit = audit_outcomes(outcomes, roster, "gender", n_boot=20)
    assert audit.quartile_cuts == pytest.approx([0.2, 0.3, 0.4])
    rows = {r["stratum"]: r for r in audit.by_quartile.overall.iter_rows(named=True)}
    assert [rows[q]["n_students"] for q in ("Q1", "Q2", "Q3", "Q4")] == [10, 10, 10, 20]
    assert rows["Q2"]["value"] == pytest.approx(0.15) and rows["Q1"]["value"] == pytest.approx(0.05)  # the 0.2 students
