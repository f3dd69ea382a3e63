"""`equilearn recommend` for a student it has no state for: a placement list, with or without `--state`."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from engine.catalog import demo_catalog
from engine.cli import main

CAT = demo_catalog()


def _log(tmp_path: Path) -> Path:
    rows = [{"student_id": "ana", "item_id": item, "correct": 1.0, "seq": j}
            for j, item in enumerate(["add_whole-01", "add_whole-04", "sub_whole-02"])]
    path = tmp_path / "log.csv"
    pl.DataFrame(rows).write_csv(path)
    return path


def _placement_list(printed: dict, student: str, k: int) -> None:
    assert printed["student_id"] == student and printed["known_student"] is False and printed["placement"] is True
    recs = printed["recommendations"]
    assert 1 <= len(recs) <= k and len({r["skill_ids"][0] for r in recs}) == len(recs)
    for r in recs:
        assert r["item_id"] in CAT.item_ids and r["resource_id"] in CAT.resource_ids
        assert r["reason"].startswith("Placement question") and "don't know your level yet" in r["reason"]
        assert 0 < r["propensity"] <= 1 and r["score"] > 0


def test_recommend_without_state_prints_a_placement_list(tmp_path: Path, capsys) -> None:
    out = tmp_path / "rec.json"
    assert main(["recommend", "--student", "newbie", "-k", "4", "--seed", "3", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    _placement_list(printed, "newbie", 4)
    assert main(["recommend", "--student", "newbie", "-k", "4", "--seed", "3"]) == 0  # the seed repeats it
    assert json.loads(capsys.readouterr().out) == printed


def test_recommend_for_a_student_not_in_the_state_file_prints_a_placement_list(tmp_path: Path, capsys) -> None:
    log = str(_log(tmp_path))
    assert main(["recommend", "--state", log, "--student", "zoe", "-k", "3", "--block", "gcf.practice"]) == 0
    printed = json.loads(capsys.readouterr().out)
    _placement_list(printed, "zoe", 3)
    assert "gcf.practice" not in {r["resource_id"] for r in printed["recommendations"]}
    assert main(["recommend", "--state", log, "--student", "ana", "-k", "3"]) == 0  # a known student: from their state
    known = json.loads(capsys.readouterr().out)
    assert known["known_student"] is True and known["n_responses"] == 3
    assert main(["recommend", "--state", str(tmp_path / "missing.csv"), "--student", "zoe"]) != 0  # a bad --state still fails
    assert "state file not found" in capsys.readouterr().err
