"""DIF against independent truth: difR's published output on `verbal`, statsmodels, and hand computation.

Published values: difR's own test snapshots of `difMH(verbal, group = "Gender", focal.name = 1)` and
`difLogistic(...)` (github.com/adelahladka/difR, tests/testthat/_snaps/difMH.md and difLogistic.md),
printed to 4 decimals. difR codes Gender 0 as the reference and 1 as the focal group and matches on the
total score including the studied item, as we do.
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.contingency_tables import StratifiedTable
from statsmodels.stats.multitest import multipletests

from engine.errors import DataValidationError
from engine.fairness.dif import ets_class, generalized_mh, jodoin_gierl, logistic_dif, mh_dif, mh_from_counts

# difMH(verbal, group = 25, focal.name = 1): chi2 and alphaMH per item, in column order
PUBLISHED_CHI2 = [1.7076, 2.1486, 0.9926, 1.9302, 2.9540, 9.6032, 0.0013, 0.6752, 0.8185, 1.6292, 0.0152, 4.1188,
                  0.1324, 2.7501, 0.0683, 6.3029, 6.8395, 0.2170, 5.7817, 3.8880, 0.2989, 1.1220, 1.4491, 0.8390]
PUBLISHED_ALPHA = [1.7005, 1.7702, 1.4481, 1.9395, 1.9799, 2.8804, 0.9439, 0.7194, 1.5281, 1.6849, 1.0901, 2.3458,
                   0.7967, 0.4995, 1.1765, 0.3209, 0.3746, 0.7931, 0.4616, 0.4727, 0.6373, 0.6444, 0.6385, 1.6053]
# ... with p.adjust.method = "BH": adjusted p-values
PUBLISHED_BH = [0.4036, 0.3805, 0.5106, 0.3954, 0.2917, 0.0466, 0.9711, 0.5483, 0.5162, 0.4036, 0.9412, 0.1945,
                0.8182, 0.2917, 0.8660, 0.0964, 0.0964, 0.7696, 0.0972, 0.1945, 0.7384, 0.4963, 0.4222, 0.5162]
# ... with correct = FALSE: uncorrected chi2 (first ten items)
PUBLISHED_UNCORRECTED = [2.2151, 2.6579, 1.3392, 2.5359, 3.5755, 10.6034, 0.0356, 0.9709, 1.1630, 2.1003]
# ... with purify = TRUE: "Convergence reached after 6 iterations"
PUBLISHED_PURIFIED_CHI2 = [0.0069, 0.0376, 0.0087, 0.8881, 0.1112, 4.2680, 0.0987, 4.3724, 0.3454, 0.1406, 1.6853, 1.0766,
                           2.0959, 6.2736, 0.0172, 9.6672, 11.9436, 0.6997, 9.4644, 6.4356, 1.4190, 3.9323, 5.7987, 0.3223]
PUBLISHED_PURIFIED_ALPHA = [1.1054, 1.1357, 1.0919, 1.5998, 1.1994, 2.2088, 0.8584, 0.4593, 1.3348, 1.2183, 0.6322, 1.5764,
                            0.5481, 0.3832, 0.9822, 0.2658, 0.3014, 0.6832, 0.3713, 0.4079, 0.4654, 0.4744, 0.4148, 1.4040]
# difLogistic(verbal, group = 25, focal.name = 1): LR statistic (both types) and Nagelkerke delta R^2
PUBLISHED_LR_BOTH = [2.0014, 3.3541, 2.4742, 4.7296, 4.1404, 11.4111, 1.6061, 1.6331, 2.6989, 2.4547, 2.0997, 3.6877,
                     1.2196, 4.7304, 1.0456, 7.6935, 10.2622, 1.7016, 7.2379, 5.8680, 1.2763, 2.9521, 2.6956, 1.3524]
PUBLISHED_R2_BOTH = [0.0067, 0.0101, 0.0074, 0.0177, 0.0125, 0.0343, 0.0056, 0.0050, 0.0106, 0.0085, 0.0060, 0.0133,
                     0.0039, 0.0122, 0.0033, 0.0243, 0.0277, 0.0058, 0.0232, 0.0211, 0.0078, 0.0092, 0.0083, 0.0057]
PUBLISHED_LR_UNIFORM = [1.9998, 1.9065, 2.1606, 4.2639, 2.9036, 11.3031, 0.0955, 1.6260]
PUBLISHED_LR_NONUNIFORM = [0.0016, 1.4476, 0.3136, 0.4658, 1.2367, 0.1080, 1.5106, 0.0071]
TOL_4DP = 6e-5  # published numbers are rounded to 4 decimals


def _mh(verbal, **options):
    X, gender, items = verbal
    return mh_dif(X, gender, items, reference="0", focal=["1"], **options)


def test_mh_equals_statsmodels_stratified_table_on_verbal(verbal) -> None:
    X, gender, items = verbal
    result = _mh(verbal)
    score = X.sum(axis=1)
    for j, item in enumerate(result.items):
        tables = []
        for s in np.unique(score):
            rows = score == s
            if rows.sum() < 2:
                continue  # a stratum of one student carries no information (difR and ETS drop it too)
            ref, foc, right = gender[rows] == 0, gender[rows] == 1, X[rows, j] == 1
            tables.append([[np.sum(ref & right), np.sum(ref & ~right)], [np.sum(foc & right), np.sum(foc & ~right)]])
        table = StratifiedTable(np.array(tables, dtype=float).transpose(1, 2, 0))
        test = table.test_null_odds(correction=True)
        assert item.alpha_mh == pytest.approx(table.oddsratio_pooled, rel=1e-9, abs=1e-6)
        assert item.chi2 == pytest.approx(test.statistic, rel=1e-9, abs=1e-6)
        assert item.p == pytest.approx(test.pvalue, rel=1e-6, abs=1e-9)
        assert item.delta_se == pytest.approx(2.35 * table.logodds_pooled_se, rel=1e-9)


def test_mh_equals_published_difr_output(verbal) -> None:
    result = _mh(verbal)
    assert [i.chi2 for i in result.items] == pytest.approx(PUBLISHED_CHI2, abs=TOL_4DP)
    assert [i.alpha_mh for i in result.items] == pytest.approx(PUBLISHED_ALPHA, abs=TOL_4DP)
    # difR flags (chi2 > 3.8415): S2WantShout, S4WantShout, S2DoCurse, S2DoScold, S3DoCurse, S3DoScold
    flagged = [i.item_id for i in result.items if i.p < 0.05]
    assert flagged == ["S2WantShout", "S4WantShout", "S2DoCurse", "S2DoScold", "S3DoCurse", "S3DoScold"]


def test_delta_scale_and_ets_classes_follow_the_rule(verbal) -> None:
    result = _mh(verbal)
    z = stats.norm.ppf(0.95)
    for item in result.items:
        assert item.delta == pytest.approx(-2.35 * np.log(item.alpha_mh), rel=1e-12)
        size, significant = abs(item.delta), item.p < 0.05
        expected = ("A" if size < 1 or not significant
                    else "C" if size >= 1.5 and (size - 1) / item.delta_se > z else "B")
        assert item.ets_class == expected
        assert item.flag_for_review == (expected == "C")
    classes = {i.item_id: i.ets_class for i in result.items}
    # difR prints effect-size-only classes (C for S2WantCurse, |D| = 1.56, but p = 0.16): not significant -> A here
    assert classes["S2WantCurse"] == "A"
    assert classes["S2WantShout"] == "C"  # |D| = 2.49, chi2 9.60


@pytest.mark.parametrize("delta, se, p, expected", [
    (0.9, 0.1, 0.001, "A"),   # small
    (-2.0, 0.2, 0.30, "A"),   # large but not significant
    (1.2, 0.1, 0.001, "B"),   # moderate
    (-1.6, 0.05, 0.001, "C"),  # large and clearly above 1
    (1.6, 0.5, 0.001, "B"),   # large but not significantly above 1: (0.6 / 0.5) < 1.645
])
def test_ets_class_by_hand(delta: float, se: float, p: float, expected: str) -> None:
    assert ets_class(delta, se, p) == expected


def test_mh_by_hand_on_two_strata() -> None:
    # stratum 1: A=3 B=1 C=1 D=3; stratum 2: A=2 B=2 C=1 D=3 (T = 8 each)
    counts = np.array([[[3, 1], [1, 3]], [[2, 2], [1, 3]]], dtype=float)
    # alpha = (9/8 + 6/8) / (1/8 + 2/8) = 5; sum(A - E) = (3 - 2) + (2 - 1.5) = 1.5
    # Var = 4*4*4*4/(64*7) + 4*4*3*5/(64*7) = 496/448
    corrected = mh_from_counts(counts, correct=True)
    assert corrected.alpha_mh == pytest.approx(5.0)
    assert corrected.chi2 == pytest.approx(1.0 ** 2 / (496 / 448))
    assert mh_from_counts(counts, correct=False).chi2 == pytest.approx(1.5 ** 2 / (496 / 448))


def test_bh_adjusted_pvalues_equal_published(verbal) -> None:
    result = _mh(verbal, adjust="bh")
    assert [i.p_adjusted for i in result.items] == pytest.approx(PUBLISHED_BH, abs=TOL_4DP)


def test_holm_equals_statsmodels_multipletests(verbal) -> None:
    result = _mh(verbal, adjust="holm")
    expected = multipletests([i.p for i in result.items], method="holm")[1]
    assert [i.p_adjusted for i in result.items] == pytest.approx(expected, rel=1e-12)


def test_uncorrected_chi2_equals_published(verbal) -> None:
    result = _mh(verbal, correct=False)
    assert [i.chi2 for i in result.items[:10]] == pytest.approx(PUBLISHED_UNCORRECTED, abs=TOL_4DP)


def test_purification_reproduces_published_run(verbal) -> None:
    result = _mh(verbal, purify=True)
    assert result.iterations == 6 and result.converged
    assert [i.chi2 for i in result.items] == pytest.approx(PUBLISHED_PURIFIED_CHI2, abs=TOL_4DP)
    assert [i.alpha_mh for i in result.items] == pytest.approx(PUBLISHED_PURIFIED_ALPHA, abs=TOL_4DP)
    flagged = {i.item_id for i in result.items if i.p < 0.05}
    assert set(result.anchor_items) == set(i.item_id for i in result.items) - flagged


# ... with purify = TRUE, nrIter = 5: "no item purification convergence after 5 iterations"
PUBLISHED_PURIFY_5_CHI2 = [0.0974, 0.0989, 0.2182, 1.2035, 0.2336, 4.1092, 0.0344, 4.3724, 0.4716, 0.2721, 1.2605, 1.3271,
                           1.3384, 6.5336, 0.0075, 8.1200, 13.1912, 0.4496, 8.4944, 5.2667, 1.0026, 4.4670, 5.9626, 0.0844]


def test_purification_stopped_early_reports_no_convergence_like_difr(verbal) -> None:
    result = _mh(verbal, purify=True, max_iter=5)
    assert result.iterations == 5 and not result.converged
    assert [i.chi2 for i in result.items] == pytest.approx(PUBLISHED_PURIFY_5_CHI2, abs=TOL_4DP)


def test_generalized_mh_with_two_groups_is_the_uncorrected_mh(verbal) -> None:
    X, gender, items = verbal
    score = X.sum(axis=1)
    for j in range(10):
        strata = [s for s in np.unique(score) if np.sum(score == s) > 1]
        counts = np.array([[[np.sum((score == s) & (gender == g) & (X[:, j] == 1)), np.sum((score == s) & (gender == g) & (X[:, j] == 0))]
                            for g in (0, 1)] for s in strata], dtype=float)
        stat, df, _ = generalized_mh(counts)
        assert df == 1
        assert stat == pytest.approx(PUBLISHED_UNCORRECTED[j], abs=TOL_4DP)


def _three_group_data(rng: np.random.Generator, n: int = 900, dif_item: int = 0, shift: float = 1.2):
    group = np.repeat(np.array(["a", "b", "c"]), n // 3)
    theta = rng.normal(size=n) + (group == "c") * 0.5  # impact: group c is abler (not DIF)
    b = np.linspace(-1.5, 1.5, 15)
    eta = theta[:, None] - b[None, :]
    eta[:, dif_item] -= shift * (group == "b")  # item 0 is harder for group b at equal ability
    return (rng.random(eta.shape) < 1 / (1 + np.exp(-eta))).astype(float), group


def test_generalized_mh_detects_dif_in_one_of_three_groups_and_ignores_impact() -> None:
    X, group = _three_group_data(np.random.default_rng(3))
    items = [f"i{j}" for j in range(X.shape[1])]
    result = mh_dif(X, group, items, reference="a", focal=["b", "c"], purify=True)
    tests = {t["item_id"]: t for t in result.global_tests}
    assert tests["i0"]["df"] == 2 and tests["i0"]["p"] < 1e-4
    pair = {(i.item_id, i.focal): i for i in result.items}
    assert pair[("i0", "b")].delta < -1 and pair[("i0", "b")].p < 1e-3  # harder for b: negative delta
    assert abs(pair[("i0", "c")].delta) < 1
    others = [tests[f"i{j}"]["p"] for j in range(1, 15)]
    assert np.mean(np.array(others) < 0.01) <= 0.15  # matching on the score absorbs the impact of group c


def test_generalized_mh_does_not_depend_on_which_group_is_reference() -> None:
    X, group = _three_group_data(np.random.default_rng(4))
    items = [f"i{j}" for j in range(X.shape[1])]
    one = mh_dif(X, group, items, reference="a", focal=["b", "c"])
    two = mh_dif(X, group, items, reference="c", focal=["a", "b"])
    assert [t["chi2"] for t in one.global_tests] == pytest.approx([t["chi2"] for t in two.global_tests], rel=1e-8)


def _logit_fits(y: np.ndarray, score: np.ndarray, g: np.ndarray):
    ones = np.ones_like(score)
    fits = [sm.Logit(y, X).fit(disp=0, method="newton", maxiter=100) for X in (
        np.column_stack([ones, score]), np.column_stack([ones, score, g]), np.column_stack([ones, score, g, score * g]))]
    return fits


def test_logistic_dif_equals_direct_statsmodels_fits(verbal) -> None:
    X, gender, items = verbal
    both = logistic_dif(X, gender, items, reference="0", focal=["1"])
    score = X.sum(axis=1)
    g = (gender == 1).astype(float)
    n = len(score)
    for j in (0, 5, 13, 16):
        m0, m1, m2 = _logit_fits(X[:, j], score, g)
        null = m0.llnull
        nagelkerke = [(1 - np.exp(2 * (null - m.llf) / n)) / (1 - np.exp(2 * null / n)) for m in (m0, m1, m2)]
        item = both.items[j]
        assert item.chi2 == pytest.approx(2 * (m2.llf - m0.llf), rel=1e-6, abs=1e-6)
        assert item.lr_uniform == pytest.approx(2 * (m1.llf - m0.llf), rel=1e-6, abs=1e-6)
        assert item.lr_nonuniform == pytest.approx(2 * (m2.llf - m1.llf), rel=1e-6, abs=1e-6)
        assert item.delta_r2 == pytest.approx(nagelkerke[2] - nagelkerke[0], rel=1e-6, abs=1e-8)
        assert item.p == pytest.approx(stats.chi2.sf(2 * (m2.llf - m0.llf), 2), rel=1e-6)


def test_logistic_dif_equals_published_difr_output(verbal) -> None:
    X, gender, items = verbal
    both = logistic_dif(X, gender, items, reference="0", focal=["1"])
    assert [i.chi2 for i in both.items] == pytest.approx(PUBLISHED_LR_BOTH, abs=TOL_4DP)
    assert [i.delta_r2 for i in both.items] == pytest.approx(PUBLISHED_R2_BOTH, abs=TOL_4DP)
    assert [i.item_id for i in both.items if i.p < 0.05] == ["S2WantShout", "S2DoCurse", "S2DoScold", "S3DoCurse"]
    assert all(i.jg_class == "A" for i in both.items)  # every delta R^2 < 0.035
    uniform = logistic_dif(X, gender, items, reference="0", focal=["1"], dif_type="uniform")
    nonuniform = logistic_dif(X, gender, items, reference="0", focal=["1"], dif_type="nonuniform")
    assert [i.chi2 for i in uniform.items[:8]] == pytest.approx(PUBLISHED_LR_UNIFORM, abs=TOL_4DP)
    assert [i.chi2 for i in nonuniform.items[:8]] == pytest.approx(PUBLISHED_LR_NONUNIFORM, abs=TOL_4DP)


@pytest.mark.parametrize("dr2, p, expected", [(0.02, 0.001, "A"), (0.05, 0.2, "A"), (0.05, 0.001, "B"), (0.08, 0.001, "C")])
def test_jodoin_gierl_cutoffs(dr2: float, p: float, expected: str) -> None:
    assert jodoin_gierl(dr2, p, 0.05) == expected


def test_missing_answers_are_left_out_of_the_item_and_the_score(verbal) -> None:
    X, gender, items = verbal
    rng = np.random.default_rng(0)
    Xm = X.copy()
    Xm[rng.random(X.shape) < 0.05] = np.nan
    result = mh_dif(Xm, gender, items, reference="0", focal=["1"])
    score = np.nansum(Xm, axis=1)
    j = 5
    answered = ~np.isnan(Xm[:, j])
    tables = []
    for s in np.unique(score[answered]):
        rows = answered & (score == s)
        if rows.sum() < 2:
            continue
        ref, foc, right = gender[rows] == 0, gender[rows] == 1, Xm[rows, j] == 1
        tables.append([[np.sum(ref & right), np.sum(ref & ~right)], [np.sum(foc & right), np.sum(foc & ~right)]])
    table = StratifiedTable(np.array(tables, dtype=float).transpose(1, 2, 0))
    assert result.items[j].chi2 == pytest.approx(table.test_null_odds(correction=True).statistic, rel=1e-9)
    assert result.items[j].n_reference + result.items[j].n_focal == answered.sum()


def test_non_binary_item_values_are_reported_by_item_and_row(verbal) -> None:
    X, gender, items = verbal
    bad = X.copy()
    bad[7, 3] = 2
    with pytest.raises(DataValidationError) as info:
        mh_dif(bad, gender, items, reference="0", focal=["1"])
    assert "row 8" in str(info.value) and items[3] in str(info.value)


def test_strata_with_fewer_than_two_students_change_nothing_and_give_no_nan() -> None:
    # two full strata, plus an empty score level and one holding a single student, as a pair of focal groups meets
    # them in a several-group audit; statsmodels on the two full strata is the reference
    full = np.array([[[10, 5], [6, 9]], [[8, 12], [4, 16]]], dtype=float)
    padded = np.concatenate([full, np.zeros((1, 2, 2)), np.array([[[0, 0], [1, 0]]], dtype=float)])
    table = StratifiedTable(list(full))
    got = mh_from_counts(padded)
    assert got.chi2 == pytest.approx(table.test_null_odds(correction=True).statistic)
    assert got.alpha_mh == pytest.approx(table.oddsratio_pooled)
    stat, df, _ = generalized_mh(padded)
    assert df == 1 and stat == pytest.approx(table.test_null_odds(correction=False).statistic)
