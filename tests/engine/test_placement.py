"""Placement (cold start): the most informative question at the ability estimate among plausible entry skills,
blocked items and resources never shown, exact randomesque propensities, and a simulation in which ten answers
to what the recommender serves bring the ability's posterior SD to 0.5 or below."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest

from engine.catalog import demo_catalog, load_catalog
from engine.mastery import MasteryBatch, MasteryEngine
from engine.recommend import Recommender, RecommenderConfig, TeacherConstraints
from engine.recommend.constraints import resolve
from engine.recommend.learning import DifficultyProgress
from engine.recommend.placement import PLACEMENT_SD, choose_placement, entry_resources, needs_placement
from engine.recommend.scoring import ResourceGeometry, score_resources

# A tiny catalog: root "r", "m" builds on r (a new student has r at 0.6: plausible), "deep" builds on m
# (m at 0.05: not plausible, although deep has by far the most informative item).
SKILLS = [{"skill_id": "r", "name": "Root skill", "prerequisites": []},
          {"skill_id": "m", "name": "Middle skill", "prerequisites": ["r"]},
          {"skill_id": "deep", "name": "Deep skill", "prerequisites": ["m"]}]
ITEMS = [{"item_id": "r1", "skill_ids": ["r"], "a": 1.0, "b": 0.0, "c": 0.0},
         {"item_id": "r2", "skill_ids": ["r"], "a": 1.6, "b": 1.5, "c": 0.0},
         {"item_id": "r3", "skill_ids": ["r"], "a": 1.1, "b": 0.1, "c": 0.0},
         {"item_id": "m1", "skill_ids": ["m"], "a": 1.4, "b": 0.2, "c": 0.25},
         {"item_id": "deep1", "skill_ids": ["deep"], "a": 2.5, "b": 0.0, "c": 0.0}]
RESOURCES = [{"resource_id": f"{s}.{kind}", "kind": kind, "skill_ids": [s], "level": level, "tier": 1, "minutes": 10.0}
             for s in ("r", "m", "deep")
             for kind, level in (("video", "core"), ("practice_set", "core"), ("worked_example", "remedial"))]
PARAMS = [{"skill_id": s, "prior": p, "learn": 0.2, "guess": 0.2, "slip": 0.1}
          for s, p in (("r", 0.6), ("m", 0.05), ("deep", 0.05))]


def fisher_3pl(theta: float, a: float, b: float, c: float) -> float:
    """Lord's (1980) item information of the 3PL, written out by hand: a^2 (Q / P) ((P - c) / (1 - c))^2."""
    p = c + (1 - c) / (1 + math.exp(-a * (theta - b)))
    return a * a * ((1 - p) / p) * ((p - c) / (1 - c)) ** 2


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> MasteryEngine:
    path = tmp_path_factory.mktemp("tiny") / "tiny.json"
    path.write_text(json.dumps({"name": "tiny", "version": "1", "skills": SKILLS, "items": ITEMS,
                                "resources": RESOURCES, "skill_params": PARAMS}))
    return MasteryEngine(load_catalog(path))


@pytest.fixture(scope="module")
def demo() -> MasteryEngine:
    return MasteryEngine(demo_catalog())


def test_hand_computed_information_at_theta_zero(tiny: MasteryEngine) -> None:
    # by hand: r1 0.2500, r2 0.1953, r3 0.3016, m1 0.2708 (c = 0.25: without the guessing correction a^2 P Q would
    # be 0.4796 and win), deep1 1.5625 but deep is not an entry skill. Slot 1: r3; slot 2 (another skill): m1.
    by_hand = {i["item_id"]: fisher_3pl(0.0, i["a"], i["b"], i["c"]) for i in ITEMS}
    assert by_hand["r3"] == pytest.approx(0.3016, abs=1e-4) and by_hand["m1"] == pytest.approx(0.2708, abs=1e-4)
    rec = Recommender(tiny, RecommenderConfig(randomesque=1))
    recs = rec.recommend(tiny.new_state("new"), 3, rng=np.random.default_rng(0))
    assert [r.item_id for r in recs] == ["r3", "m1"]  # deep is never offered: P(m) = 0.05
    for r in recs:
        assert r.score == pytest.approx(by_hand[r.item_id], rel=1e-6)
        assert r.score == pytest.approx(sum(r.weights[c] * v for c, v in r.components.items()))
        assert r.propensity == 1.0 and r.item_propensity == 1.0  # a pool of one
        assert r.reason.startswith("Placement question") and "don't know your level yet" in r.reason
    assert recs[1].components["readiness"] == pytest.approx(0.6)  # P(r) of a new student


def _measured(values: dict[str, float] | None = None) -> DifficultyProgress:
    """Policy statistics of a set built from a log that recorded the resource behind each answer; `values`: measured
    resource values (the rest average)."""
    progress = DifficultyProgress()
    progress.resource_value = {r: [v, 100, 0.0, 0.1, 0.0] for r, v in (values or {}).items()}
    return progress


def test_a_question_comes_with_what_teaches_most(tiny: MasteryEngine) -> None:
    """On the catalog's defaults as on a set whose log measured its resources (all average here): the resource beside
    each question is the one of its skill with the largest expected gain (scoring: core work x readiness, remedial 0.6
    whatever the readiness). r is a root (readiness 1: core; the video and the practice set tie, so the practice set);
    m's readiness is the lower of P(r) 0.6 and r's typical item's success at theta 0 (median a 1.1, b 0.1; variance
    theta_sd^2 + skill_spread^2 = 2): sigmoid(-0.11 / sqrt(1 + pi 1.21 2 / 8)) = 0.480 < 0.6, so the remedial worked
    example. The questions and their scores do not depend on the pairing."""
    for progress in (None, _measured()):
        rec = Recommender(tiny, RecommenderConfig(randomesque=1), progress=progress)
        recs = rec.recommend(tiny.new_state("new"), 3, rng=np.random.default_rng(0))
        assert [r.item_id for r in recs] == ["r3", "m1"]
        assert [r.resource_id for r in recs] == ["r.practice_set", "m.worked_example"]
        assert all(r.components["gain"] > 0 and "should teach you most" in r.reason and r.placement for r in recs)
        assert recs[1].score == pytest.approx(fisher_3pl(0.0, 1.4, 0.2, 0.25), rel=1e-6)


def test_a_question_comes_with_core_work_once_its_prerequisites_are_in_place(tiny: MasteryEngine) -> None:
    """The question on m after six right answers on r (P(r) and r's success both well above 0.6, the remedial
    efficacy): m's practice set; blocked there, m's video (the other core resource, which teaches as much); with both
    blocked, the worked example; and where the log measured m's video at 1.5 times its level's average step, the video."""
    state = tiny.new_state("s")
    for t, item in enumerate(["r1", "r3", "r2"] * 2):
        state = tiny.update(state, item, 1.0, float(t))
    batch = MasteryBatch.stack([state])
    batch.theta_sd[:] = 1.0  # still in placement, whatever these answers told
    in_place = tiny.p_in_place(batch)[0, tiny.catalog.skill_index("r")]
    assert in_place > 0.6
    assigned = TeacherConstraints(assigned_skills=("m",))
    for blocked, values, expected in (((), None, "m.practice_set"), (("m.practice_set",), None, "m.video"),
                                      (("m.practice_set", "m.video"), None, "m.worked_example"),
                                      ((), {"m.video": 1.5}, "m.video")):
        rec = Recommender(tiny, RecommenderConfig(randomesque=1, blocked_resources=blocked), progress=_measured(values))
        recs = rec.recommend(batch.state(0), 2, constraints=assigned, rng=np.random.default_rng(0))
        assert [r.resource_id for r in recs if r.skill_ids == ("m",)] == [expected]


def test_a_question_on_a_skill_the_student_may_go_beyond_comes_without_remedial_work(tiny: MasteryEngine) -> None:
    """As in the policy's lists: a log that measured remedial work at three times a core use pairs m's question with the
    worked example while P(m) is 0.7, but not once it is 0.85 (the advanced threshold 0.8): then the practice set."""
    progress = _measured()
    progress.remedial_contrast = {"ratio": 3.0, "difference": 0.5, "se": 0.05, "believed": 0.99}
    rec = Recommender(tiny, RecommenderConfig(randomesque=1), progress=progress)
    m = tiny.catalog.skill_index("m")
    for p_m, expected in ((0.7, "m.worked_example"), (0.85, "m.practice_set")):
        state = tiny.new_state("s")
        for t, item in enumerate(["r1", "r3", "r2"] * 2):
            state = tiny.update(state, item, 1.0, float(t))
        state.p_learned[m], state.evidence[m], state.last_practice[m] = p_m, 4, 5.0
        batch = MasteryBatch.stack([state])
        batch.theta_sd[:] = 1.0  # still in placement
        recs = rec.recommend(batch.state(0), 2, constraints=TeacherConstraints(assigned_skills=("m",)),
                             rng=np.random.default_rng(0))
        assert [(r.resource_id, r.placement) for r in recs] == [(expected, True)]


def test_hand_computed_information_follows_the_estimate(tiny: MasteryEngine) -> None:
    """At theta = 1.2 the hard, discriminating r2 is the most informative (by hand 0.604) and is chosen."""
    batch = tiny.new_batch(["s"])
    batch.theta[:] = 1.2
    by_hand = {i["item_id"]: fisher_3pl(1.2, i["a"], i["b"], i["c"]) for i in ITEMS if i["item_id"] != "deep1"}
    best = max(by_hand, key=by_hand.get)
    assert best == "r2" and by_hand["r2"] == pytest.approx(0.604, abs=1e-3)
    pl = choose_placement(tiny, batch, 1, rng=np.random.default_rng(0), randomesque=1)
    assert tiny.catalog.item_ids[pl.items[0, 0]] == best
    assert pl.information[0, 0] == pytest.approx(by_hand[best], rel=1e-6)


def test_blocked_items_and_resources_are_never_chosen(demo: MasteryEngine) -> None:
    cat = demo.catalog
    batch = demo.new_batch([f"s{i}" for i in range(300)])
    batch.theta[:] = np.random.default_rng(1).normal(size=300)
    info = demo.ability_model.information(0.0, cat.item_a, cat.item_b, cat.item_c)
    blocked_items = tuple(cat.item_ids[i] for i in np.argsort(-info)[:40])  # the 40 most informative at theta 0
    blocked_resources = ("gcf.practice", "square_root.practice", "area_rect.practice", "area_rect.video")
    rec = Recommender(demo, RecommenderConfig(blocked_items=blocked_items, blocked_resources=("number_line.practice",)))
    teacher = TeacherConstraints(blocked_resources=blocked_resources)
    seen_items, seen_resources = set(), set()
    for seed in range(5):
        choice = rec.choose_batch(batch, 5, constraints=teacher, rng=np.random.default_rng(seed))
        assert (choice.items[:, 0] >= 0).all() and ((choice.items >= 0) == (choice.resources >= 0)).all()
        seen_items |= {cat.item_ids[i] for i in choice.items.ravel() if i >= 0}
        seen_resources |= {cat.resource_ids[r] for r in choice.resources.ravel() if r >= 0}
        question = choice.resources >= 0
        assert (cat.resource_skill[choice.resources[question]] == cat.item_skill[choice.items[question]]).all()
    assert not seen_items & set(blocked_items)
    assert not seen_resources & (set(blocked_resources) | {"number_line.practice"})
    assert {r for r in seen_resources if r.startswith(("gcf.", "square_root."))}  # a blocked practice set: another of its skill
    one = rec.recommend(demo.new_state("x"), 5, constraints=teacher, rng=np.random.default_rng(0))
    assert len(one) == 5 and not {r.item_id for r in one} & set(blocked_items)


def test_teacher_pins_come_first_and_assignments_limit_the_skills(demo: MasteryEngine) -> None:
    rec = Recommender(demo)
    pins = TeacherConstraints(pinned_resources=("systems.reading",))
    recs = rec.recommend(demo.new_state("x"), 4, constraints=pins, rng=np.random.default_rng(0))
    assert recs[0].resource_id == "systems.reading" and recs[0].propensity == 1.0 and recs[0].item_id.startswith("systems-")
    assert recs[0].reason.startswith("Pinned by your teacher. Placement question")
    assert len({r.skill_ids[0] for r in recs}) == 4  # one skill per slot
    assigned = TeacherConstraints(assigned_skills=("eq_two_steps",))
    cat = demo.catalog
    scope = {cat.skill_ids[s] for s in np.flatnonzero(cat.graph.ancestors[cat.skill_index("eq_two_steps")])}
    for seed in range(5):
        recs = rec.recommend(demo.new_state("x"), 3, constraints=assigned, rng=np.random.default_rng(seed))
        assert recs and all(r.skill_ids[0] in scope | {"eq_two_steps"} for r in recs)


def test_reported_propensity_matches_the_empirical_choice_frequency(demo: MasteryEngine) -> None:
    """4,000 new students in one batch: each slot-1 resource's frequency agrees with its reported propensity
    (within 4 binomial SEs), and so does each item's frequency with propensity x item propensity."""
    n = 4000
    batch = demo.new_batch([f"s{i}" for i in range(n)])
    resolved = resolve(None, demo.catalog)
    pl = choose_placement(demo, batch, 1, rng=np.random.default_rng(3), constraints=resolved, randomesque=5)
    res, items = Counter(pl.resources[:, 0].tolist()), Counter(pl.items[:, 0].tolist())
    assert len(items) == 5  # randomesque: five different first questions for identical states
    for r, count in res.items():
        p = float(pl.propensity[pl.resources[:, 0] == r, 0][0])
        assert abs(count / n - p) < 4 * math.sqrt(p * (1 - p) / n) + 1e-9
    for i, count in items.items():
        row = pl.items[:, 0] == i
        p = float(pl.propensity[row, 0][0] * pl.item_propensity[row, 0][0])
        assert p == pytest.approx(1 / 5) and abs(count / n - p) < 4 * math.sqrt(p * (1 - p) / n)


def test_who_is_in_placement(demo: MasteryEngine) -> None:
    cat = demo.catalog
    state = demo.new_state("s")
    batch = MasteryBatch.stack([state])
    assert needs_placement(batch).all() and not needs_placement(batch, None).any()
    after = demo.update(state, cat.item_ids[0], 1.0)
    assert after.theta_sd > PLACEMENT_SD and needs_placement(MasteryBatch.stack([after])).all()
    sure = MasteryBatch.stack([after])
    sure.theta_sd[:] = 0.4
    assert not needs_placement(sure).any()
    stuck = MasteryBatch.stack([after])
    stuck.n_responses[:] = 20  # an ability that stays uncertain does not hold a student in placement for ever
    assert not needs_placement(stuck).any()
    # one student of a batch in placement, one not: each gets what it would get alone
    rec = Recommender(demo)
    mixed = MasteryBatch.stack([state, sure.state(0)])
    both = rec.choose_batch(mixed, 3, rng=np.random.default_rng(5), propensity_draws=4)
    alone = rec.choose_batch(MasteryBatch.stack([state]), 3, rng=np.random.default_rng(5))
    assert both.items[0].tolist() == alone.items[0].tolist()
    assert np.isfinite(both.selection.propensity).all() and (both.items[1] >= 0).all()
    single = rec.recommend(state, 3, rng=np.random.default_rng(5))
    assert [r.item_id for r in single] == [cat.item_ids[i] for i in alone.items[0]]


def test_ten_answers_place_a_new_student(demo: MasteryEngine) -> None:
    """200 new students, true ability ~ N(0, 1), answer with the catalog's own 3PL probabilities the item of
    the recommender's first recommendation, ten times. Afterwards the posterior SD is <= 0.5 on average and
    for 90% of them, and the estimate tracks the true ability; no question repeats during placement."""
    cat = demo.catalog
    rng = np.random.default_rng(2024)
    n = 200
    true = rng.normal(size=n)
    batch = demo.new_batch([f"s{i}" for i in range(n)])
    rec = Recommender(demo)
    rows = np.arange(n)
    asked = np.zeros((n, cat.n_items), dtype=np.int64)
    for _ in range(10):
        placing = needs_placement(batch)
        item = rec.choose_batch(batch, 3, rng=rng).items[:, 0]
        assert (item >= 0).all()
        asked[rows[placing], item[placing]] += 1
        z = cat.item_a[item] * (true - cat.item_b[item])
        p = cat.item_c[item] + (1 - cat.item_c[item]) / (1 + np.exp(-z))
        demo.update_batch(batch, rows, item, (rng.random(n) < p).astype(float))
    sd = batch.theta_sd
    assert sd.mean() <= 0.5 and np.quantile(sd, 0.9) <= 0.5, (sd.mean(), np.quantile(sd, 0.9))
    assert np.corrcoef(batch.theta, true)[0, 1] > 0.7
    assert asked.max() == 1


def _in_placement_with_practice(demo: MasteryEngine, n: int) -> tuple[MasteryBatch, list[int]]:
    """n identical students still in placement who answered two questions of each root skill right (the demo
    catalog has one root), so that the skills built on it are probably ready (the recommender's ready-skill weights
    are positive there); and the roots."""
    cat = demo.catalog
    state = demo.new_state("s")
    roots = [s for s in range(cat.n_skills) if not cat.graph.direct[s].any()]
    for t, skill in enumerate(roots * 2):
        state = demo.update(state, cat.item_ids[int(cat.items_by_skill[skill, t // 2])], 1.0, float(t))
    assert needs_placement(MasteryBatch.stack([state])).all()  # still in placement after these answers
    return MasteryBatch.stack([state] * n), roots


def test_a_placement_list_gives_its_last_place_to_a_ready_skill_with_an_exact_propensity(demo: MasteryEngine) -> None:
    """4,000 identical students in placement, lists of 5: the first four places are placement questions; the last
    goes to a resource the policy's own ready-skill weights (`Scored.ready_weight`, recomputed here) make positive,
    on a skill the answers unlocked (a direct dependent of a practised root) not in the list yet, those whose turn it
    is first (skill index - answers = 0 mod 5) if any, with propensity weight / (weights available in that row), and each
    resource's frequency agrees with the sum of its per-row probabilities (within 4 SEs)."""
    cat = demo.catalog
    n = 4000
    batch, roots = _in_placement_with_practice(demo, n)
    rec = Recommender(demo)
    weight = score_resources(demo, batch, 3.0, rec.config, rec.geometry, resolve(None, cat), np.random.default_rng(0),
                             rec.progress).ready_weight
    unlocked = cat.graph.direct[:, roots].any(axis=1)  # (S,) skills built directly on a practised root
    assert (weight[0] > 0).sum() > (weight[0, unlocked[cat.resource_skill]] > 0).sum()  # the roots' others are ready too
    weight = np.where(unlocked[cat.resource_skill], weight, 0.0)
    assert (weight[0] > 0).sum() >= 3 and np.allclose(weight, weight[0])  # identical students, several ready resources
    choice = rec.choose_batch(batch, 5, now=3.0, rng=np.random.default_rng(11))
    last = choice.resources[:, 4]
    assert (last >= 0).all() and choice.selection.kept_for_ready_skill[:, 4].all()
    assert not choice.selection.kept_for_ready_skill[:, :4].any()
    used = cat.resource_skill[choice.resources[:, :4]]  # (N, 4) the placement questions' skills
    avail = (weight > 0) & ~(cat.resource_skill[None, None, :] == used[:, :, None]).any(axis=1)
    due = (cat.resource_skill - batch.n_responses[0]) % rec.config.ready_rotation == 0  # the skills whose turn it is
    avail = np.where((avail & due).any(axis=1, keepdims=True), avail & due, avail)
    prob = np.where(avail, weight, 0.0) / np.where(avail, weight, 0.0).sum(axis=1, keepdims=True)
    rows = np.arange(n)
    assert np.allclose(choice.selection.propensity[:, 4], prob[rows, last])
    assert (prob[rows, last] > 0).all()  # never a resource outside the ready skills, nor a skill already listed
    expected, variance = prob.sum(axis=0), (prob * (1 - prob)).sum(axis=0)
    counts = np.bincount(last, minlength=cat.n_resources)
    assert (np.abs(counts - expected) <= 4 * np.sqrt(variance) + 1e-9).all()
    assert (cat.item_skill[choice.items[:, 4]] == cat.resource_skill[last]).all()  # the item practises that skill


def test_the_ready_place_is_explained_and_short_lists_keep_their_questions(demo: MasteryEngine) -> None:
    batch, roots = _in_placement_with_practice(demo, 1)
    state, cat = batch.state(0), demo.catalog
    unlocked = {cat.skill_ids[s] for s in np.flatnonzero(cat.graph.direct[:, roots].any(axis=1))}
    rec = Recommender(demo)
    recs = rec.recommend(state, 4, now=3.0, rng=np.random.default_rng(2))
    assert [r.placement for r in recs] == [True, True, True, False]
    assert all(r.reason.startswith("Placement question") for r in recs[:3]) and recs[3].item_p is not None
    assert recs[3].skill_ids[0] in unlocked and "Placement question" not in recs[3].reason  # the policy's own reason
    assert recs[3].reason.startswith(("You are ready for", "You may be ready for", "Step-by-step support"))
    assert all(r.item_p is None for r in recs[:3])
    for k in (1, 2):  # no place to spare: placement questions only
        assert all(r.placement for r in rec.recommend(state, k, now=3.0, rng=np.random.default_rng(2)))
    pins = TeacherConstraints(pinned_resources=("systems.reading", "gcf.video", "area_rect.video"))
    pinned = rec.recommend(state, 3, now=3.0, constraints=pins, rng=np.random.default_rng(2))
    assert [r.resource_id for r in pinned] == list(pins.pinned_resources) and all(r.placement for r in pinned)
    none = Recommender(demo, RecommenderConfig(ready_skill_slots=0))
    assert all(r.placement for r in none.recommend(state, 5, now=3.0, rng=np.random.default_rng(2)))


def test_questions_from_the_policys_own_scoring_equal_those_computed_from_scratch(demo: MasteryEngine) -> None:
    """The recommender passes its scoring's P(learned), item information and fallback resources to
    `choose_placement` (one computation per request); the questions, their predicted success and propensities are
    those `choose_placement` computes from the batch alone, row for row (students after 0 to 12 random answers; with
    part of the ability blended into the policy's P(learned), which the questions do not use)."""
    cat, rng = demo.catalog, np.random.default_rng(11)
    states = []
    for i in range(60):
        state = demo.new_state(f"s{i}")
        for j, item in enumerate(rng.choice(cat.n_items, size=i % 13, replace=False)):
            state = demo.update(state, cat.item_ids[int(item)], float(rng.random() < 0.5), float(j))
        states.append(state)
    batch = MasteryBatch.stack(states)
    resolved = resolve(None, cat)
    scored = score_resources(demo, batch, 20.0, RecommenderConfig(ability_share=0.5), ResourceGeometry.of(cat), resolved,
                             np.random.default_rng(0))
    alone = choose_placement(demo, batch, 5, rng=np.random.default_rng(5), constraints=resolved, now=20.0)
    given = choose_placement(demo, batch, 5, rng=np.random.default_rng(5), constraints=resolved, now=20.0,
                             p_start=scored.status.p_start, information=scored.item_information,
                             entry=entry_resources(cat, resolved.allowed))
    for name in ("items", "skills", "resources", "information", "p_correct", "readiness", "propensity", "item_propensity"):
        np.testing.assert_array_equal(getattr(given, name), getattr(alone, name), err_msg=name)
    assert (alone.items >= 0).all() and np.isfinite(alone.p_correct).all()
