"""How sure the per-skill ability must be before a skill is flagged mastered -> experiments/results/flag_confirmation.md.

    .venv/bin/python -m experiments.flag_confirmation [--students 300 --steps 60 --log-students 300 --seed 1]

A skill is flagged mastered when P(learned) is at least 0.95 and the per-skill ability confirms it: a posterior
probability of at least `ability_confirms` (0.5) that the student answers the skill's typical item right 80% of the
time, or `ability_confirms_with_law` (0.8) where the tracked ability also follows a learning law's expected learning
(`MasteryEngine.mastered`; every set built from a log here has an informative law). Issue 14 asks that a flagged skill
be truly mastered at least 80% of the time (precision). A teacher also wants the truly mastered skills flagged
(recall), and the recommender moves on from a flagged skill, so a flag that waits longer costs steps on skills already
mastered. This run serves the same built sets at the confirmation levels LEVELS (the served one among them) on the
same students and reports, per world: the flags set at the end, their precision with its Wilson 95% interval, recall
(the share of the (student, skill) pairs truly mastered at the end that are flagged), the share of steps on truly
mastered skills, and the gain minus the served level's (paired on the students, t-interval).

Worlds: every setting of the learner-model suite (the set built from a random-practice log that records the resource
behind each answer, as `experiments.sim_suite` builds it; its measure of steps on mastered skills counts those while
the student was ready for something new), and the outside world in process at learning peaks of 45%, 65% and 85%
(`experiments.outside_inproc`: the world seeds of `experiments.outside_variants` pooled, its cohort and log, 300
students x 60 steps; steps on mastered skills as the outside check counts them). The served level is the one
docs/engine.md justifies; the table is what that choice costs and buys now.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import time
from dataclasses import dataclass

import numpy as np

from engine.catalog import Catalog, load_catalog
from engine.mastery import MasteryConfig, MasteryEngine
from engine.simulate.runner import run_policy as run_suite_policy
from engine.simulate.suite import (OURS, SETTINGS, Setting, built_policy, flag_precision_ci, gain_contributions,
                                   random_practice_log)
from experiments.outside_check.driver import run_policy as run_outside_policy
from experiments.outside_check.world import WorldSpec
from experiments.outside_inproc import EquilearnInProcess, cohort_of, pipeline_inputs
from experiments.outside_variants import LOG_STEPS, WORLD_SEEDS
from experiments.suite_cli import paired_text, report_head, suite_parser, write_results

SERVED = MasteryConfig().ability_confirms_with_law
LEVELS = tuple(sorted({0.5, 0.65, SERVED}))
OUTSIDE_PEAKS = (0.45, 0.65, 0.85)


@dataclass(frozen=True)
class LevelOutcome:
    """One confirmation level's flags at the end (N, S), the truth they are scored against (N, S), each student's gain
    (N,), and the steps on truly mastered skills out of all steps."""

    flags: np.ndarray
    truly: np.ndarray
    gain: np.ndarray
    on_mastered: float


def flag_quality(flags: np.ndarray, truly: np.ndarray) -> dict[str, float]:
    """Flags set, precision (truly mastered among the flags) with its Wilson 95% interval, and recall (flagged among the
    truly mastered pairs)."""
    n_flags, right, n_true = int(flags.sum()), int((flags & truly).sum()), int(truly.sum())
    low, high = flag_precision_ci(right, n_flags)
    return {"flags": n_flags, "precision": right / n_flags if n_flags else float("nan"), "low": low, "high": high,
            "recall": right / n_true if n_true else float("nan")}


def confirming_at(engine: MasteryEngine, level: float) -> MasteryEngine:
    """`engine` (changed in place) with its flag needing ability confirmation `level` where a learning law moves the
    ability."""
    engine.config = dataclasses.replace(engine.config, ability_confirms_with_law=level)
    return engine


def suite_setting(setting: Setting, catalog: Catalog, args: argparse.Namespace) -> tuple[dict[float, LevelOutcome], bool]:
    """Every level on one suite setting (seed `args.seed`), and whether the built set's law is informative."""
    world = setting.world(catalog, args.students, args.seed)
    log = random_practice_log(setting, catalog, args.log_students, args.steps, args.seed + 10_000, content=world,
                              resources=True)
    engine, progress = built_policy(catalog, log, args.seed)
    out = {}
    for level in LEVELS:
        run = run_suite_policy(world, setting, OURS, args.steps, engine=confirming_at(copy.deepcopy(engine), level),
                               progress=copy.deepcopy(progress), engine_sees_resources=True)
        out[level] = LevelOutcome(run.flagged_mastered, run.truly_mastered, gain_contributions(run),
                                  float(run.over_practice.sum() / (run.over_practice.size * args.steps)))
    return out, bool(engine.law is not None and engine.law.informative)


def outside_peak(peak: float, students: int, steps: int, log_students: int) -> tuple[dict[float, LevelOutcome], bool]:
    """Every level on the outside world at learning peak `peak`, its world seeds pooled (seed 0, as outside_variants)."""
    parts: dict[float, list[LevelOutcome]] = {level: [] for level in LEVELS}
    informative = True
    for world_seed in WORLD_SEEDS:
        world, cohort, uniforms = cohort_of(WorldSpec(peak_success=peak), students, steps, world_seed, 0)
        with pipeline_inputs(world, 0, log_students, LOG_STEPS) as (catalog_dir, log):
            built = EquilearnInProcess.build(catalog_dir, log, 0)
            for level in LEVELS:
                ours = EquilearnInProcess(world, cohort, catalog_dir, log, 0, built=built)
                confirming_at(ours.engine, level)
                informative &= bool(ours.engine.law is not None and ours.engine.law.informative)
                run = run_outside_policy(world, cohort, ours, uniforms)
                parts[level].append(LevelOutcome(ours.mastered_flags(), run.final_mastered, run.gain,
                                                 float(run.on_mastered.mean())))
    pooled = {level: LevelOutcome(np.concatenate([p.flags for p in ps]), np.concatenate([p.truly for p in ps]),
                                  np.concatenate([p.gain for p in ps]),
                                  float(np.mean([p.on_mastered for p in ps])))
              for level, ps in parts.items()}
    return pooled, informative


def table_rows(name: str, outcomes: dict[float, LevelOutcome], informative: bool) -> list[str]:
    """One markdown row per level of one world."""
    rows = []
    served = outcomes[SERVED].gain
    for level in LEVELS:
        o = outcomes[level]
        q = flag_quality(o.flags, o.truly)
        diff = "(served)" if level == SERVED else paired_text(o.gain - served)
        rows.append(f"| {name} | {level:g}{'' if informative else ' (no law: 0.5 applies)'} | {q['flags']} | "
                    f"{q['precision']:.3f} [{q['low']:.3f}, {q['high']:.3f}] | {q['recall']:.3f} | {o.on_mastered:.3f} | "
                    f"{o.gain.mean():.3f} | {diff} |")
    return rows


def main() -> None:
    args = suite_parser(__doc__.splitlines()[0], single_seed=True).parse_args()
    catalog = load_catalog(None)
    load, started = os.getloadavg(), time.perf_counter()
    rows = []
    for setting in SETTINGS:
        rows += table_rows(setting.name, *suite_setting(setting, catalog, args))
        print("\n".join(rows[-len(LEVELS):]), flush=True)
    for peak in OUTSIDE_PEAKS:
        rows += table_rows(f"outside world, peak {peak:.0%}", *outside_peak(peak, args.students, args.steps, args.log_students))
        print("\n".join(rows[-len(LEVELS):]), flush=True)
    lines = report_head("How sure the ability must be before a skill is flagged mastered", "flag_confirmation", args, started,
                        load)
    lines += [f"{args.students} students x {args.steps} steps; suite: seed {args.seed}, the set built from a random-practice "
              f"log of {args.log_students} other students; outside: world seeds {', '.join(map(str, WORLD_SEEDS))} pooled. "
              f"Levels: the posterior probability the per-skill ability must give to success >= 80% on the skill's typical "
              f"item (`ability_confirms_with_law`; served {SERVED:g}). Flags at the end; precision = truly mastered among "
              "them (Wilson 95%); recall = flagged among the pairs truly mastered at the end; gain: normalized (suite) or "
              "raw (outside), minus the served level's, paired on the students.", "",
              "| world | level | flags | precision [95% CI] | recall | steps on mastered | gain | minus served [95% CI] |",
              "|---|---|---|---|---|---|---|---|", *rows]
    write_results("flag_confirmation", lines)


if __name__ == "__main__":
    main()
