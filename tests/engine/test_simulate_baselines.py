"""Faithful baselines: ZPDES as published (Clement et al. 2015, values from the kidlearn reference code) and a
mastery-gated curriculum. Expected values come from the catalog's own tables (skills' prerequisite lists,
items' difficulties, resources' kind and level) and from arithmetic done by hand, not from the policies."""

from __future__ import annotations

import numpy as np
import pytest

from engine.catalog import demo_catalog
from engine.mastery import MasteryEngine
from engine.simulate import make_world, normalized_gain, run_policy
from engine.simulate.curriculum import GatedCurriculumPolicy
from engine.simulate.policies import POLICIES, make_policy
from engine.simulate.zpdes import ZPDESPolicy


@pytest.fixture(scope="module")
def catalog():
    return demo_catalog()


@pytest.fixture()
def engine(catalog):
    return MasteryEngine(catalog)


@pytest.fixture(scope="module")
def prereqs(catalog) -> dict[str, set[str]]:
    """skill id -> its prerequisite ids, read from the skills table."""
    return {row["skill_id"]: set(row["prerequisites"]) for row in catalog.skills.iter_rows(named=True)}


@pytest.fixture(scope="module")
def items_by_level(catalog) -> dict[str, list[set[int]]]:
    """skill id -> item indices of its easiest, middle and hardest third by difficulty b (items table):
    with 8 items a skill has 3 easy, 3 middle and 2 hard ones."""
    out: dict[str, list[set[int]]] = {}
    for row_index, row in enumerate(catalog.items.iter_rows(named=True)):
        out.setdefault(row["skill_ids"][0], []).append((row["b"], row_index))
    levels = {}
    for skill, pairs in out.items():
        ranked = [i for _, i in sorted(pairs, key=lambda p: p[0])]
        levels[skill] = [set(), set(), set()]
        for rank, i in enumerate(ranked):  # the item ranked r of n is in third floor(3 r / n)
            levels[skill][3 * rank // len(ranked)].add(i)
    return levels


def batch(engine, n):
    return engine.new_batch([f"s{i}" for i in range(n)])


def answer(policy: ZPDESPolicy, skill: int, level: int, answers: list[int], student: int = 0) -> None:
    """Feed one student's scripted answers on one activity (other students answer nothing: they repeat a
    wrong answer on their own first active activity, which only touches their own state)."""
    n = policy.n_students
    for c in answers:
        acts = policy.active.argmax(axis=1)
        acts[student] = policy.activity(skill, level)
        correct = np.zeros(n)
        correct[student] = c
        policy.update(acts, correct)


def zpd_set(policy: ZPDESPolicy, catalog, student: int = 0) -> set[tuple[str, int]]:
    z = policy.zpd()[student]
    return {(catalog.skill_ids[s], lv) for s, lv in zip(*np.nonzero(z))}


# --------------------------------------------------------------------------------------------- ZPDES


def test_zpdes_defaults_are_the_published_values(engine) -> None:
    p = ZPDESPolicy(engine)
    # kidlearn zpdes_xp.json: filter1 0.2, filter2 0.8, uniformval 0.05, stepUpdate 6, upZPDval 0.5,
    # deactZPDval 0.6; SSbandit.sample exploration coefficient 10
    assert (p.beta, p.eta, p.initial_quality, p.window, p.promote, p.deactivate, p.exploration) == \
        (0.2, 0.8, 0.05, 6, 0.5, 0.6, 10.0)
    assert p.levels == 3
    assert isinstance(make_policy("zpdes", engine, 60), ZPDESPolicy)
    assert {"zpdes", "gated-curriculum", "curriculum"} <= set(POLICIES)


def test_zpdes_levels_are_thirds_of_each_skill_by_difficulty(engine, catalog, items_by_level) -> None:
    p = ZPDESPolicy(engine)
    for s, skill in enumerate(catalog.skill_ids):
        for lv in range(3):
            a = p.activity(s, lv)
            got = set(p.activity_items[a, : p.activity_count[a]].tolist())
            assert got == items_by_level[skill][lv], (skill, lv)
        sizes = [p.activity_count[p.activity(s, lv)] for lv in range(3)]
        assert sizes == [3, 3, 2]  # the demo catalog has 8 items per skill
        b = [catalog.item_b[p.activity_items[p.activity(s, lv), : sizes[lv]]] for lv in range(3)]
        assert b[0].max() <= b[1].min() and b[1].max() <= b[2].min()


def test_zpdes_initial_zpd_is_the_root_skills_at_the_easiest_level(engine, catalog, prereqs, items_by_level) -> None:
    p = ZPDESPolicy(engine)
    rng = np.random.default_rng(0)
    resources, items = p.choose(batch(engine, 200), 0.0, rng)
    roots = {s for s, pre in prereqs.items() if not pre}
    assert roots == {"add_whole"}
    for student in (0, 57, 199):
        assert zpd_set(p, catalog, student) == {(s, 0) for s in roots}
    # served: the root's core practice set and one of its three easiest items
    res = catalog.resources.row(int(resources[0]), named=True)
    assert (res["kind"], res["level"], res["skill_ids"]) == ("practice_set", "core", ["add_whole"])
    assert (resources == resources[0]).all()
    assert set(items.tolist()) <= items_by_level["add_whole"][0]


def test_zpdes_quality_update_is_beta_w_plus_eta_r_by_hand(engine, catalog) -> None:
    p = ZPDESPolicy(engine)
    p.reset(1)
    a = p.activity(0, 0)
    beta, eta = 0.2, 0.8
    # answers and, by hand, r = max(0, mean of the newest half - mean of the older half) of the last
    # min(6, count) answers (halves of floor(count/2) and the rest); no update before the third answer
    script = [
        (0, None),             # [0]
        (0, None),             # [0 0]
        (1, 1.0),              # span 3: newest [1] vs older [0 0]
        (0, 0.5),              # span 4: newest [1 0] = 0.5 vs older [0 0] = 0
        (1, 0.5 - 1 / 3),      # span 5: newest [0 1] vs older [0 0 1]
        (1, 2 / 3 - 1 / 3),    # span 6: newest [0 1 1] vs older [0 0 1]
        (0, 2 / 3 - 1 / 3),    # window [0 1 0 1 1 0]: newest [1 1 0] vs older [0 1 0]
        (0, 0.0),              # window [1 0 1 1 0 0]: 1/3 - 2/3 < 0, clipped to 0 (not the absolute value)
    ]
    w = 0.05
    for c, r in script:
        answer(p, 0, 0, [c])
        if r is not None:
            w = beta * w + eta * r
        assert p.quality[0, a] == pytest.approx(w, abs=1e-12)
    assert w == pytest.approx(0.2 * (0.2 * 0.315813333 + 0.8 / 3), abs=1e-8)  # the last two steps, spelled out


def test_zpdes_opens_the_harder_level_and_dependent_skills_only_above_the_threshold(engine, catalog, prereqs) -> None:
    p = ZPDESPolicy(engine)
    p.reset(2)
    answer(p, 0, 0, [1])  # one answer: below the two needed
    answer(p, 0, 0, [0])  # [1 0]: success 0.5, not above 0.5
    assert zpd_set(p, catalog) == {("add_whole", 0)}
    answer(p, 0, 0, [1])  # last three [1 0 1]: 2/3 > 0.5
    only_root = {s for s, pre in prereqs.items() if pre == {"add_whole"}}
    assert only_root  # sub_whole, mult_whole, ...
    assert zpd_set(p, catalog) == {("add_whole", 0), ("add_whole", 1)} | {(s, 0) for s in only_root}
    assert zpd_set(p, catalog, student=1) == {("add_whole", 0)}  # the other student's state is their own


def test_zpdes_opens_a_skill_exactly_when_its_last_prerequisite_is_passed(engine, catalog, prereqs) -> None:
    p = ZPDESPolicy(engine)
    p.reset(1)
    passed: set[str] = set()
    for s in catalog.graph.order:
        skill = catalog.skill_ids[s]
        opened = {sk for sk, _ in zpd_set(p, catalog)}  # nothing retires here: no activity gets six answers
        expected = {sk for sk, pre in prereqs.items() if pre <= passed}
        assert opened == expected, skill
        assert p.zpd()[0, s, 0]  # its easiest level is there to practise
        answer(p, s, 0, [1, 1])
        passed.add(skill)
    assert p.opened[0].all()


def test_zpdes_retires_a_mastered_activity_but_never_the_last_one(engine, catalog) -> None:
    p = ZPDESPolicy(engine)
    p.reset(1)
    answer(p, 0, 0, [0, 0, 1, 1])  # opens level 1 and the root's dependents at [0 1 1]
    assert len(zpd_set(p, catalog)) > 2
    answer(p, 0, 0, [1])  # five answers: not yet a full window of six
    assert ("add_whole", 0) in zpd_set(p, catalog)
    answer(p, 0, 0, [1])  # [0 0 1 1 1 1]: 4/6 > 0.6
    assert ("add_whole", 0) not in zpd_set(p, catalog)
    assert p.retired[0, p.activity(0, 0)]

    q = ZPDESPolicy(engine)
    q.reset(1)
    answer(q, 0, 0, [0, 0, 0, 1, 1, 1])  # 3/6 = 0.5: stays
    assert ("add_whole", 0) in zpd_set(q, catalog)

    lone = ZPDESPolicy(engine, promote=1.01)  # nothing ever opens: the root's easiest level is all there is
    lone.reset(1)
    answer(lone, 0, 0, [1] * 8)
    assert zpd_set(lone, catalog) == {("add_whole", 0)}


def test_zpdes_draws_in_proportion_to_quality_plus_exploration(engine, catalog) -> None:
    n = 30000
    p = ZPDESPolicy(engine)
    p.reset(n)
    acts = [p.activity(0, 0), p.activity(1, 0), p.activity(2, 1)]
    p.active[:] = False
    p.active[:, acts] = True
    p.quality[:, acts] = [0.1, 0.3, 0.6]
    # (w + sum(w) / 10) / (sum(w) + 3 sum(w) / 10) with sum(w) = 1
    expected = np.array([0.2, 0.4, 0.7]) / 1.3
    assert np.allclose(p.probabilities()[0, acts], expected)
    resources, items = p.choose(batch(engine, n), 0.0, np.random.default_rng(3))
    freq = np.array([(p.last == a).mean() for a in acts])
    assert freq.sum() == 1.0
    assert np.all(np.abs(freq - expected) < 4 * np.sqrt(expected * (1 - expected) / n))
    assert (catalog.item_skill[items] == catalog.resource_skill[resources]).all()


# --------------------------------------------------------------------------------- gated curriculum


def test_gated_curriculum_advances_after_exactly_n_right_in_a_row(engine, catalog) -> None:
    g = GatedCurriculumPolicy(engine)
    assert g.streak == 3 and isinstance(make_policy("gated-curriculum", engine, 60), GatedCurriculumPolicy)
    order = list(catalog.graph.order)
    rng = np.random.default_rng(0)
    b = batch(engine, 2)
    seen = []
    for right in [1, 1, 0, 1, 1, 1, 1, 1, 1]:  # student 0; student 1 always wrong
        resources, items = g.choose(b, 0.0, rng)
        seen.append(int(g.current_skill()[0]))
        for r, i, s in zip(resources, items, g.current_skill()):
            res = catalog.resources.row(int(r), named=True)
            assert (res["kind"], res["level"], res["skill_ids"]) == ("practice_set", "core", [catalog.skill_ids[s]])
            assert catalog.item_skill[i] == s
        g.observe(resources, items, np.array([right, 0.0]), np.zeros(2))
    # the wrong third answer resets the run: three more right to leave order[0], then three on order[1]
    assert seen == [order[0]] * 6 + [order[1]] * 3
    assert g.current_skill()[0] == order[2]
    assert g.current_skill()[1] == order[0]


def test_gated_curriculum_skips_passed_skills_and_wraps_to_the_ones_left(engine, catalog) -> None:
    order = list(catalog.graph.order)
    g = GatedCurriculumPolicy(engine, streak=1)
    g.reset(1)
    g.passed[0, 1] = True  # order[1] already passed: from order[0] go straight to order[2]
    g.observe(None, None, np.array([1.0]), None)
    assert g.current_skill()[0] == order[2]
    g.position[0] = len(order) - 1  # on the last skill, everything else passed but order[3]
    g.passed[0] = True
    g.passed[0, [3, len(order) - 1]] = False
    g.observe(None, None, np.array([1.0]), None)
    assert g.current_skill()[0] == order[3]
    g.observe(None, None, np.array([1.0]), None)  # now every skill is passed: a new round from the start
    assert g.current_skill()[0] == order[0] and not g.passed[0].any()


# ------------------------------------------------------------------------------------------ simulation


@pytest.fixture(scope="module")
def bkt_runs(catalog):
    world = make_world(catalog, 300, seed=1)
    return world, {p: run_policy(world, "bkt", p, 60, record_actions=True) for p in ("random", "zpdes")}


def test_zpdes_learns_and_climbs_the_prerequisite_graph_in_simulation(catalog, bkt_runs) -> None:
    _, runs = bkt_runs
    run = runs["zpdes"]
    assert normalized_gain(run.initial, run.final) > 0.05
    depth = catalog.graph.depth[catalog.resource_skill[run.actions]]  # (N, steps) depth of the practised skill
    assert (depth[:, 0] == 0).all()  # everyone starts at the root
    assert depth[:, -10:].mean() > depth[:, :10].mean() + 1.0  # and moves up the graph on success


@pytest.mark.xfail(strict=True, reason=(
    "measured: on the bkt simulator (300 students x 60 steps, seed 1) faithful ZPDES gains 0.16 vs 0.37 for "
    "random: it starts every student at the root and clears a known activity only after 6 answers, so about "
    "80% of its steps go to skills the student already knows (random: about 40%); not tuned to the simulator"))
def test_zpdes_beats_random_on_the_bkt_simulator(bkt_runs) -> None:
    _, runs = bkt_runs
    gain = {p: normalized_gain(r.initial, r.final) for p, r in runs.items()}
    assert gain["zpdes"] > gain["random"]
