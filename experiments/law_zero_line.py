"""The learning law's zero line, and what a flat one does to learning -> experiments/results/law_zero_line.md.

    .venv/bin/python -m experiments.law_zero_line [--students 300 --steps 60 --log-students 300 --seed 1]

`model build` fits the learning law (`engine.recommend.law`) with "state" bands: each logged step is banded by
the item's predicted success from the student's state just before it. In a world where nobody learns that law
still finds learning rising with success (docs/engine.md), because the band follows the student's standing on the
skill. `fit_from_log(..., law_bands="entry")` bands each step at the general ability the student had on first
meeting the skill, which carries neither that standing nor the noise of the skill's own answers.

Part 1: both laws on the random-practice log of every suite setting and of a control world where nobody learns.
Part 2: equilearn serving each law (everything else the same built set) on the same students of every setting,
paired: the entry law's gain minus the served law's.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

import numpy as np

from engine.catalog import load_catalog
from engine.recommend.law import LearningLaw
from engine.recommend.learning import DifficultyProgress, fit_from_log
from engine.simulate.runner import run_policy
from engine.simulate.suite import OURS, SETTINGS, _t_ci, built_policy, gain_contributions, random_practice_log
from experiments.suite_diagnosis import NO_LEARNING as NOBODY_LEARNS

RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results"


def _law_cells(law: LearningLaw) -> str:
    cells = " | ".join(f"{g:+.2f} ± {s:.2f}" for g, s in zip(law.gamma, law.se))
    lo, hi = law.edges[int(np.argmax(law.gamma))], law.edges[int(np.argmax(law.gamma)) + 1]
    return f"{cells} | {lo:.0%}-{hi:.0%}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=300)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--log-students", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    catalog = load_catalog(None)
    load_before, started = os.getloadavg(), time.perf_counter()
    laws, gains = [], []
    for setting in (NOBODY_LEARNS, *SETTINGS):
        world = setting.world(catalog, args.students, args.seed)
        log = random_practice_log(setting, catalog, args.log_students, args.steps, args.seed + 10_000, content=world)
        engine, served = built_policy(catalog, log, args.seed)
        entry = DifficultyProgress.from_dict(fit_from_log(copy.deepcopy(engine), log, law_bands="entry"))
        laws.append((setting.name, served.law, entry.law))
        print(setting.name, "laws fitted", flush=True)
        if setting is NOBODY_LEARNS:
            continue
        runs = {name: run_policy(world, setting, OURS, args.steps, engine=copy.deepcopy(engine), progress=copy.deepcopy(progress))
                for name, progress in (("state", served), ("entry", entry))}
        m, lo, hi = _t_ci(gain_contributions(runs["entry"]) - gain_contributions(runs["state"]))
        gains.append(f"| {setting.name} | {gain_contributions(runs['state']).mean():.3f} | "
                     f"{gain_contributions(runs['entry']).mean():.3f} | {m:+.3f} [{lo:+.3f}, {hi:+.3f}] |")
    bands = " | ".join(f"{a:.0%}-{b:.0%}" for a, b in zip(laws[0][1].edges[:-1], laws[0][1].edges[1:]))
    lines = ["# The learning law's zero line", "",
             f"Command: `.venv/bin/python -m experiments.law_zero_line --students {args.students} --steps {args.steps} "
             f"--log-students {args.log_students} --seed {args.seed}` ({(time.perf_counter() - started) / 60:.0f} min; load "
             f"average before {', '.join(f'{x:.2f}' for x in load_before)}). What it measures: the module docstring of "
             "`experiments/law_zero_line.py`.", "",
             "## 1. The law from each setting's random-practice log", "",
             f"Learning per step (logits) per band of predicted success, with its SE; {args.log_students} log students x "
             f"{args.steps} steps. \"state\": as `model build` serves it; \"entry\": `law_bands=\"entry\"`.", "",
             f"| setting | bands | {bands} | best band |", "|---|---|" + "---|" * (len(laws[0][1].gamma) + 1)]
    for name, state, entry in laws:
        lines += [f"| {name} | state | {_law_cells(state)} |", f"| {name} | entry | {_law_cells(entry)} |"]
    lines += ["", "## 2. Equilearn serving each law", "",
              f"{args.students} students x {args.steps} steps (world seed {args.seed}); normalized gain; entry minus state "
              "paired on the same students, with a 95% t-interval.", "",
              "| setting | state law (served) | entry law | entry minus state [95% CI] |", "|---|---|---|---|", *gains]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "law_zero_line.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
