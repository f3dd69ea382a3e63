"""Simulated learners with ground truth, for comparing recommendation policies.

`make_world` draws a population (subgroups differ only in starting opportunity) on a catalog;
`run_policy` runs one policy on a simulator family (`bkt` or `irt`); `compare_policies` runs several
over seeds and summarizes gains, gaps and advanced offers (the JSON of `equilearn simulate`).
"""

from engine.simulate.learners import SIMULATORS, BKTLearners, CurveLearners
from engine.simulate.policies import POLICIES, make_policy
from engine.simulate.report import compare_policies, normalized_gain
from engine.simulate.runner import RunResult, run_policy
from engine.simulate.world import DEFAULT_GROUPS, GroupSpec, World, make_world, parse_groups

__all__ = [
    "BKTLearners", "CurveLearners", "DEFAULT_GROUPS", "GroupSpec", "POLICIES", "RunResult", "SIMULATORS", "World",
    "compare_policies", "make_policy", "make_world", "normalized_gain", "parse_groups", "run_policy",
]
