"""How old each results file is against the code it measures: the commit that last wrote it and how many commits
have changed `engine/` or `models/` since.

A table in `experiments/results/` is a measurement of the code as it was when its command ran. The docs quote those
tables as today's behaviour, so a results file that many engine commits have passed is a figure to re-run before it
is quoted again. Git is the record: no results file has to carry its own commit, and a docs-only commit does not age
anything. Run from the repository: `.venv/bin/python -m experiments.results_age [--stale-only]`.
"""

from __future__ import annotations

import argparse
import subprocess
from dataclasses import dataclass
from pathlib import Path

CODE_PATHS = ("engine", "models")
RESULTS = Path("experiments/results")


@dataclass(frozen=True)
class ResultsAge:
    """One results file: the commit that last changed it (None: never committed) and the code commits since."""

    path: str
    written_at: str | None
    code_commits_since: int | None


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def results_ages(repo: Path, results: Path = RESULTS) -> list[ResultsAge]:
    """Every `*.md` under `repo / results`, oldest against the code first (uncommitted files last)."""
    out = []
    for path in sorted((repo / results).glob("*.md")):
        relative = str(path.relative_to(repo))
        written = _git(repo, "log", "-1", "--format=%H", "--", relative) or None
        since = (int(_git(repo, "rev-list", "--count", f"{written}..HEAD", "--", *CODE_PATHS)) if written else None)
        out.append(ResultsAge(relative, written, since))
    return sorted(out, key=lambda a: (a.code_commits_since is None, -(a.code_commits_since or 0), a.path))


def markdown(ages: list[ResultsAge]) -> str:
    lines = ["| results file | last written at | commits to engine/ or models/ since |", "|---|---|---|"]
    for a in ages:
        written = a.written_at[:7] if a.written_at else "not committed"
        since = "" if a.code_commits_since is None else str(a.code_commits_since)
        lines.append(f"| {a.path} | {written} | {since} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stale-only", action="store_true", help="list only files the code has changed since")
    args = parser.parse_args()
    ages = results_ages(Path.cwd())
    if args.stale_only:
        ages = [a for a in ages if a.code_commits_since]
    print(markdown(ages))


if __name__ == "__main__":
    main()
