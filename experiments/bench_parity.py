"""Local and Ray fits of the same 2M-response logs, through the CLI a user runs: how far apart are the parameters?

    .venv/bin/python -m experiments.bench_parity --workdir /tmp/parity --out experiments/results/parity.md

Two logs are written under `--workdir` (outside the repository; reused when present):
- `irt/`: a 2PL log in the shape of EdNet (experiments.gen_scale_log: heavy-tailed lengths, Zipf-like item
  popularity), `--responses` responses over `--items` questions, as Parquet partitions split by student;
- `kt.parquet`: a BKT log from models.bkt.simulate (a skill's learn, slip, prior and, for half the skills,
  forget drawn at random; five items per skill, each with its own guess), `--kt-students` x `--kt-skills` x
  `--kt-steps` responses.

Each model is fitted twice by a separate `equilearn` process, `--engine local` then `--engine ray` (a local
Ray cluster with 2 CPUs, two workers), from the same file: `irt calibrate --model 2pl` on the IRT log,
`kt fit --responses all` (bkt, bkt-forget, bkt-idem, elo, pfa, best-lr, afm) on the KT log. The table gives, per model,
the iterations of each engine and the largest absolute difference of each parameter family, with a bar on
a log scale (each block one decade of agreement below 1). Issue 18 asks for 1e-6 at equal iterations.
Wall times are printed for orientation only (Ray's start-up is in them; scale.md holds the timing study).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from models.bkt.simulate import simulate_bkt

ROOT = Path(__file__).resolve().parents[1]
EQUILEARN = str(Path(sys.executable).with_name("equilearn"))
KT_MODELS = ("bkt", "bkt-forget", "bkt-idem", "elo", "pfa", "best-lr", "afm")
ITEMS_PER_SKILL = 5  # each with its own guess, so KT-IDEM has (skill, item) classes to fit
BAR_DECADES = 12  # bars reach 1e-12; beyond that the bar is full


@dataclass(frozen=True)
class Fit:
    """One CLI fit: its output JSON and wall time."""

    document: dict
    seconds: float


def write_irt_log(folder: Path, responses: int, items: int, seed: int) -> Path:
    """The partitions (read by the Ray workers) and the same rows as one file (read by the local engine)."""
    single = folder.with_suffix(".parquet")
    if not (folder / "summary.json").exists():
        subprocess.run([sys.executable, "-m", "experiments.gen_scale_log", "--responses", str(responses), "--items",
                        str(items), "--partitions", "8", "--seed", str(seed), "--out", str(folder)], check=True, cwd=ROOT)
    if not single.exists():
        pl.scan_parquet(folder / "part-*.parquet").sink_parquet(single)
    return single


def write_kt_log(path: Path, students: int, skills: int, steps: int, seed: int) -> None:
    if path.exists():
        return
    rng = np.random.default_rng(seed)
    truth = [{"prior": float(rng.uniform(0.1, 0.6)), "learn": float(rng.uniform(0.05, 0.3)),
              "guess": float(rng.uniform(0.1, 0.3)), "slip": float(rng.uniform(0.05, 0.2)),
              "forget": float(rng.uniform(0.01, 0.08)) if k % 2 else 0.0} for k in range(skills)]
    item_guess = [rng.uniform(0.05, 0.35, ITEMS_PER_SKILL).tolist() for _ in range(skills)]
    simulate_bkt(truth, students, steps, seed=seed, item_guess=item_guess).write_parquet(path)


def run_fit(argv: list[str], out: Path, engine: str) -> Fit:
    """Run one `equilearn` command with --engine and --out, in a process of its own; its JSON and wall time."""
    started = time.perf_counter()
    done = subprocess.run([EQUILEARN, *argv, "--engine", engine, "--out", str(out)], capture_output=True, text=True,
                          env={**os.environ, "EQUILEARN_ENGINE": engine})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} --engine {engine} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Fit(json.loads(out.read_text()), seconds)


def item_differences(local: dict, ray: dict) -> dict[str, float]:
    """Largest |local - ray| of each item field of a calibration, items matched by id."""
    mine = {row["item_id"]: row for row in ray["items"]}
    theirs = {row["item_id"]: row for row in local["items"]}
    if mine.keys() != theirs.keys():
        raise SystemExit("the two calibrations hold different items")
    return {field: max(abs(mine[k][field] - theirs[k][field]) for k in theirs) for field in ("a", "b", "se_a", "se_b")}


def kt_differences(local: dict, ray: dict) -> dict[str, float]:
    """Largest |local - ray| of each parameter array of a fitted KT model (same skill / feature order)."""
    if local.get("skills") != ray.get("skills"):
        raise SystemExit("the two fits list different skills")
    if "learn" in local:
        fields = ("prior", "learn", "forget", "guess", "slip")
    elif "difficulty" in local:
        fields = ("difficulty", "item_counts")
    else:
        fields = ("coef", "intercept")
    out = {field: float(np.max(np.abs(np.ravel(local[field]) - np.ravel(ray[field])))) for field in fields if field in local}
    per_item = local.get("item_guess_slip")
    if per_item:  # KT-IDEM: guess and slip per (skill, item) class
        for field in ("guess", "slip"):
            out[f"item {field}"] = float(np.max(np.abs(np.subtract(per_item[field], ray["item_guess_slip"][field]))))
    return out


def iterations(document: dict) -> str:
    """EM or Newton iterations; BKT fits each skill on its own, so its total over the skills."""
    count = document.get("n_iter", "-")
    return f"{sum(count)} over {len(count)} skills" if isinstance(count, list) else str(count)


def bar(difference: float) -> str:
    """One block per decade below 1 (a difference of 1e-9 gets 9), capped at BAR_DECADES; exact agreement is full."""
    decades = BAR_DECADES if difference == 0 else min(BAR_DECADES, max(0, math.floor(-math.log10(difference))))
    return "█" * decades + "·" * (BAR_DECADES - decades)


def recovery(calibration: dict, truth_file: Path) -> str:
    """Correlation of fitted with true slopes and difficulties (the log's ground truth): a sanity line."""
    truth = np.load(truth_file)
    true_a = dict(zip(truth["item_id"].tolist(), truth["a"]))
    true_b = dict(zip(truth["item_id"].tolist(), truth["b"]))
    rows = calibration["items"]
    r_a = np.corrcoef([r["a"] for r in rows], [true_a[r["item_id"]] for r in rows])[0, 1]
    r_b = np.corrcoef([r["b"] for r in rows], [true_b[r["item_id"]] for r in rows])[0, 1]
    return f"correlation with the true slopes {r_a:.3f}, difficulties {r_b:.3f} ({len(rows)} items)"


def render(rows: list[tuple[str, str, str, dict[str, float], float, float]], notes: list[str], command: str) -> str:
    lines = ["# Local and Ray engines on 2M-response logs: parameter parity", "",
             f"`{command}`", "", *(f"- {note}" for note in notes), "",
             "| model | iterations local / ray | parameter | max abs difference | agreement (one block per decade) | wall s local / ray |",
             "|---|---|---|---|---|---|"]
    for model, it_local, it_ray, differences, s_local, s_ray in rows:
        for k, (field, value) in enumerate(differences.items()):
            first = k == 0
            lines.append(f"| {model if first else ''} | {f'{it_local} / {it_ray}' if first else ''} | {field} | {value:.1e} | "
                         f"`{bar(value)}` | {f'{s_local:.0f} / {s_ray:.0f}' if first else ''} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="where the logs and fits go (outside the repository)")
    parser.add_argument("--responses", type=lambda s: int(s.replace("_", "")), default=2_000_000)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--kt-students", type=int, default=5000)
    parser.add_argument("--kt-skills", type=int, default=40)
    parser.add_argument("--kt-steps", type=int, default=10)
    parser.add_argument("--models", default=",".join(("2pl", *KT_MODELS)), help="comma-separated subset of 2pl and the KT models")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown table here")
    args = parser.parse_args()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    models = args.models.split(",")
    irt_folder, kt_file = work / "irt", work / "kt.parquet"
    irt_file = write_irt_log(irt_folder, args.responses, args.items, args.seed)
    write_kt_log(kt_file, args.kt_students, args.kt_skills, args.kt_steps, args.seed)
    kt_rows = pl.scan_parquet(kt_file).select(pl.len()).collect().item()
    irt_summary = json.loads((irt_folder / "summary.json").read_text())
    load = os.getloadavg()
    rows, notes = [], [
        f"IRT log: {irt_summary['responses']:,} responses, {irt_summary['students']:,} students, {irt_summary['items']:,} "
        f"questions (experiments.gen_scale_log, seed {args.seed}): the Ray engine reads its {irt_summary['partitions']} Parquet "
        f"partitions split by student on the workers, the local engine the same rows as one file.",
        f"KT log: {kt_rows:,} responses, {args.kt_students:,} students x {args.kt_skills} skills x {args.kt_steps} steps "
        f"(models.bkt.simulate, seed {args.seed}; half the skills forget; {ITEMS_PER_SKILL} items per skill with their own guess).",
        f"Each fit is a separate `equilearn` process; Ray runs a local cluster of 2 CPUs with two workers. "
        f"Load average at start {load[0]:.1f}.",
    ]
    if "2pl" in models:
        argv = ["calibrate", "--format", "generic", "--model", "2pl"]
        local = run_fit(["irt", argv[0], str(irt_file), *argv[1:]], work / "irt_local.json", "local")
        ray = run_fit(["irt", argv[0], str(irt_folder), *argv[1:]], work / "irt_ray.json", "ray")
        rows.append(("irt calibrate 2PL", iterations(local.document), iterations(ray.document),
                     item_differences(local.document, ray.document), local.seconds, ray.seconds))
        notes.append(f"2PL local fit: {recovery(local.document, irt_folder / 'truth.npz')}.")
        print(rows[-1], flush=True)
    for model in (m for m in models if m in KT_MODELS):
        argv = ["kt", "fit", "--data", str(kt_file), "--format", "generic", "--model", model, "--responses", "all"]
        local = run_fit(argv, work / f"{model}_local.json", "local")
        ray = run_fit(argv, work / f"{model}_ray.json", "ray")
        if local.document.get("n_iter") != ray.document.get("n_iter"):
            notes.append(f"{model}: the engines took different iterations ({local.document.get('n_iter')} vs "
                         f"{ray.document.get('n_iter')}): the stopping test (max |gradient| <= tol, a sum over every "
                         "response, added in another order on Ray) was within rounding of its threshold; the parameters "
                         "are compared where each engine stopped.")
        rows.append((f"kt fit {model}", iterations(local.document), iterations(ray.document),
                     kt_differences(local.document, ray.document), local.seconds, ray.seconds))
        print(rows[-1], flush=True)
    notes.append(f"Load average at the end {os.getloadavg()[0]:.1f}.")
    notes.append("Multi-prior BKT (`BKT(prior_groups=col)`, API only) is checked against the local fit in "
                 "tests/distributed/test_bkt_partitions.py; the stacked `best` model refuses `--engine ray` with its reason.")
    command = ".venv/bin/python -m experiments.bench_parity " + " ".join(sys.argv[1:])
    text = render(rows, notes, command)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
