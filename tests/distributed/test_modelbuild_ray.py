"""`model build --engine ray`: the item bank's calibration and the skill model's fit run on a local Ray
cluster (held out and again on every student) and the built set's components equal the local build's."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from engine.cli import main
from tests.modelbuild.conftest import make_world


def numeric_gaps(mine: Any, theirs: Any, path: str = "") -> dict[str, float]:
    """Largest |difference| per path of two JSON documents' numbers; AssertionError where their shapes, keys or
    other values (text, booleans, integers) differ."""
    if isinstance(theirs, dict):
        assert isinstance(mine, dict) and mine.keys() == theirs.keys(), path
        gaps: dict[str, float] = {}
        for key in theirs:
            for k, v in numeric_gaps(mine[key], theirs[key], f"{path}.{key}").items():
                gaps[k] = max(gaps.get(k, 0.0), v)
        return gaps
    if isinstance(theirs, list):
        assert isinstance(mine, list) and len(mine) == len(theirs), path
        gaps = {}
        for a, b in zip(mine, theirs):
            for k, v in numeric_gaps(a, b, f"{path}[]").items():
                gaps[k] = max(gaps.get(k, 0.0), v)
        return gaps
    if isinstance(theirs, float) and isinstance(mine, (int, float)) and not isinstance(mine, bool):
        if math.isnan(theirs):
            assert math.isnan(mine), path
            return {path: 0.0}
        return {path: abs(mine - theirs)}
    assert mine == theirs, (path, mine, theirs)
    return {}


def test_model_build_on_ray_gives_the_local_components(ray: ModuleType, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    world = make_world(tmp_path / "platform")
    args = ["model", "build", "--catalog", str(world.catalog), "--data", str(world.log), "--format", "generic"]
    assert main([*args, "--out", str(tmp_path / "local.json")]) == 0
    assert main([*args, "--engine", "ray", "--out", str(tmp_path / "ray.json")]) == 0
    capsys.readouterr()
    local, mine = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("local", "ray"))
    served = [k for k in local["components"] if k != "build"]
    assert {"mastery", "recommender", "catalog"} <= set(served) and sorted(mine["components"]) == sorted(local["components"])
    gaps = numeric_gaps({k: mine["components"][k] for k in served}, {k: local["components"][k] for k in served})
    parameters = {k: v for k, v in gaps.items() if k.startswith(".mastery.")}
    assert any(".items[].a" in k for k in parameters) and any(".skill_model." in k for k in parameters)
    assert max(parameters.values()) <= 1e-6, max(parameters.items(), key=lambda kv: kv[1])
    assert max(gaps.values()) <= 1e-6, max(gaps.items(), key=lambda kv: kv[1])

    build, theirs = mine["components"]["build"], local["components"]["build"]
    assert build["options"] == {**theirs["options"], "engine": "ray"} and theirs["options"]["engine"] == "local"
    held = numeric_gaps(build["predictor"], theirs["predictor"])  # the held-out fit ran on Ray too
    assert max(held.values()) <= 1e-9
    assert build["data"] == theirs["data"]
    # and the calibration is the simulation's, not merely the same as another run of ours
    items = {r["item_id"]: r for r in mine["components"]["mastery"]["ability_model"]["model"]["calibration"]["items"]}
    truth = world.truth.filter(~world.truth["item_id"].is_in(list(world.low_data)))
    b = np.array([items[i]["b"] for i in truth["item_id"]])
    assert np.corrcoef(b, truth["b"].to_numpy())[0, 1] > 0.9
