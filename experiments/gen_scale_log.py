"""Write an EdNet-scale synthetic response log as Parquet partitions split by student, from a 2PL ground truth.

    .venv/bin/python -m experiments.gen_scale_log --responses 10_000_000 --out /tmp/scale10m     # ~1 min
    .venv/bin/python -m experiments.gen_scale_log --responses 100_000_000 --out /tmp/scale100m   # ~10 min, ~1 GB

Shape after EdNet KT1 (about 95M responses, 780k students, 13k questions): students answer a heavy-tailed
number of questions (lognormal, mean responses / students), questions are picked with a Zipf-like
popularity (a few very common, a long tail of rare ones) and may repeat for a student; each answer is drawn
from the 2PL at the student's true ability. Truth: theta ~ N(0, 1), a ~ lognormal(0, 0.3), b ~ N(0, 1).

The log is written one partition at a time (memory bounded by one partition, never the log): students
are numbered and cut into `--partitions` contiguous blocks, so every student is in exactly one file, as
`--engine ray` requires. The folder gets part-00000.parquet, ... (student_id, item_id, correct) and
truth.npz (item ids, a, b; student thetas are not kept: calibration only needs the items). Write it
outside the repository (it is data, not code).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import polars as pl

EDNET_RESPONSES_PER_STUDENT = 122  # 95.3M / 784k in EdNet KT1
EDNET_QUESTIONS = 13_169
LENGTH_SDLOG = 1.2  # spread of log(responses per student): a long tail of very active students
POPULARITY_EXPONENT = 0.8  # Zipf-like weights 1 / rank^s over the questions


def truth(n_items: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Item slopes a, difficulties b and popularity weights (summing to 1), each shape (I,)."""
    a = rng.lognormal(0.0, 0.3, n_items)
    b = rng.standard_normal(n_items)
    popularity = 1.0 / np.arange(1, n_items + 1) ** POPULARITY_EXPONENT
    return a, b, rng.permutation(popularity / popularity.sum())


def student_lengths(n_students: int, n_responses: int, rng: np.random.Generator) -> np.ndarray:
    """Responses per student (>= 1), lognormal, rescaled so they sum to exactly `n_responses`."""
    raw = rng.lognormal(0.0, LENGTH_SDLOG, n_students)
    lengths = np.maximum(1, np.floor(raw / raw.sum() * n_responses)).astype(np.int64)
    short = n_responses - int(lengths.sum())
    if short > 0:  # hand the rounding remainder to random students
        np.add.at(lengths, rng.integers(0, n_students, short), 1)
    elif short < 0:  # (only when many lengths were raised to 1) take it back from the longest
        longest = np.argsort(-lengths)[: -short]
        lengths[longest] -= 1
    return lengths


def partition_frame(first_student: int, lengths: np.ndarray, a: np.ndarray, b: np.ndarray, popularity: np.ndarray,
                    rng: np.random.Generator) -> pl.DataFrame:
    """The responses of students first_student, first_student + 1, ... (one per entry of `lengths`)."""
    theta = rng.standard_normal(len(lengths))
    local = np.repeat(np.arange(len(lengths)), lengths)
    item = rng.choice(len(a), size=len(local), p=popularity)
    p = 1.0 / (1.0 + np.exp(-a[item] * (theta[local] - b[item])))
    correct = (rng.random(len(local)) < p).astype(np.int8)
    return pl.DataFrame({"s": local + first_student, "i": item, "correct": correct}).select(
        pl.format("u{}", "s").alias("student_id"), pl.format("q{}", "i").alias("item_id"), "correct")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=lambda s: int(s.replace("_", "")), default=10_000_000)
    parser.add_argument("--students", type=int, default=None, help=f"default: responses / {EDNET_RESPONSES_PER_STUDENT}")
    parser.add_argument("--items", type=int, default=EDNET_QUESTIONS)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="folder to create (outside the repository)")
    args = parser.parse_args()
    n_students = args.students or max(1, args.responses // EDNET_RESPONSES_PER_STUDENT)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=False)
    rng = np.random.default_rng(args.seed)
    a, b, popularity = truth(args.items, rng)
    lengths = student_lengths(n_students, args.responses, rng)
    cuts = np.linspace(0, n_students, args.partitions + 1).astype(np.int64)
    started = time.perf_counter()
    for k in range(args.partitions):
        frame = partition_frame(int(cuts[k]), lengths[cuts[k]:cuts[k + 1]], a, b, popularity, rng)
        frame.write_parquet(out / f"part-{k:05d}.parquet", row_group_size=1_000_000)
    np.savez(out / "truth.npz", item_id=np.array([f"q{i}" for i in range(args.items)]), a=a, b=b)
    summary = {"responses": int(lengths.sum()), "students": n_students, "items": args.items, "partitions": args.partitions,
               "seconds": round(time.perf_counter() - started, 1), "bytes": sum(p.stat().st_size for p in out.iterdir())}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
