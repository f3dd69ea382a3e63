"""The equilearn recommender, run on the simulator (engine.simulate), passes the recommendation gate.

The loop below is `engine.simulate.run_policy`'s, recording what run_policy does not return: for each
step, the resource served and the mastery engine's estimate of its skill at that moment (the readiness
band: low < 0.5 <= mid < 0.8 <= high, 0.8 being the recommender's own ready/advanced threshold). The
recommender never sees the simulator's groups (higher/lower starting opportunity); the audit joins them
from the world afterwards. The same log with advanced offers withheld from one group (a deliberately
biased recommender) fails.

Equal opportunity is checked where students are ready (the high band) and through "ready but not
offered". Below the ready threshold advanced material is only a probe; there the audit finds the
lower-opportunity group offered fewer probes at equal estimated mastery of the skill (the recommender
also weighs prerequisite readiness, which differs by group); see docs/fairness.md. That is reported,
not asserted here, since it belongs to the recommender's design.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.catalog import load_catalog
from engine.catalog.schema import LEVELS, RESOURCE_KINDS
from engine.fairness.gate import FAIL, PASS, parse_policy
from engine.fairness.recommendation_audit import ExposureConfig, audit_recommendations
from engine.fairness.results import assemble
from engine.mastery import MasteryEngine
from engine.simulate import SIMULATORS, make_policy, make_world

STUDENTS, STEPS = 500, 20
BANDS = np.array(["low", "mid", "high"])
# The simulator's catalog has no intervention resources, so the policy holds the checks that apply;
# advanced material is meant for students ready for it: exposure is compared in the ready (high) band.
POLICY = """
policy = "simulator-recommendations"
version = "1"
[[checks]]
name = "advanced_exposure_ratio"
audit = "recommendations"
metric = "advanced_exposure"
compare = "ratio"
reference = "largest"
min = 0.8
strata = ["high"]
[[checks]]
name = "ready_not_offered_gap"
audit = "recommendations"
metric = "ready_not_offered"
compare = "difference"
reference = "best"
max = 0.10
[[checks]]
name = "remedial_to_advanced_ratio"
audit = "recommendations"
metric = "remedial_to_advanced"
compare = "ratio"
reference = "largest"
min = 0.8
"""


@pytest.fixture(scope="module")
def simulated() -> tuple[pl.DataFrame, pl.DataFrame]:
    catalog = load_catalog()
    world = make_world(catalog, STUDENTS, seed=11)
    engine = MasteryEngine(catalog)
    learners = SIMULATORS["bkt"](world)
    policy = make_policy("equilearn", engine, STEPS)
    ids = [f"sim{i:05d}" for i in range(STUDENTS)]
    batch = engine.new_batch(ids)
    policy_rng, learner_rng = np.random.default_rng(1), np.random.default_rng(2)
    rows = np.arange(STUDENTS)
    served, estimate = [], []
    for t in range(STEPS):
        now = float(t)
        p = engine.p_now(batch, now)
        resources, items = policy.choose(batch, now, policy_rng)
        served.append(resources)
        estimate.append(p[rows, catalog.resource_skill[resources]])
        predicted = engine.predict_pairs(batch, items, now)
        correct = learners.step(resources, items, learner_rng)
        engine.update_batch(batch, rows, items, correct, np.full(STUDENTS, now))
        policy.observe(resources, items, correct, predicted)
    resource = np.concatenate(served)
    table = pl.DataFrame({
        "student_id": np.tile(np.array(ids), STEPS),
        "timestamp": np.repeat(np.arange(STEPS), STUDENTS),
        "rank": np.ones(resource.size, dtype=np.int64),
        "level": np.array(LEVELS)[catalog.resource_level[resource]],
        "kind": np.array(RESOURCE_KINDS)[catalog.resource_kind[resource]],
        "estimate": np.concatenate(estimate),
    })
    roster = pl.DataFrame({"student_id": ids, "opportunity": world.group_labels()})
    return table, roster


def _gate(served: pl.DataFrame, roster: pl.DataFrame) -> dict:
    served = served.with_columns(pl.Series("mastery_band", BANDS[np.digitize(served["estimate"].to_numpy(), [0.5, 0.8])]))
    config = ExposureConfig(advanced_kinds=("enrichment_project",))
    audit = audit_recommendations(served, roster, "opportunity", config=config, n_boot=100, random_state=0)
    return assemble(audit, parse_policy(POLICY))


def test_equilearn_recommender_on_the_simulator_passes(simulated) -> None:
    served, roster = simulated
    assert served.filter(pl.col("level") == "advanced").height > 0.1 * served.height  # advanced is really offered
    payload = _gate(served, roster)
    assert payload["status"] == PASS, payload["findings"]
    rows = [c for c in payload["checks"] if c["name"] == "advanced_exposure_ratio"]
    assert {c["stratum"] for c in rows} == {"high"} and len(rows) == 2  # each group against the other


def test_the_same_log_with_advanced_withheld_from_one_group_fails(simulated) -> None:
    served, roster = simulated
    lower = roster.filter(pl.col("opportunity") == "lower_opportunity")["student_id"].to_list()
    coin = pl.Series(np.random.default_rng(3).random(served.height) < 0.5)
    swap = pl.col("student_id").is_in(lower) & (pl.col("level") == "advanced") & coin  # half their advanced offers
    withheld = served.with_columns(pl.when(swap).then(pl.lit("core")).otherwise(pl.col("level")).alias("level"),
                                   pl.when(swap).then(pl.lit("practice_set")).otherwise(pl.col("kind")).alias("kind"))
    payload = _gate(withheld, roster)
    assert payload["status"] == FAIL
    failing = {(c["group"], c["stratum"]) for c in payload["checks"] if c["status"] == FAIL and c["name"] == "advanced_exposure_ratio"}
    assert failing == {("lower_opportunity", "high")}


def test_outcome_audit_of_the_simulator_every_row_grows() -> None:
    """Learning gain from the simulator's ground truth (mean true mastery before and after) by group and by
    prior-achievement quartile: under the equilearn recommender every shown row gains."""
    from engine.fairness.outcome_audit import audit_outcomes
    from engine.simulate import run_policy

    world = make_world(load_catalog(), 400, seed=5)
    run = run_policy(world, "bkt", "equilearn", 15)
    ids = [f"s{i:04d}" for i in range(world.n_students)]
    outcomes = pl.DataFrame({"student_id": ids, "pre": run.initial, "post": run.final})
    roster = pl.DataFrame({"student_id": ids, "opportunity": world.group_labels()})
    audit = audit_outcomes(outcomes, roster, "opportunity", n_boot=100)
    gains = audit.by_group.by_group
    assert gains.height == 2 and (gains["ci_low"] > 0).all()
    assert audit.every_row_grows()
    policy = parse_policy('policy = "o"\nversion = "1"\n[[checks]]\nname = "every_row_grows"\naudit = "outcomes"\n'
                          'metric = "gain"\ncompare = "value"\nmin = 0.0\n')
    assert assemble(audit, policy)["status"] == PASS
