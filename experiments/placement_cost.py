"""What the cold start's placement questions cost in learning, and what they buy -> experiments/results/placement_cost.md.

    .venv/bin/python -m experiments.placement_cost [--students 300 --steps 60 --log-students 300 --seeds 2]

Issue 14 asks both for learning and for a cold start whose ability SD is at most 0.5 after 10 answers. Placement
(`engine.recommend.placement`) asks information-maximizing questions while the ability's SD is above 0.5 (at most 20
answers); they are chosen for what they tell, not for what they teach. On every suite setting, equilearn serving a
set built from a random-practice log (as `experiments.sim_suite`) runs three ways on the same students:
- served: placement as shipped;
- first list only: placement questions for a student with nothing known, then the policy's own choices;
- none: no placement questions at all;
- ready skills only: placement as shipped, but its questions only on skills whose direct prerequisites are probably
  learned (`min_readiness` READY_ONLY instead of MIN_READINESS), so that they can teach as they place.
Per setting: the normalized gain, each variant minus served (paired, t-interval), and the ability's posterior SD
after 10 answers (mean and 90th percentile), the quantity the cold start promises to bring to 0.5.
"""

from __future__ import annotations

import copy
import os
import time
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from pathlib import Path
from typing import Callable
from unittest import mock

import numpy as np

from engine.catalog import load_catalog
from engine.recommend.placement import PLACEMENT_SD, choose_placement
from engine.simulate.runner import run_policy
from engine.simulate.suite import OURS, SETTINGS, _t_ci, built_policy, gain_contributions, random_practice_log
from experiments.suite_cli import suite_parser
from experiments.suite_diagnosis import placement_off

RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results"


def first_list_only() -> AbstractContextManager[None]:
    """Placement only for a student with no responses and no skill evidence (the service's cold start)."""
    def fresh(batch, placement_sd=PLACEMENT_SD, *args, **kwargs):  # noqa: ANN001, ANN202 - needs_placement's signature
        if placement_sd is None:
            return np.zeros(len(batch), dtype=bool)
        return (batch.n_responses == 0) & (batch.evidence.sum(axis=1) == 0)
    return mock.patch("engine.recommend.recommender.needs_placement", fresh)


READY_ONLY = 0.5  # P(every direct prerequisite learned) of a placement question's skill, in the "ready skills only" variant


def ready_skills_only() -> AbstractContextManager[None]:
    """Placement questions only on skills whose direct prerequisites are probably learned (READY_ONLY)."""
    return mock.patch("engine.recommend.recommender.choose_placement", partial(choose_placement, min_readiness=READY_ONLY))


VARIANTS: dict[str, Callable[[], AbstractContextManager[None]]] = {"served": nullcontext, "first list only": first_list_only,
                                                                   "none": placement_off,
                                                                   "ready skills only": ready_skills_only}


def main() -> None:
    args = suite_parser(__doc__.splitlines()[0]).parse_args()
    catalog = load_catalog(None)
    load_before, started = os.getloadavg(), time.perf_counter()
    rows = []
    for setting in SETTINGS:
        gains: dict[str, list[np.ndarray]] = {name: [] for name in VARIANTS}
        sd10: dict[str, list[np.ndarray]] = {name: [] for name in VARIANTS}
        for seed in range(1, args.seeds + 1):
            world = setting.world(catalog, args.students, seed)
            log = random_practice_log(setting, catalog, args.log_students, args.steps, seed + 10_000, content=world)
            engine, progress = built_policy(catalog, log, seed)
            for name, variant in VARIANTS.items():
                with variant():
                    run = run_policy(world, setting, OURS, args.steps, engine=copy.deepcopy(engine), progress=copy.deepcopy(progress))
                gains[name].append(gain_contributions(run))
                sd10[name].append(run.theta_sd_after)
        served = np.concatenate(gains["served"])
        cells = []
        for name in VARIANTS:
            g, sd = np.concatenate(gains[name]), np.concatenate(sd10[name])
            diff = "" if name == "served" else " {:+.3f} [{:+.3f}, {:+.3f}]".format(*_t_ci(g - served))
            cells.append(f"{g.mean():.3f}{diff} | {np.nanmean(sd):.2f} / {np.nanpercentile(sd, 90):.2f}")
        rows.append(f"| {setting.name} | " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    head = " | ".join(f"{name}: gain{'' if name == 'served' else ' (minus served)'} | {name}: SD after 10, mean / p90"
                      for name in VARIANTS)
    lines = ["# What placement costs in learning, and what it buys", "",
             f"Command: `.venv/bin/python -m experiments.placement_cost --students {args.students} --steps {args.steps} "
             f"--log-students {args.log_students} --seeds {args.seeds}` ({(time.perf_counter() - started) / 60:.0f} min; load "
             f"average before {', '.join(f'{x:.2f}' for x in load_before)}). What it measures: the module docstring of "
             "`experiments/placement_cost.py`.", "",
             f"{args.students} students x {args.steps} steps x {args.seeds} seeds per setting, equilearn serving a set built "
             f"from a random-practice log of {args.log_students} other students; normalized gain; differences paired on the "
             "same students with 95% t-intervals. The cold start promises an SD of at most 0.5 after 10 answers.", "",
             f"| setting | {head} |", "|---|" + "---|" * (2 * len(VARIANTS)), *rows]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "placement_cost.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
