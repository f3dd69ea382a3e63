"""`equilearn recommend`, `equilearn mtss` and `equilearn simulate` end to end, bad input included, and a
scan of every mastery / recommender module for demographic parameters."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from pathlib import Path

import polars as pl

from engine.cli import main

DEMOGRAPHIC = {"gender", "sex", "race", "ethnicity", "group", "groups", "subgroup", "demographic", "demographics",
               "income", "ses", "disability", "ell", "frl", "language", "age", "age_band", "migration", "religion",
               "roster", "imd_band", "protected", "sensitive_features"}


def _log(tmp_path: Path) -> Path:
    """Two students: one who answers the basics right, one who answers them wrong."""
    rows = []
    for student, y in (("ana", 1.0), ("ben", 0.0)):
        for j, item in enumerate(["add_whole-01", "add_whole-04", "sub_whole-02", "mult_whole-03", "add_whole-06"]):
            rows.append({"student_id": student, "item_id": item, "correct": y, "seq": j,
                         "timestamp": f"2026-01-0{j + 1}T10:00:00Z"})
    path = tmp_path / "log.csv"
    pl.DataFrame(rows).write_csv(path)
    return path


def test_recommend_prints_explained_json_for_one_student(tmp_path: Path, capsys) -> None:
    out = tmp_path / "rec.json"
    assert main(["recommend", "--state", str(_log(tmp_path)), "--student", "ana", "-k", "3", "--seed", "1",
                 "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text()) and printed["student_id"] == "ana"
    recs = printed["recommendations"]
    assert len(recs) == 3 and all(r["reason"] and r["model_versions"] and 0 < r["propensity"] <= 1 for r in recs)


def test_recommend_takes_recommender_settings_with_blocked_items(tmp_path: Path, capsys) -> None:
    log = str(_log(tmp_path))
    blocked = [f"{s}-0{j}" for s in ("prime", "order_ops", "add_sub_dec", "number_line", "exponents", "area_rect",
                                      "add_whole", "sub_whole", "mult_whole") for j in range(1, 8)]
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"blocked_items": blocked, "blocked_resources": ["prime.video"]}))
    for seed in range(3):
        assert main(["recommend", "--state", log, "--student", "ana", "-k", "6", "--seed", str(seed), "--config", str(config)]) == 0
        recs = json.loads(capsys.readouterr().out)["recommendations"]
        assert recs and all(r["item_id"] not in blocked and r["resource_id"] != "prime.video" for r in recs)
    assert main(["recommend", "--state", log, "--student", "ana", "--config", '{"target": 0.7}']) == 2
    assert "unknown recommender setting" in capsys.readouterr().err


def test_bad_cli_input_is_a_clear_error(tmp_path: Path, capsys) -> None:
    log = str(_log(tmp_path))
    assert main(["recommend", "--state", log, "--student", "ana", "-k", "0"]) == 2
    assert "-k must be a positive integer" in capsys.readouterr().err
    assert main(["recommend", "--state", log, "--student", "ana", "--assigned", "calculus"]) == 2
    assert "unknown skill 'calculus'" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    pl.DataFrame({"student_id": ["ana"], "item_id": ["no-such-item"], "correct": [1.0]}).write_csv(bad)
    assert main(["recommend", "--state", str(bad), "--student", "ana"]) == 1
    assert "no-such-item" in capsys.readouterr().err
    cyclic = tmp_path / "cyclic.json"
    cyclic.write_text(json.dumps({
        "skills": [{"skill_id": "a", "name": "A", "prerequisites": ["b"]}, {"skill_id": "b", "name": "B", "prerequisites": ["a"]}],
        "items": [{"item_id": "i", "skill_ids": ["a"]}],
        "resources": [{"resource_id": "r", "kind": "video", "skill_ids": ["a"], "level": "core", "tier": 1, "minutes": 5.0}],
    }))
    assert main(["recommend", "--catalog", str(cyclic), "--state", log, "--student", "ana"]) == 1
    assert "cycle" in capsys.readouterr().err


def test_mtss_never_assigns_more_than_capacity(tmp_path: Path, capsys) -> None:
    assert main(["mtss", "--state", str(_log(tmp_path))]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["students"] == 2 and all(v >= 0 for v in out["remaining_capacity"].values())


def test_simulate_writes_the_documented_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "sim.json"
    assert main(["simulate", "--policies", "random,curriculum,lowest-mastery,zpdes,equilearn", "--students", "60",
                 "--steps", "4", "--seed", "3", "--seeds", "2", "--simulator", "irt", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {"simulator", "students", "steps", "seeds", "policies"} <= set(result)
    assert result["simulator"] == "irt" and result["students"] == 60 and result["steps"] == 4 and result["seeds"] == [3, 4]
    for metrics in result["policies"].values():
        assert {"gain", "gain_by_group", "gain_by_quartile", "final_gap", "advanced_offered_when_ready", "steps_to_mastery"} <= set(metrics)
        assert set(metrics["gain"]) == {"mean", "ci"} and metrics["gain"]["ci"][0] <= metrics["gain"]["mean"] <= metrics["gain"]["ci"][1]
        assert set(metrics["gain_by_quartile"]) == {"Q1", "Q2", "Q3", "Q4"}
    assert main(["simulate", "--policies", "oracle", "--students", "5", "--steps", "1"]) == 2
    assert "unknown or missing policies" in capsys.readouterr().err


def test_no_function_of_the_mastery_or_recommender_packages_takes_a_demographic_field() -> None:
    """Every public function and method of every module under engine.mastery and engine.recommend, and the
    simulator's policies (which see what a platform sees), by signature."""
    import engine.mastery
    import engine.recommend

    modules = ["engine.simulate.policies"]
    for package in (engine.mastery, engine.recommend):
        modules += [f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]
    checked = 0
    for name in modules:
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or getattr(obj, "__module__", "") != name:
                continue
            members = [obj] + ([m for _, m in inspect.getmembers(obj, inspect.isfunction)] if inspect.isclass(obj) else [])
            for fn in members:
                params = set(inspect.signature(fn).parameters)
                assert not params & DEMOGRAPHIC, (name, fn.__qualname__, params & DEMOGRAPHIC)
                checked += 1
            if inspect.isclass(obj) and hasattr(obj, "__dataclass_fields__"):
                assert not set(obj.__dataclass_fields__) & DEMOGRAPHIC, (name, obj.__name__)
    assert "engine.mastery.adapters" in modules and "engine.recommend.recommender" in modules and checked > 100
