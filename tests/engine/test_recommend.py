"""Recommender: prerequisite logic, teacher constraints, explanations, propensities, exposure control,
determinism, equity (advanced offers by readiness only) and bad input."""

from __future__ import annotations

import inspect
from collections import Counter

import numpy as np
import pytest

from engine.catalog import demo_catalog
from engine.errors import ConfigError, NotFoundError
from engine.mastery import MasteryBatch, MasteryEngine, MasteryState
from engine.recommend import COMPONENTS, Recommender, RecommenderConfig, TeacherConstraints
from engine.recommend.selection import select

BASICS = ("add_whole", "sub_whole", "mult_whole")
# skills whose direct prerequisites are all among BASICS (read off engine/catalog/demo/skills.toml)
FRINGE_OF_BASICS = {"add_whole", "sub_whole", "mult_whole", "prime", "order_ops", "add_sub_dec", "number_line", "exponents", "area_rect"} - set(BASICS)


@pytest.fixture(scope="module")
def catalog():
    return demo_catalog()


@pytest.fixture(scope="module")
def engine(catalog):
    return MasteryEngine(catalog)


def knowing(engine: MasteryEngine, skills: tuple[str, ...], p: float = 0.98, student: str = "s") -> MasteryState:
    """A state with `skills` well evidenced at P(learned) = p, everything else at the population prior,
    and the ability at its prior (so unpractised skills keep their population priors)."""
    state = engine.new_state(student)
    for s in skills:
        k = engine.catalog.skill_index(s)
        state.p_learned[k], state.evidence[k], state.last_practice[k] = p, 4, 10.0
    state.first_time, state.last_time = 0.0, 10.0
    return state


def all_candidates(rec: Recommender, state: MasteryState, **kw) -> list:
    return rec.recommend(state, rec.catalog.n_resources, now=10.0, rng=np.random.default_rng(0), **kw)


def test_core_work_is_offered_only_on_the_outer_fringe(catalog, engine) -> None:
    recs = all_candidates(Recommender(engine), knowing(engine, BASICS))
    core_skills = {r.skill_ids[0] for r in recs if r.level == "core"}
    assert core_skills == FRINGE_OF_BASICS
    assert all(r.level != "core" or r.components["readiness"] >= 0.8**2 for r in recs)


def test_advanced_work_needs_the_skill_and_what_it_builds_on(catalog, engine) -> None:
    recs = all_candidates(Recommender(engine), knowing(engine, BASICS))
    advanced = {r.resource_id for r in recs if r.level == "advanced"}
    assert advanced == {f"{s}.project" for s in BASICS}
    assert all(not r.resource_id.startswith(("prime.", "systems.")) or r.level != "advanced" for r in recs)


def test_a_ready_student_is_offered_advanced_work_whatever_their_remediation_history(catalog, engine) -> None:
    """Two students reach the same mastery of the basics, one after a long remedial detour with many
    wrong answers: both get an advanced offer in their top 3."""
    straight, detour = engine.new_state("straight"), engine.new_state("detour")
    t = 0.0
    for s in BASICS:
        for _ in range(6):
            detour = engine.update(detour, f"{s}-01", 0.0, time=t)
            t += 0.1
    for s in BASICS:
        for j in range(1, 9):
            straight = engine.update(straight, f"{s}-0{j}", 1.0, time=t)
            detour = engine.update(detour, f"{s}-0{j}", 1.0, time=t)
            t += 0.1
    assert detour.n_responses > straight.n_responses
    rec = Recommender(engine)
    for state in (straight, detour):
        assert all(state.p_learned[catalog.skill_index(s)] >= 0.95 for s in BASICS)
        top = rec.recommend(state, 3, now=t, rng=np.random.default_rng(1))
        assert any(r.level == "advanced" for r in top), [r.resource_id for r in top]


def test_remedial_work_on_a_skill_stops_once_the_student_is_ready_to_go_beyond_it(catalog, engine) -> None:
    """A skill at P(learned) 0.85 (above the advanced threshold 0.8, below mastery 0.95) gets core and advanced work
    but no remedial work, whatever a measured contrast says remedial work is worth; a skill at 0.7 still gets its
    remedial resources. (A set whose log measured remedial work at twice a core use's worth served remedial work to
    ready students of the weaker group instead of their advanced offer: the simulated recommendation gate failed.)"""
    state = knowing(engine, BASICS)
    for skill, p in (("number_line", 0.85), ("prime", 0.7)):
        k = catalog.skill_index(skill)
        state.p_learned[k], state.evidence[k], state.last_practice[k] = p, 4, 10.0
    rec = Recommender(engine)
    rec.progress.remedial_contrast = {"ratio": 3.0, "difference": 0.5, "se": 0.05, "believed": 0.99}
    levels = {(r.skill_ids[0], r.level) for r in all_candidates(rec, state)}
    assert ("number_line", "remedial") not in levels
    assert {("number_line", "core"), ("number_line", "advanced"), ("prime", "remedial"), ("prime", "core")} <= levels


def test_the_advanced_slot_is_kept_when_scores_alone_would_not_offer_it(catalog, engine) -> None:
    weights = {"gain": 0.0, "exploration": 0.0, "diversity": 0.0}
    rec = Recommender(engine, RecommenderConfig(weights=weights, ensure_advanced_offer=True))
    top = rec.recommend(knowing(engine, BASICS), 2, now=10.0, rng=np.random.default_rng(0))
    assert top[-1].level == "advanced" and "ready for advanced work" in top[-1].reason
    off = Recommender(engine, RecommenderConfig(weights=weights, ensure_advanced_offer=False))
    levels = [r.level for r in off.recommend(knowing(engine, BASICS), 2, now=10.0, rng=np.random.default_rng(0))]
    assert "advanced" not in levels  # without gain, the basics' projects do not win on their own


def test_places_after_the_first_go_in_turn_to_the_skills_the_student_is_ready_for(catalog, engine) -> None:
    """Knowing the basics, the student is ready for the six skills of FRINGE_OF_BASICS (read off the catalog's
    graph). Places 2-4 of a 5-item list are drawn among resources on those skills, one skill each, so across lists
    every one of them is offered often; without the rule the scores send those places elsewhere. All six became
    ready at once, so each skill weighs the same, split over its resources: one of prime's resources blocked, each
    of its remaining four weighs 1/4 of a skill, the others' 1/5."""
    state = knowing(engine, BASICS)
    blocked = TeacherConstraints(blocked_resources=("prime.video",))
    every = all_candidates(Recommender(engine), state, constraints=blocked)
    on_fringe = Counter(r.skill_ids[0] for r in every if r.skill_ids[0] in FRINGE_OF_BASICS)  # candidate resources per skill
    assert on_fringe["prime"] == on_fringe["order_ops"] - 1

    def offered(slots: int) -> Counter:  # (no turns here: see the rotation test below)
        rec, shown = Recommender(engine, RecommenderConfig(ready_skill_slots=slots, ready_rotation=0)), Counter()
        for seed in range(200):
            top = rec.recommend(state, 5, now=10.0, rng=np.random.default_rng(seed), constraints=blocked)
            middle = [r.skill_ids[0] for r in top[1:4]]
            if slots:
                assert set(middle) <= FRINGE_OF_BASICS and len(set(middle)) == 3 and top[0].skill_ids[0] not in middle
                first = top[0].skill_ids[0]
                # the resource's share of its skill's weight, over the weight of the ready skills not listed before it
                others = sum(1 for s in on_fringe if s != first)
                assert top[1].propensity == pytest.approx(1 / on_fringe[middle[0]] / others)
            shown.update(set(middle))
        return shown

    rotated, scored_only = offered(3), offered(0)
    assert min(rotated[s] for s in FRINGE_OF_BASICS) / 200 >= 0.3
    assert min(scored_only[s] for s in FRINGE_OF_BASICS) / 200 < 0.3


def test_the_skill_a_student_became_ready_for_last_is_offered_first(catalog, engine) -> None:
    """Knowing the basics (practised at day 10), the student then learns number_line (day 11): add_sub_int, which
    builds on it, became ready last and weighs twice each of the five skills ready since day 10 (RECENCY_DECAY
    0.5). Place 2 goes to it with probability 1 / (1 + 0.5 x 4) = 1/3 when the first place is another ready skill
    (1 / 3.5 otherwise), against 1/5 for a uniform turn; the logged propensity says so and the draws agree."""
    state = knowing(engine, BASICS + ("number_line",))
    state.last_practice[catalog.skill_index("number_line")] = 11.0
    ready = {"add_sub_int": 1.0} | {s: 0.5 for s in FRINGE_OF_BASICS - {"number_line"}}  # skill weights by hand
    rec, hits, expected = Recommender(engine, RecommenderConfig(ready_rotation=0)), 0, []  # recency alone (no turns)
    for seed in range(600):
        top = rec.recommend(state, 5, now=12.0, rng=np.random.default_rng(seed))
        first, second = top[0].skill_ids[0], top[1].skill_ids[0]
        if first == "add_sub_int":
            continue
        left = sum(w for s, w in ready.items() if s != first)  # the ready skills not listed before place 2
        assert top[1].propensity == pytest.approx(ready[second] / left / 5)  # five candidate resources per skill
        hits += second == "add_sub_int"
        expected.append(1 / left)
    assert len(expected) >= 300
    share, mean = hits / len(expected), float(np.mean(expected))
    assert abs(share - mean) < 3 * np.sqrt(mean * (1 - mean) / len(expected))  # within 3 standard errors
    assert share > 1 / 5 + 3 * np.sqrt(4 / 25 / len(expected))  # and clearly above a uniform turn's 1/5


def test_ready_skills_take_turns_so_each_is_listed_within_five_answers(catalog, engine) -> None:
    """A student ready for many skills at once (the basics and number_line learned: seven ready skills, and more the
    models take as probably ready). With turns (`ready_rotation` 5), the lists served after n answers give their
    ready places first to the ready skills with (skill index - n) mod 5 = 0, by weight among them; so across any five
    consecutive answer counts every ready skill is listed, which recency alone does not do for the older ones."""
    state = knowing(engine, BASICS + ("number_line",))
    state.last_practice[catalog.skill_index("number_line")] = 11.0
    state.theta_sd = 0.3  # placed (with answers and an uncertain ability the lists would be placement questions)
    ready = FRINGE_OF_BASICS - {"number_line"} | {"add_sub_int"}

    def listed(rotation: int, seed: int) -> set[str]:
        rec, seen = Recommender(engine, RecommenderConfig(ready_rotation=rotation)), set()
        for n in range(seed, seed + 5):  # five consecutive lists
            state.n_responses = n
            top = rec.recommend(state, 5, now=12.0, rng=np.random.default_rng(seed * 10 + n))
            middle = [catalog.skill_index(r.skill_ids[0]) for r in top[1:4]]  # the ready places (ready skills remain)
            if rotation:  # the due ready skills come first: a place holds a skill off its turn once no due one is left
                due = [s for s in middle if (s - n) % rotation == 0]
                assert due == middle[:len(due)]
            seen |= {catalog.skill_ids[s] for s in middle} | {top[0].skill_ids[0]}
        return seen

    assert all(ready <= listed(5, seed) for seed in range(20))
    assert sum(ready <= listed(0, seed) for seed in range(20)) < 20  # recency alone misses an older one now and then
    state.n_responses = 0


def test_a_skill_whose_prerequisites_are_probably_in_place_is_offered_after_the_first_place(catalog, engine) -> None:
    """number_line at P(learned) 0.55: below the ready threshold (0.65), so for a placed student add_sub_int is not
    a candidate for the first place, but above `probe_ready_threshold` (0.5), so the ready-skill places may offer it, saying why."""
    state = knowing(engine, BASICS)
    k = catalog.skill_index("number_line")
    state.p_learned[k], state.evidence[k], state.last_practice[k] = 0.55, 4, 11.0
    state.theta_sd = 0.3  # placed: no probing candidates beyond the fringe
    candidates = all_candidates(Recommender(engine, RecommenderConfig(ready_skill_slots=0)), state)
    assert ("add_sub_int", "core") not in {(r.skill_ids[0], r.level) for r in candidates}
    rec, seen = Recommender(engine), []
    for seed in range(100):
        top = rec.recommend(state, 5, now=12.0, rng=np.random.default_rng(seed))
        assert (top[0].skill_ids[0], top[0].level) != ("add_sub_int", "core")
        seen += [r for r in top[1:4] if (r.skill_ids[0], r.level) == ("add_sub_int", "core")]
    assert len(seen) >= 20
    name = catalog.skill_names[catalog.skill_index("number_line")]
    assert all(r.reason.startswith("You may be ready for") and f"builds on ({name}) are probably in place" in r.reason for r in seen)
    off = Recommender(engine, RecommenderConfig(probe_ready_threshold=0.6))
    assert not any((r.skill_ids[0], r.level) == ("add_sub_int", "core") for seed in range(100)
                   for r in off.recommend(state, 5, now=12.0, rng=np.random.default_rng(seed)))


def test_a_prerequisite_its_own_ability_shows_in_place_opens_the_ready_places(catalog, engine) -> None:
    """number_line at P(learned) 0.3 (mixed answers keep a two-state model unsure) while its own ability estimate puts
    the student near 80% success on its typical item: add_sub_int, which builds on it, may take a ready-skill place.
    Without an estimate of its own (the ability side is then the general ability's prior), or with the threshold above
    that success, it may not."""
    state = knowing(engine, BASICS)
    k = catalog.skill_index("number_line")
    state.p_learned[k], state.evidence[k], state.last_practice[k] = 0.3, 6, 11.0
    state.theta_sd = 0.3  # placed: no probing candidates beyond the fringe
    a, b = engine.typical_items
    state.skill_theta[k], state.skill_var[k] = b[k] + np.log(4.0) / a[k], 0.05  # 80% on the typical item, before doubt
    assert 0.75 < engine.skill_success(MasteryBatch.stack([state]))[0, k] < 0.8

    def offered(st: MasteryState, config: RecommenderConfig = RecommenderConfig()) -> int:
        rec = Recommender(engine, config)
        return sum((r.skill_ids[0], r.level) == ("add_sub_int", "core") for seed in range(100)
                   for r in rec.recommend(st, 5, now=12.0, rng=np.random.default_rng(seed))[1:4])

    assert offered(state) >= 20
    no_estimate = knowing(engine, BASICS)
    no_estimate.p_learned[k], no_estimate.evidence[k], no_estimate.last_practice[k] = 0.3, 6, 11.0
    no_estimate.theta_sd = 0.3
    assert offered(no_estimate) == 0
    assert offered(state, RecommenderConfig(probe_ready_threshold=0.85)) == 0


def test_assigned_skills_limit_work_to_them_and_their_missing_prerequisites(catalog, engine) -> None:
    # eq_two_steps needs mult_div_int and order_ops; mult_div_int needs add_sub_int, which needs number_line.
    # Knowing the basics, the reachable work in that scope is: number_line and order_ops (outer fringe) and
    # add_sub_int at remedial level (it re-teaches number_line); eq_two_steps itself is not reachable yet.
    c = TeacherConstraints(assigned_skills=("eq_two_steps",))
    recs = all_candidates(Recommender(engine), knowing(engine, BASICS), constraints=c)
    assert {r.skill_ids[0] for r in recs} == {"number_line", "order_ops", "add_sub_int"}
    assert {r.level for r in recs if r.skill_ids[0] == "add_sub_int"} == {"remedial"}
    assert all("needed for work your teacher assigned" in r.reason for r in recs)
    ready = knowing(engine, BASICS + ("number_line", "add_sub_int", "mult_div_int", "order_ops"))
    recs = all_candidates(Recommender(engine), ready, constraints=c)
    assert {r.skill_ids[0] for r in recs} == {"eq_two_steps"}
    assert all("part of what your teacher assigned" in r.reason for r in recs)


def test_pinned_come_first_with_propensity_one_and_blocked_never_appear(catalog, engine) -> None:
    rec = Recommender(engine)
    state = knowing(engine, BASICS)
    free = rec.recommend(state, 5, now=10.0, rng=np.random.default_rng(3))
    blocked = tuple(r.resource_id for r in free[:3])
    c = TeacherConstraints(pinned_resources=("systems.reading",), blocked_resources=blocked)
    recs = rec.recommend(state, 5, now=10.0, constraints=c, rng=np.random.default_rng(3))
    assert recs[0].resource_id == "systems.reading" and recs[0].propensity == 1.0
    assert recs[0].reason.startswith("Pinned by your teacher")
    assert not {r.resource_id for r in recs} & set(blocked) and len(recs) == 5
    with pytest.raises(ConfigError, match="both pinned and blocked"):
        TeacherConstraints(pinned_resources=("x",), blocked_resources=("x",))
    with pytest.raises(NotFoundError, match="unknown resource 'nope'"):
        rec.recommend(state, 3, constraints=TeacherConstraints(blocked_resources=("nope",)))
    with pytest.raises(NotFoundError, match="unknown skill 'nope'"):
        rec.recommend(state, 3, constraints=TeacherConstraints(assigned_skills=("nope",)))


def test_every_recommendation_is_explained_and_its_score_adds_up(catalog, engine) -> None:
    rec = Recommender(engine)
    recs = rec.recommend(knowing(engine, BASICS), 5, now=10.0, rng=np.random.default_rng(4))
    assert [r.rank for r in recs] == [1, 2, 3, 4, 5]
    for r in recs:
        assert tuple(r.components) == COMPONENTS
        assert r.score == pytest.approx(sum(r.weights[c] * v for c, v in r.components.items()))
        assert catalog.skill_names[catalog.skill_index(r.skill_ids[0])] in r.reason
        assert set(r.model_versions) == {"skill_model", "ability_model", "catalog", "recommender"}
        assert 0.0 < r.propensity <= 1.0 and r.item_propensity == pytest.approx(1 / 5)
        assert r.item_id is not None and catalog.item_skill[catalog.item_index(r.item_id)] in catalog.skill_indices(r.skill_ids)
        assert set(r.to_dict()) >= {"score", "components", "reason", "model_versions", "propensity"}


def test_reported_propensity_matches_the_empirical_choice_frequency(catalog, engine) -> None:
    """Select the first slot many times with fresh randomness: the frequency of each resource must
    agree with the propensity the policy reports (within 4 binomial standard errors)."""
    config = RecommenderConfig(temperature=0.1)
    rec = Recommender(engine, config)
    batch = MasteryBatch.stack([knowing(engine, BASICS)])
    scored, base, resolved = rec._score(batch, 10.0, None, np.random.default_rng(0))
    reported = select(base, scored.candidates, scored.advanced_ready, catalog, config, rec.effectiveness, 1,
                      resolved.pinned, np.random.default_rng(1), draws=400)
    n = 3000
    rows = np.repeat(base, n, axis=0)
    picks = select(rows, np.repeat(scored.candidates, n, axis=0), np.repeat(scored.advanced_ready, n, axis=0),
                   catalog, config, rec.effectiveness, 1, resolved.pinned, np.random.default_rng(2)).resources[:, 0]
    freq = Counter(picks.tolist())
    r = int(reported.resources[0, 0])
    p = float(reported.propensity[0, 0])
    assert abs(freq[r] / n - p) < 4 * np.sqrt(p * (1 - p) / n) + 0.01


def test_a_ready_place_beyond_the_candidates_columns_gets_its_weight_share_as_propensity(catalog, engine) -> None:
    """Regression (CI at 129cab3, the demo school): with propensities asked for, a ready-skill place may take a
    resource to the right of every candidate column; its propensity is its weight over the weights available."""
    rec = Recommender(engine)
    r = catalog.n_resources
    candidates = np.zeros((1, r), dtype=bool)
    candidates[0, :2] = True  # two candidates, in the first columns
    weight = np.zeros((1, r))
    weight[0, [r - 1, r - 7]] = [1.0, 0.5]  # two ready resources after them, on two other skills
    assert catalog.resource_skill[r - 1] != catalog.resource_skill[r - 7]
    sel = select(np.zeros((1, r)), candidates, np.zeros((1, r), dtype=bool), catalog, rec.config, rec.effectiveness, 3,
                 np.zeros(0, dtype=np.int64), np.random.default_rng(0), draws=8, ready_weight=weight)
    assert sel.kept_for_ready_skill[0].tolist() == [False, True, False]
    second = int(sel.resources[0, 1])
    assert second in (r - 1, r - 7)
    assert sel.propensity[0, 1] == pytest.approx(weight[0, second] / 1.5)


def test_randomesque_exposure_control_spreads_items(catalog, engine) -> None:
    states = [knowing(engine, BASICS, student=f"s{i}") for i in range(400)]
    batch = MasteryBatch.stack(states)
    spread = Recommender(engine, RecommenderConfig(randomesque=4)).choose_batch(batch, 1, now=10.0, rng=np.random.default_rng(0))
    counts = Counter(spread.items[:, 0].tolist())
    assert len(counts) >= 4 and max(counts.values()) / 400 < 0.25 + 0.1
    single = Recommender(engine, RecommenderConfig(randomesque=1, weights={"exploration": 0.0})).choose_batch(
        batch, 1, now=10.0, rng=np.random.default_rng(0))
    by_resource = {}
    for r, i in zip(single.resources[:, 0].tolist(), single.items[:, 0].tolist()):
        by_resource.setdefault(r, set()).add(i)
    assert all(len(items) == 1 for items in by_resource.values())  # without control, one item per state


def test_same_seed_same_recommendations(engine) -> None:
    rec = Recommender(engine)
    state = knowing(engine, BASICS)
    a = [(r.resource_id, r.item_id, r.propensity) for r in rec.recommend(state, 5, now=10.0, rng=np.random.default_rng(7))]
    b = [(r.resource_id, r.item_id, r.propensity) for r in rec.recommend(state, 5, now=10.0, rng=np.random.default_rng(7))]
    assert a == b


def test_review_is_proposed_for_a_skill_fading_with_time(catalog, engine) -> None:
    state = knowing(engine, BASICS)
    recs = all_candidates(Recommender(engine), state)  # at day 10: nothing has faded yet
    assert all(r.components["review"] < 0.1 for r in recs)
    late = Recommender(engine).recommend(state, catalog.n_resources, now=200.0, rng=np.random.default_rng(0))
    review = [r for r in late if r.skill_ids[0] == "add_whole" and r.level != "advanced"]
    assert review and review[0].components["review"] > 0.3 and "review" in review[0].reason


def test_bad_k_is_a_clear_error(engine) -> None:
    rec = Recommender(engine)
    for k in (0, -2):
        with pytest.raises(ConfigError, match="k must be a positive integer"):
            rec.recommend(engine.new_state("s"), k)
    with pytest.raises(ConfigError, match="unknown score component"):
        RecommenderConfig(weights={"popularity": 1.0})
    for bad in (-1, 2.5, True):
        with pytest.raises(ConfigError, match="ready_rotation must be an integer >= 0"):
            RecommenderConfig(ready_rotation=bad)
    assert RecommenderConfig.from_dict({**RecommenderConfig().to_dict(), "ready_rotation": 0}).ready_rotation == 0


DEMOGRAPHIC = {"gender", "sex", "race", "ethnicity", "group", "subgroup", "demographic", "demographics", "income",
               "ses", "disability", "ell", "frl", "language", "age", "age_band", "migration", "religion", "roster", "imd_band"}


def test_no_recommender_or_mastery_function_accepts_a_demographic_field() -> None:
    import engine.mastery as mastery
    import engine.recommend as recommend
    import engine.recommend.interventions as interventions
    import engine.simulate.policies as policies

    checked = 0
    for module in (mastery, recommend, interventions, policies):
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if not getattr(obj, "__module__", "").startswith(("engine.mastery", "engine.recommend", "engine.simulate")):
                continue  # imported from elsewhere (errors, numpy, ...)
            members = [obj] + ([m for _, m in inspect.getmembers(obj, inspect.isfunction)] if inspect.isclass(obj) else [])
            for fn in members:
                params = set(inspect.signature(fn).parameters)
                assert not params & DEMOGRAPHIC, (name, fn, params & DEMOGRAPHIC)
                checked += 1
    fields = set(MasteryState.__dataclass_fields__)
    assert not fields & DEMOGRAPHIC and checked > 50


def test_a_resource_measured_to_teach_more_says_so_and_gains_more(catalog, engine) -> None:
    """A build that measured one resource at 1.5 times its level's average step (`engine.recommend.resource_value`):
    its expected gain is 1.5 times what it is unmeasured, and its reason tells the student; the others say nothing."""
    from engine.recommend.learning import DifficultyProgress
    state = knowing(engine, BASICS)
    plain = {r.resource_id: r for r in all_candidates(Recommender(engine), state)}
    measured = next(r for r in plain.values() if r.level == "core" and r.components["gain"] > 0)
    progress = DifficultyProgress()
    progress.resource_value = {measured.resource_id: [1.5, 40, 0.2, 0.05, 0.15]}
    valued = {r.resource_id: r for r in all_candidates(Recommender(engine, progress=progress), state)}
    assert valued[measured.resource_id].components["gain"] == pytest.approx(1.5 * measured.components["gain"])
    assert "students learned about 50% more from it than from others at its level" in valued[measured.resource_id].reason
    assert not any("more from it" in r.reason for rid, r in valued.items() if rid != measured.resource_id)
