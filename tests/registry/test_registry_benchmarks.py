"""BENCHMARKS.md is assembled from experiments/results/*.md by one command, with a generated-file header."""

from __future__ import annotations

from experiments.make_benchmarks import COMMAND, main, render


def test_registry_benchmarks_assembled_from_results(tmp_path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "b_speed.md").write_text("# Speed\n\nCommand: `x`\n\n## Detail\n\n```sh\n# not a heading\n```\n")
    (results / "a_kt.md").write_text("no heading here\n| m | auc |\n")
    (results / "ignored.json").write_text("{}")
    text = render(results)
    assert text.startswith("# Benchmarks") and "GENERATED FILE" in text and COMMAND in text
    assert text.index("## a_kt") < text.index("## Speed")  # file-name order, headings one level down
    assert "### Detail" in text and "\n# not a heading\n" in text  # fenced code left alone
    assert "ignored" not in text
    out = tmp_path / "BENCHMARKS.md"
    assert main(["--results", str(results), "--out", str(out), "--check"]) == 1  # missing = out of date
    assert main(["--results", str(results), "--out", str(out)]) == 0 and out.read_text() == text
    assert main(["--results", str(results), "--out", str(out), "--check"]) == 0
    (results / "a_kt.md").write_text("changed\n")
    assert main(["--results", str(results), "--out", str(out), "--check"]) == 1


def test_the_repository_benchmarks_file_is_up_to_date() -> None:
    """BENCHMARKS.md matches the results files it is assembled from: a results file added or rerun without
    `.venv/bin/python -m experiments.make_benchmarks` fails here, not silently."""
    assert main(["--check"]) == 0
