"""The learner-model suite: misspecified worlds, the continuous-proficiency family, the oracle, paired figures."""

from __future__ import annotations

import math
import types

import numpy as np
import polars as pl
import pytest

from engine.catalog import load_catalog
from engine.errors import ConfigError
from engine.mastery import irt_p_correct
from engine.simulate import make_world, run_policy
from engine.simulate.proficiency import MASTERY_SLOPE, ProficiencyLearners
from engine.simulate.suite import (SETTINGS, Setting, flag_precision_ci, gain_contributions, random_practice_log, run_suite,
                                   setting_by_name, suite_markdown)
from engine.simulate.world import misspecify


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(None)


def test_suite_spans_four_families_and_at_least_eight_settings():
    families = {s.family for s in SETTINGS}
    assert len(SETTINGS) >= 8 and families == {"bkt", "curve", "proficiency"}
    assert any(s.mistag_share >= 0.1 for s in SETTINGS)  # the misspecified family
    peaks = [s.params["peak_success"] for s in SETTINGS if s.family == "proficiency"]
    assert min(peaks) <= 0.4 and max(peaks) >= 0.85


def test_the_log_is_answered_on_the_content_it_is_built_for(catalog):
    """A platform's earlier students meet the same items as the students served after them: a log drawn with
    `content=world` follows that world's true difficulties (catalog's + N(0, 0.8) noise), not another draw's."""
    setting = setting_by_name("misspecified-20")
    served, other = setting.world(catalog, 20, seed=1), setting.world(catalog, 20, seed=2)
    log = random_practice_log(setting, catalog, 400, 30, seed=10_001, content=served)
    rates = log.group_by("item_id").agg(pl.col("correct").mean()).to_dict(as_series=False)
    index = np.array([catalog.item_ids.index(i) for i in rates["item_id"]])
    rate = np.array(rates["correct"])

    def follows(world):  # correlation of each item's success rate with its true shift from the catalog (harder: lower)
        return np.corrcoef(rate, -(world.items.b - catalog.item_b)[index])[0, 1]

    assert follows(served) > 0.3 and abs(follows(other)) < 0.15
    own = random_practice_log(setting, catalog, 400, 30, seed=10_001)  # without content: its own draw, as before
    assert not own["correct"].equals(log["correct"])
    elsewhere = setting.world(load_catalog(None), 20, seed=1)  # the same catalog's content, but another catalog object
    with pytest.raises(ConfigError, match="share one catalog"):
        random_practice_log(setting, catalog, 10, 2, seed=10_001, content=elsewhere)


def test_misspecified_world_hides_its_truth_from_the_catalog(catalog):
    world = make_world(catalog, 10, seed=3)
    bad = misspecify(world, 0.15, 0.5)
    truth = bad.items
    assert truth.mistagged.sum() == round(0.15 * catalog.n_items)
    assert np.all(truth.skill[truth.mistagged] != catalog.item_skill[truth.mistagged])  # really another skill
    assert np.array_equal(truth.skill[~truth.mistagged], catalog.item_skill[~truth.mistagged])
    assert abs(np.std(truth.b - catalog.item_b) - 0.5) < 0.1  # 256 draws of N(0, 0.5)
    assert bad.catalog is world.catalog  # the engine and the policies keep the catalog's view


def test_proficiency_learning_peaks_at_its_success_rate(catalog):
    """Hand-computed: with forgetting and resources off, one answer moves theta by
    rate_scale * rate * exp(-(logit p - logit p*)^2 / (2 w^2)) * gate."""
    world = make_world(catalog, 2, seed=5)
    learners = ProficiencyLearners(world, peak_success=0.4, forgetting=0.0, resource_weight=0.0, gating=0.0)
    item = int(catalog.items_by_skill[0, 0])
    skill = int(catalog.item_skill[item])
    it = learners.items
    # put student 0 exactly at the peak (p = 0.4) and student 1 at p = 0.9 on that item
    for row, p_target in ((0, 0.4), (1, 0.9)):
        q = (p_target - it.c[item]) / (1 - it.c[item])
        learners.theta[row, skill] = it.b[item] + math.log(q / (1 - q)) / it.a[item]
    before = learners.theta[:, skill].copy()
    learners.step(np.zeros(2, dtype=np.int64), np.full(2, item), np.random.default_rng(0))
    moved = learners.theta[:, skill] - before
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    expected = [learners.rate_scale * learners.rate[0],
                learners.rate_scale * learners.rate[1] * math.exp(-0.5 * ((logit(0.9) - logit(0.4)) / learners.peak_width) ** 2)]
    assert moved == pytest.approx(expected, rel=1e-9)


def test_oracle_gain_table_matches_the_step_it_predicts(catalog):
    """The oracle's expected item gain equals the true mastery change the step then makes (deterministic
    learning: resources and forgetting off)."""
    world = make_world(catalog, 50, seed=7)
    learners = ProficiencyLearners(world, forgetting=0.0, resource_weight=0.0)
    items = np.random.default_rng(1).integers(0, catalog.n_items, 50)
    _, item_gain = learners.gain_tables()
    before = learners.mastery().sum(axis=1)
    learners.step(np.zeros(50, dtype=np.int64), items, np.random.default_rng(2))
    assert learners.mastery().sum(axis=1) - before == pytest.approx(item_gain[np.arange(50), items], abs=1e-9)


@pytest.mark.parametrize("name", ["bkt", "curve", "proficiency-peak60", "misspecified-20"])
def test_oracle_learns_more_than_random_on_every_family(catalog, name):
    setting = setting_by_name(name)
    world = setting.world(catalog, 80, seed=2)
    oracle = run_policy(world, setting, "oracle", 25)
    rand = run_policy(world, setting, "random", 25)
    assert np.array_equal(oracle.initial, rand.initial)  # the same students
    assert (oracle.final - oracle.initial).mean() > (rand.final - rand.initial).mean() + 0.02


def test_paired_differences_and_tables(catalog):
    setting = Setting("small", "proficiency", {"peak_success": 0.6})
    result = run_suite(catalog, ["random", "equilearn", "oracle"], [setting], students=40, steps=10, seeds=[1, 2])
    s = result["settings"][0]
    ours = s["policies"]["equilearn"]
    assert s["policies"]["oracle"]["share_of_oracle"] == pytest.approx(1.0)
    diff = ours["minus"]["random"]["all"]
    assert diff["mean"] == pytest.approx(ours["gain"]["mean"] - s["policies"]["random"]["gain"]["mean"], abs=1e-12)
    assert diff["ci"][0] < diff["mean"] < diff["ci"][1]
    assert 0.0 <= ours["over_practice"] <= 1.0
    assert "| equilearn |" in suite_markdown(result)


def test_ready_tracker_counts_an_offer_within_the_window(catalog):
    """A policy that always offers the skill a student just became ready for is never late."""
    setting = setting_by_name("bkt")
    world = setting.world(catalog, 30, seed=4)
    run = run_policy(world, setting, "oracle", 15)
    assert run.ready_delays.size + run.ready_missed > 0
    assert np.all(run.ready_delays >= 0)


def test_ready_tracker_by_hand_a_listed_skill_is_offered_and_a_late_one_missed():
    """Chain 0 -> 1 -> 2. At step 1 the student masters skill 1, so skill 2 becomes ready: a list holding
    skill 2 at step 3 meets it after 2 steps; offers that never hold it count one miss once 5 steps pass."""
    from types import SimpleNamespace

    from engine.simulate.runner import READY_WINDOW, _ReadyTracker, _skill_mask

    known = np.array([[True, False, False]])
    direct = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=bool)  # direct[s, p]: p is a prerequisite of s
    learners = SimpleNamespace(known=lambda: known.copy(), catalog=SimpleNamespace(graph=SimpleNamespace(direct=direct)),
                               world=SimpleNamespace(known0=known))
    listed, taken = _ReadyTracker(learners), _ReadyTracker(learners)
    for t in range(8):
        if t == 1:
            known[0, 1] = True
        listed.step(t, _skill_mask(np.array([[1, 2, -1]]) if t == 3 else np.array([[0, -1, -1]]), 3))
        taken.step(t, _skill_mask(np.array([[0]]), 3))
    assert np.concatenate(listed.delays).tolist() == [2] and listed.missed == 0
    assert np.concatenate(taken.delays).size == 0 and taken.missed == 1 and READY_WINDOW == 5


def test_ready_tracker_tells_a_skill_lost_to_forgetting_from_one_newly_unlocked():
    """Chain 0 -> 1 -> 2 with skills 0 and 1 mastered (skill 2 ready from the start: not an event). At step 1 the
    student forgets skill 1 just below the line: it turns ready again, by a dip (it was mastered the step before).
    At step 8 skill 1 is back, so skill 2, never mastered, turns ready by its prerequisites. Neither is offered:
    two misses, one of them a dip."""
    from types import SimpleNamespace

    from engine.simulate.runner import _ReadyTracker, _skill_mask

    known = np.array([[True, True, False]])
    direct = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=bool)  # direct[s, p]: p is a prerequisite of s
    learners = SimpleNamespace(known=lambda: known.copy(), catalog=SimpleNamespace(graph=SimpleNamespace(direct=direct)),
                               world=SimpleNamespace(known0=known))
    tracker = _ReadyTracker(learners)
    for t in range(14):
        if t == 1:
            known[0, 1] = False  # skill 1 dips: ready by forgetting (skill 2 no longer ready)
        if t == 8:
            known[0, 1] = True  # skill 1 back: skill 2 ready by its prerequisites (it never was mastered)
        tracker.step(t, _skill_mask(np.array([[0]]), 3))
    assert tracker.missed == 2 and tracker.missed_dips == 1


def test_true_mastery_definition(catalog):
    world = make_world(catalog, 3, seed=1)
    learners = ProficiencyLearners(world)
    learners.theta[:] = learners.beta[None, :]
    assert np.allclose(learners.mastery(), 0.5)
    learners.theta[:] = learners.beta[None, :] + math.log(4) / MASTERY_SLOPE
    assert np.allclose(learners.mastery(), 0.8) and learners.known().all()
    assert irt_p_correct(np.array([0.0]), np.array([1.0]), np.array([0.0]), np.array([0.0]))[0] == pytest.approx(0.5)


def test_gain_contributions_average_to_the_normalized_gain_on_means() -> None:
    """By hand: initial 0.2 and 0.4, final 0.6 and 0.4: (0.5 - 0.3) / (1 - 0.3) = 2/7; per student 0.4 / 0.7 and 0."""
    run = types.SimpleNamespace(initial=np.array([0.2, 0.4]), final=np.array([0.6, 0.4]))
    parts = gain_contributions(run)  # type: ignore[arg-type]
    assert parts == pytest.approx([0.4 / 0.7, 0.0])
    assert parts.mean() == pytest.approx(2 / 7)


def test_flag_precision_interval_by_hand() -> None:
    """Wilson 95% interval of 3 right flags of 4, by its formula: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) /
    (1 + z^2/n), z = 1.959964; no flags, no interval."""
    z, n, p = 1.959963985, 4, 0.75
    centre, half = p + z**2 / (2 * n), z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    lo, hi = flag_precision_ci(3, 4)
    assert lo == pytest.approx((centre - half) / (1 + z**2 / n), abs=1e-6)
    assert hi == pytest.approx((centre + half) / (1 + z**2 / n), abs=1e-6)
    assert lo < 0.8 < hi  # 3 of 4 flags right cannot tell whether the flag is right 80% of the time
    assert all(math.isnan(x) for x in flag_precision_ci(0, 0))


def test_the_gap_difference_is_the_difference_of_the_two_gaps_with_a_two_group_interval() -> None:
    """By hand: per student d = final under a - final under b; the gap difference is mean_high(d) - mean_low(d),
    equal to a's gap minus b's, with variance var_high(d) / n_high + var_low(d) / n_low; seeds are averaged."""
    from engine.simulate.suite import gap_difference

    def run(final: list[float]) -> types.SimpleNamespace:
        return types.SimpleNamespace(group_names=("high", "low"), group=np.array([0, 0, 1, 1]), final=np.array(final))

    a, b = run([0.5, 0.7, 0.2, 0.4]), run([0.4, 0.5, 0.3, 0.3])
    one = gap_difference([a], [b], "high", "low")
    assert one["mean"] == pytest.approx((0.6 - 0.3) - (0.45 - 0.3))
    half = 1.959964 * math.sqrt(0.005 / 2 + 0.02 / 2)  # d = (0.1, 0.2 | -0.1, 0.1)
    assert one["ci"] == pytest.approx([0.15 - half, 0.15 + half], abs=1e-5)
    two = gap_difference([a, a], [b, a], "high", "low")  # a second seed where the policies agree: no difference
    assert two["mean"] == pytest.approx(0.15 / 2)
    assert two["ci"][1] - two["mean"] == pytest.approx(half / 2, abs=1e-5)
