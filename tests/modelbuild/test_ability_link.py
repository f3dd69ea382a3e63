"""`model build` measures on held-out students how far the general ability says what a student already knows of a skill.

Truth: logs simulated with the demo catalog's own BKT parameters (prior, learn, guess, slip per skill), so the engine's
model is the world's except for one thing, the link between skills at the start. Each student has a preparation z ~
N(0, 1) and starts knowing skill s with P = sigmoid(logit(prior_s) + link x z). With link 0 (every skill drawn apart:
a student's answers on one skill say nothing of the next) the build must serve slope 0, with the smallest held-out
log-loss of the skill model there; with a strong link (2.5) it must not serve less than the engine's default, let alone 0."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.catalog import load_catalog
from engine.mastery import MasteryEngine
from engine.modelbuild import build_model_set
from engine.modelbuild.ability_link import DEFAULT_SLOPE, choose_ability_slope

STUDENTS, STEPS = 300, 60


def linked_log(catalog, link: float, seed: int) -> pl.DataFrame:  # noqa: ANN001
    """A random-practice log of BKT students (the catalog's parameters) whose starting knowledge follows z by `link`."""
    params = MasteryEngine(catalog).skill_model.params
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((STUDENTS, 1))
    logit = np.log(params.prior / (1 - params.prior))[None, :] + link * z
    known = rng.random((STUDENTS, catalog.n_skills)) < 1 / (1 + np.exp(-logit))
    rows = np.arange(STUDENTS)
    items, answers = [], []
    for _ in range(STEPS):
        pick = rng.integers(0, catalog.n_items, STUDENTS)
        skill = catalog.item_skill[pick]
        p = np.where(known[rows, skill], 1 - params.slip[skill], params.guess[skill])
        answers.append((rng.random(STUDENTS) < p).astype(int))
        items.append(pick)
        known[rows, skill] |= rng.random(STUDENTS) < params.learn[skill]
    return pl.DataFrame({"student_id": np.repeat([f"s{i:03d}" for i in rows], STEPS),
                         "item_id": np.asarray(catalog.item_ids)[np.stack(items, axis=1).ravel()],
                         "correct": np.stack(answers, axis=1).ravel(), "seq": np.tile(np.arange(STEPS), STUDENTS)})


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(None)


@pytest.mark.parametrize("seed", [1, 2])
def test_skills_drawn_apart_take_slope_zero(catalog, seed: int) -> None:  # noqa: ANN001
    choice = choose_ability_slope(MasteryEngine(catalog), linked_log(catalog, 0.0, seed), None, None, False)
    assert choice.ability_slope == 0.0
    assert min(choice.logloss, key=choice.logloss.get) == 0.0
    assert choice.logloss[0.0] < choice.logloss[DEFAULT_SLOPE]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_strong_link_keeps_at_least_the_default(catalog, seed: int) -> None:  # noqa: ANN001
    choice = choose_ability_slope(MasteryEngine(catalog), linked_log(catalog, 2.5, seed), None, None, False)
    assert choice.ability_slope >= DEFAULT_SLOPE
    assert choice.logloss[0.0] > choice.logloss[DEFAULT_SLOPE]  # no shift at all predicts worse


def test_the_build_serves_what_it_measured(catalog) -> None:  # noqa: ANN001
    model_set, diagnostics = build_model_set(catalog, linked_log(catalog, 0.0, 3), seed=0)
    record = model_set.components["build"]["ability_slope"]
    assert record["ability_slope"] == 0.0 and len(record["tried"]) >= 2
    assert model_set.components["mastery"]["mastery"]["ability_slope"] == 0.0  # served as chosen
    assert any(note.startswith("starting knowledge follows the general ability with slope 0,") for note in diagnostics.notes)
