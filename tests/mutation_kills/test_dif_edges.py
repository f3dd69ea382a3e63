"""Edge cases of DIF (engine/fairness/dif.py) that the mutation run showed untested.

References: hand-computed MH counts and statistics on tiny tables, the ETS and Jodoin-Gierl / Zumbo-Thomas
rules of the module docstring at their exact boundaries, statsmodels `Logit` fits on the raw rows for the
multi-group logistic model (2 df per test with two focal groups), and the purification loop re-run by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from engine.errors import ConfigError, DataValidationError
from engine.fairness.dif import (
    DELTA_SCALE,
    DifItem,
    DifResult,
    _group_codes,
    _purify,
    _strata_counts,
    check_responses,
    ets_class,
    generalized_mh,
    jodoin_gierl,
    logistic_dif,
    matching_scores,
    mh_dif,
    mh_from_counts,
    nagelkerke,
    zumbo_thomas,
)


def test_check_responses_names_items_rows_and_counts() -> None:
    X = np.array([[0, 1, np.nan], [2, 1, np.nan], [0.5, 1, np.nan], [1, 3, np.nan]])
    with pytest.raises(DataValidationError) as info:
        check_responses(X, ["a", "b", "c"])
    problems = info.value.problems
    assert [(p.row, p.column, p.value, p.count) for p in problems[:2]] == [(2, "a", 2.0, 2), (4, "b", 3.0, 1)]
    assert problems[0].hint == "DIF needs 0/1 item scores (blank for not answered); rescore this item"
    assert (problems[2].row, problems[2].column, problems[2].value) == (None, "c", None)
    assert problems[2].hint == "item has no answers; remove it"
    with pytest.raises(ConfigError, match="responses must be \\(students x items\\) with 2 item columns, got shape \\(4, 3\\)"):
        check_responses(X, ["a", "b"])
    with pytest.raises(ConfigError, match="got shape \\(3,\\)"):
        check_responses(np.array([0.0, 1.0, 1.0]), ["a", "b", "c"])
    assert info.value.source == "item responses"
    with_none = check_responses([[0, None], [1, 1]], ["a", "b"])  # None is not answered, like NaN
    assert with_none.dtype == float and np.isnan(with_none[0, 1])
    ok = check_responses([[0, 1], [np.nan, 0]], ["a", "b"])
    assert ok.dtype == float and np.isnan(ok[1, 0])


def test_matching_scores_by_hand() -> None:
    X = np.array([[1, 0, 1], [np.nan, 1, 1], [0, 0, np.nan]])
    anchor = np.array([0, 1])
    # anchor sums (NaN left out): 1, 1, 0; "score" adds the studied item when it is not in the anchor
    np.testing.assert_array_equal(matching_scores(X, anchor, "score"), [[1, 1, 2], [1, 1, 2], [0, 0, 0]])
    # "rest" takes the studied item out of the anchor sum when it is in it
    np.testing.assert_array_equal(matching_scores(X, anchor, "rest"), [[0, 1, 1], [1, 0, 1], [0, 0, 0]])
    with pytest.raises(ConfigError, match="unknown matching 'total'; use 'score' or 'rest'"):
        matching_scores(X, anchor, "total")


def test_strata_counts_keep_strata_with_more_than_one_student() -> None:
    y = np.array([1, 0, 1, np.nan, 0.4, 1, 0])
    code = np.array([0, 1, 0, 1, 1, 1, 0])
    score = np.array([2, 2, 3, 3, 5, 5, 7])
    counts = _strata_counts(y, code, score, 2)
    # score 2: ref right 1, focal wrong 1; score 3: ref right 1 only (the NaN answer is left out): T = 1, dropped;
    # score 5: focal wrong (0.4 < 0.5) and focal right; score 7: one student: dropped
    np.testing.assert_array_equal(counts, [[[1, 0], [0, 1]], [[0, 0], [1, 1]]])
    assert _strata_counts(np.array([np.nan]), np.array([0]), np.array([1]), 2).shape == (0, 2, 2)


def test_mh_statistics_degenerate_tables() -> None:
    no_variance = np.array([[[2, 0], [2, 0]]], dtype=float)  # everyone right: no information
    s = mh_from_counts(no_variance)
    assert math.isnan(s.chi2) and math.isnan(s.alpha_mh) and math.isnan(s.p)
    only_r = np.array([[[2, 0], [0, 2]]], dtype=float)  # B = C = 0: alpha = infinity
    s = mh_from_counts(only_r)
    assert s.alpha_mh == math.inf
    # chi2: A - E = 2 - 1 = 1, Var = 2*2*2*2/(16*3) = 1/3 -> (1 - 0.5)^2 * 3 = 0.75
    assert s.chi2 == pytest.approx(0.75) and s.p == pytest.approx(stats.chi2.sf(0.75, 1))
    assert mh_from_counts(only_r, correct=False).chi2 == pytest.approx(3.0)
    only_s = np.array([[[0, 2], [2, 0]]], dtype=float)
    assert mh_from_counts(only_s).alpha_mh == 0.0
    # one stratum, hand-computed RBG variance: A=3 B=1 C=1 D=3, T = 8
    one = np.array([[[3, 1], [1, 3]]], dtype=float)
    R, S, P, Q = 9 / 8, 1 / 8, 6 / 8, 2 / 8
    var = P * R / (2 * R ** 2) + (P * S + Q * R) / (2 * R * S) + Q * S / (2 * S ** 2)
    s = mh_from_counts(one)
    assert s.alpha_mh == pytest.approx(9.0) and s.log_alpha_se == pytest.approx(math.sqrt(var))
    # |sum(A - E)| below 0.5: no clamp (as difR), a tiny positive chi2
    tiny = np.array([[[1, 1], [1, 1]], [[2, 1], [1, 1]]], dtype=float)
    dev = abs((1 - 1) + (2 - 3 * 3 / 5))
    var_sum = 2 * 2 * 2 * 2 / (16 * 3) + 3 * 2 * 3 * 2 / (25 * 4)
    assert mh_from_counts(tiny).chi2 == pytest.approx((dev - 0.5) ** 2 / var_sum)


def test_generalized_mh_three_groups_by_hand_and_reference_choice() -> None:
    counts = np.array([[[3, 1], [1, 3], [2, 2]], [[2, 2], [1, 3], [3, 1]], [[4, 0], [2, 2], [1, 3]]], dtype=float)
    a = counts[:, :, 0]
    n = counts.sum(axis=2)
    T = n.sum(axis=1)
    right = a.sum(axis=1)
    d = np.zeros(3)
    V = np.zeros((3, 3))
    for s in range(3):
        p = right[s] / T[s]
        d += a[s] - n[s] * p
        f = right[s] * (T[s] - right[s]) / (T[s] ** 2 * (T[s] - 1))
        V += f * (T[s] * np.diag(n[s]) - np.outer(n[s], n[s]))
    for ref in (0, 1, 2):
        keep = [k for k in range(3) if k != ref]
        want = d[keep] @ np.linalg.inv(V[np.ix_(keep, keep)]) @ d[keep]
        stat, df, p = generalized_mh(counts, reference=ref)
        assert stat == pytest.approx(want) and df == 2 and p == pytest.approx(stats.chi2.sf(want, 2))


@pytest.mark.parametrize("delta, se, p, expected", [
    (math.inf, 0.1, 0.01, "C"), (-math.inf, 0.1, 0.01, "C"), (math.inf, 0.1, 0.05, "A"), (math.nan, 0.1, 0.0, "A"),
    (1.0, 0.001, 0.001, "B"), (-0.999, 0.001, 0.001, "A"), (1.2, 0.01, 0.05, "A"), (1.2, 0.01, 0.0499, "B"),
    (1.5, 0.01, 0.001, "C"), (1.49, 0.01, 0.001, "B"), (2.0, 0.0, 0.001, "B"),
    (2.0, 1.0 / stats.norm.ppf(0.95), 0.001, "B"), (2.0, 0.999 / stats.norm.ppf(0.95), 0.001, "C"),
])
def test_ets_class_boundaries(delta: float, se: float, p: float, expected: str) -> None:
    assert ets_class(delta, se, p) == expected


def test_ets_class_uses_its_alpha_for_both_tests() -> None:
    # significant at 0.1 but not 0.05; (|D| - 1) / se = 1.4: above z_0.90 = 1.28, below z_0.95 = 1.645
    assert ets_class(1.7, 0.5, 0.07, alpha=0.1) == "C"
    assert ets_class(1.7, 0.5, 0.07) == "A"
    assert ets_class(1.7, 0.5, 0.01) == "B"


@pytest.mark.parametrize("dr2, p, jg, zt", [
    (0.035, 0.01, "B", "A"), (0.0349, 0.01, "A", "A"), (0.07, 0.01, "C", "A"), (0.0699, 0.01, "B", "A"),
    (0.13, 0.01, "C", "B"), (0.1299, 0.01, "C", "A"), (0.26, 0.01, "C", "C"), (0.2599, 0.01, "C", "B"),
    (0.5, 0.05, "A", "A"), (0.5, 0.0499, "C", "C"),
])
def test_effect_size_classes_at_their_cut_offs(dr2: float, p: float, jg: str, zt: str) -> None:
    assert jodoin_gierl(dr2, p, 0.05) == jg and zumbo_thomas(dr2, p, 0.05) == zt


def test_nagelkerke_by_hand() -> None:
    ll, ll0, n = -40.0, -50.0, 100
    cox = 1 - math.exp(2 * (ll0 - ll) / n)
    assert nagelkerke(ll, ll0, n) == pytest.approx(cox / (1 - math.exp(2 * ll0 / n)))
    assert nagelkerke(ll0, ll0, n) == 0.0


def test_group_codes_and_missing_groups() -> None:
    codes = _group_codes(np.array([1, 2, 3, 1, 9]), "1", ["2", "3"])
    np.testing.assert_array_equal(codes, [0, 1, 2, 0, -1])
    with pytest.raises(DataValidationError) as info:
        _group_codes(np.array(["a", "b"]), "a", ["c"])
    (problem,) = info.value.problems
    assert (problem.column, problem.value) == ("group", "c")
    assert problem.hint == "no student has this group value; check --focal/--reference"
    with pytest.raises(DataValidationError, match="'z'"):
        _group_codes(np.array(["a", "b"]), "z", ["b"])


def test_purify_loop_bookkeeping() -> None:
    calls = []

    def run(anchor):
        calls.append(anchor.tolist())
        return anchor

    flags = iter([np.array([True, False, False]), np.array([True, True, False]), np.array([True, True, False])])
    result, anchor, rounds, converged = _purify(run, lambda r: next(flags), True, 10, np.arange(3))
    assert calls == [[0, 1, 2], [1, 2], [2]] and rounds == 2 and converged
    assert anchor.tolist() == [2] and result.tolist() == [2]
    calls.clear()
    result, anchor, rounds, converged = _purify(run, lambda r: np.array([False, False, False]), True, 10, np.arange(3))
    assert (rounds, converged, calls) == (0, True, [[0, 1, 2]])
    calls.clear()
    cycle = iter([np.array([True, False]), np.array([False, True])] * 5)
    result, anchor, rounds, converged = _purify(run, lambda r: next(cycle), True, 3, np.arange(2))
    assert (rounds, converged) == (3, False) and calls == [[0, 1], [1], [0], [1]]
    calls.clear()
    assert _purify(run, lambda r: np.array([True, True]), False, 10, np.arange(2))[2:] == (0, True)
    assert calls == [[0, 1]]


def _data(seed: int, n_per: int = 150, groups=("r", "f")):
    rng = np.random.default_rng(seed)
    group = np.repeat(np.array(groups), n_per)
    theta = rng.normal(size=group.size)
    b = np.linspace(-1, 1, 6)
    eta = theta[:, None] - b[None, :]
    eta[:, 0] -= 1.5 * (group == groups[1])
    X = (rng.random(eta.shape) < 1 / (1 + np.exp(-eta))).astype(float)
    X[rng.random(X.shape) < 0.05] = np.nan
    return X, group


def test_mh_dif_counts_delta_and_result_fields() -> None:
    X, group = _data(0)
    items = [f"q{j}" for j in range(6)]
    result = mh_dif(X, group, items, reference="r", focal=["f"], alpha=0.1, adjust="holm")
    for j, item in enumerate(result.items):
        answered = ~np.isnan(X[:, j])
        assert (item.item_id, item.focal, item.reference) == (items[j], "f", "r")
        assert item.n_reference == int(np.sum(answered & (group == "r")))
        assert item.n_focal == int(np.sum(answered & (group == "f")))
        assert item.delta == pytest.approx(DELTA_SCALE * math.log(item.alpha_mh))
        scores = matching_scores(X, np.arange(6), "score")[:, j]
        codes = (group == "f").astype(int)
        s = mh_from_counts(_strata_counts(X[:, j], codes, scores, 2))
        assert item.delta_se == pytest.approx(2.35 * s.log_alpha_se) and item.chi2 == pytest.approx(s.chi2)
        assert item.ets_class == ets_class(item.delta, item.delta_se, item.p_adjusted, 0.1)
        assert item.flag_for_review == (item.ets_class == "C")
    p = np.array([i.p for i in result.items])
    order = np.argsort(p)
    holm = np.minimum(np.maximum.accumulate(p[order] * (6 - np.arange(6))), 1)
    back = np.empty(6)
    back[order] = holm
    assert [i.p_adjusted for i in result.items] == pytest.approx(back.tolist())
    assert result.items[0].delta < -1 and result.flagged == ["q0"]
    assert (result.method, result.match, result.purified, result.iterations, result.converged, result.adjust, result.alpha) == (
        "mh", "score", False, 0, True, "holm", 0.1)
    assert result.anchor_items == items and result.global_tests == []
    body = result.to_dict()
    assert body["flag_for_review"] == ["q0"] and body["anchor_items"] == items and len(body["items"]) == 6
    assert "jg_class" not in body["items"][0] and body["items"][0]["ets_class"] == result.items[0].ets_class
    assert {k: body[k] for k in ("method", "match", "purified", "iterations", "converged", "adjust", "alpha", "global_tests")} == {
        "method": "mh", "match": "score", "purified": False, "iterations": 0, "converged": True, "adjust": "holm",
        "alpha": 0.1, "global_tests": []}


def test_mh_dif_zero_alpha_gives_an_infinite_delta() -> None:
    # every reference student wrong and every focal student right at each score: alpha = 0
    X = np.array([[0, 1], [0, 1], [1, 0], [1, 0], [0, 1], [1, 0]], dtype=float)
    group = np.array(["r", "r", "f", "f", "r", "f"])
    item = mh_dif(X, group, ["a", "b"], reference="r", focal=["f"]).items[0]
    assert item.alpha_mh == 0.0 and item.delta == math.inf


def test_mh_dif_three_groups_and_purification() -> None:
    X, group = _data(1, n_per=120, groups=("r", "f", "g"))
    items = [f"q{j}" for j in range(6)]
    result = mh_dif(X, group, items, reference="r", focal=["f", "g"], adjust="bh", purify=True, match="rest")
    assert [(i.item_id, i.focal) for i in result.items[:3]] == [("q0", "f"), ("q0", "g"), ("q1", "f")]
    assert result.items[1].n_focal == int(np.sum(~np.isnan(X[:, 0]) & (group == "g")))
    p = np.array([t["p"] for t in result.global_tests])
    assert [t["df"] for t in result.global_tests] == [2] * 6 and [t["item_id"] for t in result.global_tests] == items
    # purification flags on the generalized test: q0 is out of the final anchor
    assert "q0" not in result.anchor_items and result.iterations >= 1 and result.converged
    anchor = np.array([items.index(i) for i in result.anchor_items])
    keep = np.isin(group, ["r", "f", "g"])
    codes = np.select([group == "r", group == "f", group == "g"], [0, 1, 2])
    scores = matching_scores(X[keep], anchor, "rest")
    for j in range(6):
        stat, df, pj = generalized_mh(_strata_counts(X[:, j], codes, scores[:, j], 3))
        assert result.global_tests[j]["chi2"] == pytest.approx(stat) and p[j] == pytest.approx(pj)
    order = np.argsort(p)
    bh = np.minimum.accumulate((p[order] * 6 / np.arange(1, 7))[::-1])[::-1]
    back = np.empty(6)
    back[order] = np.minimum(bh, 1)
    assert [t["p_adjusted"] for t in result.global_tests] == pytest.approx(back.tolist())
    unpurified = mh_dif(X, group, items, reference="r", focal=["f", "g"])
    flagged = [t["p"] < 0.05 for t in unpurified.global_tests]
    assert flagged[0] and unpurified.anchor_items == items


def test_logistic_dif_with_two_focal_groups_equals_statsmodels() -> None:
    X, group = _data(2, n_per=100, groups=("r", "f", "g"))
    X = np.nan_to_num(X)  # complete answers: the raw-row fits below use every student
    items = [f"q{j}" for j in range(6)]
    results = {t: logistic_dif(X, group, items, reference="r", focal=["f", "g"], dif_type=t) for t in ("both", "uniform", "nonuniform")}
    score = X.sum(axis=1)
    sc = score - score.mean()
    dummies = np.column_stack([(group == "f"), (group == "g")]).astype(float)
    ones = np.ones_like(sc)
    for j in (0, 3):
        fits = [sm.Logit(X[:, j], D).fit(disp=0, method="newton", maxiter=100) for D in (
            np.column_stack([ones, sc]), np.column_stack([ones, sc, dummies]),
            np.column_stack([ones, sc, dummies, dummies * sc[:, None]]))]
        ll = [f.llf for f in fits]
        n = X.shape[0]
        null = fits[0].llnull
        r2 = [(1 - np.exp(2 * (null - v) / n)) / (1 - np.exp(2 * null / n)) for v in ll]
        both, uni, non = (results[t].items[j] for t in ("both", "uniform", "nonuniform"))
        assert both.chi2 == pytest.approx(2 * (ll[2] - ll[0]), abs=1e-6) and both.p == pytest.approx(stats.chi2.sf(both.chi2, 4))
        assert uni.chi2 == pytest.approx(2 * (ll[1] - ll[0]), abs=1e-6) and uni.p == pytest.approx(stats.chi2.sf(uni.chi2, 2))
        assert non.chi2 == pytest.approx(2 * (ll[2] - ll[1]), abs=1e-6) and non.p == pytest.approx(stats.chi2.sf(non.chi2, 2))
        assert both.delta_r2 == pytest.approx(r2[2] - r2[0], abs=1e-8)
        assert uni.delta_r2 == pytest.approx(r2[1] - r2[0], abs=1e-8) and non.delta_r2 == pytest.approx(r2[2] - r2[1], abs=1e-8)
        assert both.lr_uniform == pytest.approx(uni.chi2) and both.lr_nonuniform == pytest.approx(non.chi2)
        assert both.p_uniform == pytest.approx(stats.chi2.sf(uni.chi2, 2))
        assert both.p_nonuniform == pytest.approx(stats.chi2.sf(non.chi2, 2))
        assert (both.focal, both.reference, both.n_reference, both.n_focal) == ("f,g", "r", 100, 200)
        assert both.jg_class == jodoin_gierl(both.delta_r2, both.p_adjusted, 0.05)
        assert both.zt_class == zumbo_thomas(both.delta_r2, both.p_adjusted, 0.05)
    assert results["uniform"].method == "logistic-uniform" and results["both"].anchor_items == items
    both = results["both"]
    assert (both.match, both.purified, both.iterations, both.converged, both.adjust, both.alpha) == ("score", False, 0, True, "none", 0.05)
    with pytest.raises(ConfigError, match="unknown DIF type 'mixed'; use both, uniform or nonuniform"):
        logistic_dif(X, group, items, reference="r", focal=["f"], dif_type="mixed")


def test_logistic_dif_purification_and_an_item_everyone_answers_right() -> None:
    X, group = _data(3, n_per=150)
    X = np.nan_to_num(X)
    X[:, 5] = 1.0
    items = [f"q{j}" for j in range(6)]
    result = logistic_dif(X, group, items, reference="r", focal=["f"], purify=True, alpha=0.01, adjust="holm")
    assert "q0" not in result.anchor_items and result.purified and result.alpha == 0.01 and result.adjust == "holm"
    constant = result.items[5]  # no information: no DIF found, never flagged
    assert constant.chi2 == pytest.approx(0.0, abs=1e-6) and constant.jg_class == "A" and not constant.flag_for_review
    assert result.items[0].p < 0.01 and result.iterations >= 1


def test_result_objects() -> None:
    item = DifItem("q", "f", "r", 10, 12, 3.0, 0.08)
    assert item.to_dict() == {"item_id": "q", "focal": "f", "reference": "r", "n_reference": 10, "n_focal": 12, "chi2": 3.0,
                              "p": 0.08, "p_adjusted": item.p_adjusted, "flag_for_review": False}
    flagged = [DifItem("b", "f", "r", 1, 1, 1.0, 0.1, flag_for_review=True), DifItem("a", "g", "r", 1, 1, 1.0, 0.1, flag_for_review=True),
               DifItem("b", "g", "r", 1, 1, 1.0, 0.1, flag_for_review=True), item]
    result = DifResult("mh", flagged, "score", False, 0, True, "none", 0.05)
    assert result.flagged == ["a", "b"] and result.to_dict()["global_tests"] == [] and result.to_dict()["anchor_items"] == []
