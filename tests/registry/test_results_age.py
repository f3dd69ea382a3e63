"""`experiments.results_age` counts the code commits a results file has not seen, on a scratch repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

from experiments.results_age import results_ages


def _commit(repo: Path, path: str, text: str) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    subprocess.run(["git", "-C", str(repo), "add", path], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", path],
                   check=True)


def test_code_commits_after_a_results_file_age_it_and_docs_commits_do_not(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    _commit(tmp_path, "engine/a.py", "x = 1\n")
    _commit(tmp_path, "experiments/results/old.md", "# old\n")
    _commit(tmp_path, "experiments/results/fresh.md", "# fresh\n")
    _commit(tmp_path, "engine/a.py", "x = 2\n")
    _commit(tmp_path, "models/b.py", "y = 1\n")
    _commit(tmp_path, "experiments/results/fresh.md", "# fresh, re-run\n")
    _commit(tmp_path, "docs/c.md", "words\n")  # not code: ages nothing
    (tmp_path / "experiments/results/new.md").write_text("# not committed yet\n")
    ages = {a.path.rsplit("/", 1)[-1]: a for a in results_ages(tmp_path)}
    assert ages["old.md"].code_commits_since == 2
    assert ages["fresh.md"].code_commits_since == 0
    assert ages["new.md"].written_at is None and ages["new.md"].code_commits_since is None
    assert [a.path.rsplit("/", 1)[-1] for a in results_ages(tmp_path)] == ["old.md", "fresh.md", "new.md"]
