"""What the posterior reference's knowledge of the world is worth -> experiments/results/posterior_knowledge.md.

    .venv/bin/python -m experiments.posterior_knowledge [--students 300 --steps 60 --log-students 300 --seed 1
                                                         --particles 50 --settings NAME ...]  (default: every setting)

The posterior reference (`engine.simulate.posterior`) is the oracle's greedy rule on the posterior of the world's own
model: it knows the family and its parameters, the true items, the resources' hidden qualities and the population,
and infers each student's state from the answers. Where it gains more than equilearn (`suite_posterior.md`), the
difference is what equilearn's model, learned from a log, lacks. Here the reference runs again with one piece of its
knowledge taken away, on the same students and random streams:
- qualities unknown: every resource at the mean hidden quality of its kind at its level (`kind_level_means`): what a
  log that records the resource behind each answer measures well (`engine.recommend.resource_value` pools each
  resource toward its kind at its level), while a resource's own quality it measures barely above its noise;
- forgetting a fifth: its particles forget at a fifth of the world's rate (the family's own forgetting parameter).
Beside it, equilearn serving a set built from a random-practice log that records the resource behind each answer,
told the resource on each answer (as `experiments.sim_suite`). Per setting: each gain, each minus the full
reference, and equilearn minus the reference without the qualities, paired per student (95% t-interval).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from unittest import mock

import numpy as np

from engine.catalog import load_catalog
from engine.mastery import MasteryEngine
from engine.simulate.learners import _Learners
from engine.simulate.posterior import PosteriorPolicy
from engine.simulate.runner import run_policy
from engine.simulate.suite import (FAMILIES, OURS, POSTERIOR, SETTINGS, Setting, built_policy, gain_contributions,
                                   random_practice_log, setting_by_name)
from engine.simulate.world import World
from experiments.suite_cli import paired_text, report_head, suite_parser, write_results

FORGETTING = {"bkt": "forget", "curve": "decay", "proficiency": "forgetting"}  # each family's forgetting parameter
FORGETTING_SHARE = 0.2


def forgetting_a_fifth(setting: Setting) -> Callable[[World], _Learners]:
    """The setting's learners with their forgetting parameter at FORGETTING_SHARE of the setting's value."""
    family = FAMILIES[setting.family]
    name = FORGETTING[setting.family]
    value = float(setting.params.get(name, getattr(family, name)))
    params = {**setting.params, name: FORGETTING_SHARE * value}
    return lambda world: family(world, **params)


def kind_level_means(quality: np.ndarray, kind: np.ndarray, level: np.ndarray) -> np.ndarray:
    """(R,) each resource's `quality` replaced by the mean quality of the resources of its `kind` at its `level`."""
    cluster = np.unique(np.stack([kind, level], axis=1), axis=0, return_inverse=True)[1].ravel()
    return (np.bincount(cluster, weights=quality) / np.bincount(cluster))[cluster]


@contextmanager
def reference_knowing(setting: Setting, qualities: bool = True, forgetting: bool = True) -> Iterator[None]:
    """The posterior reference with the resources' qualities replaced by their kind-at-level means (`qualities` False) or its
    particles' forgetting at a fifth of the world's (`forgetting` False); the world's own learners are untouched."""
    def for_world(cls: type[PosteriorPolicy], engine: MasteryEngine, learners_of: Callable[[World], _Learners],
                  world: World, particles: int = 50) -> PosteriorPolicy:
        cat = world.catalog
        quality = world.quality if qualities else kind_level_means(world.quality, cat.resource_kind, cat.resource_level)
        model = learners_of if forgetting else forgetting_a_fifth(setting)
        return cls(engine, model, world.n_students, world.seed, quality, world.truth, world.groups, particles)

    with mock.patch.object(PosteriorPolicy, "for_world", classmethod(for_world)):
        yield


VARIANTS = {"posterior": {}, "qualities unknown": {"qualities": False}, "forgetting a fifth": {"forgetting": False}}


def main() -> None:
    ap = suite_parser(__doc__.splitlines()[0], single_seed=True)
    ap.add_argument("--particles", type=int, default=50)
    ap.add_argument("--settings", nargs="*", default=[setting.name for setting in SETTINGS])
    args = ap.parse_args()
    catalog = load_catalog(None)
    load_before, started = os.getloadavg(), time.perf_counter()
    rows = []
    for name in args.settings:
        setting = setting_by_name(name)
        world = setting.world(catalog, args.students, args.seed)
        log = random_practice_log(setting, catalog, args.log_students, args.steps, args.seed + 10_000, content=world,
                                  resources=True)
        engine, progress = built_policy(catalog, log, args.seed)
        gains = {OURS: gain_contributions(run_policy(world, setting, OURS, args.steps, engine=engine, progress=progress,
                                                     engine_sees_resources=True))}
        for label, knows in VARIANTS.items():
            with reference_knowing(setting, **knows):
                gains[label] = gain_contributions(run_policy(world, setting, POSTERIOR, args.steps, particles=args.particles))
        full = gains["posterior"]
        rows.append(f"| {name} | " + " | ".join(f"{g.mean():.3f}" for g in gains.values()) + " | "
                    + " | ".join(paired_text(gains[label] - full) for label in (OURS, *list(VARIANTS)[1:])) + " | "
                    + paired_text(gains[OURS] - gains["qualities unknown"]) + " |")
        print(rows[-1], flush=True)
    head = report_head("What the posterior reference's knowledge of the world is worth", "posterior_knowledge", args, started,
                       load_before)
    chosen = "" if args.settings == [setting.name for setting in SETTINGS] else f" --settings {' '.join(args.settings)}"
    head[2] = head[2].replace(f"--seed {args.seed}`", f"--seed {args.seed} --particles {args.particles}{chosen}`")
    lines = [*head,
             f"{args.students} students x {args.steps} steps, seed {args.seed}; equilearn serves a set built from a "
             f"random-practice log of {args.log_students} other students that records the resource behind each answer; "
             "normalized gain; differences paired on the same students with 95% t-intervals. Qualities unknown: every "
             "resource at the mean hidden quality of its kind at its level.", "",
             "| setting | equilearn | posterior reference | qualities unknown | forgetting a fifth | equilearn minus the "
             "reference | qualities unknown minus the reference | forgetting a fifth minus the reference | equilearn minus "
             "the reference with qualities unknown |",
             "|---|---|---|---|---|---|---|---|---|", *rows]
    write_results("posterior_knowledge", lines)


if __name__ == "__main__":
    main()
