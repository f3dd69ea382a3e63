"""What the resource behind each logged answer is worth to the built policy -> experiments/results/resource_value.md.

    .venv/bin/python -m experiments.resource_value [--students 300 --steps 60 --log-students 300 --seeds 2
                                                    --large-log 3000]

A random-practice log that records which resource each student used before each answer (`resource_id`) lets `model
build` measure what each resource teaches (`engine.recommend.resource_value`); without the column the build cannot. Per
suite setting and seed, one log is drawn with the column; equilearn serves the set built from it, and the set built from
the same log with the column dropped, on the same students and random streams (paired per student, 95% t-interval).
The same again with a log of `--large-log` students (seed 1 only). Beside each: how well the measured values follow
the world's hidden resource qualities (correlation within each resource level, averaged over the three levels; the
proficiency worlds' resources teach nothing, so there is nothing to follow).
"""

from __future__ import annotations

import os
import time

import numpy as np

from engine.catalog import Catalog, load_catalog
from engine.simulate.runner import run_policy
from engine.simulate.suite import OURS, SETTINGS, Setting, built_policy, gain_contributions, random_practice_log
from experiments.suite_cli import paired_text, report_head, suite_parser, write_results


def paired_runs(setting: Setting, catalog: Catalog, students: int, steps: int, log_students: int,
                seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Per student gain contributions served without and with the resource column, and the values' mean correlation
    with the hidden qualities within each level."""
    world = setting.world(catalog, students, seed)
    log = random_practice_log(setting, catalog, log_students, steps, seed + 10_000, content=world, resources=True)
    gains = []
    for frame in (log.drop("resource_id"), log):
        engine, progress = built_policy(catalog, frame, seed)
        gains.append(gain_contributions(run_policy(world, setting, OURS, steps, engine=engine, progress=progress)))
    value = progress.resource_multipliers(catalog.resource_ids)
    follow = np.mean([np.corrcoef(value[m], world.quality[m])[0, 1] if np.ptp(value[m]) > 0 else 0.0
                      for m in (catalog.resource_level == level for level in range(3))])
    return gains[0], gains[1], float(follow)


def main() -> None:
    parser = suite_parser(__doc__)
    parser.add_argument("--large-log", type=int, default=3000)
    args = parser.parse_args()
    catalog = load_catalog(None)
    load, started = os.getloadavg(), time.perf_counter()
    rows = []
    for setting in SETTINGS:
        without, with_, follows = [], [], []
        for seed in range(1, args.seeds + 1):
            a, b, follow = paired_runs(setting, catalog, args.students, args.steps, args.log_students, seed)
            without.append(a), with_.append(b), follows.append(follow)
        a, b = np.concatenate(without), np.concatenate(with_)
        big_a, big_b, big_follow = paired_runs(setting, catalog, args.students, args.steps, args.large_log, 1)
        rows.append(f"| {setting.name} | {a.mean():.3f} | {b.mean():.3f} | {paired_text(b - a)} | {np.mean(follows):.2f} | "
                    f"{big_a.mean():.3f} | {big_b.mean():.3f} | {paired_text(big_b - big_a)} | {big_follow:.2f} |")
        print(rows[-1], flush=True)
    lines = report_head("Equilearn built from a log that records the resource behind each answer", "resource_value",
                        args, started, load)
    lines[2] = lines[2].replace(f"--seeds {args.seeds}`", f"--seeds {args.seeds} --large-log {args.large_log}`")
    lines += [f"Gain served from the set built without / with the `resource_id` column, {args.log_students} log students "
              f"({args.seeds} seeds) and {args.large_log} log students (seed 1); \"values follow quality\": mean over the "
              "three resource levels of the correlation between the served values and the hidden qualities.", "",
              f"| setting | without ({args.log_students}) | with | with minus without [95% CI] | values follow quality | "
              f"without ({args.large_log}) | with | with minus without [95% CI] | values follow quality |",
              "|---|---|---|---|---|---|---|---|---|", *rows]
    write_results("resource_value", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
