"""Where equilearn's gain falls short of the oracle's -> experiments/results/oracle_gap.md.

    .venv/bin/python -m experiments.oracle_gap [--students 300 --steps 60 --log-students 300 --seeds 2]

The oracle reads each student's true state and takes the (resource, item) with the largest immediate gain in true
mastery; equilearn infers the states from answers and chooses with the learning it measured in a log. On every suite
setting, equilearn serving a set built from a random-practice log (as `experiments.sim_suite`) runs again with part of
the oracle's knowledge given to it, on the same students and the same random streams:
- states known: wherever the policy reads the engine's beliefs about a skill (P(learned), the success on its typical
  item) it reads the student's true mastery instead (`KnownStates`); the engine still updates its states from the
  answers by its own rules;
- items known: equilearn's resource, with the item of that skill the oracle would take (`OracleItems`);
- both;
- resources known: what each resource teaches, as the world has it (each resource's hidden quality over its level's mean)
  in place of the values the build measured from the log (`true_resource_values`); nothing else;
- the oracle's skills: the oracle's resource with a random item of its skill (its choice of what to work on, without its
  choice of item; `OracleSkills`);
and the oracle itself. Per setting: each gain and its share of the oracle's, and each variant minus equilearn (paired
on the same students, 95% t-interval). What no answer-driven policy can have is the true state; what one that knows
the world's model reaches from the answers alone is `experiments.suite_posterior`'s question. As in `experiments.sim_suite`,
the log records the resource behind each answer (the build measures what each resource teaches from it) and the engine
is told the resource behind each answer.
"""

from __future__ import annotations

import copy
import os
import time
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from unittest import mock

import numpy as np

from engine.catalog import Catalog, load_catalog
from engine.mastery import MasteryBatch, MasteryEngine
from engine.simulate.learners import _Learners
from engine.simulate.oracle import greedy_choice
from engine.simulate.policies import Policy, make_policy, random_items
from engine.simulate.runner import run_policy, simulated_ids
from engine.simulate.suite import ORACLE, OURS, SETTINGS, Setting, built_policy, gain_contributions, random_practice_log
from engine.simulate.world import World
from experiments.suite_cli import paired_text, report_head, suite_parser, write_results



class KeptLearners:
    """A suite setting as a `SimulatorSpec` that keeps the learners it made last (the variants read their truth)."""

    def __init__(self, setting: Setting) -> None:
        self.setting, self.name = setting, setting.name  # the setting's name: the suite's random streams
        self.current: _Learners | None = None

    def learners(self, world: World) -> _Learners:
        self.current = self.setting.learners(world)
        return self.current

    def truth(self) -> _Learners:
        if self.current is None:
            raise RuntimeError("no learners yet: run_policy makes them before the policy chooses")
        return self.current


class KnownStates(MasteryEngine):
    """A view of `engine` (its models and settings, shared) whose beliefs about skills are the truth: `p_now` and
    `skill_success` return each student's true mastery (the BKT learners' 1 for known, else 0). Only what reads those
    beliefs sees the difference; the run's own engine updates the states from the answers as always."""

    def __init__(self, engine: MasteryEngine, learners: KeptLearners, n_students: int) -> None:  # noqa: D107
        self.__dict__.update(engine.__dict__)
        self._learners = learners
        self._row = {sid: i for i, sid in enumerate(simulated_ids(n_students))}

    def _truth(self, batch: MasteryBatch) -> np.ndarray:
        rows = np.fromiter((self._row[s] for s in batch.student_ids), dtype=np.int64, count=len(batch))
        return self._learners.truth().mastery()[rows]

    def p_now(self, batch: MasteryBatch, now: float | np.ndarray | None = None, start: np.ndarray | None = None) -> np.ndarray:
        return self._truth(batch)

    def skill_success(self, batch: MasteryBatch) -> np.ndarray:
        return self._truth(batch)


def oracle_items(catalog: Catalog, learners: _Learners, skills: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N,) per student the item tagged with `skills[n]` (as catalogued) with the largest immediate gain in true
    mastery, ties broken at random (as the oracle's)."""
    item_gain = learners.gain_tables()[1]
    table = catalog.items_by_skill[skills]  # (N, M), -1 padded
    gain = np.where(table >= 0, np.take_along_axis(item_gain, np.maximum(table, 0), axis=1), -np.inf)
    gain = gain + 1e-9 * rng.random(gain.shape)
    return table[np.arange(skills.size), gain.argmax(axis=1)]


class OracleItems:
    """`policy`'s resources, each with the oracle's item for the skill of the item the policy chose."""

    def __init__(self, policy: Policy, learners: KeptLearners, catalog: Catalog) -> None:
        self.policy, self.learners, self.catalog, self.name = policy, learners, catalog, policy.name

    def choose(self, batch: MasteryBatch, now: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        resources, items = self.policy.choose(batch, now, rng)
        return resources, oracle_items(self.catalog, self.learners.truth(), self.catalog.item_skill[items], rng)

    def observe(self, resources: np.ndarray, items: np.ndarray, correct: np.ndarray, predicted: np.ndarray) -> None:
        self.policy.observe(resources, items, correct, predicted)


class OracleSkills:
    """The oracle's resource, with a random item of the resource's skill."""

    name = "oracle-skills"

    def __init__(self, learners: KeptLearners, catalog: Catalog) -> None:
        self.learners, self.catalog = learners, catalog

    def choose(self, batch: MasteryBatch, now: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        resources, _ = greedy_choice(self.catalog, *self.learners.truth().gain_tables(), rng)
        return resources, random_items(self.catalog, self.catalog.resource_skill[resources], rng)

    def observe(self, resources: np.ndarray, items: np.ndarray, correct: np.ndarray, predicted: np.ndarray) -> None:
        return None


def knowing(learners: KeptLearners, n_students: int, states: bool, items: bool) -> AbstractContextManager[Any]:
    """The runner's policies, given the true states (`KnownStates`) and/or the oracle's items (`OracleItems`)."""
    if not states and not items:
        return nullcontext()

    def make(name: str, engine: MasteryEngine, steps: int, *args: Any, **kwargs: Any) -> Policy:
        view = KnownStates(engine, learners, n_students) if states else engine
        policy = make_policy(name, view, steps, *args, **kwargs)
        return OracleItems(policy, learners, engine.catalog) if items else policy

    return mock.patch("engine.simulate.runner.make_policy", make)


def true_resource_values(world: World) -> np.ndarray:
    """(R,) each resource's hidden quality over the mean quality of its level: what the build's measured values
    (`DifficultyProgress.resource_multipliers`, 1 = the average resource of its level) estimate."""
    level = world.catalog.resource_level
    means = np.bincount(level, weights=world.quality) / np.maximum(np.bincount(level), 1)
    return world.quality / means[level]


def knowing_resources(progress: Any, world: World) -> Any:
    """A copy of the policy's learned statistics whose resource values are the world's (`true_resource_values`)."""
    known = copy.deepcopy(progress)
    values = true_resource_values(world)
    known.resource_multipliers = lambda resource_ids: values
    return known


# (label, true states given, oracle's items given, true resource values given) of the equilearn variants
VARIANTS = (("equilearn", False, False, False), ("states known", True, False, False), ("items known", False, True, False),
            ("both", True, True, False), ("resources known", False, False, True))
COLUMNS = (*(v[0] for v in VARIANTS), "oracle's skills, random items", ORACLE)


def setting_gains(setting: Setting, catalog: Catalog, students: int, steps: int, log_students: int,
                  seed: int) -> dict[str, np.ndarray]:
    """Per column of COLUMNS, the per-student gain contributions on one seed's world."""
    world = setting.world(catalog, students, seed)
    log = random_practice_log(setting, catalog, log_students, steps, seed + 10_000, content=world, resources=True)
    engine, progress = built_policy(catalog, log, seed)
    learners = KeptLearners(setting)
    out = {}
    for label, states, items, resources in VARIANTS:
        learned = knowing_resources(progress, world) if resources else copy.deepcopy(progress)
        with knowing(learners, students, states, items):
            run = run_policy(world, learners, OURS, steps, engine=copy.deepcopy(engine), progress=learned,
                             engine_sees_resources=True)
        out[label] = gain_contributions(run)
    skills_only = mock.patch("engine.simulate.runner.make_policy", lambda *args, **kwargs: OracleSkills(learners, catalog))
    with skills_only:
        out[COLUMNS[-2]] = gain_contributions(run_policy(world, learners, OracleSkills.name, steps))
    out[ORACLE] = gain_contributions(run_policy(world, setting, ORACLE, steps))
    return out


def main() -> None:
    args = suite_parser(__doc__.splitlines()[0]).parse_args()
    catalog = load_catalog(None)
    load_before, started = os.getloadavg(), time.perf_counter()
    gain_rows, diff_rows = [], []
    for setting in SETTINGS:
        per_seed = [setting_gains(setting, catalog, args.students, args.steps, args.log_students, seed)
                    for seed in range(1, args.seeds + 1)]
        gains = {c: np.concatenate([g[c] for g in per_seed]) for c in COLUMNS}
        oracle = float(gains[ORACLE].mean())
        gain_rows.append(f"| {setting.name} | " + " | ".join(f"{gains[c].mean():.3f} ({gains[c].mean() / oracle:.2f})"
                                                              for c in COLUMNS) + " |")
        diff_rows.append(f"| {setting.name} | " + " | ".join(paired_text(gains[c] - gains[OURS]) for c in COLUMNS[1:]) + " |")
        print(gain_rows[-1], flush=True)
    lines = [*report_head("Where equilearn's gain falls short of the oracle's", "oracle_gap", args, started, load_before),
             f"{args.students} students x {args.steps} steps x {args.seeds} seed(s) per setting; equilearn serves a set built "
             f"from a random-practice log of {args.log_students} other students; normalized gain of true mastery, its share "
             "of the oracle's in brackets; every column on the same students and random streams.", "",
             "| setting | " + " | ".join(COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS), *gain_rows, "",
             "Each column minus equilearn, paired per student (95% t-interval):", "",
             "| setting | " + " | ".join(COLUMNS[1:]) + " |", "|---|" + "---|" * (len(COLUMNS) - 1), *diff_rows]
    write_results("oracle_gap", lines)


if __name__ == "__main__":
    main()
