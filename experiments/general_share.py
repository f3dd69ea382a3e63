"""Skills that share the general ability (`MasteryConfig.share_general`): predictions and learning, on and off
-> experiments/results/general_share.md.

    .venv/bin/python -m experiments.general_share [--students 300 --steps 60 --log-students 300 --seeds 2]

With `share_general` the practised skills follow the general part of every answer (engine/mastery/engine.py);
without it a practised skill keeps the general level it had when first met. `model build` measures which predicts
its held-out students better and serves that (engine/modelbuild/sharing.py). Here each variant is a full `model
build` (held-out choices, skill model, learning law) with the setting fixed on or off, on the same log:

1. Held-out log-loss, as `model build` measures it (20% of the log's students held out, each answer predicted from
   the student's earlier answers only): the per-skill IRT side (irt_weight 1) and the blend the build serves; and
   what `model build` serves when it chooses. Per suite setting (its random-practice log, seed 1) and per outside
   world (its log, as the outside check writes it, peak 65%).
2. Learning: equilearn serving each variant's set on the same students, paired. Suite settings: normalized gain,
   built sets, seeds 1..--seeds. Outside worlds in process (`experiments.outside_inproc`: worlds 7 and 11, cohort
   seeds 0..--seeds-1, every peak): raw gain. Columns: on minus off with its paired 95% t-interval, and per variant
   the lowest lower 95% bound over prior-achievement quartiles of equilearn minus the best non-oracle baseline
   (below 0: "no quartile gains less" is not shown there).
"""

from __future__ import annotations

import argparse
import copy
import functools
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import polars as pl

from engine.catalog import Catalog, load_catalog
from engine.data import load
from engine.modelbuild import build_model_set
from engine.modelbuild.modelset import fit_components
from engine.runtime.modelset import build_policy
from engine.simulate.runner import run_policy
from engine.simulate.suite import OURS, SETTINGS, _t_ci, gain_contributions, prior_quartile, random_practice_log
from experiments.outside_check.driver import SETTINGS as OUTSIDE_PEAKS
from experiments.outside_check.driver import local_runs
from experiments.outside_check.driver import run_policy as run_outside
from experiments.outside_check.stats import quartiles
from experiments.outside_inproc import EquilearnInProcess, cohort_setting, pipeline_inputs
from experiments.suite_cli import suite_parser

RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results"
OUTSIDE_WORLDS = (7, 11)


@contextmanager
def sharing(on: bool) -> Iterator[None]:
    """Every engine `model build` fits has `share_general` = `on`: the held-out one whose predictions the build scores
    (so its held-out figures are the variant's) and, with `build_model_set(..., share_general=on)`, the served one;
    the outside world's in-process policy builds its set that way too."""
    with mock.patch("engine.modelbuild.modelset.fit_components", functools.partial(fit_components, share_general=on)), \
            mock.patch("experiments.outside_inproc.build_model_set", functools.partial(build_model_set, share_general=on)):
        yield


def held_out_loss(catalog: Catalog, log: pl.DataFrame, seed: int) -> tuple[dict[bool, tuple[float, float]], bool]:
    """Per variant: (held-out log-loss of the per-skill IRT side, of the served blend); and what the build serves
    when it chooses itself."""
    out = {}
    for on in (True, False):
        with sharing(on):
            _, diagnostics = build_model_set(catalog, log, seed=seed, share_general=on)
        rows = {r["irt_weight"]: r["logloss"] for r in diagnostics.predictor["weights"]}
        out[on] = (rows[1.0], rows[diagnostics.predictor["irt_weight"]])
    chosen, _ = build_model_set(catalog, log, seed=seed)
    return out, bool(chosen.components["build"]["share_general"]["share_general"])


def lowest_quartile_bound(ours: np.ndarray, best: np.ndarray, quartile: np.ndarray) -> float:
    """The lowest lower 95% bound over quartiles of ours minus the best baseline (paired)."""
    return min(_t_ci(ours[quartile == q] - best[quartile == q])[1] for q in range(4))


def suite_runs(catalog: Catalog, setting, args: argparse.Namespace) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Per variant the per-student gains over the seeds, the best baseline's and the quartiles."""
    gains: dict[str, list[np.ndarray]] = {"on": [], "off": [], "best": [], "quartile": []}
    for seed in range(1, args.seeds + 1):
        log = random_practice_log(setting, catalog, args.log_students, args.steps, seed + 10_000,
                                  content=setting.world(catalog, args.students, seed))
        baselines = [gain_contributions(run_policy(setting.world(catalog, args.students, seed), setting, p, args.steps))
                     for p in ("gated-curriculum", "random", "zpdes")]
        gains["best"].append(max(baselines, key=np.mean))
        for on in (True, False):
            with sharing(on):
                model_set, _ = build_model_set(catalog, log, seed=seed, share_general=on)
            engine, recommender = build_policy(catalog, model_set.components)
            run = run_policy(setting.world(catalog, args.students, seed), setting, OURS, args.steps,
                             engine=engine, progress=copy.deepcopy(recommender.progress))
            gains["on" if on else "off"].append(gain_contributions(run))
            if on:
                gains["quartile"].append(prior_quartile(run.initial))
    return {k: np.concatenate(v) for k, v in gains.items()}


def outside_runs(name: str, world_seed: int, args: argparse.Namespace) -> dict[str, np.ndarray]:
    """The same for one outside world and peak, equilearn in process (raw gains)."""
    gains: dict[str, list[np.ndarray]] = {"on": [], "off": [], "best": [], "quartile": []}
    for seed in range(args.seeds):
        world, cohort, uniforms = cohort_setting(name, args.students, args.steps, world_seed, seed)
        runs = local_runs(world, cohort, uniforms, seed)
        gains["best"].append(max((runs["random item"].gain, runs["gated curriculum"].gain), key=np.mean))
        gains["quartile"].append(quartiles(runs["oracle"].initial))
        for on in (True, False):
            with sharing(on), pipeline_inputs(world, seed, args.log_students, args.steps) as (catalog, log):
                policy = EquilearnInProcess(world, cohort, catalog, log, seed)
            gains["on" if on else "off"].append(run_outside(world, cohort, policy, uniforms).gain)
    return {k: np.concatenate(v) for k, v in gains.items()}


def gain_row(label: str, g: dict[str, np.ndarray]) -> str:
    diff = _t_ci(g["on"] - g["off"])
    low_on = lowest_quartile_bound(g["on"], g["best"], g["quartile"])
    low_off = lowest_quartile_bound(g["off"], g["best"], g["quartile"])
    return (f"| {label} | {g['on'].mean():.4f} | {g['off'].mean():.4f} | {diff[0]:+.4f} [{diff[1]:+.4f}, {diff[2]:+.4f}] "
            f"| {low_on:+.4f} | {low_off:+.4f} |")


def main() -> None:
    args = suite_parser(__doc__.splitlines()[0]).parse_args()
    catalog = load_catalog(None)
    load_before, started = os.getloadavg(), time.perf_counter()
    loss_rows, gain_rows = [], []
    for setting in SETTINGS:
        log = random_practice_log(setting, catalog, args.log_students, args.steps, 10_001,
                                  content=setting.world(catalog, args.students, 1))
        loss, chosen = held_out_loss(catalog, log, seed=1)
        loss_rows.append(f"| {setting.name} | {loss[True][0]:.4f} | {loss[False][0]:.4f} | {loss[True][1]:.4f} "
                         f"| {loss[False][1]:.4f} | {'on' if chosen else 'off'} |")
        gain_rows.append(gain_row(setting.name, suite_runs(catalog, setting, args)))
        print(loss_rows[-1], gain_rows[-1], sep="\n", flush=True)
    for world_seed in OUTSIDE_WORLDS:
        world, _, _ = cohort_setting("peak65", 1, 1, world_seed, 0)
        with pipeline_inputs(world, 0, args.log_students, args.steps) as (folder, path):
            outside_catalog = load_catalog(folder)
            loss, chosen = held_out_loss(outside_catalog, load(path, "generic").responses, seed=0)
        loss_rows.append(f"| outside world {world_seed} (peak 65%) | {loss[True][0]:.4f} | {loss[False][0]:.4f} "
                         f"| {loss[True][1]:.4f} | {loss[False][1]:.4f} | {'on' if chosen else 'off'} |")
        for name in OUTSIDE_PEAKS:
            gain_rows.append(gain_row(f"outside world {world_seed}, {name}", outside_runs(name, world_seed, args)))
            print(gain_rows[-1], flush=True)
    elapsed = time.perf_counter() - started
    text = "\n".join([
        "# Skills that share the general ability: predictions and learning", "",
        f"Command: `.venv/bin/python -m experiments.general_share --students {args.students} --steps {args.steps} "
        f"--log-students {args.log_students} --seeds {args.seeds}` ({elapsed / 60:.0f} min; load average before "
        f"{', '.join(f'{x:.2f}' for x in load_before)}). What it measures: the module docstring of "
        "`experiments/general_share.py`; on = with `share_general`, off = without it.", "",
        "## 1. Held-out log-loss (lower is better)", "",
        "| log | per-skill IRT, on | per-skill IRT, off | served blend, on | served blend, off | `model build` serves |",
        "|---|---|---|---|---|---|", *loss_rows, "",
        "## 2. Equilearn's gain, on and off, paired", "",
        "Suite settings: normalized gain; outside worlds: raw gain (as each reports it).", "",
        "| setting | on | off | on minus off [95% CI] | lowest quartile bound vs best baseline, on | ... off |",
        "|---|---|---|---|---|---|", *gain_rows, ""])
    (RESULTS / "general_share.md").write_text(text)
    print(f"wrote {RESULTS / 'general_share.md'}")


if __name__ == "__main__":
    main()
