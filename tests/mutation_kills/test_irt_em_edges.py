"""IRT estimation (models/irt/{estep,mstep,em}.py) against a brute-force marginal likelihood written from
the definition: log L = sum_s log sum_k w_k prod_{responses of s} P_ik^y (1 - P_ik)^(1 - y), with
P = c + (1 - c) sigmoid(a theta + d) and w the grid-normalised N(mean, sd) weights (scipy's density),
plus log priors written from their densities. The E-step is checked against posteriors computed by
that loop, the M-step against scipy's optimiser on the expected complete-data log-likelihood, the EM's
score against central differences of the brute-force log posterior, and the EM's fixed point against
a zero numerical gradient. LSAT (ltm's published 1PL) runs when the shared data are present.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit, logsumexp
from scipy.stats import norm

from models.irt.calibration import calibrate
from models.irt.data import ResponseData
from models.irt.em import EMProblem, run_em
from models.irt.estep import (
    ExpectedCounts,
    counts_from_posterior,
    e_step,
    expected_counts,
    log_tables,
    posterior_from_log_likelihood,
    responding_students,
)
from models.irt.mstep import ItemCoords, data_terms, maximize, objective
from models.irt.priors import Priors
from models.irt.quadrature import Quadrature

Q = Quadrature.normal(21, (-5.0, 5.0))

# 9 students, 4 items; student 8 answers only item 3 (which is left out as "not kept" below)
STUDENT = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 6, 6, 6, 7, 7, 7, 7, 8])
ITEM = np.array([0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 3, 1, 2, 3, 0, 1, 2, 3, 0, 2, 0, 1, 3, 0, 1, 2, 3, 3])
CORRECT = np.array([1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1])
DATA = ResponseData(STUDENT, ITEM, CORRECT.astype(np.int8), np.array([f"s{i}" for i in range(9)], dtype=object),
                    np.array(["i0", "i1", "i2", "i3"], dtype=object))


def grid_weights(nodes: np.ndarray, mean: float, sd: float) -> np.ndarray:
    w = norm.pdf(nodes, mean, sd)
    return w / w.sum()


def student_logliks(d, a, c, kept, mean=0.0, sd=1.0, data=DATA) -> np.ndarray:
    """log marginal likelihood of each student (0 for a student without kept responses), plain loops."""
    w = grid_weights(Q.nodes, mean, sd)
    out = np.zeros(data.n_students)
    for s in range(data.n_students):
        like = np.ones(len(Q.nodes))
        any_kept = False
        for r in np.flatnonzero(data.student == s):
            i = data.item[r]
            if not kept[i]:
                continue
            any_kept = True
            p = c[i] + (1 - c[i]) * expit(a[i] * Q.nodes + d[i])
            like = like * (p if data.correct[r] else 1 - p)
        out[s] = math.log(float(like @ w)) if any_kept else 0.0
    return out


def log_prior(model, priors: Priors, d, a, g) -> float:
    total = 0.0
    if priors.b_normal is not None:
        m, s = priors.b_normal
        total += float(np.sum(-0.5 * ((-d / a - m) / s) ** 2))
    if model == "3pl" and priors.c_beta is not None:
        al, be = priors.c_beta
        c = expit(g)
        total += float(np.sum((al - 1) * np.log(c) + (be - 1) * np.log(1 - c)))
    if priors.a_lognormal is not None:
        m, s = priors.a_lognormal
        slopes = a if model in ("2pl", "3pl") else a[:1] if model == "1pl" else a[:0]
        total += float(np.sum(-np.log(slopes) - 0.5 * ((np.log(slopes) - m) / s) ** 2))
    return total


def setup(model: str, latent: bool, priors: Priors):
    """An EMProblem with item 3 fixed by an anchor (latent) or left out (not kept), and a brute-force log posterior."""
    free = np.array([True, True, True, False])
    kept = np.array([True, True, True, latent])
    anchors = (np.array([0.0, 0.0, 0.0, 0.4]), np.array([1.0, 1.0, 1.0, 1.3]), np.array([0.0, 0.0, 0.0, 0.1 if model == "3pl" else 0.0]))
    problem = EMProblem(DATA, model, priors, Q, free, kept, anchors, latent)
    lay = problem.layout

    def logpost(vector: np.ndarray) -> float:
        coords, mean, sd = lay.unpack(vector, problem.template)
        d, a, c = anchors[0].copy(), anchors[1].copy(), anchors[2].copy()
        d[:3], a[:3] = coords.d, coords.a
        c[:3] = expit(coords.g) if model == "3pl" else 0.0
        return float(student_logliks(d, a, c, kept, mean, sd).sum()) + log_prior(model, priors, coords.d, coords.a, coords.g)

    return problem, logpost


def vector_for(model: str, latent: bool) -> np.ndarray:
    d, a, g = [0.3, -0.4, 0.9], [0.8, 1.4, 1.1], [-1.2, -1.7, -0.9]
    v = {"rasch": d, "1pl": d + [0.9], "2pl": d + a, "3pl": d + a + g}[model]
    return np.array(v + ([0.3, 1.4] if latent else []), dtype=float)


def num_grad(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    out = np.zeros_like(x)
    for j in range(len(x)):
        up, dn = x.copy(), x.copy()
        up[j] += h
        dn[j] -= h
        out[j] = (f(up) - f(dn)) / (2 * h)
    return out


CASES = [("rasch", False), ("1pl", False), ("2pl", False), ("3pl", False), ("1pl", True), ("2pl", True), ("3pl", True)]


@pytest.mark.parametrize("model, latent", CASES)
def test_score_and_objective_match_the_brute_force_log_posterior(model: str, latent: bool) -> None:
    priors = Priors(a_lognormal=(0.1, 0.6), b_normal=(0.2, 1.7), c_beta=(5.0, 17.0) if model == "3pl" else None)
    problem, logpost = setup(model, latent, priors)
    v = vector_for(model, latent)
    np.testing.assert_allclose(problem.score(v), num_grad(logpost, v), rtol=1e-5, atol=1e-6)
    _, value = problem.em_map(v)
    assert value == pytest.approx(logpost(v), rel=1e-10)
    # without priors the score is the log-likelihood's gradient only
    plain, plain_post = setup(model, latent, Priors())
    np.testing.assert_allclose(plain.score(v), num_grad(plain_post, v), rtol=1e-5, atol=1e-6)


def test_a_fixed_ability_prior_other_than_the_standard_normal_is_used() -> None:
    # without latent parameters the quadrature's own prior (here N(0.4, 1.3^2)) weighs the nodes
    quad = Quadrature.normal(21, (-5.0, 5.0), mean=0.4, sd=1.3)
    free, kept = np.array([True, True, True, False]), np.array([True, True, True, False])
    problem = EMProblem(DATA, "2pl", Priors(), quad, free, kept, (np.zeros(4), np.ones(4), np.zeros(4)), False)
    v = vector_for("2pl", False)

    def logpost(vector):
        d, a = np.append(vector[:3], 0.0), np.append(vector[3:6], 1.0)
        return float(student_logliks(d, a, np.zeros(4), kept, 0.4, 1.3).sum())

    _, value = problem.em_map(v)
    assert value == pytest.approx(logpost(v), rel=1e-10)
    np.testing.assert_allclose(problem.score(v), num_grad(logpost, v), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model, latent", [("2pl", False), ("3pl", True), ("1pl", True), ("rasch", False)])
def test_student_scores_are_each_students_gradient(model: str, latent: bool) -> None:
    problem, _ = setup(model, latent, Priors())
    v = vector_for(model, latent)
    scores = problem.student_scores(v)
    assert sp.issparse(scores) and scores.shape == (9, problem.layout.size)
    dense = scores.toarray()
    kept = problem.kept

    def one(s: int):
        def f(vector):
            coords, mean, sd = problem.layout.unpack(vector, problem.template)
            d, a, c = problem.anchor_d.copy(), problem.anchor_a.copy(), problem.anchor_c.copy()
            d[:3], a[:3] = coords.d, coords.a
            c[:3] = expit(coords.g) if model == "3pl" else 0.0
            return student_logliks(d, a, c, kept, mean, sd)[s]
        return f

    for s in range(9):
        np.testing.assert_allclose(dense[s], num_grad(one(s), v), rtol=1e-5, atol=1e-7)


def test_student_scores_of_a_problem_without_free_parameters_in_use() -> None:
    # every response is to the fixed item: no score entries, an all-zero (S, P) matrix
    data = ResponseData(np.array([0, 1]), np.array([1, 1]), np.array([1, 0], dtype=np.int8),
                        np.array(["a", "b"], dtype=object), np.array(["x", "y"], dtype=object))
    problem = EMProblem(data, "2pl", Priors(), Q, np.array([True, False]), np.array([True, True]),
                        (np.zeros(2), np.ones(2), np.zeros(2)), False)
    scores = problem.student_scores(np.array([0.0, 1.0]))
    assert scores.shape == (2, 2) and scores.nnz == 0


def test_student_scores_with_a_single_response_to_a_free_item() -> None:
    # one response reaches the free item: the score rows are built from a block of one response
    data = ResponseData(np.array([0, 1, 1]), np.array([0, 1, 1]), np.array([1, 0, 1], dtype=np.int8),
                        np.array(["a", "b"], dtype=object), np.array(["x", "y"], dtype=object))
    problem = EMProblem(data, "2pl", Priors(), Q, np.array([True, False]), np.array([True, True]),
                        (np.zeros(2), np.array([1.0, 1.2]), np.zeros(2)), False)
    v = np.array([0.4, 1.3])
    dense = problem.student_scores(v).toarray()

    def f(vector):
        d, a = np.array([vector[0], 0.0]), np.array([vector[1], 1.2])
        return student_logliks(d, a, np.zeros(2), np.array([True, True]), data=data)[0]

    np.testing.assert_allclose(dense[0], num_grad(f, v), rtol=1e-6)
    assert dense[1].tolist() == [0.0, 0.0]


def test_e_step_against_posteriors_by_hand() -> None:
    d, a, c = np.array([0.3, -0.4, 0.9, 0.1]), np.array([0.8, 1.4, 1.1, 1.0]), np.array([0.0, 0.2, 0.0, 0.1])
    kept = np.array([True, True, True, False])
    by_student, by_column = DATA.incidence(kept)
    table = log_tables(d, a, c, Q.nodes)
    post = e_step(by_student, by_column, table, Q.log_weights)
    w = np.exp(Q.log_weights)
    want_post = np.zeros((9, len(w)))
    right = np.zeros((4, len(w)))
    total = np.zeros((4, len(w)))
    for s in range(9):
        like = np.ones(len(w))
        rows = [r for r in np.flatnonzero(STUDENT == s) if kept[ITEM[r]]]
        for r in rows:
            p = c[ITEM[r]] + (1 - c[ITEM[r]]) * expit(a[ITEM[r]] * Q.nodes + d[ITEM[r]])
            like = like * (p if CORRECT[r] else 1 - p)
        want_post[s] = like * w / (like @ w)
        for r in rows:
            total[ITEM[r]] += want_post[s]
            right[ITEM[r]] += want_post[s] * CORRECT[r]
    np.testing.assert_allclose(post.post, want_post, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(post.right, right, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(post.total, total, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(post.mass, want_post.sum(axis=0), rtol=1e-10)
    assert post.loglik == pytest.approx(student_logliks(d, a, c, kept).sum(), rel=1e-12)
    # student 8 has no kept response: prior posterior, counted in `mass` by the E-step, taken out after
    np.testing.assert_allclose(post.post[8], w, rtol=1e-12)
    assert responding_students(by_student) == 8
    counts = expected_counts(by_student, by_column, table, Q.log_weights)
    np.testing.assert_allclose(counts.mass, want_post[:8].sum(axis=0), rtol=1e-10, atol=1e-15)
    assert counts.n_responding == 8 and counts.loglik == pytest.approx(post.loglik, rel=1e-12)
    np.testing.assert_allclose(counts.right, right, rtol=1e-10, atol=1e-14)
    direct = counts_from_posterior(post, 9, 8, Q.log_weights)
    np.testing.assert_allclose(direct.mass, counts.mass, rtol=1e-12, atol=1e-15)


def test_partition_statistics_add_up_to_the_whole() -> None:
    d, a, c = np.array([0.3, -0.4, 0.9, 0.1]), np.array([0.8, 1.4, 1.1, 1.0]), np.zeros(4)
    table = log_tables(d, a, c, Q.nodes)
    parts = []
    for students in ([0, 1, 2], [3, 4, 5, 6], [7, 8]):
        rows = np.isin(STUDENT, students)
        code = {s: j for j, s in enumerate(students)}
        sub = ResponseData(np.array([code[s] for s in STUDENT[rows]]), ITEM[rows], CORRECT[rows].astype(np.int8),
                           np.array([f"s{s}" for s in students], dtype=object), DATA.item_ids)
        parts.append(expected_counts(*sub.incidence(), table, Q.log_weights))
    whole = expected_counts(*DATA.incidence(), table, Q.log_weights)
    total = ExpectedCounts.total_of(parts)
    np.testing.assert_allclose(total.right, whole.right, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(total.total, whole.total, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(total.mass, whole.mass, rtol=1e-12, atol=1e-15)
    assert total.loglik == pytest.approx(whole.loglik, rel=1e-12)
    assert total.n_responding == whole.n_responding == 9
    assert isinstance(total.loglik, float) and isinstance(total.n_responding, int)
    assert parts[0].right.sum() + parts[1].right.sum() + parts[2].right.sum() == pytest.approx(total.right.sum())
    first = parts[0].right.copy()
    ExpectedCounts.total_of(parts)
    np.testing.assert_array_equal(parts[0].right, first)  # the parts are not changed
    one = ExpectedCounts.total_of(parts[:1])
    np.testing.assert_array_equal(one.right, parts[0].right)
    with pytest.raises(ValueError, match=r"^no partition statistics to combine$"):
        ExpectedCounts.total_of([])


def test_log_tables_and_posterior_normalisation() -> None:
    d, a, c = np.array([0.5, -1.0, np.nan]), np.array([1.2, 0.7, 1.0]), np.array([0.0, 0.25, 0.0])
    table = log_tables(d, a, c, Q.nodes)
    assert table.shape == (6, len(Q.nodes))
    for i in range(2):
        p = c[i] + (1 - c[i]) * expit(a[i] * Q.nodes + d[i])
        np.testing.assert_allclose(table[i], np.log1p(-p), rtol=1e-12)
        np.testing.assert_allclose(table[3 + i], np.log(p), rtol=1e-12)
    assert np.all(table[[2, 5]] == 0.0)  # an item without parameters gives zero rows, never NaN
    grid = np.array([[-1000.0, -1001.0, -1002.0], [0.0, np.log(2.0), np.log(3.0)]])
    logw = np.log(np.array([0.2, 0.3, 0.5]))
    post, marginal = posterior_from_log_likelihood(grid.copy(), logw)
    joint = grid + logw
    np.testing.assert_allclose(post, np.exp(joint - logsumexp(joint, axis=1, keepdims=True)), rtol=1e-12)
    np.testing.assert_allclose(marginal, logsumexp(joint, axis=1), rtol=1e-12)


# ---- M-step -----------------------------------------------------------------------------------------
RIGHT = np.array([[3.0, 5.0, 6.0, 8.0, 9.5], [1.0, 2.0, 4.0, 7.0, 8.0], [0.5, 1.5, 3.5, 6.0, 9.0]])
TOTAL = np.array([[10.0, 10.0, 10.0, 10.0, 10.0], [9.0, 8.0, 9.0, 10.0, 9.0], [10.0, 11.0, 12.0, 10.0, 10.0]])
NODES = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])


def expected_loglik(d, a, c) -> float:
    p = c[:, None] + (1 - c[:, None]) * expit(a[:, None] * NODES[None, :] + d[:, None])
    return float(np.sum(RIGHT * np.log(p) + (TOTAL - RIGHT) * np.log1p(-p)))


@pytest.mark.parametrize("model", ["rasch", "1pl", "2pl", "3pl"])
def test_m_step_reaches_scipy_s_maximum(model: str) -> None:
    priors = Priors(a_lognormal=(0.0, 0.5), b_normal=(0.0, 2.0), c_beta=(5.0, 17.0) if model == "3pl" else None)

    def unpack(x):
        d = x[:3]
        a = {"rasch": np.ones(3), "1pl": np.full(3, x[3] if len(x) > 3 else 1.0)}.get(model, x[3:6] if len(x) > 3 else np.ones(3))
        g = x[6:9] if model == "3pl" else np.full(3, -np.inf)
        return d, a, g

    def neg(x):
        d, a, g = unpack(x)
        c = expit(g) if model == "3pl" else np.zeros(3)
        return -(expected_loglik(d, a, c) + log_prior(model, priors, d, a, g))

    x0 = {"rasch": [0.0] * 3, "1pl": [0.0] * 3 + [1.0], "2pl": [0.0] * 3 + [1.0] * 3, "3pl": [0.0] * 3 + [1.0] * 3 + [-1.4] * 3}[model]
    ref = minimize(neg, np.array(x0), method="BFGS", options={"gtol": 1e-9}).x
    start = ItemCoords(np.zeros(3), np.ones(3), np.full(3, -1.4) if model == "3pl" else np.full(3, -np.inf))
    got = maximize(start, RIGHT, TOTAL, NODES, model, priors, max_steps=50)
    d, a, g = unpack(ref)
    np.testing.assert_allclose(got.d, d, atol=1e-5)
    np.testing.assert_allclose(got.a, a, atol=1e-5)
    if model == "3pl":
        np.testing.assert_allclose(got.g, g, atol=1e-4)
    # the default of 20 Fisher-scoring steps already gets there from this start
    again = maximize(start, RIGHT, TOTAL, NODES, model, priors)
    close = 1e-3 if model == "3pl" else 1e-6  # Fisher scoring is only linear with a guessing parameter
    np.testing.assert_allclose(again.d, got.d, atol=close)
    np.testing.assert_allclose(again.a, got.a, atol=close)
    assert start.d.tolist() == [0.0, 0.0, 0.0]  # the start is not changed


def test_m_step_of_the_1pl_without_priors_and_from_far_away() -> None:
    def neg(x):
        return -expected_loglik(x[:3], np.full(3, x[3]), np.zeros(3))

    ref = minimize(neg, np.array([0.0, 0.0, 0.0, 1.0]), method="BFGS", options={"gtol": 1e-10}).x
    start = ItemCoords(np.array([4.0, -4.0, 3.0]), np.full(3, 3.0), np.full(3, -np.inf))
    got = maximize(start, RIGHT, TOTAL, NODES, "1pl", Priors(), max_steps=200)
    np.testing.assert_allclose(got.d, ref[:3], atol=1e-5)
    np.testing.assert_allclose(got.a, ref[3], atol=1e-5)
    assert np.all(got.a == got.a[0])
    assert np.all(np.isinf(got.g))
    # one step moves no coordinate by more than MAX_STEP = 2
    one = maximize(start, RIGHT, TOTAL, NODES, "1pl", Priors(), max_steps=1)
    moved = np.abs(np.append(one.d - start.d, one.a[0] - start.a[0]))
    assert moved.max() <= 2.0 + 1e-12 and moved.max() > 0.0
    # the objective never decreases from one step to the next
    values = []
    for steps in (1, 2, 3, 5, 8):
        x = maximize(start, RIGHT, TOTAL, NODES, "1pl", Priors(), max_steps=steps)
        values.append(-neg(np.append(x.d, x.a[0])))
    assert all(b >= a - 1e-9 for a, b in zip(values, values[1:]))


def test_the_1pl_newton_step_converges_quadratically_and_takes_one_item() -> None:
    # Newton's method: from a point 1e-3 away from the maximum, one exact step lands within O(1e-6)
    def neg(x):
        return -expected_loglik(x[:3], np.full(3, x[3]), np.zeros(3))

    ref = minimize(neg, np.array([0.0, 0.0, 0.0, 1.0]), method="BFGS", options={"gtol": 1e-11}).x
    near = ItemCoords(ref[:3] + np.array([1e-3, -1e-3, 2e-3]), np.full(3, ref[3] - 1e-3), np.full(3, -np.inf))
    one = maximize(near, RIGHT, TOTAL, NODES, "1pl", Priors(), max_steps=1)
    err = np.abs(np.append(one.d - ref[:3], one.a[0] - ref[3])).max()
    assert err < 2e-5  # a linearly convergent step (wrong Hessian) would leave about 1e-3
    # a single free item: its own intercept and the common slope
    def neg1(x):
        return -float(np.sum(RIGHT[0] * np.log(expit(x[1] * NODES + x[0])) + (TOTAL[0] - RIGHT[0]) * np.log(expit(-(x[1] * NODES + x[0])))))

    ref1 = minimize(neg1, np.array([0.0, 1.0]), method="BFGS", options={"gtol": 1e-10}).x
    got = maximize(ItemCoords(np.zeros(1), np.ones(1), np.full(1, -np.inf)), RIGHT[:1], TOTAL[:1], NODES, "1pl", Priors(), max_steps=100)
    np.testing.assert_allclose([got.d[0], got.a[0]], ref1, atol=1e-5)


def test_m_step_tolerance_and_edge_cases() -> None:
    empty = ItemCoords(np.zeros(0), np.zeros(0), np.zeros(0))
    assert maximize(empty, np.zeros((0, 5)), np.zeros((0, 5)), NODES, "2pl", Priors()) is empty
    with pytest.raises(ValueError, match=r"^unknown IRT model '4pl'; choose one of rasch, 1pl, 2pl, 3pl$"):
        maximize(empty, np.zeros((0, 5)), np.zeros((0, 5)), NODES, "4pl", Priors())
    start = ItemCoords(np.zeros(3), np.ones(3), np.full(3, -np.inf))
    loose = maximize(start, RIGHT, TOTAL, NODES, "2pl", Priors(), tol=10.0)  # stops after the first step
    one = maximize(start, RIGHT, TOTAL, NODES, "2pl", Priors(), max_steps=1)
    np.testing.assert_array_equal(loose.d, one.d)
    np.testing.assert_array_equal(loose.a, one.a)
    assert np.abs(np.append(one.d, one.a - 1.0)).max() <= 2.0 + 1e-12


def test_data_terms_gradient_and_information() -> None:
    x = ItemCoords(np.array([0.3, -0.5, 0.8]), np.array([1.1, 0.7, 1.6]), np.array([-1.0, -2.0, -1.5]))
    for guessing in (False, True):
        c = expit(x.g) if guessing else np.zeros(3)
        value, grad, info = data_terms(x, RIGHT, TOTAL, NODES, guessing)
        for i in range(3):
            def f(v, i=i):
                p = (expit(v[2]) if guessing else 0.0) + (1 - (expit(v[2]) if guessing else 0.0)) * expit(v[1] * NODES + v[0])
                return float(np.sum(RIGHT[i] * np.log(p) + (TOTAL[i] - RIGHT[i]) * np.log1p(-p)))
            xi = np.array([x.d[i], x.a[i], x.g[i]])
            assert value[i] == pytest.approx(f(xi), rel=1e-12)
            k = 3 if guessing else 2
            np.testing.assert_allclose(grad[i, :k], num_grad(f, xi)[:k], rtol=1e-6, atol=1e-8)
            # minus the expected (Fisher) information: -sum_k n_k dP_j dP_l / (P (1 - P))
            def p_of(v):
                cc = expit(v[2]) if guessing else 0.0
                return cc + (1 - cc) * expit(v[1] * NODES + v[0])
            dp = np.stack([num_grad(lambda v, k_=k_: p_of(v)[k_], xi) for k_ in range(len(NODES))])  # (K, 3)
            p = p_of(xi)
            fisher = -np.einsum("k,kj,kl->jl", TOTAL[i] / (p * (1 - p)), dp, dp)
            np.testing.assert_allclose(info[i, :k, :k], fisher[:k, :k], rtol=1e-5, atol=1e-8)
            if not guessing:
                assert grad[i, 2] == 0.0 and np.all(info[i, 2] == 0.0)
        assert np.allclose(info, np.transpose(info, (0, 2, 1)))
        v_only, g_none, i_none = data_terms(x, RIGHT, TOTAL, NODES, guessing, derivatives=False)
        np.testing.assert_array_equal(v_only, value)
        assert g_none is None and i_none is None
        vo, go, io = objective(x, RIGHT, TOTAL, NODES, "3pl" if guessing else "2pl", Priors(), derivatives=False)
        np.testing.assert_array_equal(vo, value)
        assert go is None and io is None
    # c = 0 in the 2PL: the expected information is the exact Hessian
    _, _, info = data_terms(x, RIGHT, TOTAL, NODES, False)
    for i in range(3):
        def g_of(v, i=i):
            return data_terms(ItemCoords(np.array([v[0]]), np.array([v[1]]), np.array([-np.inf])),
                              RIGHT[i : i + 1], TOTAL[i : i + 1], NODES, False)[1][0, :2]
        hess = np.stack([num_grad(lambda v, j=j: g_of(v)[j], np.array([x.d[i], x.a[i]])) for j in range(2)])
        np.testing.assert_allclose(info[i, :2, :2], hess, rtol=1e-5)


# ---- EM ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model, latent", [("2pl", False), ("1pl", False), ("3pl", False), ("2pl", True)])
def test_em_stops_at_a_stationary_point_of_the_log_posterior(model: str, latent: bool) -> None:
    priors = Priors(a_lognormal=(0.0, 0.5), b_normal=(0.0, 2.0), c_beta=(5.0, 17.0) if model == "3pl" else None)
    problem, logpost = setup(model, latent, priors)
    start = vector_for(model, latent)
    calls = []
    result = run_em(problem, start, 3000, 1e-7, callback=lambda i, m: calls.append((i, m)))
    assert result.converged and result.max_change < 1e-7
    np.testing.assert_allclose(num_grad(logpost, result.vector), 0.0, atol=1e-4)
    assert calls[0] == (1, 3000) and all(m == 3000 for _, m in calls)
    assert [i for i, _ in calls] == sorted(i for i, _ in calls) and calls[-1][0] <= result.n_iter
    if not latent:  # plain EM is slow on the latent mean and sd: compared without them only
        plain = run_em(problem, start, 20000, 1e-9, accelerate=False)
        assert plain.converged
        np.testing.assert_allclose(plain.vector, result.vector, atol=2e-4)
    assert logpost(result.vector) >= logpost(start)


def test_em_iteration_counts_and_the_iteration_limit() -> None:
    problem, _ = setup("2pl", False, Priors(b_normal=(0.0, 2.0), a_lognormal=(0.0, 0.5)))
    start = vector_for("2pl", False)
    calls = []
    plain = run_em(problem, start, 3, 1e-12, accelerate=False, callback=lambda i, m: calls.append((i, m)))
    assert plain.n_iter == 3 and not plain.converged and calls == [(1, 3), (2, 3), (3, 3)]
    x = start
    for _ in range(3):  # three plain EM steps by hand
        x_next, _ = problem.em_map(x)
        change = float(np.max(np.abs(x_next - x)))
        x = x_next
    np.testing.assert_array_equal(plain.vector, x)
    assert plain.max_change == change
    one = run_em(problem, start, 1, 1e-12)
    assert one.n_iter == 1 and not one.converged
    np.testing.assert_array_equal(one.vector, problem.em_map(start)[0])
    fast = run_em(problem, start, 5000, 1e-8)
    slow = run_em(problem, start, 5000, 1e-8, accelerate=False)
    assert fast.converged and slow.converged and fast.n_iter < slow.n_iter
    # an already converged start: one step, converged, the map's value
    done = run_em(problem, slow.vector, 50, 1e-3)
    assert done.n_iter == 1 and done.converged and done.max_change < 1e-3
    assert run_em(problem, start, 0, 1e-3).n_iter == 0


@pytest.mark.parametrize("model, latent", [("2pl", False), ("3pl", False), ("2pl", True)])
def test_em_counts_every_map_evaluation(model: str, latent: bool) -> None:
    priors = Priors(a_lognormal=(0.0, 0.5), b_normal=(0.0, 2.0), c_beta=(5.0, 17.0) if model == "3pl" else None)
    problem, _ = setup(model, latent, priors)
    calls: list[float] = []
    evaluate = problem.em_map

    def counted(vector: np.ndarray):
        calls.append(1.0)
        return evaluate(vector)

    problem.em_map = counted  # type: ignore[method-assign]
    result = run_em(problem, vector_for(model, latent), 3000, 1e-7)
    assert result.converged and result.n_iter == len(calls)  # n_iter counts extrapolation steps too


def test_valid_rejects_non_finite_vectors_and_a_non_positive_sd() -> None:
    problem, _ = setup("2pl", True, Priors())
    v = vector_for("2pl", True)
    assert problem.valid(v)
    for bad in (np.nan, np.inf):
        w = v.copy()
        w[1] = bad
        assert not problem.valid(w)
    w = v.copy()
    w[-1] = 0.5  # any positive sd is valid
    assert problem.valid(w)
    w[-1] = 0.0
    assert not problem.valid(w)
    w[-1] = -1.0
    assert not problem.valid(w)
    fixed, _ = setup("2pl", False, Priors())
    w = vector_for("2pl", False)
    w[-1] = -1.0  # a negative slope is a valid EM point when no latent sd is estimated
    assert fixed.valid(w)


def _shared_data() -> Path | None:
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "data" / "irt" / "ltm_LSAT.csv").is_file():
            return parent / "shared" / "data"
    return None


@pytest.mark.skipif(_shared_data() is None, reason="LSAT data (../shared/data) not found")
def test_lsat_1pl_matches_ltm_published_estimates() -> None:
    """ltm's rasch(LSAT) with a free common slope: a = 0.755, b = (-3.615, -1.322, -0.318, -1.730, -2.780),
    log-likelihood -2466.94 (the figures tests/irt/test_irt_published.py pins; found from here also
    when mutmut runs the tests from its copy of the tree)."""
    import polars as pl

    frame = pl.read_csv(_shared_data() / "irt" / "ltm_LSAT.csv")
    items = [c for c in frame.columns if c.lower().startswith("item")]
    student = np.repeat(np.arange(frame.height), len(items))
    item = np.tile(np.array(items, dtype=object), frame.height)
    correct = frame.select(items).to_numpy().ravel()
    cal = calibrate(ResponseData.from_arrays(student, item, correct), "1pl", standard_errors="none")
    np.testing.assert_allclose(cal.bank.a, 0.755, atol=0.01)
    np.testing.assert_allclose(cal.bank.b, [-3.615, -1.322, -0.318, -1.730, -2.780], atol=0.01)
    assert abs(cal.loglik - (-2466.94)) < 0.05
