"""BKT vs pyBKT (C++ build), side by side in one run -> experiments/results/bkt.md.

Run from the project root: `.venv/bin/python -m experiments.bench_bkt` (needs ../shared/data and pyBKT
in its own venv, default /work/refvenvs/pybkt; see docs/bkt.md for its install). For each dataset and
variant (BKT, BKT + forgetting), both tools fit the train file with 5 restarts; we report the median fit
seconds over repeats and the test AUC/RMSE (sequential prediction, one AUC over all test responses whose
skill was seen in training: pyBKT cannot predict the others). Also: numba compile/cache-load time and
the online update cost.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np
import polars as pl

from engine.data import load
from engine.evaluation.metrics import score
from engine.evaluation.protocol import sort_sequential
from models.bkt import BKT, kernels

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
CASES = (  # (name, folder, train file, test file)
    ("assistments09_dkt (builder)", "assistments09_dkt", "builder_train.csv", "builder_test.csv"),
    ("assist2015", "assist2015", "assist2015_train.csv", "assist2015_test.csv"),
)
RUNNER = Path(__file__).with_name("bench_bkt_pybkt.py")


def ours(train: pl.DataFrame, test: pl.DataFrame, forgets: bool, repeats: int) -> dict:
    times, cpu, models = [], [], []
    for rep in range(repeats):
        model = BKT(forgets=forgets, n_restarts=5, random_state=rep)
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(train)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        models.append(model)
    model = models[0]  # the default seed's fit is the one scored
    known = test.filter(pl.col("item_id").is_in(model.skills_))
    m = score(known["correct"].to_numpy(), model.predict_proba(known))
    return {"fit": times, "cpu": cpu, "auc": m["auc"], "rmse": m["rmse"], "n_test": known.height}


def reference(python: str, train: Path, test: Path, forgets: bool, repeats: int) -> dict:
    cmd = [python, str(RUNNER), str(train), str(test), "--forgets", str(int(forgets)), "--num-fits", "5", "--repeats", str(repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    res = json.loads(out)
    return {"fit": res["fit_seconds"], "cpu": res["fit_cpu_seconds"], "auc": res["auc_known_skills"], "rmse": res["rmse_known_skills"], "n_test": res["n_test_known_skills"]}


def online_update_us(train: pl.DataFrame) -> float:
    """Median microseconds of one `update` (single-skill item), over 20,000 calls on a fitted model."""
    model = BKT(forgets=True).fit(train)
    skills = model.skills_
    state = model.initial_state()
    rng = np.random.default_rng(0)
    responses = [{"item_id": s, "skill_ids": [s], "correct": float(c)}
                 for s, c in zip(rng.choice(skills, 20000), rng.integers(0, 2, 20000))]
    laps = []
    for r in responses:
        t0 = time.perf_counter()
        model.update(state, r)
        laps.append(time.perf_counter() - t0)
    return statistics.median(laps) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pybkt-python", default="/work/refvenvs/pybkt/bin/python")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "experiments" / "results" / "bkt.md"))
    args = ap.parse_args()

    t0 = time.perf_counter()
    kernels.warm_up()
    warm = time.perf_counter() - t0
    load_before = os.getloadavg()
    rows = []
    online = None
    for name, folder, train_file, test_file in CASES:
        ds = load(DATA / folder, "dkt3")
        train, test = sort_sequential(ds.train), sort_sequential(ds.test)
        if online is None:
            online = online_update_us(train)
        for forgets in (False, True):
            a = ours(train, test, forgets, args.repeats)
            b = reference(args.pybkt_python, DATA / folder / train_file, DATA / folder / test_file, forgets, args.repeats)
            rows.append((name, train.height, "BKT + forgets" if forgets else "BKT", a, b))
            print(name, forgets, a, b, flush=True)
    load_after = os.getloadavg()

    med = lambda xs: statistics.median(xs)  # noqa: E731
    lines = [
        "# BKT: ours (numba EM) vs pyBKT 1.4.3 (C++ build)",
        "",
        "Reproduce: `.venv/bin/python -m experiments.bench_bkt` (pyBKT in /work/refvenvs/pybkt; see docs/bkt.md).",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, shared with other jobs; load average (1/5/15 min) "
        f"{' / '.join(f'{x:.1f}' for x in load_before)} at start, {' / '.join(f'{x:.1f}' for x in load_after)} at end. "
        f"Python {platform.python_version()}. Fit seconds: median of {args.repeats} repeats, wall clock and CPU (all threads of the process; "
        "less sensitive to the shared machine's load), both tools "
        "with 5 random restarts per skill and their default stopping rule (|change in log-likelihood| < 1e-3, "
        "at most 100 EM iterations). AUC/RMSE: test responses predicted sequentially, over the responses whose "
        "skill appears in training (pyBKT cannot predict the others).",
        "",
        "| dataset | train responses | model | ours fit s | pyBKT fit s | speed-up | ours CPU s | pyBKT CPU s | ours AUC | pyBKT AUC | AUC diff | ours RMSE | pyBKT RMSE | test responses |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, n, model, a, b in rows:
        lines.append(
            f"| {name} | {n:,} | {model} | {med(a['fit']):.2f} | {med(b['fit']):.2f} | {med(b['fit']) / med(a['fit']):.1f}x "
            f"| {med(a['cpu']):.2f} | {med(b['cpu']):.2f} "
            f"| {a['auc']:.4f} | {b['auc']:.4f} | {a['auc'] - b['auc']:+.4f} | {a['rmse']:.4f} | {b['rmse']:.4f} | {a['n_test']:,} |"
        )
    lines += [
        "",
        "All fit times: " + "; ".join(
            f"{name} {model}: ours {[round(x, 2) for x in a['fit']]}, pyBKT {[round(x, 2) for x in b['fit']]}"
            for name, _, model, a, b in rows
        ),
        "",
        f"numba kernels: {warm:.2f} s to compile or load from numba's on-disk cache at the start of this run "
        "(not included in fit times; a cold compile takes ~10-20 s once per machine, later processes load the cache).",
        "",
        f"Online `BKT.update` of one single-skill response (forgets model, fitted on builder_train): median {online:.1f} us over 20,000 calls.",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
