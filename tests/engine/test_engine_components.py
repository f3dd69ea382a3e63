"""Integration contracts: engine components to/from JSON, one student's state as JSON, blocked items and
resources in the recommender settings, JSON recommendations, and the adapters to models/irt and models/bkt
(tested only when those packages import)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine.catalog import build_catalog, demo_catalog
from engine.catalog.synthetic import synthetic_bundle
from engine.errors import ConfigError, DataError, NotFoundError
from engine.mastery import BKTParams, BKTSkillModel, GridEAP, MasteryConfig, MasteryEngine
from engine.recommend import Recommender, RecommenderConfig, TeacherConstraints


@pytest.fixture(scope="module")
def catalog():
    return demo_catalog()


def _answered(engine: MasteryEngine, answers: list[tuple[str, float, float]]):
    state = engine.new_state("kid-1")
    for item, y, t in answers:
        state = engine.update(state, item, y, t)
    return state


ANSWERS = [("add_whole-03", 1.0, 0.0), ("sub_whole-02", 0.0, 1.0), ("mult_whole-05", 1.0, 2.5), ("prime-01", 1.0, 3.0)]


def test_components_round_trip_through_json_and_predict_the_same(catalog) -> None:
    params = BKTParams.defaults(catalog.skill_ids, prior=0.2, learn=0.3, guess=0.15, slip=0.08, forget=0.01)
    engine = MasteryEngine(catalog, BKTSkillModel(params), GridEAP(prior_mean=0.3, prior_sd=1.2, drift=0.0),
                           MasteryConfig(mastery_threshold=0.9, stability_days=30.0))
    payload = json.loads(json.dumps(engine.to_components()))  # must be plain JSON
    assert set(payload) >= {"skill_model", "ability_model", "mastery"}
    again = MasteryEngine.from_components(catalog, payload)
    assert again.config == engine.config and again.versions() == engine.versions()
    a, b = _answered(engine, ANSWERS), _answered(again, ANSWERS)
    assert a.theta == b.theta and np.array_equal(a.p_learned, b.p_learned)
    # and the stored BKT parameters are the ones given (an independent truth: the constructor arguments)
    assert np.allclose(again.skill_model.params.learn, 0.3) and again.ability_model.prior_sd == 1.2


def test_missing_components_mean_defaults_and_bad_ones_are_named(catalog) -> None:
    engine = MasteryEngine.from_components(catalog, {})
    assert engine.versions() == MasteryEngine(catalog).versions()
    with pytest.raises(ConfigError, match="unknown mastery component key"):
        MasteryEngine.from_components(catalog, {"skill_modle": {}})
    with pytest.raises(ConfigError, match="unknown skill_model kind"):
        MasteryEngine.from_components(catalog, {"skill_model": {"kind": "dkt"}})
    with pytest.raises(ConfigError, match="mastery settings"):
        MasteryEngine.from_components(catalog, {"mastery": {"threshold": 0.9}})


def test_one_state_round_trips_through_a_json_row(catalog) -> None:
    engine = MasteryEngine(catalog)
    state = _answered(engine, ANSWERS)
    row = json.loads(json.dumps(engine.state_to_dict(state)))
    back = engine.state_from_dict(row)
    assert back.student_id == "kid-1" and back.n_responses == 4
    assert np.array_equal(back.p_learned, state.p_learned) and np.array_equal(back.evidence, state.evidence)
    never = catalog.skill_index("systems") if "systems" in catalog.skill_ids else catalog.n_skills - 1
    assert math.isnan(back.last_practice[never]) and row["skills"][catalog.skill_ids[never]]["last_practice"] is None
    # continuing from the stored row equals continuing in memory
    assert engine.update(back, "gcf-02", 1.0, 4.0).theta == engine.update(state, "gcf-02", 1.0, 4.0).theta
    with pytest.raises(DataError, match="malformed mastery state"):
        engine.state_from_dict({**row, "theta": None})
    with pytest.raises(NotFoundError, match="not in the catalog"):
        engine.state_from_dict({**row, "skills": {**row["skills"], "calculus": row["skills"]["add_whole"]}})


def test_blocked_items_are_never_chosen_and_blocked_resources_never_recommended(catalog) -> None:
    engine = MasteryEngine(catalog)
    blocked_items = tuple(i for i in catalog.item_ids if i.startswith("add_whole-") and not i.endswith("-08"))
    config = RecommenderConfig(blocked_items=blocked_items, blocked_resources=("add_whole.video",))
    rec = Recommender(engine, RecommenderConfig.from_dict(json.loads(json.dumps(config.to_dict()))))
    state = engine.new_state("s")
    seen_items, seen_resources = set(), set()
    for seed in range(30):
        for r in rec.recommend(state, 8, now=0.0, rng=np.random.default_rng(seed), placement_sd=None):
            seen_resources.add(r.resource_id)
            if r.item_id and r.item_id.startswith("add_whole-"):
                seen_items.add(r.item_id)
    assert seen_items == {"add_whole-08"}  # the only add_whole item left
    assert "add_whole.video" not in seen_resources and "add_whole.practice" in seen_resources
    with pytest.raises(NotFoundError, match="unknown item 'nope'"):
        Recommender(engine, RecommenderConfig(blocked_items=("nope",)))
    with pytest.raises(ConfigError, match="blocked by the recommender settings"):
        rec.recommend(state, 3, constraints=TeacherConstraints(pinned_resources=("add_whole.video",)))


def test_recommendations_are_strict_json_with_the_required_fields(catalog) -> None:
    engine = MasteryEngine(catalog)
    rec = Recommender(catalog, engine, {"target_success": 0.7})  # the (catalog, engine, config) form
    assert rec.config.target_success == 0.7
    state_row = engine.state_to_dict(_answered(engine, ANSWERS))
    out = rec.recommend_dicts(state_row, 4, now=3.0, constraints={"assigned_skills": ["gcf"]}, seed=7)
    text = json.dumps(out, allow_nan=False)  # raises on NaN / inf
    assert json.loads(text) == out and len(out) >= 1
    for r in out:
        assert {"score", "components", "reason", "model_versions", "propensity"} <= set(r)
        assert r["reason"] and set(r["model_versions"]) >= {"skill_model", "ability_model", "catalog", "recommender"}
    assert out == rec.recommend_dicts(state_row, 4, now=3.0, constraints={"assigned_skills": ["gcf"]}, seed=7)
    with pytest.raises(ConfigError, match="unknown teacher constraint"):
        rec.recommend_dicts(state_row, 2, constraints={"assigned": ["gcf"]})
    with pytest.raises(ConfigError, match="unknown recommender setting"):
        RecommenderConfig.from_dict({"target": 0.7})
    other = MasteryEngine(build_catalog(synthetic_bundle(n_skills=5, items_per_skill=2)))
    with pytest.raises(ConfigError, match="not the mastery engine's catalog"):
        Recommender(catalog, other)
    with pytest.raises(ConfigError, match="must be a MasteryEngine"):
        Recommender(catalog, "not an engine", None)


# ---- adapters (only when the model packages exist) --------------------------------------------------

def _irt_payload(catalog, a: np.ndarray, b: np.ndarray, ids: list[str]) -> dict:
    irt = pytest.importorskip("models.irt")
    model = irt.IRT("2pl")
    model.calibration_ = irt.Calibration(model="2pl", bank=irt.ItemBank.from_arrays(ids, a, b, 0.0), loglik=float("nan"),
                                         n_parameters=2 * len(ids), n_students=0, n_iter=0, converged=True, max_change=0.0)
    model.bank_ = model.calibration_.bank
    return model.to_dict()


def test_irt_adapter_uses_the_calibrated_bank_and_its_online_eap(catalog) -> None:
    irt = pytest.importorskip("models.irt")
    rng = np.random.default_rng(3)
    ids = list(catalog.item_ids[:40]) + ["item-not-in-catalog"]
    a, b = rng.uniform(0.6, 2.0, len(ids)), rng.normal(0.0, 1.0, len(ids))
    payload = _irt_payload(catalog, a, b, ids)
    engine = MasteryEngine.from_components(catalog, {"ability_model": {"kind": "models.irt", "model": payload, "drift": 0.0}})
    assert np.allclose(engine.catalog.item_a[:40], a[:40]) and np.allclose(engine.catalog.item_b[:40], b[:40])
    assert np.array_equal(engine.catalog.item_b[40:], catalog.item_b[40:])  # items the bank lacks keep theirs
    assert engine.versions()["ability_model"].startswith("models.irt/2pl:")
    # the EAP after three answers equals the models.irt online posterior (an independent implementation)
    online, model = irt.OnlineAbility(), irt.IRT.from_dict(payload)
    post = online.initial_state()
    state = engine.new_state("s")
    for j, y in ((0, 1.0), (5, 0.0), (9, 1.0)):
        post = online.update(post, a[j], b[j], 0.0, y)
        state = engine.update(state, ids[j], y)
    mean, sd = online.summary(post)
    # assumed-density filtering keeps a Gaussian between answers, so agreement is close, not exact
    assert abs(state.theta - mean) < 0.05 and abs(state.theta_sd - sd) < 0.05
    again = MasteryEngine.from_components(catalog, json.loads(json.dumps(engine.to_components())))
    assert again.versions() == engine.versions() and np.array_equal(again.catalog.item_b, engine.catalog.item_b)
    assert model.bank_.n_items == len(ids)


def test_bkt_adapter_recovers_simulated_parameters_and_matches_models_bkt_updates(catalog) -> None:
    bkt = pytest.importorskip("models.bkt")
    pl = pytest.importorskip("polars")
    from engine.mastery.adapters import bkt_skills  # noqa: PLC0415

    rng = np.random.default_rng(11)
    truth = {"add_whole": 0.35, "prime": 0.08}  # learn rates; prior 0.2, guess 0.2, slip 0.1 for both
    rows = []
    for s in range(300):
        for skill, learn in truth.items():
            known = rng.random() < 0.2
            for t in range(10):
                rows.append({"student_id": f"s{s}", "item_id": f"{skill}-0{t % 8 + 1}", "skill_ids": [skill],
                             "correct": float(rng.random() < (0.9 if known else 0.2)), "seq": len(rows)})
                known = known or rng.random() < learn
    fitted = bkt.BKT(random_state=0).fit(pl.DataFrame(rows))
    model = bkt_skills(fitted, catalog)
    for skill, learn in truth.items():
        assert model.params.learn[catalog.skill_index(skill)] == pytest.approx(learn, abs=0.07)
    pooled = fitted.to_dict()["learn"][-1]
    assert model.params.learn[catalog.skill_index("gcf")] == pytest.approx(pooled)  # unseen skill: pooled values
    # one answer moves P(learned) exactly as models.bkt's own online update does (ability prior switched off)
    engine = MasteryEngine(catalog, skill_model=model, config=MasteryConfig(ability_slope=0.0))
    state = engine.update(engine.new_state("s"), "prime-02", 1.0)
    theirs = fitted.update(fitted.initial_state(), {"item_id": "prime-02", "skill_ids": ["prime"], "correct": 1.0})
    assert state.p_learned[catalog.skill_index("prime")] == pytest.approx(fitted.mastery_of(theirs, "prime"), abs=1e-9)
    again = MasteryEngine.from_components(catalog, json.loads(json.dumps(engine.to_components())))
    assert np.array_equal(again.skill_model.params.learn, model.params.learn)


def test_bkt_adapter_maps_a_per_skill_table_of_any_naming(catalog) -> None:
    from engine.mastery.adapters import bkt_skills  # noqa: PLC0415

    payload = {"model": "bkt", "params": {"add_whole": {"p_init": 0.4, "p_transit": 0.25, "p_guess": 0.2, "p_slip": 0.1},
                                          "prime": {"prior": 0.1, "learn": 0.05, "guess": 0.3, "slip": 0.2, "forget": 0.01}}}
    model = bkt_skills(payload, catalog)
    i, j = catalog.skill_index("add_whole"), catalog.skill_index("prime")
    assert (model.params.prior[i], model.params.learn[i], model.params.forget[j]) == (0.4, 0.25, 0.01)
    k = catalog.skill_index("gcf")  # not in the model: the catalog's population prior
    assert model.params.prior[k] == pytest.approx(float(catalog.skill_params.filter(skill_id="gcf")["prior"][0]))
    engine = MasteryEngine(catalog, skill_model=model)
    again = MasteryEngine.from_components(catalog, json.loads(json.dumps(engine.to_components())))
    assert np.array_equal(again.skill_model.params.learn, model.params.learn)
    with pytest.raises(ConfigError, match="cannot find per-skill BKT parameters"):
        bkt_skills({"weights": [1, 2]}, catalog)
