"""What the measured remedial-against-core contrast is worth to the built policy -> experiments/results/level_contrast.md

    .venv/bin/python -m experiments.level_contrast [--students 300 --steps 60 --log-students 300 --seeds 2]

`model build` measures, from a log that records the resource behind each answer, how much a remedial use taught
against a core use (`engine.recommend.resource_value.LevelContrast`) and scales the configured remedial efficacy by
the contrast's ratio as far as the log believes it. Per suite setting and seed: one random-practice log with the
resource column; equilearn serves the set built from it as built, and the same set with the contrast removed (the
configured efficacy, ratio 1), on the same students and random streams (paired per student, 95% t-interval; the lowest
prior-achievement quartile's cell beside it). The columns before: the measured contrast per seed (difference in logits
a use, its SE, the believed share and the served ratio).
"""

from __future__ import annotations

import copy
import os
import time

import numpy as np

from engine.catalog import Catalog, load_catalog
from engine.recommend.learning import DifficultyProgress
from engine.simulate.report import prior_quartile
from engine.simulate.runner import run_policy
from engine.simulate.suite import OURS, SETTINGS, Setting, built_policy, gain_contributions, random_practice_log
from experiments.suite_cli import paired_text, report_head, suite_parser, write_results


def paired_runs(setting: Setting, catalog: Catalog, students: int, steps: int, log_students: int,
                seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, float] | None]:
    """Per student gain contributions served without and with the measured contrast, the students' prior quartiles,
    and the contrast the build measured (None when it measured none)."""
    world = setting.world(catalog, students, seed)
    log = random_practice_log(setting, catalog, log_students, steps, seed + 10_000, content=world, resources=True)
    engine, progress = built_policy(catalog, log, seed)
    plain: DifficultyProgress = copy.deepcopy(progress)
    plain.remedial_contrast = None
    gains, quartile = [], None
    for served in (plain, progress):
        run = run_policy(world, setting, OURS, steps, engine=copy.deepcopy(engine), progress=copy.deepcopy(served),
                         engine_sees_resources=True)
        gains.append(gain_contributions(run))
        quartile = prior_quartile(run.initial)
    return gains[0], gains[1], quartile, progress.remedial_contrast


def _contrast_text(c: dict[str, float] | None) -> str:
    if c is None:
        return "none"
    return f"{c['difference']:+.3f} ± {c['se']:.3f}, {c['believed']:.2f}, x{c['ratio']:.2f}"


def main() -> None:
    args = suite_parser(__doc__).parse_args()
    catalog = load_catalog(None)
    load, started = os.getloadavg(), time.perf_counter()
    rows = []
    for setting in SETTINGS:
        without, with_, lowest, contrasts = [], [], [], []
        for seed in range(1, args.seeds + 1):
            a, b, quartile, contrast = paired_runs(setting, catalog, args.students, args.steps, args.log_students, seed)
            without.append(a), with_.append(b), lowest.append(quartile == 0), contrasts.append(_contrast_text(contrast))
        a, b, q1 = np.concatenate(without), np.concatenate(with_), np.concatenate(lowest)
        rows.append(f"| {setting.name} | {' / '.join(contrasts)} | {a.mean():.3f} | {b.mean():.3f} | {paired_text(b - a)} | "
                    f"{paired_text((b - a)[q1])} |")
        print(rows[-1], flush=True)
    lines = report_head("The remedial-against-core contrast measured from the log", "level_contrast", args, started, load)
    lines += [f"{args.students} students x {args.steps} steps x {args.seeds} seeds per setting; sets built from a "
              f"random-practice log of {args.log_students} other students that records the resource behind each answer. "
              "Contrast per seed: a remedial use's logit learning minus a core use's ± SE, the believed share, the ratio "
              "the remedial efficacy is served at. Normalized gain without / with it; differences paired per student.", "",
              "| setting | contrast (difference ± se, believed, ratio) per seed | without | with | with minus without [95% CI] | "
              "lowest quartile: with minus without |", "|---|---|---|---|---|---|", *rows]
    write_results("level_contrast", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
