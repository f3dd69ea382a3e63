"""Would a set built from each suite setting's log pass the deployment gate? -> experiments/results/suite_set_gate.md

    .venv/bin/python -m experiments.suite_set_gate [--log-students 300 --seeds 1]

Per suite setting and seed: a random-practice log of `--log-students` students that records the resource behind each
answer (as `level_contrast` and the suite's built table use), the model set `model build` makes from it, and the
recommendation part of `model audit` on that set (`predeployment.simulated_recommendations`: the original BKT
simulator, whose two groups differ only in starting opportunity, 500 students x 80 steps, doubled up to 4,000 while
the gate lacks evidence), gated by `simulated_recommendations.toml`. Per row: the verdict, the students it took, and
each check's worst row (advanced exposure in the ready band and remedial-to-advanced once ready: the lowest ratio to
the reference group; ready-but-not-offered: the largest gap), with the unconditional remedial-to-advanced: the smaller group share
over the larger, which the report also shows (not gated in simulation: docs/fairness.md).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from engine.catalog import Catalog, load_catalog
from engine.fairness.predeployment import AuditOptions, served_policy, simulated_recommendations
from engine.modelbuild import build_model_set
from engine.simulate.suite import SETTINGS, Setting, random_practice_log, setting_by_name
from engine.simulate.world import World
from experiments.suite_cli import write_results

CHECKS = (("advanced_exposure_ratio", min), ("ready_not_offered_gap", max), ("remedial_to_advanced_once_ready_ratio", min))


def suite_built_set(setting: Setting, catalog: Catalog, log_students: int, seed: int, steps: int = 60
                    ) -> tuple[World, Any]:
    """The content world of `seed` and the set `model build` makes from a random-practice log of `log_students` other
    students on it (seed + 10,000; the resource behind each answer recorded): what a platform of that setting serves."""
    world = setting.world(catalog, log_students, seed)
    log = random_practice_log(setting, catalog, log_students, steps, seed + 10_000, content=world, resources=True)
    model_set, _ = build_model_set(catalog, log, predictor="auto", seed=seed)
    return world, model_set


def gate_row(setting_name: str, log_students: int, seed: int) -> dict[str, Any]:
    """The simulated recommendation verdict of the set built from one setting's random-practice log."""
    catalog = load_catalog(None)
    _, model_set = suite_built_set(setting_by_name(setting_name), catalog, log_students, seed)
    _, engine, recommender = served_policy(model_set, catalog)
    payload = simulated_recommendations(model_set, engine, recommender, AuditOptions(suite_students=0), None)
    worst = {}
    for name, pick in CHECKS:
        values = [c["value"] for c in payload["checks"] if c["name"] == name and c["value"] == c["value"]]
        worst[name] = pick(values) if values else float("nan")
    shares = [r["value"] for r in payload["results"].get("remedial_to_advanced", {}).get("by_group", [])]
    worst["unconditional"] = min(shares) / max(shares) if shares and max(shares) > 0 else float("nan")
    return {"status": payload["status"], "students": payload["data"]["students_tried"][-1], **worst}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--log-students", type=int, default=300)
    ap.add_argument("--seeds", type=int, default=1)
    args = ap.parse_args()
    load, started = os.getloadavg(), time.perf_counter()
    rows = []
    for setting in SETTINGS:
        for seed in range(1, args.seeds + 1):
            r = gate_row(setting.name, args.log_students, seed)
            rows.append(f"| {setting.name} | {seed} | {r['status']} | {r['students']} | {r['advanced_exposure_ratio']:.2f} | "
                        f"{r['ready_not_offered_gap']:.3f} | {r['remedial_to_advanced_once_ready_ratio']:.2f} | "
                        f"{r['unconditional']:.2f} |")
            print(rows[-1], flush=True)
    minutes = (time.perf_counter() - started) / 60
    lines = ["# The deployment gate's simulated recommendation audit on sets built from the suite's logs", "",
             f"Command: `.venv/bin/python -m experiments.suite_set_gate --log-students {args.log_students} --seeds "
             f"{args.seeds}` ({minutes:.0f} min; load average before {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}). What it "
             "measures: the module docstring of `experiments/suite_set_gate.py`.", "",
             "Ratios are the lowest group's against the reference group (the gate needs >= 0.8, decided on confidence "
             "bounds); the gap is the largest shortfall against the best group (<= 0.10). NaN: no row to compare.", "",
             "| setting | seed | verdict | students | advanced exposure ratio (ready band) | ready-not-offered gap | "
             "remedial-to-advanced once ready | remedial-to-advanced, all starters: smaller / larger group share (reported) |",
             "|---|---|---|---:|---:|---:|---:|---:|", *rows]
    write_results("suite_set_gate", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
