"""Q-matrix validation (`engine.modelbuild.item_tags`) against answers simulated from known tags.

Truth: a known generative model (per-student skill abilities, Rasch answers) in which chosen items really exercise
another skill than the catalog says; correlations recomputed by a plain loop; the published z of Meng, Rosenthal &
Rubin (1992) computed from its formula by hand."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from engine.catalog import demo_catalog
from engine.modelbuild.item_tags import MIN_RELIABILITY, check_item_tags, reliabilities, standings

CAT = demo_catalog()


def simulate(students: int, answers: int, true_skill: np.ndarray, seed: int) -> pl.DataFrame:
    """Each student answers `answers` random items; P(right) = sigmoid(theta[student, true skill] - b), where each
    skill's ability is the student's general ability plus a larger skill-specific part."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 0.5, (students, 1)) + rng.normal(0, 1.0, (students, CAT.n_skills))
    items = rng.integers(0, CAT.n_items, (students, answers))
    p = 1 / (1 + np.exp(-(theta[np.arange(students)[:, None], true_skill[items]] - CAT.item_b[items])))
    return pl.DataFrame({"student_id": np.repeat([f"s{i:05d}" for i in range(students)], answers),
                         "item_id": np.array(CAT.item_ids)[items.ravel()],
                         "correct": (rng.random(p.shape) < p).astype(float).ravel()})


def single_tagged(n: int, seed: int) -> np.ndarray:
    """`n` items tagged with one skill, drawn at random."""
    single = np.flatnonzero(CAT.item_skills.sum(axis=1) == 1)
    return np.random.default_rng(seed).choice(single, n, replace=False)


def test_items_that_exercise_another_skill_are_flagged_with_that_skill_and_no_other_item_is():
    truth = CAT.item_skill.copy()
    wrong = single_tagged(4, 3)
    truth[wrong] = (CAT.item_skill[wrong] + 1 + np.arange(4)) % CAT.n_skills  # each really exercises another skill
    check = check_item_tags(simulate(2000, 200, truth, 1), CAT)
    assert check.tested >= 0.9 * CAT.n_items
    got = {f.item_id: f.suggested for f in check.flagged}
    assert got == {CAT.item_ids[i]: CAT.skill_ids[truth[i]] for i in wrong}
    for f in check.flagged:
        assert f.tagged == CAT.skill_ids[CAT.item_skill[CAT.item_index(f.item_id)]] and f.r_suggested > f.r_tagged
        assert f.p_adjusted <= 0.05 and f.z > 0


def test_a_catalog_whose_tags_are_right_has_nothing_flagged():
    check = check_item_tags(simulate(2000, 200, CAT.item_skill, 2), CAT)
    assert check.tested >= 0.9 * CAT.n_items and check.flagged == []
    assert "0 answer another skill" in check.note()


def test_standings_leave_the_item_out_and_correlations_match_a_plain_loop():
    log = simulate(300, 40, CAT.item_skill, 4)
    st = standings(log, CAT)
    item, student, centred = st.item, st.student, st.centred
    y = log["correct"].to_numpy()
    means = {i: y[item == i].mean() for i in np.unique(item)}
    assert np.allclose(centred, y - np.array([means[i] for i in item]))
    k = 17  # one answer, by hand: the student's other answers on each skill, this item's excluded
    mine = (student == student[k]) & (item != item[k])
    for s in range(CAT.n_skills):
        on = mine & (CAT.item_skill[item] == s)
        expected = centred[on].mean() if on.any() else np.nan
        got = st.column(s)[k]
        assert (np.isnan(expected) and np.isnan(got)) or got == pytest.approx(expected)


def test_the_z_is_meng_rosenthal_and_rubins():
    """A mis-tagged item, enough answers that it is flagged; its z recomputed from the article's formula with the
    correlations computed directly, the tagged one scaled by the standings' reliabilities (the null)."""
    truth = CAT.item_skill.copy()
    (i,) = single_tagged(1, 5)
    truth[i] = (CAT.item_skill[i] + 3) % CAT.n_skills
    log = simulate(2000, 200, truth, 6)
    (flag,) = [f for f in check_item_tags(log, CAT).flagged if f.item_id == CAT.item_ids[i]]
    st = standings(log, CAT)
    rel = reliabilities(st.student, CAT.item_skill[st.item], st.centred, CAT.n_skills)
    a, b = CAT.item_skill[i], CAT.skill_index(flag.suggested)
    xa, xb = st.column(a), st.column(b)
    on = (st.item == i) & np.isfinite(xa) & np.isfinite(xb)
    r1 = np.corrcoef(st.centred[on], xb[on])[0, 1]
    r2 = np.corrcoef(st.centred[on], xa[on])[0, 1]
    r12 = np.corrcoef(xa[on], xb[on])[0, 1]
    n = int(on.sum())
    mean_sq = (r1 * r1 + r2 * r2) / 2
    f = min((1 - r12) / (2 * (1 - mean_sq)), 1.0)
    h = (1 - f * mean_sq) / (1 - mean_sq)
    # the null: the answer follows the tagged skill, read through standings of different reliability
    z = (math.atanh(r1) - math.atanh(r2 * math.sqrt(rel[b] / rel[a]))) * math.sqrt((n - 3) / (2 * (1 - r12) * h))
    assert flag.z == pytest.approx(z, rel=1e-6) and flag.n == n
    assert flag.r_suggested == pytest.approx(r1, rel=1e-9) and flag.r_tagged == pytest.approx(r2, rel=1e-9)


def test_reliability_of_the_standings_by_hand():
    """Skill 0: A answers 1, 0; B 1, 1; C 0. Pooled within-student variance 0.5 / 2 = 0.25; standings 0.5, 1, 0 vary by
    0.25; their noise 0.25 x mean(1/2, 1/2, 1) = 1/6: reliability 1 - (1/6) / 0.25 = 1/3. Skill 1: A 1; B 0, 0, 1: within
    (2/3) / 2 = 1/3, standings 1 and 1/3 vary by 2/9, noise (1/3 + 1/9) / 2 = 2/9: reliability 0, floored."""
    student = np.array([0, 0, 1, 1, 2, 0, 1, 1, 1])
    skill = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1])
    score = np.array([1, 0, 1, 1, 0, 1, 0, 0, 1], dtype=float)
    assert reliabilities(student, skill, score, 2) == pytest.approx([1 / 3, MIN_RELIABILITY])


def test_answers_the_policy_steered_are_left_out():
    """The mis-tagged item's answers all marked steered: it is no longer flagged (nor tested), the rest as before."""
    truth = CAT.item_skill.copy()
    (i,) = single_tagged(1, 5)
    truth[i] = (CAT.item_skill[i] + 3) % CAT.n_skills
    log = simulate(2000, 200, truth, 6)
    marked = log.with_columns((pl.col("item_id") == CAT.item_ids[i]).alias("steered"))
    before, after = check_item_tags(log, CAT), check_item_tags(marked, CAT)
    assert CAT.item_ids[i] in {f.item_id for f in before.flagged}
    assert CAT.item_ids[i] not in {f.item_id for f in after.flagged} and after.tested == before.tested - 1
