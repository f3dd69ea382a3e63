"""The `equilearn` command line: data validate, kt evaluate, demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main


def write_bad_dkt3(folder: Path) -> Path:
    path = folder / "bad.csv"
    path.write_text("3\n1,1,2\n0,1,1\n2\n5,5,5\n1,0\n")  # second record: count 2 but 3 skills
    return path


def test_validate_prints_summary(shared_data, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "validate", str(shared_data / "assistments09"), "--format", "lpp"]) == 0
    summary = json.loads(capsys.readouterr().out)
    # counts from ../shared/data/README.md
    assert summary["train_responses"] == 220_070 and summary["test_responses"] == 58_266
    assert summary["students"] == 3_114 and summary["skills"] == 123
    assert summary["problems"] == []


def test_validate_bad_file_exits_1_with_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "validate", str(write_bad_dkt3(tmp_path)), "--format", "dkt3"]) == 1
    err = capsys.readouterr().err
    assert "row 4" in err and "count" in err


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "validate", str(tmp_path / "nope"), "--format", "lpp"]) == 1
    assert "not found" in capsys.readouterr().err


def test_unknown_model_is_named_before_loading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["kt", "evaluate", "--data", str(tmp_path / "x"), "--format", "lpp", "--models", "baseline-item,dkt9000"])
    assert code == 2
    assert "dkt9000" in capsys.readouterr().err


def test_kt_evaluate_writes_the_documented_json(shared_data, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "res" / "kt.json"
    args = ["kt", "evaluate", "--data", str(shared_data / "assistments09_dkt"), "--format", "dkt3", "--models", "baseline-mean,baseline-item", "--out", str(out)]
    assert main(args) == 0
    result = json.loads(out.read_text())
    assert result["dataset"] == "assistments09_dkt"
    assert result["n_test"] + result["n_train"] == 525_534  # README: 525,534 responses
    for name in ("baseline-mean", "baseline-item"):
        assert set(result["models"][name]) >= {"auc", "rmse", "logloss", "fit_seconds"}
    # on skill-level data the item mean is the skill mean: it must beat the constant
    assert result["models"]["baseline-item"]["auc"] > 0.55


def test_demo_runs_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    assert "baseline-item" in capsys.readouterr().out


def test_a_crash_has_its_own_exit_code_apart_from_a_verdict(monkeypatch, capsys) -> None:
    """An unexpected exception exits 70 with the traceback, so a script can tell a bug from an audit's FAIL (1)
    or INSUFFICIENT_EVIDENCE / a usage error (2)."""
    import argparse

    import engine.cli as cli

    def broken(_args: argparse.Namespace) -> int:
        raise RuntimeError("boom")

    parser = argparse.ArgumentParser()
    parser.add_argument("--verbose", action="store_true")
    parser.set_defaults(handler=broken)
    monkeypatch.setattr(cli, "parser_for", lambda argv: parser)
    assert cli.main([]) == cli.INTERNAL_ERROR == 70
    err = capsys.readouterr().err
    assert "RuntimeError: boom" in err and "internal error" in err
