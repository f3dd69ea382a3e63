"""How far the general ability says what a student already knows of a skill, on real and simulated logs
-> experiments/results/ability_link.md.

    .venv/bin/python -m experiments.ability_link [--train-students 1500]

A skill a student has not answered yet starts at the population prior shifted by the student's standing on the ability
scale, logit P(learned) = logit(prior) + ability_slope x z (engine/mastery/engine.py). `model build` measures the slope on
its held-out students and serves another value than the engine's 1.5 only beyond the noise
(engine/modelbuild/ability_link.py). Here:

1. Real logs, ../shared/data: ASSISTments 2009 (the LPP split: items with their Q-matrix skills) and ASSISTments 2015
   (skill level: one item per skill). A catalog is made from each log (its skills without prerequisites, its items with
   their skills, one practice set per skill); `model build` runs on a seeded draw of --train-students students of the
   source's training split. Reported: what the build serves (measured on its own 20% held-out students), then the
   served set replayed on the source's *test* students (a seeded draw of at most 500), once per slope: the log-loss of
   the skill model's predictions (what the build scores: the slope moves only P(learned)) and each slope minus 1.5,
   paired per answer, with the SE clustered by student.
2. Simulated logs: what the build serves on the random-practice log (300 students x 60 steps, seed 1) of each suite
   setting and of the outside check's world (world 7, peak 65%, as `experiments.outside_check` writes it).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import polars as pl

from engine.catalog import Catalog, load_catalog
from engine.data import load
from engine.modelbuild import build_model_set
from engine.modelbuild.ability_link import ABILITY_SLOPES, DEFAULT_SLOPE
from engine.evaluation.metrics import response_logloss
from engine.modelbuild.predictor import clustered_se, sample_students, sequential_predictions
from engine.runtime.catalogs import catalog_from_dict
from engine.runtime.modelset import build_policy
from engine.simulate.suite import SETTINGS, random_practice_log
from experiments.outside_inproc import cohort_setting, pipeline_inputs

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
DATA = ROOT.parent / "shared" / "data"
REAL = (("ASSISTments 2009 (LPP split)", "assistments09", "lpp"), ("ASSISTments 2015", "assist2015", "dkt3"))


def catalog_of(responses: pl.DataFrame, name: str) -> Catalog:
    """A catalog for a log: its skills (no prerequisites), its items with the skills the log gives them, and one core
    practice set per skill (what a platform without a curriculum map would upload)."""
    items = responses.select("item_id", "skill_ids").unique("item_id", maintain_order=True)
    skills = sorted({s for row in items["skill_ids"].to_list() for s in row})
    return catalog_from_dict({
        "name": name, "version": "1",
        "skills": [{"skill_id": s, "name": f"skill {s}", "prerequisites": []} for s in skills],
        "items": [{"item_id": i, "skill_ids": list(ss)} for i, ss in items.iter_rows()],
        "resources": [{"resource_id": f"practice-{s}", "kind": "practice_set", "skill_ids": [s], "level": "core"}
                      for s in skills]}, source=name)


def replay_by_slope(catalog: Catalog, components: dict, test: pl.DataFrame) -> dict[float, tuple[float, float, float]]:
    """Per slope: (log-loss of the skill model's predictions of `test`, minus the default's, its SE clustered by student)."""
    sample = sample_students(test)
    per_slope = {}
    for slope in ABILITY_SLOPES:
        engine, _ = build_policy(catalog, components)
        engine.config = dataclasses.replace(engine.config, ability_slope=slope)
        held = sequential_predictions(engine, sample)
        per_slope[slope] = (held, response_logloss(held.y, held.p_skill))
    base = per_slope[DEFAULT_SLOPE][1]
    out = {}
    for slope, (held, losses) in per_slope.items():
        d = losses - base
        out[slope] = (float(losses.mean()), float(d.mean()), clustered_se(d, held.student, held.n_students))
    return out


def real_rows(train_students: int) -> list[str]:
    rows = []
    for label, folder, fmt in REAL:
        dataset = load(DATA / folder, fmt)
        train = dataset.train
        ids = train["student_id"].unique().sort().to_numpy()
        draw = np.random.default_rng(0).choice(ids, min(train_students, ids.size), replace=False)
        catalog = catalog_of(dataset.responses, folder)
        model_set, _ = build_model_set(catalog, train.filter(pl.col("student_id").is_in(draw.tolist())), seed=0)
        served = model_set.components["build"]["ability_slope"]["ability_slope"]
        table = replay_by_slope(catalog, model_set.components, dataset.test)
        best = min(table, key=lambda s: table[s][0])
        cells = " | ".join(f"{v[0]:.5f} ({v[1]:+.5f} ± {v[2]:.5f})" for v in table.values())
        rows.append(f"| {label} | {served:g} | {best:g} | {cells} |")
        print(rows[-1], flush=True)
    return rows


def simulated_rows() -> list[str]:
    catalog = load_catalog(None)
    rows = []
    for setting in SETTINGS:
        log = random_practice_log(setting, catalog, 300, 60, 10_001, content=setting.world(catalog, 300, 1))
        rows.append(_build_row(setting.name, catalog, log))
    world, _, _ = cohort_setting("peak65", 1, 1, 7, 0)
    with pipeline_inputs(world, 0, 300, 60) as (folder, path):
        rows.append(_build_row("outside world 7 (peak 65%)", load_catalog(folder), load(path, "generic").responses))
    return rows


def _build_row(label: str, catalog: Catalog, log: pl.DataFrame) -> str:
    record = build_model_set(catalog, log, seed=1)[0].components["build"]["ability_slope"]
    losses = {row["ability_slope"]: row["logloss"] for row in record["tried"]}
    row = f"| {label} | {record['ability_slope']:g} | " + " | ".join(f"{losses[s]:.4f}" for s in ABILITY_SLOPES) + " |"
    print(row, flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-students", type=int, default=1500)
    args = ap.parse_args()
    load_before, started = os.getloadavg(), time.perf_counter()
    real = real_rows(args.train_students)
    simulated = simulated_rows()
    slopes = " | ".join(f"slope {s:g}" for s in ABILITY_SLOPES)
    text = "\n".join([
        "# How far the general ability says what a student already knows of a skill", "",
        f"Command: `.venv/bin/python -m experiments.ability_link --train-students {args.train_students}` "
        f"({(time.perf_counter() - started) / 60:.0f} min; load average before {', '.join(f'{x:.2f}' for x in load_before)}). "
        "What it measures: the module docstring of `experiments/ability_link.py`; the rule: "
        "`engine/modelbuild/ability_link.py`.", "",
        "## 1. Real logs: the build's choice, and every slope on the source's test students", "",
        "Cells: log-loss of the skill model's predictions of the test students (the slope minus "
        f"{DEFAULT_SLOPE:g}, paired per answer ± its SE clustered by student). Lower is better.", "",
        f"| log | `model build` serves | smallest on the test students | {slopes} |",
        "|---|---|---|" + "---|" * len(ABILITY_SLOPES), *real, "",
        "## 2. Simulated logs: what the build serves, and its held-out log-loss of the skill model per slope", "",
        f"| log | `model build` serves | {slopes} |", "|---|---|" + "---|" * len(ABILITY_SLOPES), *simulated, ""])
    (RESULTS / "ability_link.md").write_text(text)
    print(f"wrote {RESULTS / 'ability_link.md'}")


if __name__ == "__main__":
    main()
