"""How old each results file is against the code it measures: the commit that last wrote it and how many commits
have changed `engine/` or `models/` since.

A table in `experiments/results/` is a measurement of the code as it was when its command ran. The docs quote those
tables as today's behaviour, so a results file that many engine commits have passed is a figure to re-run before it
is quoted again. Git is the record: no results file has to carry its own commit, and a docs-only commit does not age
anything. Run from the repository: `.venv/bin/python -m experiments.results_age [--stale-only]`.

Some results files are records of a decision about particular commits (a change measured, then kept or reverted):
they measure those commits' code, not today's, and re-running them at HEAD would measure something else. Such a file
says so in its first lines with a marker, `<!-- pinned: 44940c0 d9e17a9 -->` (the commits it measures; invisible when
rendered); it is listed as pinned and never as stale.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

CODE_PATHS = ("engine", "models")
RESULTS = Path("experiments/results")
PINNED = re.compile(r"<!--\s*pinned:\s*([0-9a-f]{7,40}(?:[\s,]+[0-9a-f]{7,40})*)\s*-->")
HEAD_LINES = 5  # the marker is looked for in a file's first lines


@dataclass(frozen=True)
class ResultsAge:
    """One results file: the commit that last changed it (None: never committed), the code commits since, and the
    commits it is pinned to (empty: it measures the code as it was when written)."""

    path: str
    written_at: str | None
    code_commits_since: int | None
    pinned_to: tuple[str, ...] = ()

    @property
    def stale(self) -> bool:
        """Code changed since it was written, and it is not a record of fixed commits."""
        return bool(self.code_commits_since) and not self.pinned_to


def pinned_commits(text: str) -> tuple[str, ...]:
    """The commits a results file's pin marker names in its first HEAD_LINES lines (empty: no marker)."""
    match = PINNED.search("\n".join(text.splitlines()[:HEAD_LINES]))
    return tuple(re.split(r"[\s,]+", match.group(1).strip())) if match else ()


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def results_ages(repo: Path, results: Path = RESULTS) -> list[ResultsAge]:
    """Every `*.md` under `repo / results`, oldest against the code first (uncommitted files last)."""
    out = []
    for path in sorted((repo / results).glob("*.md")):
        relative = str(path.relative_to(repo))
        written = _git(repo, "log", "-1", "--format=%H", "--", relative) or None
        since = (int(_git(repo, "rev-list", "--count", f"{written}..HEAD", "--", *CODE_PATHS)) if written else None)
        out.append(ResultsAge(relative, written, since, pinned_commits(path.read_text())))
    return sorted(out, key=lambda a: (a.code_commits_since is None, -(a.code_commits_since or 0), a.path))


def markdown(ages: list[ResultsAge]) -> str:
    lines = ["| results file | last written at | commits to engine/ or models/ since |", "|---|---|---|"]
    for a in ages:
        written = a.written_at[:7] if a.written_at else "not committed"
        since = "" if a.code_commits_since is None else str(a.code_commits_since)
        if a.pinned_to:
            since += f" (pinned to {', '.join(a.pinned_to)}: a record of those commits)"
        lines.append(f"| {a.path} | {written} | {since} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stale-only", action="store_true",
                        help="list only files the code has changed since (not those pinned to fixed commits)")
    args = parser.parse_args()
    ages = results_ages(Path.cwd())
    if args.stale_only:
        ages = [a for a in ages if a.stale]
    print(markdown(ages))


if __name__ == "__main__":
    main()
