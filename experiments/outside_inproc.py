"""The outside world, in process: a quick second family of learners for development, not the check itself.

It lives outside `experiments/outside_check`, which must reach the project only through its CLI and HTTP
(tests/experiments_outside/test_outside_world.py); this module imports the engine on purpose.

The outside check (`python -m experiments.outside_check`) drives the running service over HTTP and takes about
8 minutes a setting. For trying a change to the policy against a world that was not written with the
project's simulators, this runs the same world, the same random-practice log and the same `model build`
(`engine.modelbuild.build_model_set` on the log as `--format generic` loads it), but drives the policy in
process with the suite's `EquilearnPolicy` (the same `Recommender.choose_batch` the service calls, the first of
a 5-item list, online progress tracking as in the suite): about 30 s a setting. Its figures are for
comparing two versions of the code in one run; the published ones come from the check over HTTP.

    PYTHONPATH=. .venv/bin/python -m experiments.outside_inproc --students 300 --settings peak45 peak85

Two versions of the code, paired on the same students (same world, cohort and answer draws): run each tree with
`--save FILE.npz` (per-student gains of every policy), then `--compare BEFORE.npz AFTER.npz` prints the mean
difference per setting with its paired 95% interval, by prior-achievement quartile, and the after-version's
quartiles against the gated curriculum:

    git archive HEAD | tar -x -C /tmp/before    # the version before, in its own folder
    (cd /tmp/before && PYTHONPATH=. $OLDPWD/.venv/bin/python -m experiments.outside_inproc --save /tmp/before.npz)
    PYTHONPATH=. .venv/bin/python -m experiments.outside_inproc --save /tmp/after.npz
    .venv/bin/python -m experiments.outside_inproc --compare /tmp/before.npz /tmp/after.npz

(`python -m` puts the current folder first on the path, so the before-run must start in its own folder.)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from engine.catalog import Catalog, load_catalog
from engine.data import load
from engine.modelbuild import build_model_set
from engine.registry.model_set import ModelSet
from engine.runtime.modelset import build_policy
from engine.simulate.policies import EquilearnPolicy
from experiments.outside_check.driver import SETTINGS, Run, local_runs, run_policy
from experiments.outside_check.pipeline import write_catalog, write_random_practice_log
from experiments.outside_check.stats import quartiles
from experiments.outside_check.world import Cohort, World, WorldSpec, make_cohort, make_world


class EquilearnInProcess:
    """The built policy as an outside-check `Policy`: world item indices in and out, the engine's state kept here."""

    name = "equilearn"

    def __init__(self, world: World, cohort: Cohort, catalog_dir: Path, log: Path, seed: int,
                 built: tuple[Catalog, ModelSet] | None = None) -> None:
        catalog, model_set = built if built is not None else self.build(catalog_dir, log, seed)
        self.engine, recommender = build_policy(catalog, model_set.components)
        self.policy = EquilearnPolicy(self.engine, recommender.config, progress=recommender.progress)
        self.batch = self.engine.new_batch(list(cohort.student_ids))
        self.rng = np.random.default_rng(seed)
        self.skill_ids = list(world.skill_ids)
        # world item index <-> catalog item index (the catalog is written from the world's item ids)
        self.to_catalog = np.array([catalog.item_index(i) for i in world.item_ids])
        self.to_world = np.empty_like(self.to_catalog)
        self.to_world[self.to_catalog] = np.arange(self.to_catalog.size)
        self._resources = np.zeros(cohort.size, dtype=np.int64)
        self._predicted = np.zeros(cohort.size)

    @staticmethod
    def build(catalog_dir: Path, log: Path, seed: int, **options: Any) -> tuple[Catalog, ModelSet]:
        """The catalog and the model set `model build` makes from the log, with `options` of `build_model_set`
        besides the seed (pass as `built` to reuse them)."""
        catalog = load_catalog(catalog_dir)
        return catalog, build_model_set(catalog, load(log, "generic").responses, seed=seed, **options)[0]

    def choose(self, step: int) -> np.ndarray:
        resources, items = self.policy.choose(self.batch, float(step), self.rng)
        listed = self.policy.listed_items
        self.listed = np.where(listed >= 0, self.to_world[np.maximum(listed, 0)], -1)  # the whole list (`Policy`)
        self._resources = resources
        self._predicted = self.engine.predict_pairs(self.batch, items, float(step))
        return self.to_world[items]

    def mastered_flags(self) -> np.ndarray:
        """(S, K) the engine's mastered flags now, in the world's skill order (the catalog is written in that order)."""
        if list(self.engine.catalog.skill_ids) != list(self.skill_ids):
            raise RuntimeError("the written catalog's skills are not the world's, in order")
        return self.engine.claimed(self.batch, None)

    def observe(self, step: int, items: np.ndarray, correct: np.ndarray) -> None:
        rows = np.arange(items.size)
        ours = self.to_catalog[items]
        y = correct.astype(float)
        self.engine.update_batch(self.batch, rows, ours, y, np.full(items.size, float(step)))
        self.policy.observe(self._resources, ours, y, self._predicted)


def cohort_setting(name: str, students: int, steps: int, world_seed: int, seed: int) -> tuple[World, Cohort, np.ndarray]:
    """The world of setting `name`, the cohort and its answer draws (uniforms), seeded as the outside check seeds them."""
    return cohort_of(WorldSpec(peak_success=SETTINGS[name]), students, steps, world_seed, seed)


def cohort_of(spec: WorldSpec, students: int, steps: int, world_seed: int, seed: int) -> tuple[World, Cohort, np.ndarray]:
    """The world of `spec`, the cohort and its answer draws (uniforms), seeded as the outside check seeds them."""
    world = make_world(spec, world_seed)
    cohort = make_cohort(world, students, seed + 2000, "stu")
    return world, cohort, np.random.default_rng(seed + 3000).random((students, steps))


@contextmanager
def pipeline_inputs(world: World, seed: int, log_students: int = 300, log_steps: int = 60) -> Iterator[tuple[Path, Path]]:
    """(catalog folder, random-practice log) of the world, as the outside check writes them, in a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        catalog = write_catalog(world, folder / "catalog")
        log = folder / "log.csv"
        write_random_practice_log(world, make_cohort(world, log_students, seed + 1000, "log"), log_steps, seed + 4000, log)
        yield catalog, log


def run_setting(name: str, students: int, steps: int, world_seed: int, seed: int, log_students: int = 300,
                log_steps: int = 60) -> dict[str, Run]:
    """Every policy of the outside check on one setting, equilearn in process (paired as in `driver.run_setting`)."""
    return run_spec(WorldSpec(peak_success=SETTINGS[name]), students, steps, world_seed, seed, log_students, log_steps)[0]


def run_spec(spec: WorldSpec, students: int, steps: int, world_seed: int, seed: int, log_students: int = 300,
             log_steps: int = 60, build_options: dict[str, Any] | None = None) -> tuple[dict[str, Run], Cohort, np.ndarray]:
    """Every policy on the world of `spec`, equilearn in process (its set built with `build_options` of
    `build_model_set`, e.g. the platform's `mastery_success`), paired on one cohort and its answer draws; the
    cohort; and equilearn's mastered flags at the end (S, K)."""
    world, cohort, uniforms = cohort_of(spec, students, steps, world_seed, seed)
    runs = local_runs(world, cohort, uniforms, seed)
    with pipeline_inputs(world, seed, log_students, log_steps) as (catalog, log):
        built = EquilearnInProcess.build(catalog, log, seed, **(build_options or {}))
        ours = EquilearnInProcess(world, cohort, catalog, log, seed, built=built)
        runs["equilearn"] = run_policy(world, cohort, ours, uniforms)
    return runs, cohort, ours.mastered_flags()


def add_run_arguments(ap: argparse.ArgumentParser) -> None:
    """The options that choose the settings, the cohort and the seeds (shared with `outside_overpractice`)."""
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("--students", type=int, default=300)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--world-seed", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)


def report_main(doc: str, module: str, run_setting: Callable[..., dict[str, object]],
                render: Callable[[dict[str, dict[str, object]], str, float], str]) -> None:
    """`main` of an in-process report on the outside world (`outside_overpractice`, `outside_gap`): the run options
    and `--out`; every setting run by `run_setting(name, students, steps, world_seed, seed)`, then
    `render(results, command, load average at the start)` printed and written to `--out`."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(ap)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    results = {name: run_setting(name, args.students, args.steps, args.world_seed, args.seed) for name in args.settings}
    text = render(results, f"PYTHONPATH=. .venv/bin/python -m {module}" + ("" if args.out is None else f" --out {args.out}"),
                  load)
    if args.out:
        args.out.write_text(text)
    print(text)


def paired(x: np.ndarray) -> str:
    """'mean ± half-width' of the paired 95% interval (normal quantile) of per-student differences, as text."""
    half = 1.96 * x.std(ddof=1) / np.sqrt(x.size) if x.size > 1 else float("nan")
    return f"{x.mean():+.4f} ± {half:.4f}"


def compare(before_path: Path, after_path: Path) -> None:
    """Print equilearn after minus before per setting (overall and by quartile), and after minus the curriculum."""
    before, after = np.load(before_path), np.load(after_path)
    for name in [k.removesuffix("/equilearn") for k in after.files if k.endswith("/equilearn")]:
        if f"{name}/equilearn" not in before.files:
            continue
        q = quartiles(after[f"{name}/initial"])
        diff = after[f"{name}/equilearn"] - before[f"{name}/equilearn"]
        vs = after[f"{name}/equilearn"] - after[f"{name}/gated curriculum"]
        print(f"{name}: after - before {paired(diff)}; by quartile " + ", ".join(paired(diff[q == k]) for k in range(4)))
        print(f"  after - gated curriculum by quartile " + ", ".join(paired(vs[q == k]) for k in range(4)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(ap)
    ap.add_argument("--save", type=Path, help="write every policy's per-student gains here (.npz)")
    ap.add_argument("--compare", type=Path, nargs=2, metavar=("BEFORE", "AFTER"), help="compare two --save files")
    args = ap.parse_args()
    if args.compare:
        compare(*args.compare)
        return
    saved: dict[str, np.ndarray] = {}
    for name in args.settings:
        began = time.perf_counter()
        runs = run_setting(name, args.students, args.steps, args.world_seed, args.seed)
        q = quartiles(runs["equilearn"].initial)
        print(f"{name} (world {args.world_seed}, seed {args.seed}, {args.students} x {args.steps}, "
              f"{time.perf_counter() - began:.0f} s)")
        print("  policy            gain     Q1     Q2     Q3     Q4  on mastered  turned ready: practised / listed in 5")
        for policy, run in runs.items():
            by_q = " ".join(f"{run.gain[q == k].mean():6.3f}" for k in range(4))
            print(f"  {policy:16s} {run.gain.mean():6.3f} {by_q}  {run.on_mastered.mean():6.3f}       "
                  f"{run.ready_practised.share:.2f} / {run.ready_listed.share:.2f} of {run.ready_listed.events}")
            saved[f"{name}/{policy}"] = run.gain
        saved[f"{name}/initial"] = runs["equilearn"].initial
    if args.save:
        np.savez(args.save, **saved)


if __name__ == "__main__":
    main()
