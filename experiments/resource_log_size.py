"""How large a log the measured resource values need -> experiments/results/resource_log_size.md

    .venv/bin/python -m experiments.resource_log_size [--students 300 --steps 60 --log-sizes 300,1000,3000 --seeds 2]

`model build` measures what each resource teaches from a log that records the resource behind each answer
(`engine.recommend.resource_value`), and the policy multiplies each resource's expected gain by that value. Per suite
setting, seed and log size: a random-practice log of that many students (the resource drawn at random, as the suite's),
the set built from it, and equilearn serving it three ways on the same students and random streams:
- measured: as built;
- flat: every resource valued 1 (the average step of its level), the rest of the set unchanged;
- true: each resource's hidden quality over its level's mean (`experiments.oracle_gap.true_resource_values`), what the
  measured values estimate.
Beside the gains: the rank correlation (Spearman) of the measured values with the true ones over all resources, per
seed ("-" where the build served every resource at 1: no resource the log tells apart). Differences are paired per
student (95% t-interval). What it answers: how far the measured values pay against none, and how fast the rest of the
distance to the truth closes as the log grows.
"""

from __future__ import annotations

import argparse
import copy
import os
import time

import numpy as np
from scipy.stats import spearmanr

from engine.catalog import Catalog, load_catalog
from engine.recommend.learning import DifficultyProgress
from engine.simulate.runner import run_policy
from engine.simulate.suite import OURS, SETTINGS, Setting, built_policy, gain_contributions, random_practice_log
from experiments.oracle_gap import knowing_resources, true_resource_values
from experiments.suite_cli import command_head, paired_text, write_results

WAYS = ("measured", "flat", "true")


def flat_values(progress: DifficultyProgress) -> DifficultyProgress:
    """A copy of the built statistics that values every resource at 1 (as a log without a resource column does)."""
    flat = copy.deepcopy(progress)
    flat.resource_value = None
    return flat


def rank_correlation(progress: DifficultyProgress, catalog: Catalog, truth: np.ndarray) -> float:
    """Spearman correlation of the served resource values with `truth`; NaN when the build served them all alike."""
    values = progress.resource_multipliers(catalog.resource_ids)
    if values is None or np.ptp(values) == 0:
        return float("nan")
    return float(spearmanr(values, truth).statistic)


def served_three_ways(setting: Setting, catalog: Catalog, students: int, steps: int, log_students: int,
                      seed: int) -> tuple[dict[str, np.ndarray], float]:
    """Per way of WAYS the per-student gain contributions, and the measured values' rank correlation with the truth."""
    world = setting.world(catalog, students, seed)
    log = random_practice_log(setting, catalog, log_students, steps, seed + 10_000, content=world, resources=True)
    engine, progress = built_policy(catalog, log, seed)
    served = {"measured": copy.deepcopy(progress), "flat": flat_values(progress), "true": knowing_resources(progress, world)}
    gains = {way: gain_contributions(run_policy(world, setting, OURS, steps, engine=copy.deepcopy(engine), progress=p,
                                                engine_sees_resources=True))
             for way, p in served.items()}
    return gains, rank_correlation(progress, catalog, true_resource_values(world))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--students", type=int, default=300)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--log-sizes", default="300,1000,3000")
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args()
    sizes = [int(s) for s in args.log_sizes.split(",")]
    catalog = load_catalog(None)
    load, started = os.getloadavg(), time.perf_counter()
    rows = []
    for setting in SETTINGS:
        for size in sizes:
            runs = [served_three_ways(setting, catalog, args.students, args.steps, size, seed)
                    for seed in range(1, args.seeds + 1)]
            g = {way: np.concatenate([r[0][way] for r in runs]) for way in WAYS}
            rho = " / ".join("-" if np.isnan(r[1]) else f"{r[1]:.2f}" for r in runs)
            rows.append(f"| {setting.name} | {size:,} | {rho} | {g['measured'].mean():.3f} | {g['flat'].mean():.3f} | "
                        f"{g['true'].mean():.3f} | {paired_text(g['measured'] - g['flat'])} | "
                        f"{paired_text(g['true'] - g['measured'])} |")
            print(rows[-1], flush=True)
    options = f"--students {args.students} --steps {args.steps} --log-sizes {args.log_sizes} --seeds {args.seeds}"
    lines = command_head("Measured resource values by the size of the log they come from", "resource_log_size", options,
                         started, load)
    lines += [f"{args.students} students x {args.steps} steps x {args.seeds} seeds per row; normalized gain of equilearn "
              "serving the set built from a random-practice log of that many other students with its resource values as "
              "measured, all at 1 (flat), or the world's own (true); paired differences with 95% t-intervals.", "",
              "| setting | log students | rank correlation with the truth, per seed | measured | flat | true | "
              "measured minus flat [95% CI] | true minus measured [95% CI] |",
              "|---|---|---|---|---|---|---|---|", *rows]
    write_results("resource_log_size", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
