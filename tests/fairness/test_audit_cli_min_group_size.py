"""`equilearn audit ... --min-group-size N` is held to the policy file's own floor (privacy.min_group_size >= 1),
and `audit dif` follows the policy's show_suppressed_labels end to end.

Truth by hand: the table below has reference Rowan 40, focal Aster 30, Cedar 20, Birch 4 students. Under
the policy's minimum of 10, Birch is hidden and Cedar (the smallest shown focal group) with it; with
--min-group-size 3 every group has enough students; 0 or a negative number is no minimum at all and refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.cli import main

SIZES = {"Rowan": 40, "Aster": 30, "Cedar": 20, "Birch": 4}
NO_LABELS_POLICY = """
policy = "dif-no-labels"
version = "1"
[privacy]
min_group_size = 10
show_suppressed_labels = false
[[checks]]
name = "dif_items"
audit = "dif"
metric = "dif_c_items"
compare = "value"
max = 0
"""


@pytest.fixture(scope="module")
def wide(tmp_path_factory) -> Path:
    rng = np.random.default_rng(7)
    group = np.concatenate([[g] * n for g, n in SIZES.items()])
    ability = rng.normal(size=group.size)
    items = {f"q{j}": (rng.random(group.size) < 1 / (1 + np.exp(-(ability - 0.3 * j)))).astype(np.int64) for j in range(5)}
    path = tmp_path_factory.mktemp("dif") / "wide.csv"
    pl.DataFrame({"grp": group, **items}).write_csv(path)
    return path


def _dif(wide: Path, *extra: str) -> list[str]:
    return ["audit", "dif", str(wide), "--group-col", "grp", "--focal", "Aster,Birch,Cedar", "--reference", "Rowan", *extra]


@pytest.mark.parametrize("value", ["0", "-5"])
def test_min_group_size_below_one_is_a_usage_error_naming_the_flag(wide: Path, tmp_path: Path, capsys, value: str) -> None:
    out, report = tmp_path / "dif.json", tmp_path / "dif.md"
    assert main(_dif(wide, f"--min-group-size={value}", "--out", str(out), "--markdown", str(report))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --min-group-size must be an integer of at least 1 (as the policy's privacy.min_group_size), got {value}"]
    assert not out.exists() and not report.exists()  # refused before anything was written


def test_every_audit_command_checks_the_override(tmp_path: Path, capsys) -> None:
    """The floor is checked where the policy is made, before any data is read (the path here does not exist)."""
    missing = str(tmp_path / "absent.csv")
    for command in (["audit", "outcomes", "--data", missing, "--groups", "g"],
                    ["audit", "recommendations", "--data", missing, "--roster", missing, "--groups", "g"],
                    ["audit", "model", "--data", missing, "--groups", "g"]):
        assert main([*command, "--min-group-size", "0"]) == 2, command
        assert "--min-group-size must be an integer of at least 1" in capsys.readouterr().err, command


def test_a_valid_override_changes_who_is_hidden(wide: Path, tmp_path: Path) -> None:
    default, three = tmp_path / "default.json", tmp_path / "three.json"
    assert main(_dif(wide, "--out", str(default))) == 0
    assert main(_dif(wide, "--min-group-size", "3", "--out", str(three))) == 0
    hidden = json.loads(default.read_text())
    assert hidden["min_group_size"] == 10 and hidden["results"]["focal"] == ["Aster"]
    assert [h["group"] for h in hidden["suppressed_groups"]] == ["Birch", "Cedar"]
    assert hidden["results"]["n_students"] == 40 + 30
    shown = json.loads(three.read_text())
    assert shown["min_group_size"] == 3 and shown["suppressed_groups"] == []
    assert shown["results"]["focal"] == ["Aster", "Birch", "Cedar"] and shown["results"]["n_students"] == 94


def test_dif_command_under_a_policy_without_labels_names_no_hidden_group(wide: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(NO_LABELS_POLICY)
    out, html, md = tmp_path / "dif.json", tmp_path / "dif.html", tmp_path / "dif.md"
    assert main(_dif(wide, "--policy", str(policy), "--out", str(out), "--report", str(html), "--markdown", str(md))) == 0
    for path in (out, html, md):
        text = path.read_text()
        assert "Birch" not in text and "Cedar" not in text, path.name
    assert "Groups: grp; reference Rowan; focal Aster; 2 group(s) hidden." in md.read_text()
    payload = json.loads(out.read_text())
    assert payload["suppressed_groups"] == [{"table": "dif", "stratum": None, "attribute": "grp", "count": 2}]


@pytest.mark.parametrize("flag,key", [("--bootstrap", "statistics.n_bootstrap"), ("--permutations", "statistics.n_permutations")])
def test_resample_counts_below_one_are_refused_naming_the_flag(tmp_path: Path, capsys, flag: str, key: str) -> None:
    missing = str(tmp_path / "absent.csv")
    assert main(["audit", "model", "--data", missing, "--groups", "g", flag, "-3"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {flag} must be an integer of at least 1 (as the policy's {key}), got -3"


def test_a_policy_file_with_no_bootstrap_resamples_is_refused(tmp_path: Path, capsys) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(NO_LABELS_POLICY.replace("[privacy]", "[statistics]\nn_bootstrap = 0\n[privacy]"))
    assert main(["audit", "model", "--data", str(tmp_path / "absent.csv"), "--groups", "g", "--policy", str(policy)]) == 2
    assert "statistics.n_bootstrap and statistics.n_permutations must be at least 1" in capsys.readouterr().err
