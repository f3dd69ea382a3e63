"""A resource teaches every skill it covers: told the resource behind an answer, the engine gives the covered skills
nobody answered the skill model's learning transition (`MasteryEngine.learn_from_resources`)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from engine.catalog import load_catalog
from engine.catalog.schema import REMEDIAL
from engine.mastery import MasteryBatch, MasteryConfig, MasteryEngine
from engine.recommend.law import LearningLaw
from engine.recommend.resource_value import cover_only_uses, fit_cover_learning

LAW = LearningLaw((0.0, 0.5, 1.0), (0.3, 0.3), (0.01, 0.01), (5000, 5000))  # informative: 0.3 logits a step


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(None)


def _remedial_with_prerequisites(catalog) -> int:
    """A remedial resource covering its skill and at least two more (the prerequisites it re-teaches)."""
    wide = (catalog.resource_level == REMEDIAL) & (catalog.resource_skills.sum(axis=1) >= 3)
    return int(np.flatnonzero(wide)[0])


def _answered(engine: MasteryEngine, resource: int | None, practise_first: int | None = None) -> MasteryBatch:
    """One student who (optionally) answered an item of `practise_first`, then used `resource` and answered an item of
    its primary skill right."""
    cat = engine.catalog
    batch = engine.new_batch(["s"])
    if practise_first is not None:
        item = int(np.flatnonzero(cat.item_skill == practise_first)[0])
        engine.update_batch(batch, np.array([0]), np.array([item]), np.array([1.0]), np.array([0.0]))
    r = _remedial_with_prerequisites(cat)
    item = int(np.flatnonzero(cat.item_skill == cat.resource_skill[r])[0])
    engine.update_batch(batch, np.array([0]), np.array([item]), np.array([1.0]), np.array([1.0]),
                        None if resource is None else np.array([resource]))
    return batch


def test_covered_skills_take_the_transition_by_hand(catalog) -> None:
    """Without ready rates the transition is the skill model's own learn rate: a practised covered skill moves from its
    P(learned) p to p + (1 - p) T; an unpractised one moves its stored population prior the same way. The answered
    skill, the skills the resource does not cover, and the evidence are as without the resource."""
    engine = MasteryEngine(catalog, config=MasteryConfig(resource_learning=1.0))
    r = _remedial_with_prerequisites(catalog)
    covered = np.flatnonzero(catalog.resource_skills[r])
    others = [int(s) for s in covered if s != catalog.resource_skill[r]]
    seen = others[0]
    plain, told = _answered(engine, None, seen), _answered(engine, r, seen)
    rates = engine.skill_model.learn_rates()
    start = engine.p_now(plain)[0]  # what the transition starts from: the state after the answer
    assert told.p_learned[0, seen] == pytest.approx(start[seen] + (1 - start[seen]) * rates[seen])
    for s in others[1:]:
        prior = plain.p_learned[0, s]  # unpractised: the stored population prior
        assert told.p_learned[0, s] == pytest.approx(prior + (1 - prior) * rates[s])
    untouched = np.ones(catalog.n_skills, dtype=bool)
    untouched[others] = False
    assert np.array_equal(told.p_learned[0, untouched], plain.p_learned[0, untouched])
    assert np.array_equal(told.evidence, plain.evidence) and told.theta[0] == plain.theta[0]
    # the engine's view: up where practised; an unpractised skill may sit at a bound the graph sets (a prerequisite of a
    # skill answered right is at least 0.9 of it), which the moved prior does not pass
    assert engine.p_now(told)[0, seen] > engine.p_now(plain)[0, seen]
    assert np.all(engine.p_now(told)[0, others] >= engine.p_now(plain)[0, others])


def test_ready_rates_scale_by_readiness_and_the_share_switches_it_off(catalog) -> None:
    """With ready rates (a built set's) the transition is share x ready rate x P(direct prerequisites learned);
    `resource_learning` 0 leaves the state as answers alone make it."""
    engine = MasteryEngine(catalog, config=MasteryConfig(resource_learning=0.5))
    engine.ready_learn = np.full(catalog.n_skills, 0.3)
    r = _remedial_with_prerequisites(catalog)
    seen = [int(s) for s in np.flatnonzero(catalog.resource_skills[r]) if s != catalog.resource_skill[r]][0]
    plain, told = _answered(engine, None, seen), _answered(engine, r, seen)
    start = engine.p_now(plain)
    ready = engine.prerequisites_learned(start)[0, seen]
    assert told.p_learned[0, seen] == pytest.approx(start[0, seen] + (1 - start[0, seen]) * 0.5 * 0.3 * ready)
    off = MasteryEngine(catalog)  # the default: not measured, only answers move P(learned)
    assert np.array_equal(_answered(off, r, seen).p_learned, _answered(off, None, seen).p_learned)
    state = off.new_state("t")
    item = catalog.item_ids[int(np.flatnonzero(catalog.item_skill == catalog.resource_skill[r])[0])]
    by_id = engine.update(engine.new_state("t"), item, 1.0, 1.0, resource_id=catalog.resource_ids[r])
    assert by_id.p_learned[seen] > engine.update(state, item, 1.0, 1.0).p_learned[seen]


def test_a_cover_only_use_is_counted_on_later_answers_of_the_skill_it_covered() -> None:
    """Resource 1 covers skills 0 and 1. Step 0: resource 1, answer on skill 0 (so skill 1 was covered only); step 1:
    answer on skill 1 (one cover-only use before it); step 2: answer on skill 0 (none: its use was answered)."""
    uses = cover_only_uses(np.zeros(3, dtype=int), np.array([0, 1, 0]), np.arange(3), np.array([1, -1, -1]),
                           np.array([[True, False], [True, True]]))
    assert uses.tolist() == [0.0, 1.0, 0.0]


def test_the_share_a_cover_only_use_teaches_is_recovered() -> None:
    """Answers drawn with a known logit learning per cover-only use (0.12 against the law's average step 0.3): the
    interval covers it and the share is delta / 0.3."""
    rng = np.random.default_rng(5)
    n_students, n_answers = 2000, 30
    student = np.repeat(np.arange(n_students), n_answers)
    cover = rng.poisson(np.tile(np.arange(n_answers), n_students) * 0.05).astype(float)
    offset = rng.normal(0.0, 0.5, student.size)
    ability = rng.normal(0.0, 0.8, n_students)
    correct = (rng.random(student.size) < expit(offset + ability[student] + 0.12 * cover)).astype(float)
    fitted = fit_cover_learning(LAW, offset, student, correct, cover)
    assert abs(fitted.delta - 0.12) <= 1.96 * fitted.se and fitted.se < 0.04
    assert fitted.share == pytest.approx(fitted.delta / 0.3)
    flat = LearningLaw((0.0, 0.5, 1.0), (0.0, 0.0), (0.01, 0.01), (10, 10))
    assert fit_cover_learning(flat, offset, student, correct, cover).share == 0.0


def test_a_skill_a_resource_taught_is_not_flagged_until_an_answer_confirms_it(catalog) -> None:
    """The covered skills a resource moved are marked `taught`; the recommender's flag (`flagged`) leaves them out even where
    `mastered` holds, the recommender's `mastered` does not; the next answer on the skill clears the mark; the mark
    survives the state's JSON, and a state written before it loads unmarked."""
    engine = MasteryEngine(catalog, config=MasteryConfig(resource_learning=1.0))
    r = _remedial_with_prerequisites(catalog)
    others = [int(s) for s in np.flatnonzero(catalog.resource_skills[r]) if s != catalog.resource_skill[r]]
    told = _answered(engine, r, others[0])
    marked = np.zeros(catalog.n_skills, dtype=bool)
    marked[others] = True
    assert np.array_equal(told.taught[0], marked)
    sure = np.ones_like(told.p_learned)  # P(learned) 1 everywhere, and the flag on P alone: `mastered` holds everywhere
    by_p = MasteryEngine(catalog, config=MasteryConfig(resource_learning=1.0, ability_confirms=-1.0))
    assert by_p.mastered(sure, told).all()
    assert np.array_equal(by_p.flagged(sure, told)[0], ~marked)
    item = int(np.flatnonzero(catalog.item_skill == others[1])[0])
    engine.update_batch(told, np.array([0]), np.array([item]), np.array([1.0]), np.array([2.0]))
    assert not told.taught[0, others[1]] and told.taught[0, others[0]]
    payload = told.state(0).to_dict(catalog.skill_ids)
    again = MasteryBatch.stack([engine.state_from_dict(payload)])
    assert np.array_equal(again.taught, told.taught)
    for skill in payload["skills"].values():
        skill.pop("taught", None)
    assert not engine.state_from_dict(payload).taught.any()
    assert not _answered(MasteryEngine(catalog), r, others[0]).taught.any()  # share 0: nothing moved, nothing marked


def test_the_reported_claim_rests_on_the_answers_alone(catalog) -> None:
    """`p_answered` is exactly the P(learned) of a twin engine told the same answers and no resource, and the reported
    flag (`claimed`) is the twin's, though the served P took what the resources taught; it survives the state's JSON,
    and a state written before it loads with the served P (nothing told apart)."""
    engine = MasteryEngine(catalog, config=MasteryConfig(resource_learning=0.8))
    twin = MasteryEngine(catalog, config=MasteryConfig(resource_learning=0.8))
    rng = np.random.default_rng(3)
    n = 40
    told, blind = engine.new_batch([f"s{i}" for i in range(n)]), twin.new_batch([f"s{i}" for i in range(n)])
    rows = np.arange(n)
    for t in range(25):
        resources = rng.integers(0, catalog.n_resources, n)
        items = np.array([rng.choice(np.flatnonzero(catalog.item_skill == catalog.resource_skill[r])) for r in resources])
        correct = (rng.random(n) < 0.75).astype(float)
        engine.update_batch(told, rows, items, correct, np.full(n, float(t)), resources)
        twin.update_batch(blind, rows, items, correct, np.full(n, float(t)))
    assert told.taught.any() and (told.p_learned > told.p_answered + 1e-9).any()  # the resources moved the served P
    np.testing.assert_allclose(told.p_answered, blind.p_learned, atol=1e-12)
    np.testing.assert_array_equal(blind.p_answered, blind.p_learned)  # told no resource: one P
    assert np.array_equal(engine.claimed(told, 25.0), twin.claimed(blind, 25.0))
    assert engine.claimed(told, 25.0).any()  # the check has flags to compare
    by_p = MasteryEngine(catalog, config=MasteryConfig(resource_learning=0.8, ability_confirms=-1.0))  # flag on P alone
    hand = told.rows(np.array([0]))
    every = np.arange(catalog.n_skills)
    hand.evidence[:], hand.p_learned[:] = 1, 1.0  # practised everywhere, the served P sure everywhere
    hand.p_answered[:] = np.where(every % 2 == 0, 1.0, 0.5)
    hand.taught[:] = every % 3 == 0
    assert np.array_equal(by_p.claimed(hand, None)[0], every % 2 == 0)  # the answers' P, taught or not
    assert np.array_equal(by_p.flagged(hand.p_learned, hand)[0], every % 3 != 0)  # the recommender's: the served P, untaught
    payload = told.state(0).to_dict(catalog.skill_ids)
    np.testing.assert_allclose(engine.state_from_dict(payload).p_answered, told.p_answered[0])
    for skill in payload["skills"].values():
        skill.pop("p_answered", None)
    old = engine.state_from_dict(payload)
    np.testing.assert_array_equal(old.p_answered, old.p_learned)


def test_the_recommender_does_not_move_on_from_a_skill_only_a_resource_lifted(catalog) -> None:
    """With P(learned) at 1 everywhere (the flag on P alone), every skill is done for the recommender except the ones the
    resource marked taught: those stay unmastered in its skill status (and on the fringe where their prerequisites are
    in place) until an answer clears the mark."""
    from engine.recommend import RecommenderConfig
    from engine.recommend.scoring import skill_status
    engine = MasteryEngine(catalog, config=MasteryConfig(resource_learning=1.0, ability_confirms=-1.0))
    r = _remedial_with_prerequisites(catalog)
    others = [int(s) for s in np.flatnonzero(catalog.resource_skills[r]) if s != catalog.resource_skill[r]]
    told = _answered(engine, r, others[0])
    told.p_learned[:] = 1.0
    status = skill_status(engine, told, None, RecommenderConfig())
    assert np.array_equal(~status.mastered[0], told.taught[0]) and told.taught[0, others].all()
    assert np.array_equal(status.fringe[0], told.taught[0])  # every prerequisite is in place at P = 1
    item = int(np.flatnonzero(catalog.item_skill == others[1])[0])
    engine.update_batch(told, np.array([0]), np.array([item]), np.array([1.0]), np.array([2.0]))
    told.p_learned[:] = 1.0
    assert skill_status(engine, told, None, RecommenderConfig()).mastered[0, others[1]]
