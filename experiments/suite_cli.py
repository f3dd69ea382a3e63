"""What every suite experiment shares: its command-line options (students, steps, the random-practice log, seeds),
the head of its results file (title, the command that reproduces it, its duration and load), and how it writes a
paired difference."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from engine.simulate.suite import _t_ci

RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results"
DEFAULT_LOG_STUDENTS = 300  # the random-practice log the suite's built sets come from, unless --log-students says otherwise


def suite_parser(description: str, seeds: int = 2, single_seed: bool = False) -> argparse.ArgumentParser:
    """A parser with --students, --steps, --log-students and --seeds (default `seeds`), or --seed (default 1) when
    `single_seed`; callers add their own."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--students", type=int, default=300)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--log-students", type=int, default=DEFAULT_LOG_STUDENTS)
    if single_seed:
        ap.add_argument("--seed", type=int, default=1)
    else:
        ap.add_argument("--seeds", type=int, default=seeds)
    return ap


def report_head(title: str, module: str, args: argparse.Namespace, started: float,
                load: tuple[float, float, float]) -> list[str]:
    """The lines a results file starts with: `title`, then the command of `experiments.<module>` with the `suite_parser`
    options in `args`, the minutes since `started` (perf_counter) and the load average before the run."""
    seeds = f"--seed {args.seed}" if hasattr(args, "seed") else f"--seeds {args.seeds}"
    options = f"--students {args.students} --steps {args.steps} --log-students {args.log_students} {seeds}"
    return command_head(title, module, options, started, load)


def command_head(title: str, module: str, options: str, started: float, load: tuple[float, float, float]) -> list[str]:
    """The lines a results file starts with: `title`, the command `experiments.<module> <options>`, the minutes since
    `started` (perf_counter) and the load average before the run."""
    minutes = (time.perf_counter() - started) / 60
    return [f"# {title}", "",
            f"Command: `.venv/bin/python -m experiments.{module} {options}` ({minutes:.0f} min; load average before "
            f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}). What it measures: the module docstring of "
            f"`experiments/{module}.py`.", ""]


def paired_text(x: np.ndarray) -> str:
    """'mean [lower, upper]' of per-student paired differences `x` (95% t-interval)."""
    mean, lo, hi = _t_ci(x)
    return f"{mean:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def write_results(name: str, lines: list[str]) -> None:
    """`lines` as experiments/results/<name>.md (the folder made if missing), where make_benchmarks reads it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
