"""The command-line options every suite experiment shares (students, steps, the random-practice log, seeds)."""

from __future__ import annotations

import argparse


def suite_parser(description: str, seeds: int = 2) -> argparse.ArgumentParser:
    """A parser with --students, --steps, --log-students and --seeds (default `seeds`); callers add their own."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--students", type=int, default=300)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--log-students", type=int, default=300)
    ap.add_argument("--seeds", type=int, default=seeds)
    return ap
