"""Learn rates per ready step and prerequisites in place (issue 14).

A random-practice log reaches deep skills mostly before their prerequisites, so the skill model's fitted
learn rate of such a skill is its rate per ready step times the log's mean readiness on it; the policy
divides it back out (`scoring.ready_learn_rates`) and multiplies by the student's own readiness, which needs
both models (P(learned) and the per-skill ability) to agree that a prerequisite is in place
(`MasteryEngine.p_in_place`)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.catalog import demo_catalog
from engine.errors import ConfigError
from engine.mastery import MasteryEngine
from engine.recommend import Recommender
from engine.recommend.learning import DifficultyProgress, fit_from_log
from engine.recommend.scoring import MIN_LOG_READINESS, ready_learn_rates


@pytest.fixture(scope="module")
def catalog():
    return demo_catalog()


@pytest.fixture(scope="module")
def engine(catalog):
    return MasteryEngine(catalog)


def test_ready_rates_by_hand() -> None:
    progress = DifficultyProgress()
    progress.skill_readiness = np.array([1.0, 0.5, 0.01, 0.2])
    rates = np.array([0.1, 0.1, 0.02, 0.5])
    # 0.1 / 1, 0.1 / 0.5, 0.02 / the floor 0.05, 0.5 / 0.2 = 2.5 capped at 1
    assert np.allclose(ready_learn_rates(rates, progress), [0.1, 0.2, 0.02 / MIN_LOG_READINESS, 1.0])
    assert np.array_equal(ready_learn_rates(rates, DifficultyProgress()), rates)  # nothing measured: as fitted
    assert np.array_equal(ready_learn_rates(rates, None), rates)


def test_the_log_readiness_of_a_first_step_is_the_fresh_prior_of_the_prerequisite(catalog, engine) -> None:
    """Every student of the log answers one item of sub_whole (whose one direct prerequisite is add_whole), then
    one of add_whole (a root). Before the first step a student is fresh: readiness = the ability-informed prior
    P(learned) of add_whole for a new student. A root's readiness is 1; a skill nobody practised reports 1."""
    sub, add = catalog.skill_index("sub_whole"), catalog.skill_index("add_whole")
    assert np.flatnonzero(catalog.graph.direct[sub]).tolist() == [add]
    sub_item = catalog.item_ids[int(np.flatnonzero(catalog.item_skill == sub)[0])]
    add_item = catalog.item_ids[int(np.flatnonzero(catalog.item_skill == add)[0])]
    n = 40
    log = pl.DataFrame({"student_id": [f"s{i}" for i in range(n) for _ in range(2)],
                        "item_id": [sub_item, add_item] * n, "correct": [i % 2 for i in range(2 * n)],
                        "seq": [0, 1] * n})
    progress = DifficultyProgress.from_dict(fit_from_log(engine, log))
    fresh = engine.p_now(engine.new_batch(["new"]))[0, add]
    assert progress.skill_readiness[sub] == pytest.approx(fresh, abs=1e-12)
    assert progress.skill_readiness[add] == 1.0
    untouched = np.ones(catalog.n_skills, dtype=bool)
    untouched[[sub, add]] = False
    assert np.all(progress.skill_readiness[untouched] == 1.0)
    again = DifficultyProgress.from_dict(progress.to_dict())
    assert np.array_equal(again.skill_readiness, progress.skill_readiness)


def test_a_less_ready_log_makes_the_skill_worth_more_per_ready_step(catalog, engine) -> None:
    """The same student and state, two measured log readinesses for sub_whole: its core practice set's gain
    component scales by their inverse ratio (1 / 0.25 over 1 / 0.5 = 2) while the rate stays below 1."""
    sub = catalog.skill_index("sub_whole")
    practice = catalog.resource_ids.index("sub_whole.practice")
    batch = engine.new_batch(["s"])
    gains = []
    for readiness in (0.5, 0.25):
        progress = DifficultyProgress()
        progress.skill_readiness = np.ones(catalog.n_skills)
        progress.skill_readiness[sub] = readiness
        assert engine.skill_model.learn_rates()[sub] / readiness < 1.0
        rec = Recommender(engine, progress=progress)
        scored, _, _ = rec._score(batch, None, None, np.random.default_rng(0))
        gains.append(scored.components["gain"][0, practice])
    assert gains[0] > 0
    assert gains[1] / gains[0] == pytest.approx(2.0, rel=1e-9)


def test_a_prerequisite_counts_as_in_place_only_when_both_models_agree(catalog, engine) -> None:
    """add_whole at P(learned) 0.97 but a per-skill ability that answers its typical item right about a third of
    the time: the readiness of sub_whole's core practice set (outside prerequisite: add_whole alone) is that
    success, not 0.97; with a strong ability it is 0.97. A state without skill abilities keeps P(learned)."""
    add = catalog.skill_index("add_whole")
    practice = catalog.resource_ids.index("sub_whole.practice")
    a, b = engine.typical_items
    readiness = {}
    for name, theta in (("weak", b[add] - 0.7 / a[add]), ("strong", b[add] + 6.0 / a[add]), ("legacy", np.nan)):
        batch = engine.new_batch(["s"])
        batch.p_learned[0, add], batch.evidence[0, add] = 0.97, 5
        batch.skill_theta[0, add], batch.skill_var[0, add] = theta, 1e-6
        success = engine.skill_success(batch)[0, add]
        assert np.allclose(engine.p_in_place(batch)[0, add], 0.97 if name == "legacy" else min(0.97, success))
        scored, _, _ = Recommender(engine)._score(batch, None, None, np.random.default_rng(0))
        readiness[name] = scored.components["readiness"][0, practice]
    weak_success = 1.0 / (1.0 + np.exp(0.7))  # the typical item at ability b - 0.7 / a, variance ~0
    assert readiness["weak"] == pytest.approx(weak_success, abs=1e-3)
    assert readiness["strong"] == pytest.approx(0.97, abs=1e-6)
    assert readiness["legacy"] == pytest.approx(0.97, abs=1e-6)


def test_bad_log_readiness_is_refused(catalog, engine) -> None:
    payload = DifficultyProgress().to_dict()
    with pytest.raises(ConfigError, match="skill_readiness"):
        DifficultyProgress.from_dict({**payload, "skill_readiness": [0.5, 1.5]})
    short = DifficultyProgress.from_dict({**payload, "skill_readiness": [0.5, 1.0]})
    with pytest.raises(ConfigError, match="2 values for the"):
        Recommender(engine, progress=short)
