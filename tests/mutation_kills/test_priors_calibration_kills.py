"""Gaps the mutation run of models/irt/{priors, calibration}.py found (docs/testing.md, eighth slice), each checked
against the docstrings or by hand:

- `plan_items`: an item without a finite maximum-likelihood estimate (all right / all wrong) is estimated exactly
  when the priors identify it: a prior on b, and for the 2PL / 3PL a prior on a too (the screening warning:
  "add prior_b (and prior_a for 2PL/3PL) to estimate it"); the anchors' error when none of their items occurs;
  a one-item anchor bank with items it does not hold.
- `start_values` (public: a partitioned engine runs the same steps): a = 1, d = 1.2 logit(p) with p the item's
  p-value shrunk toward 0.5, (right + 0.5) / (n + 1); for the 3PL p is first corrected for guessing,
  (p - c0) / (1 - c0) clipped to [0.02, 0.98], and c0 = 0.2, or the mode (alpha - 1) / (alpha + beta - 2) of the
  c prior when it has one. The EM reaches the same optimum from other starts, so only a direct check sees them.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

import models.irt.calibration as calibration_mod
from models.irt.bank import ItemBank
from models.irt.calibration import calibrate, plan_items, start_values, start_vector
from models.irt.data import ResponseData
from models.irt.em import EMProblem
from models.irt.priors import Priors
from models.irt.quadrature import Quadrature

IDS = np.array(["easy", "mid", "hard"])
N = np.array([10, 10, 10])
RIGHT = np.array([10, 6, 0])  # "easy" all right, "hard" all wrong: no finite ML estimate for either


@pytest.mark.parametrize(("model", "priors", "identified"), [
    ("rasch", Priors(), False),
    ("rasch", Priors(b_normal=(0.0, 2.0)), True),
    ("1pl", Priors(b_normal=(0.0, 2.0)), True),
    ("1pl", Priors(a_lognormal=(0.0, 0.5)), False),
    ("2pl", Priors(b_normal=(0.0, 2.0)), False),  # the 2PL needs a prior on a as well
    ("2pl", Priors(a_lognormal=(0.0, 0.5), b_normal=(0.0, 2.0)), True),
    ("3pl", Priors(b_normal=(0.0, 2.0), c_beta=(5.0, 17.0)), False),
    ("3pl", Priors(a_lognormal=(0.0, 0.5), b_normal=(0.0, 2.0), c_beta=(5.0, 17.0)), True),
    ("2pl", Priors(a_lognormal=(0.0, 0.5)), False),
])
def test_a_flat_item_is_estimated_exactly_when_the_priors_identify_it(model: str, priors: Priors, identified: bool) -> None:
    plan = plan_items(model, priors, IDS, N, RIGHT)
    assert plan.free.tolist() == ([True, True, True] if identified else [False, True, False])
    assert plan.kept.tolist() == plan.free.tolist() and not plan.fixed.any() and plan.latent is False
    assert [(w.item_id, w.reason) for w in plan.warnings] == [("easy", "all correct"), ("hard", "all wrong")]
    rests_on_priors = [w.action.startswith("estimated, but the estimate rests on the priors") for w in plan.warnings]
    assert rests_on_priors == [identified, identified]


def test_anchors_none_of_which_occurs_are_refused_with_the_reason() -> None:
    anchors = ItemBank.from_arrays(["other"], [1.0], [0.0], [0.0])
    with pytest.raises(ValueError) as info:
        plan_items("2pl", Priors(), IDS, N, RIGHT, anchors)
    assert str(info.value) == ("anchors: none of the bank's usable items occurs in the data, so the scale cannot be "
                               "linked")


def test_a_one_item_anchor_bank_fixes_its_item_and_leaves_the_others_free() -> None:
    anchors = ItemBank.from_arrays(["mid"], [1.5], [0.4], [0.1])
    plan = plan_items("3pl", Priors(a_lognormal=(0.0, 0.5), b_normal=(0.0, 2.0)), IDS, N, RIGHT, anchors)
    assert plan.fixed.tolist() == [False, True, False] and plan.free.tolist() == [True, False, True]
    assert plan.latent is True
    d, a, c = plan.anchors
    assert a.tolist() == [1.0, 1.5, 1.0] and c.tolist() == [0.0, 0.1, 0.0]
    assert d[1] == pytest.approx(-1.5 * 0.4) and d[0] == 0.0 and d[2] == 0.0


# p-values of the two items below: (1 + 0.5) / (4 + 1) = 0.3 and (9 + 0.5) / (9 + 1) = 0.95
N2, RIGHT2 = np.array([4, 9]), np.array([1, 9])


@pytest.mark.parametrize("model", ["rasch", "1pl", "2pl"])
def test_start_values_without_guessing(model: str) -> None:
    coords = start_values(model, N2, RIGHT2, Priors(a_lognormal=(0.0, 0.5), b_normal=(0.0, 2.0)))
    # 1.2 logit(0.3) = 1.2 ln(3/7), 1.2 logit(0.95) = 1.2 ln 19
    assert coords.d == pytest.approx([-1.0167574324646442, 3.533326774999728], abs=1e-12)
    assert coords.a.tolist() == [1.0, 1.0] and coords.g.tolist() == [-np.inf, -np.inf]


def test_start_values_of_the_3pl_default_guessing() -> None:
    for priors in (Priors(), Priors(c_beta=(1.0, 1.0))):  # no prior on c, or a flat one (no mode): c0 = 0.2
        coords = start_values("3pl", N2, RIGHT2, priors)
        # corrected p: (0.3 - 0.2) / 0.8 = 0.125, (0.95 - 0.2) / 0.8 = 0.9375; 1.2 ln(1/7), 1.2 ln 15; g = logit 0.2 = ln 1/4
        assert coords.d == pytest.approx([-2.335092178866376, 3.249660241322652], abs=1e-12)
        assert coords.a.tolist() == [1.0, 1.0]
        assert coords.g == pytest.approx([-1.3862943611198906] * 2, abs=1e-12)


def test_start_values_of_the_3pl_from_the_c_priors_mode_and_the_clip() -> None:
    coords = start_values("3pl", N2, RIGHT2, Priors(c_beta=(4.0, 7.0)))
    # mode (4 - 1) / (4 + 7 - 2) = 1/3: corrected p (0.3 - 1/3) / (2/3) = -0.05 -> 0.02 and (0.95 - 1/3) / (2/3) = 0.925
    assert coords.d == pytest.approx([-4.670184357732752, 3.0147667487713377], abs=1e-12)
    assert coords.g == pytest.approx([np.log(0.5)] * 2, abs=1e-12)
    # alpha + beta = 3 (just above 2, where the mode exists): mode 0.5 / 1 = 0.5; corrected p -0.4 -> 0.02 and 0.9
    flat_ish = start_values("3pl", N2, RIGHT2, Priors(c_beta=(1.5, 1.5)))
    assert flat_ish.d == pytest.approx([-4.670184357732752, 1.2 * np.log(9.0)], abs=1e-12)
    assert flat_ish.g == pytest.approx([0.0, 0.0], abs=1e-12)
    # a p-value near 1: (99.5 / 100 - 0.2) / 0.8 = 0.99375 -> 0.98, d = 1.2 ln 49
    high = start_values("3pl", np.array([99]), np.array([99]), Priors())
    assert high.d == pytest.approx([4.670184357732752], abs=1e-12)


# ------------------------------------------------------------------ start_vector, finish, calibrate
def _simulate(a: np.ndarray, b: np.ndarray, c: np.ndarray, n_students: int, seed: int) -> ResponseData:
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n_students)
    p = c + (1 - c) / (1 + np.exp(-a * (theta[:, None] - b)))
    y = (rng.random(p.shape) < p).astype(int)
    students = np.repeat([f"s{i}" for i in range(n_students)], len(a))
    items = np.tile([f"q{j}" for j in range(len(a))], n_students)
    return ResponseData.from_arrays(students, items, y.ravel())


def _student_logliks(data: ResponseData, a: np.ndarray, b: np.ndarray, c: np.ndarray, quad: Quadrature) -> np.ndarray:
    """log of each student's marginal likelihood on the quadrature, written out: log sum_k w_k prod_j P_j(k)^y (1-P_j(k))^(1-y)."""
    p = c[:, None] + (1 - c[:, None]) / (1 + np.exp(-a[:, None] * (quad.nodes[None, :] - b[:, None])))  # (I, K)
    y = data.correct.astype(float)[:, None]
    log_p = y * np.log(p[data.item]) + (1 - y) * np.log1p(-p[data.item])  # (N, K)
    per_student = np.zeros((data.n_students, len(quad.nodes)))
    np.add.at(per_student, data.student, log_p)
    joint = per_student + quad.log_weights[None, :]
    top = joint.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(joint - top).sum(axis=1, keepdims=True)))[:, 0]


def test_the_3pl_bank_reproduces_the_reported_loglik() -> None:
    """The bank's (a, b, c) are the fitted ones: the marginal log-likelihood written out from them is the reported one."""
    a, b, c = np.array([1.2, 0.8, 1.5, 1.0, 2.0]), np.array([-1.0, 0.0, 0.5, 1.0, -0.3]), np.full(5, 0.2)
    data = _simulate(a, b, c, 400, seed=3)
    cal = calibrate(data, "3pl", standard_errors="none")
    bank = cal.bank
    assert np.all((bank.c > 0.01) & (bank.c < 0.5))
    assert _student_logliks(data, bank.a, bank.b, bank.c, Quadrature.normal()).sum() == pytest.approx(cal.loglik, abs=1e-6)
    two = calibrate(data, "2pl", standard_errors="none")
    assert two.bank.c.tolist() == [0.0] * 5
    assert _student_logliks(data, two.bank.a, two.bank.b, two.bank.c, Quadrature.normal()).sum() == pytest.approx(two.loglik,
                                                                                                                 abs=1e-6)


def _rasch_errors(data: ResponseData, b: np.ndarray, h: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Standard errors of the Rasch b's (a = 1, ability N(0, 1)) by finite differences of the written-out likelihood:
    observed = sqrt diag of minus the Hessian's inverse; crossprod = sqrt diag of (sum_s g_s g_s')^-1."""
    quad, one, zero = Quadrature.normal(), np.ones(len(b)), np.zeros(len(b))

    def per_student(bv: np.ndarray) -> np.ndarray:
        return _student_logliks(data, one, bv, zero, quad)

    size = len(b)
    hessian, scores = np.zeros((size, size)), np.zeros((data.n_students, size))
    for j in range(size):
        ej = np.eye(size)[j] * h
        scores[:, j] = (per_student(b + ej) - per_student(b - ej)) / (2 * h)
        for k in range(size):
            ek = np.eye(size)[k] * h
            hessian[j, k] = (per_student(b + ej + ek).sum() - per_student(b + ej - ek).sum()
                             - per_student(b - ej + ek).sum() + per_student(b - ej - ek).sum()) / (4 * h * h)
    observed = np.sqrt(np.diag(np.linalg.inv(-hessian)))
    crossprod = np.sqrt(np.diag(np.linalg.inv(scores.T @ scores)))
    return observed, crossprod


def test_observed_and_crossprod_errors_are_the_ones_asked_for() -> None:
    data = _simulate(np.ones(4), np.array([-0.8, 0.0, 0.4, 1.1]), np.zeros(4), 300, seed=5)
    observed = calibrate(data, "rasch", standard_errors="observed")
    crossprod = calibrate(data, "rasch", standard_errors="crossprod")
    assert (observed.se_method, crossprod.se_method) == ("observed", "crossprod")
    want_observed, want_crossprod = _rasch_errors(data, observed.bank.b)
    assert np.max(np.abs(want_observed / want_crossprod - 1)) > 5e-3  # the two methods differ (by 0.65% at most here)
    assert observed.bank.se_b == pytest.approx(want_observed, rel=1e-4)
    assert crossprod.bank.se_b == pytest.approx(want_crossprod, rel=1e-4)


def test_errors_up_to_max_parameters_and_none_beyond(monkeypatch: pytest.MonkeyPatch) -> None:
    """`MAX_PARAMETERS`: "beyond this the P x P information is not inverted (errors are left null)"."""
    data = _simulate(np.ones(4), np.array([-0.8, 0.0, 0.4, 1.1]), np.zeros(4), 300, seed=5)
    monkeypatch.setattr(calibration_mod, "MAX_PARAMETERS", 4)  # the Rasch fit of 4 items has 4 parameters
    at_limit = calibrate(data, "rasch", standard_errors="observed")
    assert at_limit.se_method == "observed" and np.all(np.isfinite(at_limit.bank.se_b))
    monkeypatch.setattr(calibration_mod, "MAX_PARAMETERS", 3)
    beyond = calibrate(data, "rasch", standard_errors="observed")
    assert beyond.se_method == "none" and np.all(np.isnan(beyond.bank.se_b))
    assert beyond.to_dict()["se_method"] == "none"


def test_an_information_matrix_that_is_not_positive_definite_leaves_errors_null(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    data = _simulate(np.ones(4), np.array([-0.8, 0.0, 0.4, 1.1]), np.zeros(4), 300, seed=5)
    monkeypatch.setattr(calibration_mod, "covariance", lambda information: None)  # its documented answer then
    with caplog.at_level(logging.WARNING, logger="models.irt.calibration"):
        cal = calibrate(data, "rasch", standard_errors="observed")
    assert np.all(np.isnan(cal.bank.se_b)) and cal.se_method == "observed"
    assert [r.getMessage() for r in caplog.records] == [
        "IRT information matrix is not positive definite: standard errors left null"]


def test_an_em_that_stops_at_its_limit_says_so(caplog: pytest.LogCaptureFixture) -> None:
    data = _simulate(np.array([1.2, 0.8, 1.5, 1.0, 0.9]), np.array([-1.0, 0.0, 0.5, 1.0, -0.4]), np.zeros(5), 300, seed=7)
    with caplog.at_level(logging.WARNING, logger="models.irt.calibration"):
        cal = calibrate(data, "2pl", max_iter=1, standard_errors="none")
    assert not cal.converged and cal.n_iter == 1
    assert [r.getMessage() for r in caplog.records] == [
        f"IRT EM did not converge in 1 iterations (max change {cal.max_change:.2g})"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="models.irt.calibration"):
        assert calibrate(data, "2pl", standard_errors="none").converged
    assert caplog.records == []


def test_a_reverse_keyed_item_is_kept_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    a = np.array([1.2, 0.8, 1.5, 1.0, -1.5])  # q4 answered right more often by weaker students
    data = _simulate(a, np.array([-1.0, 0.0, 0.5, 1.0, 0.0]), np.zeros(5), 400, seed=11)
    n, right = data.item_totals
    with caplog.at_level(logging.WARNING, logger="models.irt.calibration"):
        cal = calibrate(data, "2pl", standard_errors="none")
    assert cal.bank.a[4] < 0 and np.all(cal.bank.a[:4] > 0)
    (warning,) = cal.warnings
    assert (warning.item_id, warning.n_responses, warning.n_correct) == ("q4", int(n[4]), int(right[4]))
    assert warning.reason == f"negative discrimination (a = {cal.bank.a[4]:.3f})"
    assert [r.getMessage() for r in caplog.records] == [f"IRT calibration: 1 item warning(s): {warning}"]


@pytest.mark.parametrize("n_flat", [3, 4, 5])
def test_the_log_shows_three_item_warnings_and_counts_the_rest(caplog: pytest.LogCaptureFixture, n_flat: int) -> None:
    base = _simulate(np.array([1.0, 1.2, 0.8]), np.array([-0.5, 0.0, 0.5]), np.zeros(3), 100, seed=2)
    students = np.concatenate([base.student_ids[base.student]] + [base.student_ids] * n_flat)
    items = np.concatenate([base.item_ids[base.item]] + [np.full(base.n_students, f"flat{k}") for k in range(n_flat)])
    flat = [np.ones(base.n_students, dtype=int) if k % 2 == 0 else np.zeros(base.n_students, dtype=int)
            for k in range(n_flat)]
    data = ResponseData.from_arrays(students, items, np.concatenate([base.correct.astype(int)] + flat))
    with caplog.at_level(logging.WARNING, logger="models.irt.calibration"):
        cal = calibrate(data, "2pl", standard_errors="none")
    assert len(cal.warnings) == n_flat and {w.item_id for w in cal.warnings} == {f"flat{k}" for k in range(n_flat)}
    shown = "; ".join(str(w) for w in cal.warnings[:3])
    more = f" (and {n_flat - 3} more: see Calibration.warnings)" if n_flat > 3 else ""
    assert [r.getMessage() for r in caplog.records] == [f"IRT calibration: {n_flat} item warning(s): {shown}{more}"]


def test_no_item_left_to_estimate_is_refused_with_the_reason() -> None:
    message = r"^no item can be estimated: every item is all-correct, all-wrong or fixed by the anchors$"
    with pytest.raises(ValueError, match=message):
        plan_items("2pl", Priors(), IDS[[0, 2]], N[[0, 2]], RIGHT[[0, 2]])  # the all-right and the all-wrong item
    anchors = ItemBank.from_arrays(["easy", "mid", "hard"], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=message):
        plan_items("2pl", Priors(), IDS, N, RIGHT, anchors)


def test_priors_are_kept_as_pairs_of_floats() -> None:
    """`Priors` stores each prior as a (float, float) pair whatever sequence it was given (a JSON list, ints)."""
    priors = Priors(a_lognormal=[0, 1], b_normal=[1, 2], c_beta=[5, 17])
    assert (priors.a_lognormal, priors.b_normal, priors.c_beta) == ((0.0, 1.0), (1.0, 2.0), (5.0, 17.0))
    assert all(type(v) is tuple and all(type(x) is float for x in v)
               for v in (priors.a_lognormal, priors.b_normal, priors.c_beta))
    assert priors == Priors(a_lognormal=(0.0, 1.0), b_normal=(1.0, 2.0), c_beta=(5.0, 17.0))


def test_the_em_starts_from_the_start_values_and_a_standard_normal_ability() -> None:
    data = _simulate(np.array([1.2, 0.8, 1.5, 1.0]), np.array([-1.0, 0.0, 0.5, 1.0]), np.zeros(4), 200, seed=13)
    anchors = ItemBank.from_arrays(["q0"], [1.2], [-1.0], [0.0])
    priors = Priors()
    n, right = data.item_totals
    plan = plan_items("2pl", priors, data.item_ids, n, right, anchors)
    problem = EMProblem(data, "2pl", priors, Quadrature.normal(), plan.free, plan.kept, plan.anchors, plan.latent)
    coords, quad = problem.unpack(start_vector(problem, plan, n, right))
    assert (quad.mean, quad.sd) == (0.0, 1.0)
    want = start_values("2pl", n[plan.free], right[plan.free], priors)
    assert coords.d == pytest.approx(want.d) and coords.a == pytest.approx(want.a)


# ------------------------------------------------------------------ priors
def test_a_slope_of_zero_gives_an_infinite_b_and_no_numpy_warning() -> None:
    """b = -d / a is computed under np.errstate: a slope at exactly 0 (d != 0: b infinite, the prior -inf; d = 0:
    b undefined, NaN) must not raise numpy's divide / invalid warnings (errors under `-W error`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grad, curv = Priors(b_normal=(0.0, 1.0)).item_terms(np.array([0.0, 0.0, 1.0]), np.array([0.5, 0.0, 0.5]),
                                                                   np.full(3, -np.inf), guessing=False)
    assert value[0] == -np.inf and np.isnan(value[1]) and value[2] == pytest.approx(-0.125)


def test_slopes_at_or_below_zero_give_no_numpy_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grad, curv = Priors(a_lognormal=(0.0, 1.0)).slope_terms(np.array([0.0, -1.0, 1.0]))
    assert value.tolist() == [-np.inf, -np.inf, 0.0] and grad.tolist() == [0.0, 0.0, -1.0]
    assert curv[:2].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("sdlog", [1.0, 0.3, 0.6])
def test_the_slope_priors_curvature_for_other_scales(sdlog: float) -> None:
    """d2/da2 of -log a - (log a - m)^2 / (2 s^2) = (1 - (1 - log a + m) / s^2) / a^2 (worked by hand), cut at 0."""
    meanlog = 0.2
    a = np.array([0.2, 0.7, 1.0, 1.9, 6.0, 40.0])
    _, _, curv = Priors(a_lognormal=(meanlog, sdlog)).slope_terms(a)
    exact = (1.0 - (1.0 - np.log(a) + meanlog) / sdlog**2) / a**2
    assert curv == pytest.approx(np.minimum(exact, 0.0), rel=1e-12, abs=1e-15)
    assert np.any(exact < -0.1)


# ------------------------------------------------------------------ calibrate, check_model
def test_an_unknown_model_is_named_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"^unknown IRT model '4pl'; choose one of rasch, 1pl, 2pl, 3pl$"):
        calibration_mod.check_model("4pl")


def test_the_default_calibration_is_a_squarem_accelerated_2pl() -> None:
    data = _simulate(np.array([1.2, 0.8, 1.5, 1.0, 0.9]), np.array([-1.0, 0.0, 0.5, 1.0, -0.4]), np.zeros(5), 300, seed=7)
    default = calibrate(data, standard_errors="none")
    two = calibrate(data, "2pl", standard_errors="none")
    assert default.model == "2pl" and default.bank.a == pytest.approx(two.bank.a)
    plain = calibrate(data, "2pl", standard_errors="none", accelerate=False)
    assert default.converged and plain.converged
    assert default.n_iter == two.n_iter and default.n_iter != plain.n_iter  # SQUAREM takes other (fewer) steps
    assert default.bank.b == pytest.approx(plain.bank.b, abs=1e-3)


def test_a_rasch_prior_on_b_estimates_an_all_correct_item() -> None:
    data = _simulate(np.ones(4), np.array([-0.8, 0.0, 0.4, 1.1]), np.zeros(4), 150, seed=5)
    students = np.concatenate([data.student_ids[data.student], data.student_ids])
    items = np.concatenate([data.item_ids[data.item], np.full(data.n_students, "all-right")])
    full = ResponseData.from_arrays(students, items, np.concatenate([data.correct.astype(int), np.ones(data.n_students, int)]))
    cal = calibrate(full, "rasch", priors=Priors(b_normal=(0.0, 2.0)), standard_errors="none")
    position = list(cal.bank.item_ids).index("all-right")
    assert np.isfinite(cal.bank.b[position]) and cal.bank.b[position] < -2.0


def test_an_item_left_out_by_the_screening_does_not_enter_the_likelihood() -> None:
    """"not estimated ...: parameters null, its responses left out": the fit equals the fit without that item."""
    data = _simulate(np.array([1.2, 0.8, 1.5, 1.0]), np.array([-1.0, 0.0, 0.5, 1.0]), np.zeros(4), 300, seed=17)
    students = np.concatenate([data.student_ids[data.student], data.student_ids])
    items = np.concatenate([data.item_ids[data.item], np.full(data.n_students, "all-wrong")])
    with_flat = ResponseData.from_arrays(students, items,
                                         np.concatenate([data.correct.astype(int), np.zeros(data.n_students, int)]))
    cal, alone = calibrate(with_flat, "2pl", standard_errors="none"), calibrate(data, "2pl", standard_errors="none")
    position = list(cal.bank.item_ids).index("all-wrong")
    assert np.isnan(cal.bank.a[position]) and np.isnan(cal.bank.b[position])
    kept = [list(cal.bank.item_ids).index(i) for i in alone.bank.item_ids]
    assert cal.bank.a[kept] == pytest.approx(alone.bank.a, abs=1e-8)
    assert cal.bank.b[kept] == pytest.approx(alone.bank.b, abs=1e-8)
    assert cal.loglik == pytest.approx(alone.loglik, abs=1e-8)
