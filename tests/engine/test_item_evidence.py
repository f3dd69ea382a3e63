"""Item-level answer evidence (KT-IDEM) in the engine's BKT update.

Truths: the BKT posterior computed by hand with an item's own guess and slip; models.bkt's own online
update of a KT-IDEM model (unshrunk, prior_n = 0); the shrinkage formula worked by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.catalog import demo_catalog
from engine.errors import ConfigError
from engine.mastery import MasteryConfig, MasteryEngine
from engine.mastery.adapters import bkt_skills, skill_model_from_component
from engine.mastery.item_evidence import ItemEvidence, shrink

PRIOR, LEARN, GUESS, SLIP = 0.4, 0.1, 0.2, 0.1


@pytest.fixture(scope="module")
def catalog():
    return demo_catalog()


def _payload(catalog, pairs: list[tuple[str, str, float, float, int]]) -> dict:
    """A models.bkt KT-IDEM payload over two skills with the given (skill, item, guess, slip, n) pairs."""
    skills = ["add_whole", "prime"]
    return {"model": "bkt", "skills": skills, "prior": [PRIOR] * 3, "learn": [LEARN] * 3, "guess": [GUESS] * 3,
            "slip": [SLIP] * 3, "forget": [0.0] * 3,
            "item_guess_slip": {"skill": [skills.index(p[0]) for p in pairs], "item": [p[1] for p in pairs],
                                "guess": [p[2] for p in pairs], "slip": [p[3] for p in pairs], "n": [p[4] for p in pairs]}}


def _after_one(engine: MasteryEngine, item: str, y: float, skill: str) -> float:
    state = engine.update(engine.new_state("kid"), item, y)
    return float(state.p_learned[engine.catalog.skill_index(skill)])


def _by_hand(prior: float, y: float, guess: float, slip: float) -> float:
    if y == 1.0:
        post = prior * (1 - slip) / (prior * (1 - slip) + (1 - prior) * guess)
    else:
        post = prior * slip / (prior * slip + (1 - prior) * (1 - guess))
    return post + (1 - post) * LEARN


def test_a_miss_on_an_item_learned_students_often_miss_is_weak_evidence(catalog) -> None:
    payload = _payload(catalog, [("add_whole", "add_whole-03", 0.2, 0.4, 30)])
    config = MasteryConfig(ability_slope=0.0)  # P(learned) starts at the BKT prior, as by hand
    by_skill = MasteryEngine(catalog, skill_model=bkt_skills(payload, catalog), config=config)
    by_item = MasteryEngine(catalog, skill_model=bkt_skills(payload, catalog, item_prior_n=10.0), config=config)
    slip = shrink(np.array(0.4), np.array(30), np.array(SLIP), 10.0)
    assert float(slip) == pytest.approx((30 * 0.4 + 10 * 0.1) / 40)  # 0.325
    assert _after_one(by_item, "add_whole-03", 0.0, "add_whole") == pytest.approx(_by_hand(PRIOR, 0.0, GUESS, 0.325), abs=1e-12)
    assert _after_one(by_skill, "add_whole-03", 0.0, "add_whole") == pytest.approx(_by_hand(PRIOR, 0.0, GUESS, SLIP), abs=1e-12)
    assert _after_one(by_item, "add_whole-03", 0.0, "add_whole") > _after_one(by_skill, "add_whole-03", 0.0, "add_whole")
    # an item without its own estimate is weighed by its skill's parameters
    assert _after_one(by_item, "add_whole-04", 0.0, "add_whole") == pytest.approx(_by_hand(PRIOR, 0.0, GUESS, SLIP), abs=1e-12)


def test_batches_use_each_rows_own_item(catalog) -> None:
    payload = _payload(catalog, [("add_whole", "add_whole-01", 0.05, 0.3, 50), ("add_whole", "add_whole-02", 0.35, 0.02, 50)])
    engine = MasteryEngine(catalog, skill_model=bkt_skills(payload, catalog, item_prior_n=0.0),
                           config=MasteryConfig(ability_slope=0.0))
    batch = engine.new_batch(["a", "b", "c"])
    items = np.array([catalog.item_index(i) for i in ("add_whole-01", "add_whole-02", "add_whole-05")])
    engine.update_batch(batch, np.arange(3), items, np.array([1.0, 1.0, 1.0]))
    k = catalog.skill_index("add_whole")
    expected = [_by_hand(PRIOR, 1.0, 0.05, 0.3), _by_hand(PRIOR, 1.0, 0.35, 0.02), _by_hand(PRIOR, 1.0, GUESS, SLIP)]
    np.testing.assert_allclose(batch.p_learned[:, k], expected, rtol=0, atol=1e-12)


def test_unshrunk_item_evidence_equals_models_bkt_kt_idem_online_update(catalog) -> None:
    bkt = pytest.importorskip("models.bkt")
    pl = pytest.importorskip("polars")
    rng = np.random.default_rng(5)
    slips = {f"prime-0{k}": s for k, s in zip(range(1, 5), (0.05, 0.15, 0.3, 0.45))}
    rows = []
    for s in range(400):
        known = rng.random() < 0.3
        for t in range(8):
            item = f"prime-0{rng.integers(1, 5)}"
            rows.append({"student_id": f"s{s}", "item_id": item, "skill_ids": ["prime"],
                         "correct": float(rng.random() < (1 - slips[item] if known else 0.2)), "seq": len(rows)})
            known = known or rng.random() < 0.2
    fitted = bkt.BKT(item_params=True, random_state=0).fit(pl.DataFrame(rows))
    engine = MasteryEngine(catalog, skill_model=bkt_skills(fitted, catalog, item_prior_n=0.0),
                           config=MasteryConfig(ability_slope=0.0))
    state, theirs = engine.new_state("s"), fitted.initial_state()
    for item, y in (("prime-04", 0.0), ("prime-01", 1.0), ("prime-03", 0.0), ("prime-02", 1.0)):
        state = engine.update(state, item, y)
        theirs = fitted.update(theirs, {"item_id": item, "skill_ids": ["prime"], "correct": y})
        assert state.p_learned[catalog.skill_index("prime")] == pytest.approx(fitted.mastery_of(theirs, "prime"), abs=1e-9)
    table = fitted.to_dict()["item_guess_slip"]
    assert sorted(table["n"]) == sorted(np.unique([r["item_id"] for r in rows], return_counts=True)[1].tolist())


def test_the_component_keeps_prior_n_and_rejects_a_table_without_counts(catalog) -> None:
    payload = _payload(catalog, [("prime", "prime-02", 0.1, 0.3, 12), ("prime", "not-in-catalog", 0.1, 0.3, 12),
                                 ("prime", "add_whole-01", 0.1, 0.3, 12)])  # the catalog does not tag add_whole-01 as prime
    model = bkt_skills(payload, catalog, item_prior_n=4.0)
    assert model.item_evidence.n_pairs == 1
    again = skill_model_from_component(json.loads(json.dumps(model.to_component())), catalog)
    assert again.item_prior_n == 4.0 and again.version == model.version and "prior_n=4" in model.version
    assert skill_model_from_component(bkt_skills(payload, catalog).to_component(), catalog).item_evidence is None
    del payload["item_guess_slip"]["n"]
    with pytest.raises(ConfigError, match="item_guess_slip lists skill, item, guess, slip and n"):
        bkt_skills(payload, catalog, item_prior_n=4.0)
    with pytest.raises(ConfigError, match="item_prior_n must be a number"):
        skill_model_from_component({"kind": "models.bkt", "model": payload, "item_prior_n": "many"}, catalog)


def test_predictions_use_the_items_own_guess_and_slip(catalog) -> None:
    payload = _payload(catalog, [("add_whole", "add_whole-01", 0.05, 0.3, 20), ("add_whole", "add_whole-02", 0.35, 0.02, 60)])
    engine = MasteryEngine(catalog, skill_model=bkt_skills(payload, catalog, item_prior_n=20.0),
                           config=MasteryConfig(ability_slope=0.0, irt_weight=0.0))  # the skill model's prediction only
    batch = engine.new_batch(["a", "b"])
    names = ("add_whole-01", "add_whole-02", "add_whole-05")
    items = np.array([catalog.item_index(i) for i in names])
    guess = [(20 * 0.05 + 20 * GUESS) / 40, (60 * 0.35 + 20 * GUESS) / 80, GUESS]
    slip = [(20 * 0.3 + 20 * SLIP) / 40, (60 * 0.02 + 20 * SLIP) / 80, SLIP]
    by_hand = [PRIOR * (1 - s) + (1 - PRIOR) * g for g, s in zip(guess, slip)]
    np.testing.assert_allclose(engine.predict_items(batch, items=items)[0], by_hand, rtol=0, atol=1e-12)
    np.testing.assert_allclose(engine.predict_pairs(batch, items[:2]), by_hand[:2], rtol=0, atol=1e-12)
    whole = engine.predict_items(batch)[0]  # every item at once: the same figures at the same places
    np.testing.assert_allclose(whole[items], by_hand, rtol=0, atol=1e-12)


def test_rows_read_from_the_row_pointers_equal_scipys_row_slices() -> None:
    rng = np.random.default_rng(3)
    n_items, n_skills = 60, 9
    pairs = np.unique(rng.integers(0, n_items, 150) * n_skills + rng.integers(0, n_skills, 150))
    item, skill = pairs // n_skills, pairs % n_skills
    table = ItemEvidence.from_pairs(n_items, np.full(n_skills, 0.2), np.full(n_skills, 0.1), item, skill,
                                    rng.uniform(0, 0.4, item.size), rng.uniform(0, 0.4, item.size),
                                    rng.integers(1, 50, item.size), 5.0)
    for items in (np.array([7]), rng.integers(0, n_items, 40), np.array([], dtype=np.int64), np.array([3, 3, 0])):
        guess, slip = table.for_items(items)
        np.testing.assert_array_equal(guess, table.guess_delta[items].toarray())
        np.testing.assert_array_equal(slip, table.slip_delta[items].toarray())
