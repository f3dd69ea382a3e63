"""Load time of every data loader on its public file: median of 3 runs -> experiments/results/loaders.md.

Run from the project root: `.venv/bin/python -m experiments.bench_loaders` (needs ../shared/data).
The foundation issue's target: assist2015 (dkt3, ~684k responses) loads in under 2 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import polars as pl

from engine.data import load

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
CASES = (  # (format, path under ../shared/data)
    ("dkt3", "assist2015"),
    ("dkt3", "assistments09_dkt"),
    ("lpp", "assistments09"),
    ("oulad", "oulad"),
    ("datashop", "samples/datashop_algebra05_head.csv"),
    ("assistments", "samples/assistments_raw_2skills.csv"),
    ("wide", "irt/mirt_SAT12.csv"),
    ("wide", "irt/mirt_LSAT7.csv"),
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def time_load(fmt: str, path: Path, repeats: int) -> tuple[float, int]:
    """Median wall seconds of `load(path, fmt)` over `repeats` runs, and the responses loaded."""
    seconds, responses = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        dataset = load(path, fmt)
        seconds.append(time.perf_counter() - start)
        responses = dataset.responses.height
    return statistics.median(seconds), responses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "results" / "loaders.md")
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"public datasets not found at {DATA.resolve()}")
    rows = []
    for fmt, rel in CASES:
        seconds, responses = time_load(fmt, DATA / rel, args.repeats)
        rows.append(f"| `{fmt}` | `{rel}` | {responses:,} | {seconds:.3f} |")
        print(rows[-1], flush=True)
    load_avg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    text = "\n".join(
        [
            "# Data loader speed",
            "",
            f"Command: `.venv/bin/python -m experiments.bench_loaders --repeats {args.repeats}`",
            "",
            f"Machine: {_cpu_model()}, {os.cpu_count()} logical CPUs, load average {load_avg} at the end "
            f"(shared machine); Python {platform.python_version()}, polars {pl.__version__}.",
            "",
            f"Wall seconds per `engine.data.load(path, format)` (read, map, validate; median of {args.repeats}).",
            "Target: assist2015 under 2 s.",
            "",
            "| format | data (../shared/data/) | responses | seconds |",
            "|---|---|---:|---:|",
            *rows,
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
