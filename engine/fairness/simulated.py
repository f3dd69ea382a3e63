"""Audit a recommender before it serves anyone: run it on simulated learners and gate what it offered.

The simulator's subgroups differ only in starting opportunity (engine.simulate), and the recommender never
sees them; the audit joins them afterwards. Each served resource is placed in a readiness band by the
mastery engine's own estimate of its skill at that moment (low < 0.5 <= mid < 0.8 <= high), so exposure to
advanced material is compared at equal readiness.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np
import polars as pl

from engine.catalog.schema import LEVELS, RESOURCE_KINDS
from engine.fairness.gate import Policy, parse_policy
from engine.fairness.recommendation_audit import ExposureConfig, audit_recommendations
from engine.fairness.results import assemble
from engine.mastery import MasteryEngine
from engine.recommend import RecommenderConfig
from engine.simulate import make_world, run_policy
from engine.simulate.runner import RunResult, simulated_ids
from engine.simulate.world import World

BANDS = np.array(["low", "mid", "high"])
BAND_EDGES = (0.5, 0.8)
GROUP_COLUMN = "opportunity"


def simulated_policy() -> Policy:
    """The packaged gate policy for simulated recommendation logs."""
    text = resources.files("engine.fairness.policies").joinpath("simulated_recommendations.toml").read_text()
    return parse_policy(text, source="simulated_recommendations.toml")


def served_log(world: World, run: RunResult) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(served table, roster) of a run recorded with `record_actions=True`: one row per student and step
    after placement (the cold-start questions that place a student are not a recommendation track)."""
    if run.actions is None or run.estimates is None:
        raise ValueError("run_policy(..., record_actions=True) is needed to audit what was served")
    catalog = world.catalog
    n, steps = run.actions.shape
    ids = np.array(simulated_ids(n))
    resource = run.actions.T.reshape(-1)  # step-major, as served
    estimate = run.estimates.T.reshape(-1)
    served = pl.DataFrame({
        "student_id": np.tile(ids, steps),
        "timestamp": np.repeat(np.arange(steps), n),
        "rank": np.ones(resource.size, dtype=np.int64),
        "level": np.array(LEVELS)[catalog.resource_level[resource]],
        "kind": np.array(RESOURCE_KINDS)[catalog.resource_kind[resource]],
        "mastery_band": BANDS[np.digitize(estimate, BAND_EDGES)],
    })
    if run.placement is not None:  # placement questions measure the student, they are not a track: leave them out
        served = served.filter(~pl.Series(run.placement.T.reshape(-1)))
    roster = pl.DataFrame({"student_id": ids, GROUP_COLUMN: world.group_labels()})
    return served, roster


def audit_served(served: pl.DataFrame, roster: pl.DataFrame, policy: Policy | None = None,
                 n_boot: int = 100, model_version: str | None = None) -> dict[str, Any]:
    """Gate a simulated served log (from `served_log`) under `policy` (default: `simulated_policy()`)."""
    config = ExposureConfig(advanced_kinds=("enrichment_project",))
    audit = audit_recommendations(served, roster, GROUP_COLUMN, config=config, n_boot=n_boot, random_state=0)
    return assemble(audit, policy or simulated_policy(), model_version=model_version,
                    data={"source": "simulated learners", "students": int(roster.height)})


def audit_recommender_on_simulator(engine: MasteryEngine, config: RecommenderConfig | None = None,
                                   students: int = 500, steps: int = 40, seed: int = 11, simulator: str = "bkt",
                                   model_version: str | None = None) -> dict[str, Any]:
    """Run the equilearn policy (this engine, this config) on simulated learners and gate what it served."""
    world = make_world(engine.catalog, students, seed=seed)
    run = run_policy(world, simulator, "equilearn", steps, engine=engine, config=config, record_actions=True)
    served, roster = served_log(world, run)
    return audit_served(served, roster, model_version=model_version)
