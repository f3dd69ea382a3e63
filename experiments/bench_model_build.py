"""`equilearn model build` on a 1M-response log vs the separate `irt calibrate` + `kt fit` runs it replaces
-> experiments/results/model_build.md.

Run from the project root: `.venv/bin/python -m experiments.bench_model_build` (`--responses 100000` for a
quick look). The catalog is synthetic (`engine.catalog.synthetic`: 100 skills x 10 items = 1,000 items)
and written as a CSV bundle; the log (a `generic` CSV: student_id, item_id, skill_ids, correct, timestamp; `kt fit` needs the skills,
`model build` takes them from the catalog) is
simulated from the catalog's own 2PL/3PL parameters with abilities N(0, 1), 100 responses a student.
Both sides are the command line as a user runs it (process start, loading the CSV, fitting, writing JSON),
timed by wall clock, interleaved A B A B so a change in the machine's load hits both, median over repeats,
with the load average printed beside each run. The acceptance target is a build under 60 s at 1M responses.

What each side does:
- A `model build --predictor auto`: load + check the log, hold out 20 % of students and fit bank + BKT on
  the rest, replay the held-out students (sequential predictions for five blend weights), fit a 2PL and a 3PL
  bank on at most 1,000 training students and replay at most 500 held-out ones through each (`--model auto`:
  whether answers are guessed), replay at most
  500 of them once per forgetting stability and once per weight of the items' own guess and slip (six
  values each), fit bank + BKT on everyone, fit the policy's learning component, check the set loads as the server would, write it.
- B `irt calibrate` (2PL, priors) then `kt fit --model bkt-idem` (the build's skill model; on the training split): two processes, two
  loads of the CSV, no held-out evaluation, no servable set.
The build's own stage timings (`components.build.seconds`) say where its time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from engine.catalog import build_catalog
from engine.catalog.synthetic import synthetic_bundle

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).with_name("equilearn"))
TARGET_S = 60.0
PER_STUDENT = 100


def _load() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def write_inputs(folder: Path, n_responses: int, seed: int = 0) -> tuple[Path, Path]:
    """A 1,000-item catalog bundle (CSV folder) and a simulated `generic` CSV log of `n_responses` rows."""
    bundle = synthetic_bundle(100, 10, seed=seed)
    catalog = build_catalog(bundle)
    cat_dir = folder / "catalog"
    cat_dir.mkdir(parents=True, exist_ok=True)
    (cat_dir / "catalog.toml").write_text('name = "bench"\nversion = "1"\n')
    for table in ("skills", "items", "resources", "skill_params"):
        frame = bundle.tables[table]
        frame.with_columns([pl.col(c).list.join(";") for c, t in frame.schema.items() if isinstance(t, pl.List)]
                           ).write_csv(cat_dir / f"{table}.csv")
    rng = np.random.default_rng(seed)
    n_students = n_responses // PER_STUDENT
    student = np.repeat(np.arange(n_students), PER_STUDENT)
    item = rng.integers(0, catalog.n_items, student.size)
    theta = rng.normal(size=n_students)
    a, b, c = catalog.item_a[item], catalog.item_b[item], catalog.item_c[item]
    p = c + (1 - c) / (1 + np.exp(-a * (theta[student] - b)))
    minutes = np.tile(np.arange(PER_STUDENT) * 30, n_students).astype("timedelta64[m]")
    log = folder / "log.csv"
    primary = np.array([skills[0] for skills in catalog.items["skill_ids"].to_list()])
    pl.DataFrame({"student_id": np.char.add("s", student.astype(str)), "item_id": np.array(catalog.item_ids)[item],
                  "skill_ids": primary[item],
                  "correct": (rng.random(student.size) < p).astype(np.int8),
                  "timestamp": (np.datetime64("2024-09-01T08:00") + minutes).astype(str)}).write_csv(log)
    return cat_dir, log


def _run(argv: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([EXE, *argv], cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"failed: equilearn {' '.join(argv)}\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2, help="A B pairs (interleaved)")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "results" / "model_build.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        folder = Path(tmp)
        catalog, log = write_inputs(folder, args.responses)
        build = ["model", "build", "--catalog", str(catalog), "--data", str(log), "--format", "generic",
                 "--predictor", "auto", "--out", str(folder / "set.json")]
        irt = ["irt", "calibrate", str(log), "--format", "generic", "--model", "2pl", "--prior-a", "0", "0.5",
               "--prior-b", "0", "2", "--out", str(folder / "cal.json")]
        kt = ["kt", "fit", "--data", str(log), "--format", "generic", "--model", "bkt-idem", "--out", str(folder / "bkt.json")]
        runs: list[tuple[str, float, float, float, str]] = []
        for r in range(args.repeats):
            load = _load()
            a = _run(build, folder)
            runs.append((f"A{r + 1} model build", a, float("nan"), float("nan"), load))
            load = _load()
            t_irt = _run(irt, folder)
            t_kt = _run(kt, folder)
            runs.append((f"B{r + 1} irt calibrate + kt fit", t_irt + t_kt, t_irt, t_kt, load))
            print(runs[-2], runs[-1], flush=True)
        built = json.loads((folder / "set.json").read_text())["components"]["build"]
    n_resp = built["data"]["n_responses"]
    a_med = statistics.median(x[1] for x in runs if x[0].startswith("A"))
    b_med = statistics.median(x[1] for x in runs if x[0].startswith("B"))
    verdict = "met" if a_med < TARGET_S else "NOT met"
    pred = built["predictor"]
    command = f".venv/bin/python -m experiments.bench_model_build --responses {args.responses} --repeats {args.repeats}"
    lines = [
        "# Model build from a response log",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs, Python {platform.python_version()}; "
        f"load average (1, 5, 15 min) after the runs {_load()}.",
        "",
        f"Acceptance (build from {n_resp:,} responses < {TARGET_S:g} s): **{verdict}**: median {a_med:.1f} s for "
        f"`equilearn model build` vs {b_med:.1f} s for the separate `irt calibrate` + `kt fit` runs it replaces "
        f"(wall clock, whole commands, {args.repeats} interleaved pairs).",
        "",
        "| run | seconds | irt calibrate s | kt fit s | load average before (1, 5, 15 min) |",
        "|---|---:|---:|---:|---|",
    ]
    lines += [f"| {n} | {s:.1f} | {'' if i != i else f'{i:.1f}'} | {'' if k != k else f'{k:.1f}'} | {load} |"
              for n, s, i, k, load in runs]
    lines += [
        "",
        "Where the build's time goes (last run, `components.build.seconds`, inside the process; the rest of the "
        "wall time is start-up and reading the CSV):",
        "",
        "| stage | seconds |",
        "|---|---:|",
    ]
    lines += [f"| {k} | {v:.2f} |" for k, v in built["seconds"].items()]
    lines += [
        "",
        f"Held-out predictor ({pred['held_out']['n_students']:,} students, {pred['held_out']['n_responses']:,} responses; "
        f"chosen irt_weight {pred['irt_weight']}):",
        "",
        "| irt_weight | AUC | log-loss |",
        "|---:|---:|---:|",
    ]
    lines += [f"| {w['irt_weight']} | {w['auc']:.4f} | {w['logloss']:.4f} |" for w in pred["weights"]]
    lines += [
        "",
        "The build does more than the two commands it replaces: a held-out evaluation (a second bank and skill-model "
        "fit on 80 % of the students plus a sequential replay of the rest, then twelve replays of at most 500 of them "
        "to choose the forgetting and the weight of each item's own evidence), the policy's learning component and a "
        "load check of the finished set; the separate runs read the CSV twice and produce no servable set. The log is "
        "simulated from the catalog's own parameters (2PL, a quarter of the items 3PL with c = 0.2), so it favours "
        "the IRT side of the blend.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(args.out.read_text())


if __name__ == "__main__":
    main()
