"""The recommender's reading of mastery with a share of the per-skill ability's view (`ability_share`,
`MasteryEngine.p_with_ability`), checked by hand, and carried from `model build --ability-share` into the served set."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine.catalog import load_catalog
from engine.cli import main
from engine.errors import ConfigError
from engine.mastery import MasteryEngine
from engine.recommend import RecommenderConfig
from engine.recommend.scoring import skill_status
from engine.runtime.modelset import build_policy
from experiments.outside_check.world import WorldSpec
from experiments.outside_inproc import cohort_of, pipeline_inputs


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(None)


def _mass_above_line_by_hand(engine: MasteryEngine, catalog, skill: int, mean: float, var: float) -> float:
    """P(success on the skill's median item >= the mastery line) under N(mean, var), from the catalog's own items."""
    own = catalog.item_skill == skill
    a, b = float(np.median(catalog.item_a[own])), float(np.median(catalog.item_b[own]))
    line = engine.config.mastery_success
    level = b + math.log(line / (1 - line)) / a
    return 0.5 * (1 + math.erf((mean - level) / math.sqrt(2 * var)))


def test_the_blend_on_a_practised_skill_by_hand_and_nowhere_else(catalog) -> None:
    engine = MasteryEngine(catalog)
    skill = int(catalog.item_skill[0])
    items = np.flatnonzero(catalog.item_skill == skill)[:3]
    batch = engine.new_batch(["s"])
    for item, right in zip(items, (1.0, 1.0, 0.0)):
        engine.update_batch(batch, np.array([0]), np.array([item]), np.array([right]))
    p = engine.p_now(batch, None)
    blended = engine.p_with_ability(batch, p, 0.25)
    mass = _mass_above_line_by_hand(engine, catalog, skill, float(batch.skill_theta[0, skill]), float(batch.skill_var[0, skill]))
    assert blended[0, skill] == pytest.approx(0.75 * p[0, skill] + 0.25 * mass, abs=1e-12)
    others = np.arange(catalog.n_skills) != skill
    np.testing.assert_array_equal(blended[0, others], p[0, others])  # unpractised skills: the prior's ability says nothing new
    np.testing.assert_array_equal(engine.p_with_ability(batch, p, 0.0), p)  # share 0: the skill model alone


def test_a_skill_the_skill_model_calls_learned_keeps_room_while_the_ability_is_below_the_line(catalog) -> None:
    engine = MasteryEngine(catalog)
    skill = int(catalog.item_skill[0])
    batch = engine.new_batch(["s"])
    batch.p_learned[0, skill], batch.evidence[0, skill] = 0.97, 6  # a streak of right answers on easy items...
    own = catalog.item_skill == skill
    batch.skill_theta[0, skill] = float(np.median(catalog.item_b[own])) - 1.0  # ...by a student below the line
    batch.skill_var[0, skill] = 0.09
    alone = skill_status(engine, batch, None, RecommenderConfig())
    read = skill_status(engine, batch, None, RecommenderConfig(ability_share=0.25))
    mass = _mass_above_line_by_hand(engine, catalog, skill, float(batch.skill_theta[0, skill]), 0.09)
    assert mass < 0.01
    assert read.p[0, skill] == pytest.approx(0.75 * alone.p[0, skill] + 0.25 * mass, abs=1e-12)
    # the room the expected gain reads, 1 - p, grows from what the skill model leaves to about a quarter
    assert 1 - alone.p[0, skill] < 0.05 < 0.24 < 1 - read.p[0, skill]
    assert not read.mastered[0, skill] and not alone.mastered[0, skill]  # the ability does not confirm it either way


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan")])
def test_a_share_outside_zero_to_one_is_a_clear_error(value) -> None:
    with pytest.raises(ConfigError, match=r"ability_share \(model build --ability-share\) must be in \[0, 1\]"):
        RecommenderConfig(ability_share=value)


def test_the_build_serves_the_share_it_was_told_and_names_a_bad_one(catalog, tmp_path, capsys) -> None:
    world, *_ = cohort_of(WorldSpec(n_skills=6), 10, 5, world_seed=3, seed=0)
    with pipeline_inputs(world, 0, log_students=60, log_steps=20) as (catalog_dir, log):
        common = ["model", "build", "--catalog", str(catalog_dir), "--data", str(log), "--format", "generic",
                  "--predictor", "irt", "--test-fraction", "0", "--min-item-responses", "5"]
        assert main([*common, "--ability-share", "0.25", "--out", str(tmp_path / "set.json")]) == 0
        assert main([*common, "--out", str(tmp_path / "default.json")]) == 0
        assert main([*common, "--ability-share", "2", "--out", str(tmp_path / "bad.json")]) != 0
        own_catalog = load_catalog(catalog_dir)
    assert "ability_share (model build --ability-share) must be in [0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "bad.json").exists()
    told = json.loads((tmp_path / "set.json").read_text())["components"]
    default = json.loads((tmp_path / "default.json").read_text())["components"]
    assert told["build"]["options"]["ability_share"] == 0.25
    assert build_policy(own_catalog, told)[1].config.ability_share == 0.25
    assert build_policy(own_catalog, default)[1].config.ability_share == 0.0
    for part in ("skill_model", "ability_model"):  # nothing the log measures depends on the share
        assert told["mastery"][part] == default["mastery"][part]
