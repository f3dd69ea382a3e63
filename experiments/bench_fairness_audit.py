"""Benchmark: the recommendation audit on 1,000,000 served recommendations x 3 group columns x 200 bootstrap
resamples (issue 6 acceptance: under 30 s). Writes experiments/results/fairness_audit.md.

    .venv/bin/python -m experiments.bench_fairness_audit [--rows 1000000] [--students 20000] [--boot 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import polars as pl

from engine.fairness.dif import mh_dif
from engine.fairness.gate import load_policy
from engine.fairness.recommendation_audit import audit_recommendations
from engine.fairness.results import assemble

BANDS = np.array(["low", "mid", "high"])
VERBAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "irt" / "difR_verbal.tsv"


def dif_side_by_side(repeats: int) -> str | None:
    """MH DIF on difR's verbal (24 items, Gender): ours vs statsmodels' StratifiedTable item by item."""
    if not VERBAL.exists():
        return None
    from statsmodels.stats.contingency_tables import StratifiedTable

    table = pl.read_csv(VERBAL, separator="\t")
    items = table.columns[:24]
    X, gender = table.select(items).to_numpy().astype(float), table["Gender"].to_numpy()

    def reference() -> tuple[list[float], list[float]]:
        score = X.sum(axis=1)
        alphas, chis = [], []
        for j in range(X.shape[1]):
            tables = []
            for v in np.unique(score):
                rows = score == v
                if rows.sum() < 2:
                    continue
                ref, foc, right = gender[rows] == 0, gender[rows] == 1, X[rows, j] == 1
                tables.append([[np.sum(ref & right), np.sum(ref & ~right)], [np.sum(foc & right), np.sum(foc & ~right)]])
            st = StratifiedTable(np.array(tables, dtype=float).transpose(1, 2, 0))
            alphas.append(st.oddsratio_pooled)
            chis.append(st.test_null_odds(correction=True).statistic)
        return alphas, chis

    ours_t, ref_t = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ours = mh_dif(X, gender, items, reference="0", focal=["1"])
        ours_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        alphas, chis = reference()
        ref_t.append(time.perf_counter() - t0)
    d_alpha = max(abs(i.alpha_mh - a) for i, a in zip(ours.items, alphas))
    d_chi = max(abs(i.chi2 - c) for i, c in zip(ours.items, chis))
    return (f"| MH DIF, difR verbal (316 students x 24 items, Gender) | {np.median(ours_t) * 1000:.1f} ms | "
            f"statsmodels StratifiedTable per item: {np.median(ref_t) * 1000:.1f} ms | max abs difference: alpha "
            f"{d_alpha:.1e}, chi2 {d_chi:.1e} |")


def synthetic(rows: int, students: int, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Served lists of 5 (rank 1-5) with a band per list; roster with gender, ses and language."""
    rng = np.random.default_rng(seed)
    lists = rows // 5
    student = rng.integers(0, students, size=lists)
    band = BANDS[rng.integers(0, 3, size=lists)]
    list_of_row = np.repeat(np.arange(lists), 5)
    rate = np.array([0.05, 0.2, 0.5])[np.searchsorted(["high", "low", "mid"], band)][list_of_row]
    level = np.where(rng.random(rows) < rate, "advanced", np.where(rng.random(rows) < 0.3, "remedial", "core"))
    served = pl.DataFrame({
        "student_id": pl.Series(student[list_of_row]).cast(pl.Utf8),
        "list_id": pl.Series(list_of_row).cast(pl.Utf8),
        "timestamp": np.datetime64("2024-09-01T00:00:00", "us") + list_of_row.astype("timedelta64[m]"),
        "rank": np.tile(np.arange(1, 6), lists),
        "level": level,
        "kind": np.where(rng.random(rows) < 0.02, "intervention", "practice"),
        "mastery_band": band[list_of_row],
    })
    roster = pl.DataFrame({
        "student_id": pl.Series(np.arange(students)).cast(pl.Utf8),
        "gender": rng.choice(["F", "M", "X"], size=students, p=[0.49, 0.49, 0.02]),
        "ses": rng.choice(["low", "mid", "high"], size=students),
        "language": rng.choice(["home", "other"], size=students, p=[0.7, 0.3]),
    })
    return served, roster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--boot", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "fairness_audit.md"))
    args = parser.parse_args()
    served, roster = synthetic(args.rows, args.students)
    load_before = os.getloadavg()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        audit = audit_recommendations(served, roster, "gender,ses,language", n_boot=args.boot)
        payload = assemble(audit, load_policy())
        times.append(time.perf_counter() - t0)
    load_after = os.getloadavg()
    undecided = sorted(name for name, status in payload["check_status"].items() if status != "PASS")
    command = (f".venv/bin/python -m experiments.bench_fairness_audit --rows {args.rows} --students {args.students} "
               f"--boot {args.boot} --repeats {args.repeats}")
    lines = [
        "# Fairness audit benchmark",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPU(s) "
        "(shared with other jobs while measured); polars " + pl.__version__ + ", numpy " + np.__version__ + ".",
        "",
        f"Load average (1/5/15 min) before: {load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f}; "
        f"after: {load_after[0]:.2f} / {load_after[1]:.2f} / {load_after[2]:.2f}.",
        "",
        "| task | rows | students | group columns | bootstrap resamples | seconds (median of " + str(args.repeats) + ") | min | gate status |",
        "|---|---|---|---|---|---|---|---|",
        f"| recommendation audit (exposure within 3 mastery bands, ready-not-offered, interventions, remedial->advanced) "
        f"+ gate | {served.height:,} | {args.students:,} | 3 (gender, ses, language) | {args.boot} | "
        f"{np.median(times):.2f} | {min(times):.2f} | {payload['status']} |",
        "",
        "Student-level bootstrap; all metrics are ratios of per-student sums, so each resample is one matrix product.",
        "The gate runs the default policy's recommendation checks on a synthetic recommender with no group effect; "
        "checks not PASS: " + (", ".join(f"{n} ({payload['check_status'][n]})" for n in undecided) or "none")
        + ". Checks of the other audits (model, items, outcomes) are not part of this run.",
    ]
    dif_row = dif_side_by_side(args.repeats)
    if dif_row:
        lines += ["", "Side by side with the reference tool (same run; median of " + str(args.repeats) + "):", "",
                  "| task | ours | reference | agreement |", "|---|---|---|---|", dif_row]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
