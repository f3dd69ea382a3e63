"""Reference side of experiments/bench_bkt.py: fit and evaluate pyBKT (C++ build) on a 3-line KT dataset.

Runs inside pyBKT's own virtualenv (.refs/pybkt, built by `make refs`; it needs scikit-learn < 1.8), so it
imports nothing from this project. Usage:
    <pybkt-python> bench_bkt_pybkt.py TRAIN TEST --forgets 0|1 --num-fits 5 --seed 0 --repeats 1 --evaluate 1
Prints one JSON line: fit wall and CPU seconds of each repeat, the file of pyBKT's compiled E-step (a .so
when the C++ build is what runs), and with --evaluate 1 the test AUC and RMSE and per-skill parameters.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
import pyBKT.fit.E_step as e_step
from pyBKT.models import Model


def read_dkt3(path: str, prefix: str) -> pd.DataFrame:
    """The 3-line format as pyBKT's columns: one user per record, order_id = position in the file."""
    lines = [ln.strip() for ln in open(path)]
    users, skills, answers = [], [], []
    for r in range(len(lines) // 3):
        s = [t for t in lines[3 * r + 1].split(",") if t]
        a = [t for t in lines[3 * r + 2].split(",") if t]
        users += [f"{prefix}-{r}"] * len(s)
        skills += s
        answers += [int(x) for x in a]
    return pd.DataFrame({"order_id": np.arange(len(skills)), "user_id": users, "skill_name": skills, "correct": answers})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--forgets", type=int, default=0)
    ap.add_argument("--num-fits", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--evaluate", type=int, default=1, help="0: time the fits only")
    args = ap.parse_args()
    train, test = read_dkt3(args.train, "train"), read_dkt3(args.test, "test")
    times, cpu, models = [], [], []
    for rep in range(args.repeats):
        model = Model(seed=args.seed + rep, num_fits=args.num_fits, parallel=True)
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(data=train, forgets=bool(args.forgets))
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        models.append(model)
    out = {"fit_seconds": times, "fit_cpu_seconds": cpu, "e_step_file": e_step.__file__}
    if args.evaluate:
        model = models[0]  # the first seed's fit is the one scored
        known = test[test["skill_name"].isin(train["skill_name"].unique())]
        auc, rmse = model.evaluate(data=known, metric=["auc", "rmse"])
        out.update({
            "auc_known_skills": float(auc),
            "rmse_known_skills": float(rmse),
            "n_test": int(len(test)),
            "n_test_known_skills": int(len(known)),
            "params": model.params().reset_index().to_dict(orient="list"),
        })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
