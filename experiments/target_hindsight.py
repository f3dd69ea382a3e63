"""The learned difficulty target against every fixed one, in hindsight -> experiments/results/target_hindsight.md.

    .venv/bin/python -m experiments.target_hindsight [--students 300 --steps 60 --log-students 300 --seeds 1]

Issue 14 asks the policy to learn from outcomes the difficulty it aims for instead of assuming it. Where that
choice falls short, some fixed difficulty would teach more. Per suite setting, equilearn serving a set built from
a random-practice log (as `experiments.sim_suite`) runs with the learning law `model build` fitted (served), and
once per difficulty band with a law that puts all the learning in that band (`one_hot_law`; everything else the
same built set), so that the policy aims at that band; and once with no aim within a skill (the served law, but the
randomesque draw over all of a skill's items, `RecommenderConfig.randomesque` = the most items a skill has). Per
setting: the served gain, each fixed band's gain, the served gain minus the best fixed band's and minus the
no-aim run's, paired on the same students (t-interval). The best band is chosen
after the fact on these same students, so the comparison favours it. A served gain at or above the best fixed
band says the remaining gap to the oracle is not in the difficulty aimed at but in what else the policy decides
(which skill, when to move on) and in the state it decides from (`experiments/results/suite_diagnosis.md`).

Part 2 asks the same of the outside check's world (`experiments.outside_check`, not written with the project's
simulators), driven in process as `experiments.outside_inproc` drives it (the same world, random-practice log and
`model build`): per setting and world, the built law against each band's one-hot law, on the same students and
answer draws (gain in mean true mastery, as the outside check counts it).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from engine.catalog import load_catalog
from engine.recommend import RecommenderConfig
from engine.recommend.law import LearningLaw
from engine.recommend.learning import BAND_EDGES, DifficultyProgress
from engine.simulate.runner import run_policy
from engine.simulate.suite import OURS, SETTINGS, _t_ci, built_policy, gain_contributions, random_practice_log
from experiments.outside_check.driver import SETTINGS as OUTSIDE_PEAKS
from experiments.outside_check.driver import run_policy as outside_run
from experiments.outside_inproc import EquilearnInProcess, cohort_setting, pipeline_inputs
from experiments.suite_cli import suite_parser

RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results"
IN_BAND, ELSEWHERE = 0.5, 0.02  # one band's learning per step (logits) and every other band's: 25 times less
NO_AIM = "no aim"
OUTSIDE_WORLDS = ((7, 0), (11, 1))  # (world seed, cohort seed) of the outside check's two runs
OUTSIDE_SETTINGS = tuple(OUTSIDE_PEAKS)


def one_hot_law(law: LearningLaw, band: int) -> LearningLaw:
    """`law` with all the learning in `band` (IN_BAND) and a little elsewhere (ELSEWHERE, so no band is worthless);
    edges, standard errors and counts kept."""
    gamma = np.full(len(law.gamma), ELSEWHERE)
    gamma[band] = IN_BAND
    return dataclasses.replace(law, gamma=tuple(float(g) for g in gamma))


def setting_gains(name: str, students: int, steps: int, log_students: int, seeds: int) -> dict[str, np.ndarray]:
    """Per-student gains of the served law ("served"), of each band's one-hot law (band index) and of the served law
    without aim within a skill (NO_AIM), all seeds."""
    setting = next(s for s in SETTINGS if s.name == name)
    catalog = load_catalog(None)
    out: dict[str, list[np.ndarray]] = {}
    for seed in range(1, seeds + 1):
        world = setting.world(catalog, students, seed)
        log = random_practice_log(setting, catalog, log_students, steps, seed + 10_000, content=world)
        engine, served = built_policy(catalog, log, seed)
        if served is None or served.law is None:
            raise RuntimeError(f"{name}: the build fitted no learning law")
        laws: dict[str, DifficultyProgress] = {"served": served}
        for band in range(len(served.law.gamma)):
            fixed = copy.deepcopy(served)
            fixed.law = one_hot_law(served.law, band)
            laws[str(band)] = fixed
        configs = {key: None for key in laws}
        most_items = int((catalog.items_by_skill >= 0).sum(axis=1).max())
        laws[NO_AIM], configs[NO_AIM] = served, RecommenderConfig(randomesque=most_items)
        for key, progress in laws.items():
            run = run_policy(world, setting, OURS, steps, engine=copy.deepcopy(engine), progress=copy.deepcopy(progress),
                             config=configs[key])
            out.setdefault(key, []).append(gain_contributions(run))
    return {key: np.concatenate(parts) for key, parts in out.items()}


def outside_gains(name: str, world_seed: int, seed: int, students: int, steps: int) -> dict[str, np.ndarray]:
    """Per-student gains in the outside world `name` (seeded as the outside check seeds it) of the built law
    ("served") and of each band's one-hot law (band index), equilearn driven in process on the same answer draws."""
    world, cohort, uniforms = cohort_setting(name, students, steps, world_seed, seed)
    out = {}
    with pipeline_inputs(world, seed) as (catalog, log):
        built = EquilearnInProcess.build(catalog, log, seed)
        for key in ("served", *(str(band) for band in range(len(BAND_EDGES) - 1))):
            policy = EquilearnInProcess(world, cohort, catalog, log, seed, built=built)
            law = policy.policy.recommender.progress.law
            if law is None:
                raise RuntimeError(f"outside {name}: the build fitted no learning law")
            if key != "served":
                policy.policy.recommender.progress.law = one_hot_law(law, int(key))
            out[key] = outside_run(world, cohort, policy, uniforms).gain
    return out


def row(name: str, gains: dict[str, np.ndarray]) -> str:
    bands = [key for key in gains if key not in ("served", NO_AIM)]
    best = max(bands, key=lambda key: gains[key].mean())
    cells = " | ".join(f"{gains[key].mean():.3f}" for key in bands)
    compared = (best, NO_AIM) if NO_AIM in gains else (best,)
    diffs = " | ".join("{:+.3f} [{:+.3f}, {:+.3f}]".format(*_t_ci(gains["served"] - gains[key])) for key in compared)
    no_aim = f" {gains[NO_AIM].mean():.3f} |" if NO_AIM in gains else ""
    return f"| {name} | {gains['served'].mean():.3f} | {cells} | {int(best) + 1} |{no_aim} {diffs} |"


def main() -> None:
    ap = suite_parser(__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2, help="settings run in parallel processes")
    args = ap.parse_args()
    load_before, started = os.getloadavg(), time.perf_counter()
    names = [s.name for s in SETTINGS]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(setting_gains, names, *(([v] * len(names)) for v in
                                                         (args.students, args.steps, args.log_students, args.seeds))))
        outside = [((name, world_seed), pool.submit(outside_gains, name, world_seed, seed, args.students, args.steps))
                   for world_seed, seed in OUTSIDE_WORLDS for name in OUTSIDE_SETTINGS]
        outside_rows = [row(f"{name}, world {world_seed}", future.result()) for (name, world_seed), future in outside]
    edges = BAND_EDGES
    labels = [f"band {b + 1}: {lo:.0%}-{hi:.0%}" for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:]))]
    rows = [row(name, gains) for name, gains in zip(names, results)]
    lines = ["# The learned difficulty target against every fixed one", "",
             f"Command: `.venv/bin/python -m experiments.target_hindsight --students {args.students} --steps {args.steps} "
             f"--log-students {args.log_students} --seeds {args.seeds}` ({(time.perf_counter() - started) / 60:.0f} min; "
             f"load average before {', '.join(f'{x:.2f}' for x in load_before)}). What it measures: the module docstring "
             "of `experiments/target_hindsight.py`.", "",
             f"{args.students} students x {args.steps} steps x {args.seeds} seed(s) per setting, equilearn serving a set "
             f"built from a random-practice log of {args.log_students} other students; normalized gain. \"Fixed\": the "
             f"same set with a law that puts the learning in one band of predicted success ({IN_BAND} logits per step "
             f"there, {ELSEWHERE} elsewhere). Last columns: served minus the best fixed band (chosen after the fact on "
             "these students), and served minus the served law without aim within a skill (a skill's item drawn among all its "
             "items), paired, 95% t-intervals.", "",
             f"| setting | served | {' | '.join(f'fixed {label}' for label in labels)} | best fixed band | no aim within a "
             "skill | served minus best fixed [95% CI] | served minus no aim [95% CI] |", "|---|" + "---|" * (len(labels) + 5),
             *rows, "", "## Part 2: the outside check's world, in process", "",
             f"{args.students} students x {args.steps} steps per setting and world (world seed 7 with cohort seed 0, world "
             "seed 11 with cohort seed 1, as the outside check runs them); gain in mean true mastery; the law built from "
             "the world's random-practice log of 300 students against each band's one-hot law, paired on the same "
             "students and answer draws.", "",
             f"| setting | served | {' | '.join(f'fixed {label}' for label in labels)} | best fixed band | "
             "served minus best fixed [95% CI] |", "|---|" + "---|" * (len(labels) + 3), *outside_rows]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "target_hindsight.md").write_text("\n".join(lines) + "\n")
    print("\n".join(rows + outside_rows))


if __name__ == "__main__":
    main()
