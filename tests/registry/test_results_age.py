"""`experiments.results_age` counts the code commits a results file has not seen, on a scratch repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

from experiments.results_age import markdown, results_ages


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


def test_a_results_file_pinned_to_commits_is_listed_as_such_and_never_stale(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    _commit(tmp_path, "experiments/results/record.md", "# A change measured, then reverted\n\n<!-- pinned: 44940c0 d9e17a9 -->\n")
    _commit(tmp_path, "experiments/results/late.md", "# A marker too far down counts for nothing\n\n\n\n\n\n"
                                                      "<!-- pinned: abcdef0 -->\n")
    _commit(tmp_path, "engine/a.py", "x = 1\n")
    ages = {a.path.rsplit("/", 1)[-1]: a for a in results_ages(tmp_path)}
    assert ages["record.md"].pinned_to == ("44940c0", "d9e17a9")
    assert ages["record.md"].code_commits_since == 1 and not ages["record.md"].stale
    assert ages["late.md"].pinned_to == () and ages["late.md"].stale
    assert "pinned to 44940c0, d9e17a9" in markdown(list(ages.values()))
