"""IRT building blocks (models/irt/{response,quadrature,priors,layout,diagnostics,table}.py) against
independent truths: the item response function and Fisher information written from their definitions
(P = c + (1 - c) / (1 + exp(-a (theta - b))), I = P'^2 / (P Q) with P' by central differences), scipy's
normal density and `log_expit`, finite differences of each log prior, and hand-written layouts.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy.special import expit, log_expit
from scipy.stats import norm

from models.irt.bank import ItemBank
from models.irt.diagnostics import ItemWarning, estimate_warnings, screen_items
from models.irt.layout import ParameterLayout
from models.irt.mstep import ItemCoords
from models.irt.priors import Priors
from models.irt.quadrature import Quadrature, normal_log_weights
from models.irt import response
from models.irt.response import expected_score, item_information, log_sigmoids, probability, standard_error
from models.irt.table import item_table


def p_ref(theta: float, a: float, b: float, c: float = 0.0) -> float:
    return c + (1.0 - c) / (1.0 + math.exp(-a * (theta - b)))


def info_ref(theta: float, a: float, b: float, c: float = 0.0, h: float = 1e-5) -> float:
    dp = (p_ref(theta + h, a, b, c) - p_ref(theta - h, a, b, c)) / (2 * h)
    p = p_ref(theta, a, b, c)
    return dp * dp / (p * (1.0 - p))


THETA = [-1.5, 0.0, 0.7]
A, B, C = [0.6, 1.3], [0.4, -1.1], [0.15, 0.25]


# ---- response functions ------------------------------------------------------------------------
def test_response_functions_without_c_are_the_two_parameter_curve() -> None:
    got_p = probability(THETA, A, B)
    got_i = item_information(THETA, A, B)
    want_p = [[p_ref(t, a, b) for a, b in zip(A, B)] for t in THETA]
    want_i = [[info_ref(t, a, b) for a, b in zip(A, B)] for t in THETA]
    assert got_p.shape == (3, 2)
    np.testing.assert_allclose(got_p, want_p, rtol=1e-12)
    np.testing.assert_allclose(got_i, want_i, rtol=1e-6)
    np.testing.assert_allclose(response.test_information(THETA, A, B), np.sum(want_i, axis=1), rtol=1e-6)
    np.testing.assert_allclose(expected_score(THETA, A, B), np.sum(want_p, axis=1), rtol=1e-12)
    np.testing.assert_allclose(standard_error(THETA, A, B), 1.0 / np.sqrt(np.sum(want_i, axis=1)), rtol=1e-6)


def test_response_functions_with_c_follow_the_three_parameter_curve() -> None:
    want_p = [[p_ref(t, a, b, c) for a, b, c in zip(A, B, C)] for t in THETA]
    want_i = [[info_ref(t, a, b, c) for a, b, c in zip(A, B, C)] for t in THETA]
    np.testing.assert_allclose(probability(THETA, A, B, C), want_p, rtol=1e-12)
    np.testing.assert_allclose(item_information(THETA, A, B, C), want_i, rtol=1e-6)
    np.testing.assert_allclose(response.test_information(THETA, A, B, C), np.sum(want_i, axis=1), rtol=1e-6)
    np.testing.assert_allclose(expected_score(THETA, A, B, C), np.sum(want_p, axis=1), rtol=1e-12)
    np.testing.assert_allclose(standard_error(THETA, A, B, C), 1.0 / np.sqrt(np.sum(want_i, axis=1)), rtol=1e-6)


def test_response_functions_take_scalars_and_integers() -> None:
    # a scalar theta and integer parameters: one row, one column, the same numbers as floats
    assert probability(0, 1, 0).shape == (1, 1)
    assert probability(0, 1, 0)[0, 0] == 0.5
    assert probability(1, 2, 1, 0)[0, 0] == 0.5
    assert item_information(0, 2, 0)[0, 0] == pytest.approx(1.0)  # a^2 P Q = 4 / 4
    assert standard_error(0, 2, 0)[0] == pytest.approx(1.0)


@pytest.mark.parametrize("z", [-800.0, -30.0, -1.0, 0.0, 0.5, 30.0, 800.0])
def test_log_sigmoids_match_scipy_everywhere(z: float) -> None:
    log_s, log_1s = log_sigmoids(np.array([z]))
    assert log_s[0] == pytest.approx(log_expit(z), rel=1e-12, abs=1e-300)
    assert log_1s[0] == pytest.approx(log_expit(-z), rel=1e-12, abs=1e-300)
    assert np.isfinite(log_s).all() and np.isfinite(log_1s).all()


# ---- quadrature -----------------------------------------------------------------------------------
def test_default_quadrature_is_61_nodes_on_plus_minus_6_with_normal_weights() -> None:
    q = Quadrature.normal()
    np.testing.assert_allclose(q.nodes, np.linspace(-6.0, 6.0, 61))
    w = norm.pdf(q.nodes)
    np.testing.assert_allclose(np.exp(q.log_weights), w / w.sum(), rtol=1e-12)
    assert (q.mean, q.sd) == (0.0, 1.0)
    assert q.bounds == (-6.0, 6.0)


def test_quadrature_with_its_own_prior_and_bounds() -> None:
    q = Quadrature.normal(5, (-2, 2), mean=0.5, sd=2.0)
    np.testing.assert_allclose(q.nodes, [-2.0, -1.0, 0.0, 1.0, 2.0])
    w = norm.pdf(q.nodes, 0.5, 2.0)
    np.testing.assert_allclose(np.exp(q.log_weights), w / w.sum(), rtol=1e-12)
    assert (q.mean, q.sd) == (0.5, 2.0)
    moved = q.with_prior(-1.0, 0.5)
    np.testing.assert_array_equal(moved.nodes, q.nodes)
    w = norm.pdf(q.nodes, -1.0, 0.5)
    np.testing.assert_allclose(np.exp(moved.log_weights), w / w.sum(), rtol=1e-12)
    assert (moved.mean, moved.sd) == (-1.0, 0.5)
    np.testing.assert_allclose(np.exp(normal_log_weights(np.array([0.0, 1.0]), 0.0, 1.0)),
                               [1 / (1 + math.exp(-0.5)), math.exp(-0.5) / (1 + math.exp(-0.5))])
    assert Quadrature.normal(3).nodes.tolist() == [-6.0, 0.0, 6.0]  # 3 points is the minimum


@pytest.mark.parametrize("kwargs, message", [
    ({"n_points": 2}, r"^quadrature needs at least 3 points, got 2$"),
    ({"bounds": (1.0, 1.0)}, r"^quadrature bounds must be increasing, got \(1\.0, 1\.0\)$"),
    ({"bounds": (2.0, -2.0)}, r"increasing"),
    ({"sd": 0.0}, r"^ability prior needs a finite mean and sd > 0, got mean=0\.0, sd=0\.0$"),
    ({"sd": -1.0}, r"sd > 0"),
    ({"sd": float("inf")}, r"sd > 0"),
    ({"mean": float("nan")}, r"sd > 0"),
])
def test_quadrature_rejects_bad_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Quadrature.normal(**kwargs)


# ---- priors -----------------------------------------------------------------------------------------
def _fd_grad(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    out = np.zeros_like(x)
    for j in range(len(x)):
        up, dn = x.copy(), x.copy()
        up[j] += h
        dn[j] -= h
        out[j] = (f(up) - f(dn)) / (2 * h)
    return out


def b_logprior(d: float, a: float, mean: float, sd: float) -> float:
    return -0.5 * ((-d / a - mean) / sd) ** 2


def c_logprior(g: float, alpha: float, beta: float) -> float:
    c = expit(g)
    return (alpha - 1) * math.log(c) + (beta - 1) * math.log(1 - c)


def a_logprior(a: float, meanlog: float, sdlog: float) -> float:  # lognormal density up to its constant
    return -math.log(a) - 0.5 * ((math.log(a) - meanlog) / sdlog) ** 2


def test_b_and_c_priors_value_gradient_and_curvature() -> None:
    pri = Priors(b_normal=(0.3, 1.5), c_beta=(5.0, 17.0))
    d, a, g = np.array([0.8, -1.2]), np.array([1.3, 0.7]), np.array([-1.0, -2.0])
    value, grad, curv = pri.item_terms(a, d, g, guessing=True)
    for i in range(2):
        x = np.array([d[i], a[i], g[i]])
        f = lambda v: b_logprior(v[0], v[1], 0.3, 1.5) + c_logprior(v[2], 5.0, 17.0)  # noqa: E731
        assert value[i] == pytest.approx(f(x), rel=1e-12)
        np.testing.assert_allclose(grad[i], _fd_grad(f, x), rtol=1e-6, atol=1e-9)
        db = np.array([-1.0 / a[i], d[i] / a[i] ** 2])  # d b / d(d, a) for b = -d / a
        np.testing.assert_allclose(curv[i, :2, :2], -np.outer(db, db) / 1.5**2, rtol=1e-12)
        # the c part is the exact second derivative in g (concave for alpha, beta >= 1)
        gg = lambda v: _fd_grad(lambda u: c_logprior(u[0], 5.0, 17.0), v)[0]  # noqa: E731
        assert curv[i, 2, 2] == pytest.approx(_fd_grad(gg, np.array([g[i]]), 1e-4)[0], rel=1e-5)
        assert curv[i, :2, 2].tolist() == [0.0, 0.0] and curv[i, 2, :2].tolist() == [0.0, 0.0]
    # without guessing, the c prior is not applied
    v2, g2, c2 = pri.item_terms(a, d, g, guessing=False)
    np.testing.assert_allclose(v2, [b_logprior(d[i], a[i], 0.3, 1.5) for i in range(2)], rtol=1e-12)
    assert np.all(g2[:, 2] == 0.0) and np.all(c2[:, 2, 2] == 0.0)
    # no priors at all: zeros of the right shapes
    v0, g0, c0 = Priors().item_terms(a, d, g, guessing=True)
    assert v0.shape == (2,) and g0.shape == (2, 3) and c0.shape == (2, 3, 3)
    assert not v0.any() and not g0.any() and not c0.any()


def test_slope_prior_value_gradient_and_concave_curvature() -> None:
    pri = Priors(a_lognormal=(0.1, 0.5))
    a = np.array([0.3, 1.0, 2.5, 12.0])
    value, grad, curv = pri.slope_terms(a)
    for i, ai in enumerate(a):
        f = lambda v: a_logprior(v[0], 0.1, 0.5)  # noqa: E731
        assert value[i] == pytest.approx(f(np.array([ai])), rel=1e-12)
        assert grad[i] == pytest.approx(_fd_grad(f, np.array([ai]))[0], rel=1e-6)
        exact = _fd_grad(lambda v: _fd_grad(f, v)[0], np.array([ai]), 1e-4)[0]
        assert curv[i] == pytest.approx(min(exact, 0.0), rel=1e-4, abs=1e-8)
    assert curv[3] == 0.0  # a = 12: the exact second derivative is positive there, so it is cut to 0
    assert curv[0] < 0.0
    v, g, c = pri.slope_terms(np.array([0.0, -1.0]))
    assert v.tolist() == [-np.inf, -np.inf] and g.tolist() == [0.0, 0.0] and c.tolist() == [0.0, 0.0]
    v, g, c = Priors().slope_terms([1.0, 2.0])
    assert v.tolist() == g.tolist() == c.tolist() == [0.0, 0.0]


def test_prior_checks_at_their_boundaries() -> None:
    assert Priors(c_beta=(1.0, 1.0)).c_beta == (1.0, 1.0)  # shapes exactly 1 are allowed
    assert Priors(b_normal=(0, 1e-9)).b_normal == (0.0, 1e-9)
    assert Priors(a_lognormal=[0, 1]).a_lognormal == (0.0, 1.0)
    bad = [
        ({"b_normal": (0.0, 0.0)}, r"^b \(normal\) prior needs a positive scale, got \(0\.0, 0\.0\)$"),
        ({"a_lognormal": (0.0, -1.0)}, r"^a \(lognormal\) prior needs a positive scale"),
        ({"c_beta": (0.5, 3.0)}, r"^c \(beta\) Beta prior needs both shapes >= 1 \(a proper mode in \(0, 1\)\), got \(0\.5, 3\.0\)$"),
        ({"c_beta": (3.0, 0.99)}, r"shapes >= 1"),
        ({"c_beta": (2.0, 0.0)}, r"positive scale"),
        ({"b_normal": (0.0, 1.0, 2.0)}, r"^b \(normal\) prior must be two finite numbers, got \(0\.0, 1\.0, 2\.0\)$"),
        ({"b_normal": (0.0, float("inf"))}, r"two finite numbers"),
        ({"a_lognormal": (float("nan"), 1.0)}, r"two finite numbers"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            Priors(**kwargs)
    assert Priors(a_lognormal=(0.0, 0.5), c_beta=(5, 17)).to_dict() == {
        "a_lognormal": [0.0, 0.5], "b_normal": None, "c_beta": [5.0, 17.0]}


# ---- parameter layout --------------------------------------------------------------------------------
@pytest.mark.parametrize("model, latent, size, index", [
    ("rasch", False, 3, [[0, -1, -1], [1, -1, -1], [2, -1, -1]]),
    ("1pl", False, 4, [[0, 3, -1], [1, 3, -1], [2, 3, -1]]),
    ("2pl", True, 8, [[0, 3, -1], [1, 4, -1], [2, 5, -1]]),
    ("3pl", True, 11, [[0, 3, 6], [1, 4, 7], [2, 5, 8]]),
])
def test_layout_positions_pack_unpack_and_gather(model: str, latent: bool, size: int, index: list) -> None:
    lay = ParameterLayout(model, 3, latent)
    assert lay.size == size and lay.n_item_parameters == size - (2 if latent else 0)
    assert lay.item_index().tolist() == index
    coords = ItemCoords(np.array([0.1, 0.2, 0.3]), np.array([1.5, 1.6, 1.7]), np.array([-1.0, -2.0, -3.0]))
    packed = lay.pack(coords, 0.4, 1.2)
    want = {"rasch": [0.1, 0.2, 0.3], "1pl": [0.1, 0.2, 0.3, 1.5], "2pl": [0.1, 0.2, 0.3, 1.5, 1.6, 1.7, 0.4, 1.2],
            "3pl": [0.1, 0.2, 0.3, 1.5, 1.6, 1.7, -1.0, -2.0, -3.0, 0.4, 1.2]}[model]
    assert packed.dtype == np.float64 and packed.tolist() == want
    template = ItemCoords(np.zeros(3), np.full(3, 7.0), np.full(3, -np.inf))
    back, mean, sd = lay.unpack(packed, template)
    assert back.d.tolist() == [0.1, 0.2, 0.3]
    assert back.a.tolist() == {"rasch": [7.0] * 3, "1pl": [1.5] * 3}.get(model, [1.5, 1.6, 1.7])
    assert back.g.tolist() == ([-1.0, -2.0, -3.0] if model == "3pl" else [-np.inf] * 3)
    assert (mean, sd) == ((0.4, 1.2) if latent else (0.0, 1.0))
    assert template.a.tolist() == [7.0] * 3  # the template is not changed
    grad = np.arange(9.0).reshape(3, 3) + 1.0  # (d, a, g) per item: 1 2 3 / 4 5 6 / 7 8 9
    flat = lay.gather(grad, common_slope=100.0, latent_grad=np.array([-1.0, -2.0]))
    want = {"rasch": [1, 4, 7], "1pl": [1, 4, 7, 2 + 5 + 8 + 100], "2pl": [1, 4, 7, 2, 5, 8, -1, -2],
            "3pl": [1, 4, 7, 2, 5, 8, 3, 6, 9, -1, -2]}[model]
    assert flat.tolist() == want
    if latent:  # without a latent gradient its entries stay 0
        assert lay.gather(grad).tolist()[-2:] == [0.0, 0.0]
    if model == "1pl":  # the shared slope's prior term defaults to 0
        assert lay.gather(grad).tolist() == [1, 4, 7, 2 + 5 + 8]


def test_layout_of_no_free_items() -> None:
    for model in ("rasch", "1pl", "2pl", "3pl"):
        lay = ParameterLayout(model, 0, False)
        assert lay.size == 0 and lay.item_index().shape == (0, 3)
        empty = ItemCoords(np.zeros(0), np.zeros(0), np.zeros(0))
        assert lay.pack(empty, 0.0, 1.0).tolist() == []
        assert lay.gather(np.zeros((0, 3)), common_slope=5.0).tolist() == []
    assert ParameterLayout("1pl", 0, True).size == 2
    assert ParameterLayout("1pl", 0, True).pack(ItemCoords(np.zeros(0), np.zeros(0), np.zeros(0)), 0.5, 2.0).tolist() == [0.5, 2.0]


# ---- diagnostics and the item table ------------------------------------------------------------------
def test_screening_flags_once_all_correct_and_all_wrong() -> None:
    ids = np.array(["i0", "i1", "i2", "i3", "i4"], dtype=object)
    n = np.array([1, 4, 4, 4, 1])
    right = np.array([1, 4, 0, 2, 0])
    estimable, warnings = screen_items(ids, n, right, prior_identifies=False)
    assert estimable.tolist() == [False, False, False, True, False]
    assert [(w.item_id, w.reason, w.n_responses, w.n_correct) for w in warnings] == [
        ("i0", "answered once", 1, 1), ("i1", "all correct", 4, 4), ("i2", "all wrong", 4, 0), ("i4", "answered once", 1, 0)]
    assert all(w.action.startswith("not estimated (no finite maximum-likelihood estimate)") for w in warnings)
    estimable, warnings = screen_items(ids, n, right, prior_identifies=True)
    assert estimable.tolist() == [True] * 5 and len(warnings) == 4
    assert all(w.action.startswith("estimated, but the estimate rests on the priors") for w in warnings)
    w = warnings[1]
    assert str(w) == f"item 'i1': all correct (4/4 correct); {w.action}"
    assert w.to_dict() == {"item_id": "i1", "reason": "all correct", "n_responses": 4, "n_correct": 4, "action": w.action}


def test_estimate_warnings_at_their_thresholds() -> None:
    ids = np.array(["neg", "a8", "a_big", "b8", "b_big", "b_low", "ok", "unchecked"], dtype=object)
    a = np.array([-0.1, 8.0, 8.001, 1.0, 1.0, 1.0, 0.0, -5.0])
    b = np.array([0.0, 0.0, 0.0, 8.0, 8.001, -8.5, 0.0, 0.0])
    n, right = np.full(8, 10), np.full(8, 4)
    checked = np.array([True] * 7 + [False])
    out = estimate_warnings(ids, a, b, n, right, checked)
    assert [w.item_id for w in out] == ["neg", "a_big", "b_big", "b_low"]
    assert out[0].reason == "negative discrimination (a = -0.100)"
    assert out[0].action == "kept; check the answer key or drop the item"
    assert out[1].reason == "extreme estimate (a = 8.001, b = 0.000)"
    assert out[3].action == "kept; few or uninformative responses: consider prior_a / prior_b"
    assert (out[0].n_responses, out[0].n_correct) == (10, 4)
    assert isinstance(out[0], ItemWarning)


def test_item_table_columns_per_model_and_order() -> None:
    bank = ItemBank(np.array(["x", "y"]), np.array([1.2, 0.8]), np.array([-0.5, 0.3]), np.array([0.1, 0.2]),
                    np.array([0.05, 0.06]), np.array([0.07, np.nan]), np.array([0.01, 0.02]))
    t = item_table(bank, "3pl", ["y", "zz", "x"])
    assert t.columns == ["item", "a", "b", "c", "se_a", "se_b", "se_c"]
    assert t["item"].to_list() == ["y", "zz", "x"]
    assert t["a"].to_list() == [0.8, None, 1.2]
    assert t["se_b"].to_list() == [None, None, 0.07]
    assert t.schema["a"] == pl.Float64 and t.schema["item"] == pl.Utf8
    assert item_table(bank, "rasch").columns == ["item", "b", "se_b"]
    assert item_table(bank, "rasch")["item"].to_list() == ["x", "y"]
    assert item_table(bank, "1pl").columns == item_table(bank, "2pl").columns == ["item", "a", "b", "se_a", "se_b"]
    with pytest.raises(ValueError, match=r"^unknown IRT model '4pl'; choose one of rasch, 1pl, 2pl, 3pl$"):
        item_table(bank, "4pl")
    empty = item_table(bank, "2pl", [])  # no items asked: an empty table with the same schema
    assert empty.height == 0 and empty.schema["item"] == pl.Utf8 and empty.schema["se_b"] == pl.Float64
