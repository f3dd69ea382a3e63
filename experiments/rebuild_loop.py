"""Rebuilding the model set from a log that holds the policy's own steps -> experiments/results/rebuild_loop.md.

    .venv/bin/python -m experiments.rebuild_loop [--students 300 --steps 60 --log-students 300 --seeds 2]

A platform builds its first model set from a log of practice it did not steer (`model build`, as
`experiments.sim_suite`: a random-practice log of other students), serves it, and later rebuilds from its grown
log, which now also holds the steps the policy chose (`model build --from-store` does exactly this from the
service's event log). The policy's steps are not a random design: the policy picks items near the difficulty it
believes teaches most and skills it believes ready, so what the build measures from them may differ from what it
measured from random practice. Per suite setting and seed, on the same platform content:

- gen 0: the set built from the random-practice log (`--log-students` students);
- gen 1: rebuilt from that log plus the log of a cohort of as many students served by gen 0 for `--steps` steps
  (another draw of students; their answers, in order, as the platform would have logged them);
- gen 1 marked: the same log as gen 1 with the served cohort's answers marked `steered` (`engine.data.steering`), so
  the build calibrates the item bank and fits the learning law on the answers the policy did not choose;
- gen 2 marked: the platform rebuilds again: gen 1 marked serves a second cohort of as many students, and the set is
  rebuilt from gen 1 marked's log plus that cohort's answers, marked steered too (two thirds of the log steered);
- control: rebuilt from that log plus a second random-practice log of as many students (the same amount of data,
  none of it steered: what the added data's origin changes, apart from its size).

Each set then serves the same evaluation cohort (`--students` students of the suite's world), and the gated
curriculum runs on it too. Reported per setting (seeds pooled): gen 0's normalized gain; gen 1, gen 1 marked and the
gen 2 marked and the control minus gen 0, paired per student with 95% t-intervals, and the lowest prior-achievement
quartile's paired cell;
each set's gain minus the gated curriculum's; steps on truly mastered skills; the mastered flag's precision; and
what the build chose: the item bank's model (2PL or 3PL, `engine.modelbuild.guessing`) and the learning law's
spread (the largest minus the smallest band of its shrunk per-band learning, `LearningLaw.shrunk_gamma`; 0 is a
flat law that favours no difficulty).

`--resources`: every log (the random-practice logs and the served cohorts') records the resource behind each answer
and every served engine is told it, as the service is when a platform's events name it (`resource_id`); the builds
then measure what each resource teaches and the cover share from the grown log too
(-> experiments/results/rebuild_loop_resources.md).
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass

import numpy as np
import polars as pl

from engine.catalog import Catalog, load_catalog
from engine.data.steering import STEERED
from engine.modelbuild import build_model_set
from engine.recommend.resource_value import RESOURCE_COLUMN
from engine.runtime.modelset import build_policy
from engine.simulate.learners import _Learners
from engine.simulate.report import prior_quartile
from engine.simulate.runner import RunResult, run_policy
from engine.simulate.suite import (OURS, SETTINGS, Setting, _t_ci, gain_contributions, one_step_a_day, random_practice_log,
                                   same_content)
from engine.simulate.world import World
from experiments.suite_cli import paired_text, report_head, suite_parser, write_results

COHORT_SEED, EXTRA_LOG_SEED, SECOND_COHORT_SEED = 20_000, 30_000, 40_000  # added to the seed: the served cohorts' and
# the control log's draws
GATED = "gated-curriculum"
SETS = ("gen 0", "gen 1", "gen 1 marked", "gen 2 marked", "control")
REBUILT = ("gen 1", "gen 1 marked", "gen 2 marked")


class LoggedSpec:
    """A suite setting as a `SimulatorSpec` whose learners' answers are kept as a canonical response log."""

    def __init__(self, setting: Setting, catalog: Catalog, prefix: str, resources: bool = False) -> None:
        self.setting, self.name, self.catalog, self.prefix = setting, setting.name, catalog, prefix
        self.resources = resources  # the log records the resource behind each answer (`resource_id`)
        self.frames: list[pl.DataFrame] = []

    def learners(self, world: World) -> _Learners:
        learners = self.setting.learners(world)
        step = learners.step
        ids = np.array([f"{self.prefix}-{i:05d}" for i in range(world.n_students)])
        item_ids, resource_ids = np.array(self.catalog.item_ids), np.array(self.catalog.resource_ids)

        def logged(resources: np.ndarray, items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            correct = step(resources, items, rng)
            self.frames.append(pl.DataFrame({"student_id": ids, "item_id": item_ids[items], "correct": correct,
                                             "seq": np.full(ids.size, len(self.frames), dtype=np.int64),
                                             **({RESOURCE_COLUMN: resource_ids[resources]} if self.resources else {})}))
            return correct

        learners.step = logged
        return learners

    def log(self) -> pl.DataFrame:
        """The answers in `random_practice_log`'s form: one step a day from the epoch."""
        return one_step_a_day(pl.concat(self.frames))


@dataclass(frozen=True)
class Built:
    """A served set's engine and learned statistics, and what its build chose."""

    engine: object
    progress: object
    irt_model: str
    law_spread: float


def build(catalog: Catalog, log: pl.DataFrame, seed: int) -> Built:
    model_set, _ = build_model_set(catalog, log, predictor="auto", seed=seed)
    engine, recommender = build_policy(catalog, model_set.components)
    law = None if recommender.progress is None else recommender.progress.law
    spread = float(np.ptp(law.shrunk_gamma)) if law is not None and law.informative else 0.0
    return Built(engine, recommender.progress, model_set.components["build"]["options"]["irt_model"], spread)


def serve(world: World, setting: Setting | LoggedSpec, built: Built, steps: int, resources: bool = False) -> RunResult:
    """`built` serving `world`; `resources`: the engine is told the resource behind each answer, as the service is when
    the platform's events name it."""
    return run_policy(world, setting, OURS, steps, engine=copy.deepcopy(built.engine), progress=copy.deepcopy(built.progress),
                      engine_sees_resources=resources)


def flag_precision(run: RunResult) -> tuple[int, int]:
    """(flags right, flags) of the engine's mastered flags at the end."""
    return int((run.flagged_mastered & run.truly_mastered).sum()), int(run.flagged_mastered.sum())


def one_seed(setting: Setting, catalog: Catalog, students: int, steps: int, log_students: int, seed: int,
             resources: bool = False) -> dict:
    """Every set of the module docstring and its run on the evaluation cohort; `resources`: every log records the
    resource behind each answer and every served engine is told it."""
    world = setting.world(catalog, students, seed)
    log = random_practice_log(setting, catalog, log_students, steps, seed + 10_000, content=world, resources=resources)
    sets = {"gen 0": build(catalog, log, seed)}
    logged = LoggedSpec(setting, catalog, f"served{seed}", resources)
    serve(same_content(setting.world(catalog, log_students, seed + COHORT_SEED), world), logged, sets["gen 0"], steps,
          resources)
    served = logged.log().select(log.columns)
    sets["gen 1"] = build(catalog, pl.concat([log, served]), seed)
    marked = pl.concat([log.with_columns(pl.lit(False).alias(STEERED)), served.with_columns(pl.lit(True).alias(STEERED))])
    sets["gen 1 marked"] = build(catalog, marked, seed)
    logged_again = LoggedSpec(setting, catalog, f"served{seed}-again", resources)
    serve(same_content(setting.world(catalog, log_students, seed + SECOND_COHORT_SEED), world), logged_again,
          sets["gen 1 marked"], steps, resources)
    served_again = logged_again.log().select(log.columns).with_columns(pl.lit(True).alias(STEERED))
    sets["gen 2 marked"] = build(catalog, pl.concat([marked, served_again]), seed)
    extra = random_practice_log(setting, catalog, log_students, steps, seed + EXTRA_LOG_SEED, content=world,
                                resources=resources)
    sets["control"] = build(catalog, pl.concat([log, extra]), seed)
    runs = {name: serve(world, setting, built, steps, resources) for name, built in sets.items()}
    runs[GATED] = run_policy(world, setting, GATED, steps)
    return {"runs": runs, "sets": sets}


def setting_row(setting: Setting, per_seed: list[dict], steps: int) -> str:
    gains = {name: np.concatenate([gain_contributions(s["runs"][name]) for s in per_seed]) for name in (*SETS, GATED)}
    quartile = np.concatenate([prior_quartile(s["runs"]["gen 0"].initial) for s in per_seed])
    lowest = {name: min((_t_ci((gains[name] - gains["gen 0"])[quartile == q]) for q in np.unique(quartile)), key=lambda c: c[0])
              for name in REBUILT}
    wasted = {name: sum(int(s["runs"][name].over_practice.sum()) for s in per_seed) /
              sum(s["runs"][name].initial.size * steps for s in per_seed) for name in SETS}
    precision = {}
    for name in SETS:
        right, flags = map(sum, zip(*(flag_precision(s["runs"][name]) for s in per_seed)))
        precision[name] = f"{right / flags:.2f}" if flags else "n/a"
    shown = ("gen 0", *REBUILT)
    banks = " / ".join(",".join(s["sets"][name].irt_model for s in per_seed) for name in shown)
    spread = " / ".join(",".join(f"{s['sets'][name].law_spread:.2f}" for s in per_seed) for name in shown)
    low = " / ".join("{:+.3f} [{:+.3f}, {:+.3f}]".format(*lowest[name]) for name in REBUILT)
    return (f"| {setting.name} | {gains['gen 0'].mean():.3f} | "
            + " | ".join(paired_text(gains[name] - gains["gen 0"]) for name in SETS[1:]) + f" | {low} | "
            + " / ".join(paired_text(gains[name] - gains[GATED]) for name in shown) + " | "
            + " / ".join(f"{wasted[name]:.3f}" for name in SETS) + " | " + " / ".join(precision[name] for name in SETS)
            + f" | {banks} | {spread} |")


def main() -> None:
    parser = suite_parser(__doc__.splitlines()[0])
    parser.add_argument("--resources", action="store_true",
                        help="every log records the resource behind each answer and the engine is told it "
                             "(-> experiments/results/rebuild_loop_resources.md)")
    args = parser.parse_args()
    catalog = load_catalog(None)
    load_before, started = os.getloadavg(), time.perf_counter()
    rows = []
    for setting in SETTINGS:
        per_seed = [one_seed(setting, catalog, args.students, args.steps, args.log_students, seed, args.resources)
                    for seed in range(1, args.seeds + 1)]
        rows.append(setting_row(setting, per_seed, args.steps))
        print(rows[-1], flush=True)
    title = "Rebuilding the model set from a log that holds the policy's own steps"
    lines = report_head(title + (", every log recording the resource behind each answer" if args.resources else ""),
                        "rebuild_loop", args, started, load_before)
    if args.resources:
        lines[2] = lines[2].replace(f"--seeds {args.seeds}`", f"--seeds {args.seeds} --resources`")
    lines += [
        f"{args.students} students x {args.steps} steps x {args.seeds} seeds per setting. Gen 0: built from a random-practice "
        f"log of {args.log_students} students; gen 1: from that log plus {args.log_students} students served by gen 0; gen 1 "
        "marked: the same, the served answers marked steered; gen 2 marked: gen 1 marked's log plus a second cohort of "
        f"{args.log_students} served by gen 1 marked, marked steered; control: from that log plus a second random-practice "
        f"log of {args.log_students} students. Normalized gain; differences paired on the same students with 95% "
        "t-intervals; the lowest quartile's cell: the prior-achievement quartile with the lowest paired mean. Steps on "
        "mastered skills and flag precision: gen 0 / gen 1 / gen 1 marked / gen 2 marked / control. Bank and law spread: "
        "gen 0 / gen 1 / gen 1 marked / gen 2 marked, one value per seed.", "",
        "| setting | gen 0 gain | gen 1 minus gen 0 | gen 1 marked minus gen 0 | gen 2 marked minus gen 0 | control minus "
        "gen 0 | lowest quartile minus gen 0: gen 1 / gen 1 marked / gen 2 marked | minus the gated curriculum: gen 0 / "
        "gen 1 / gen 1 marked / gen 2 marked | steps on mastered skills | mastered flag right | item bank | law spread "
        "(logits) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|", *rows]
    write_results("rebuild_loop_resources" if args.resources else "rebuild_loop", lines)


if __name__ == "__main__":
    main()
