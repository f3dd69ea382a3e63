"""What the mastery engine gains from knowing the resource behind each answer -> experiments/results/resource_learning.md.

    .venv/bin/python -m experiments.resource_learning [--students 300 --steps 60 --log-students 300 --seeds 2]

A resource covers several skills (a remedial one its skill and the prerequisites it re-teaches, an advanced project
the skills it leads into), but the engine's state moves only with answers, so what a resource taught on the skills
nobody answered stays unseen and the policy keeps practising them. Told the resource behind each answer
(`MasteryEngine.update_batch(..., resources=)`), the engine gives each covered skill not answered the skill model's
transition at `resource_learning` (1, the default) of its ready learn rate (`learn_from_resources`). Per suite setting
and seed, equilearn serves the set built from a random-practice log (recording the resources, as `experiments.sim_suite`)
twice on the same students and random streams, without and with that; paired per student (95% t-interval), and the
share of steps on skills the student had truly mastered (wasted steps) of each.
"""

from __future__ import annotations

import os
import time

import numpy as np

from engine.catalog import load_catalog
from engine.simulate.runner import run_policy
from engine.simulate.suite import OURS, SETTINGS, built_policy, gain_contributions, random_practice_log
from experiments.suite_cli import paired_text, report_head, suite_parser, write_results


def main() -> None:
    args = suite_parser(__doc__).parse_args()
    catalog = load_catalog(None)
    load, started = os.getloadavg(), time.perf_counter()
    rows = []
    for setting in SETTINGS:
        gains: dict[bool, list[np.ndarray]] = {False: [], True: []}
        wasted: dict[bool, list[float]] = {False: [], True: []}
        for seed in range(1, args.seeds + 1):
            world = setting.world(catalog, args.students, seed)
            log = random_practice_log(setting, catalog, args.log_students, args.steps, seed + 10_000, content=world,
                                      resources=True)
            for sees in (False, True):
                engine, progress = built_policy(catalog, log, seed)
                run = run_policy(world, setting, OURS, args.steps, engine=engine, progress=progress, engine_sees_resources=sees)
                gains[sees].append(gain_contributions(run))
                wasted[sees].append(float(run.over_practice.sum()) / (run.over_practice.size * args.steps))
        a, b = np.concatenate(gains[False]), np.concatenate(gains[True])
        rows.append(f"| {setting.name} | {a.mean():.3f} | {b.mean():.3f} | {paired_text(b - a)} | "
                    f"{np.mean(wasted[False]):.2f} | {np.mean(wasted[True]):.2f} |")
        print(rows[-1], flush=True)
    lines = report_head("Equilearn whose mastery engine knows the resource behind each answer", "resource_learning", args,
                        started, load)
    lines += ["| setting | answers only | with the resources | difference [95% CI] | wasted steps, answers only | "
              "wasted steps, with the resources |", "|---|---|---|---|---|---|", *rows]
    write_results("resource_learning", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
