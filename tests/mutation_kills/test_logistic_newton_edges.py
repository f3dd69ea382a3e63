"""The logistic learners' Newton fit and history features (models/logistic/{newton,features}.py) against
independent truths: the penalised objective written from the module docstring and minimised by scipy,
its gradient / Hessian formed densely with numpy, conjugate gradients against numpy's solve, and the
causal counts and decayed sums recomputed by plain loops over each student's earlier responses.
"""

from __future__ import annotations

import logging

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit

from models.logistic.features import (
    counter_stats,
    new_counter,
    record,
    response_history,
    sequential_order,
    skill_history,
    stat_names,
)
from models.logistic.newton import DesignPartition, PartitionSum, Statistics, _conjugate_gradient, newton_fit

RNG = np.random.default_rng(7)
X = sp.csr_matrix(np.where(RNG.random((60, 5)) < 0.5, RNG.normal(size=(60, 5)), 0.0))
BETA_TRUE = np.array([0.3, 1.0, -0.8, 0.5, 0.0, 1.5])
Y = (RNG.random(60) < expit(BETA_TRUE[0] + X @ BETA_TRUE[1:])).astype(float)
Y[:4] = [0.25, 0.5, 0.75, 1.0]  # partial credit


def f_ref(beta: np.ndarray, C: float, x=X, y=Y) -> float:
    z = beta[0] + x @ beta[1:]
    return float(np.sum(np.log1p(np.exp(z)) - y * z) + np.sum(beta[1:] ** 2) / (2 * C))


def dense_parts(beta: np.ndarray, x=X, y=Y):
    x1 = np.column_stack([np.ones(x.shape[0]), x.toarray()])
    p = expit(x1 @ beta)
    return x1, p, x1.T @ (p - y), (x1 * (p * (1 - p))[:, None]).T @ x1


def test_partition_statistics_are_the_log_loss_sums() -> None:
    beta = np.array([0.1, -0.2, 0.4, 0.0, 0.3, -0.5])
    part = DesignPartition(X, Y)
    assert part.n_rows == 60
    with pytest.raises(RuntimeError, match=r"^statistics\(beta\) must run before hessian_product$"):
        part.hessian_product(beta)
    stats = part.statistics(beta)
    x1, p, grad, hess = dense_parts(beta)
    assert stats.loss == pytest.approx(f_ref(beta, np.inf), rel=1e-12)
    assert part.loss(beta) == pytest.approx(stats.loss, rel=1e-12)
    np.testing.assert_allclose(stats.gradient, grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(stats.hessian_diagonal, np.diag(hess), rtol=1e-10)
    v = np.array([1.0, 2.0, -1.0, 0.5, 0.0, 3.0])
    np.testing.assert_allclose(part.hessian_product(v), hess @ v, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match=r"^60 design rows but \(59,\) scores$"):
        DesignPartition(X, Y[:-1])
    # two partitions add up to the whole
    halves = PartitionSum([DesignPartition(X[:25], Y[:25]), DesignPartition(X[25:], Y[25:])])
    total = halves.statistics(beta)
    assert total.loss == pytest.approx(stats.loss, rel=1e-12)
    np.testing.assert_allclose(total.gradient, stats.gradient, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(total.hessian_diagonal, stats.hessian_diagonal, rtol=1e-10)
    assert halves.loss(beta) == pytest.approx(stats.loss, rel=1e-12)
    np.testing.assert_allclose(halves.hessian_product(v), hess @ v, rtol=1e-10, atol=1e-12)


def test_statistics_total_of() -> None:
    a = Statistics(1.5, np.array([1.0, 2.0]), np.array([0.5, 0.25]))
    b = Statistics(2.0, np.array([-1.0, 1.0]), np.array([1.0, 1.0]))
    t = Statistics.total_of([a, b, b])
    assert t.loss == 5.5 and t.gradient.tolist() == [-1.0, 4.0] and t.hessian_diagonal.tolist() == [2.5, 2.25]
    assert a.gradient.tolist() == [1.0, 2.0]  # parts unchanged
    assert Statistics.total_of([a]).loss == 1.5
    with pytest.raises(ValueError, match=r"^no partition statistics to add$"):
        Statistics.total_of([])


def test_conjugate_gradient_solves_to_its_tolerance() -> None:
    m = RNG.normal(size=(6, 6))
    h = m @ m.T + 0.5 * np.eye(6)
    g = RNG.normal(size=6)
    exact = np.linalg.solve(h, -g)
    got = _conjugate_gradient(lambda v: h @ v, g, 1.0 / np.diag(h), 1e-12, 50)
    np.testing.assert_allclose(got, exact, rtol=1e-8, atol=1e-10)
    loose = _conjugate_gradient(lambda v: h @ v, g, 1.0 / np.diag(h), 0.5, 50)
    assert np.linalg.norm(h @ loose + g) <= 0.5 * np.linalg.norm(g)
    assert np.linalg.norm(h @ loose + g) > 1e-6  # stopped early, not solved exactly
    one = _conjugate_gradient(lambda v: h @ v, g, np.ones(6), 1e-12, 1)
    # one unpreconditioned CG step is the exact line minimum along -g
    alpha = (g @ g) / (g @ h @ g)
    np.testing.assert_allclose(one, -alpha * g, rtol=1e-10)
    assert _conjugate_gradient(lambda v: h @ v, g, 1.0 / np.diag(h), 1e-12, 0).tolist() == [0.0] * 6
    # a direction of zero curvature stops the iteration (round-off guard)
    assert _conjugate_gradient(lambda v: 0.0 * v, g, np.ones(6), 1e-12, 5).tolist() == [0.0] * 6


@pytest.mark.parametrize("C", [0.3, 1.0, 50.0])
def test_newton_fit_reaches_the_penalised_optimum(C: float) -> None:
    ref = minimize(f_ref, np.zeros(6), args=(C,), method="BFGS", options={"gtol": 1e-10}).x
    calls = []
    res = newton_fit(PartitionSum([DesignPartition(X, Y)]), 5, C, 100, 1e-7, callback=lambda i, m: calls.append((i, m)))
    assert res.converged and res.max_gradient <= 1e-7
    np.testing.assert_allclose(res.beta, ref, atol=1e-5)
    assert res.objective == pytest.approx(f_ref(res.beta, C), rel=1e-12)
    _, _, grad, _ = dense_parts(res.beta)
    pen = np.concatenate([[0.0], res.beta[1:] / C])
    assert res.max_gradient == pytest.approx(float(np.max(np.abs(grad + pen))), abs=1e-12)
    assert calls == [(i, 100) for i in range(1, res.n_iter + 1)] and 2 <= res.n_iter <= 15


def test_newton_fit_limits_and_errors(caplog: pytest.LogCaptureFixture) -> None:
    objective = PartitionSum([DesignPartition(X, Y)])
    with caplog.at_level(logging.WARNING, logger="models.logistic.newton"):
        one = newton_fit(objective, 5, 1.0, 1, 1e-12)
    assert not one.converged and one.n_iter == 1
    assert "no convergence in 1 steps" in caplog.text
    assert one.objective == pytest.approx(f_ref(one.beta, 1.0), rel=1e-12)
    assert one.objective < f_ref(np.zeros(6), 1.0)
    loose = newton_fit(objective, 5, 1.0, 100, 1e6)  # converged at the start: beta = 0
    assert loose.converged and loose.n_iter == 0 and loose.beta.tolist() == [0.0] * 6
    assert loose.objective == pytest.approx(f_ref(np.zeros(6), 1.0), rel=1e-12)
    for C in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match=r"^C must be a finite number > 0, got"):
            newton_fit(objective, 5, C, 10, 1e-6)
    for max_iter, tol in ((0, 1e-6), (10, 0.0), (10, -1.0)):
        with pytest.raises(ValueError, match=r"^max_iter must be >= 1 and tol > 0, got"):
            newton_fit(objective, 5, 1.0, max_iter, tol)
    assert newton_fit(objective, 5, 1.0, 1.5, 1e-12).n_iter == 1  # max_iter is read as an integer


def test_newton_fit_without_columns_is_the_log_odds() -> None:
    y = np.array([1.0, 1.0, 0.0, 1.0])
    res = newton_fit(PartitionSum([DesignPartition(sp.csr_matrix((4, 0)), y)]), 0, 1.0, 50, 1e-12)
    assert res.beta.shape == (1,) and res.beta[0] == pytest.approx(np.log(3.0), abs=1e-9)


# ---- history features -----------------------------------------------------------------------------
LOG = pl.DataFrame({
    "student_id": ["a", "b", "a", "a", "a", "b", "a", "a"],
    "item_id": ["i1", "i1", "i2", "i1", "i3", "i2", "i2", "i1"],
    "skill_ids": [["k1"], ["k1", "k2"], ["k1", "k2", "k1"], ["k2"], [], ["k2"], ["k1"], ["k1", "k2"]],
    "correct": [1.0, 0.0, 0.0, 1.0, 0.5, 1.0, 1.0, 0.0],
    "seq": [5, 1, 2, 3, 9, 0, 7, 1],
}, schema={"student_id": pl.Utf8, "item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8), "correct": pl.Float64, "seq": pl.Int64})
DECAYS = (0.0, 0.5, 0.9)


def earlier(rows, decays):
    """attempts, wins, fails and decayed sums over `rows` (earliest first), the latest weighing 1."""
    out = {"attempts": float(len(rows)), "wins": float(sum(rows)), "fails": float(len(rows) - sum(rows))}
    for i, r in enumerate(decays):
        out[f"wins_r{i}"] = sum(r ** (len(rows) - 1 - j) * v for j, v in enumerate(rows)) if rows else 0.0
        out[f"fails_r{i}"] = sum(r ** (len(rows) - 1 - j) * (1 - v) for j, v in enumerate(rows)) if rows else 0.0
    return out


def test_history_statistics_against_plain_loops() -> None:
    ordered = sequential_order(LOG)
    assert ordered.columns == ["__row__", "student_id", "item_id", "skill_ids", "correct", "seq"]
    assert ordered["__row__"].to_list() == [7, 2, 3, 0, 6, 4, 5, 1]
    rows = ordered.to_dicts()
    hist = response_history(ordered, DECAYS)
    skills = skill_history(ordered, DECAYS)
    names = stat_names(DECAYS)
    assert names == ["attempts", "wins", "fails", "wins_r0", "fails_r0", "wins_r1", "fails_r1", "wins_r2", "fails_r2"]
    assert hist.columns == [f"{scope}_{n}" for scope in ("total", "item") for n in names]
    want_skill = []
    for t, row in enumerate(rows):
        before = [r for r in rows[:t] if r["student_id"] == row["student_id"]]
        total = earlier([r["correct"] for r in before], DECAYS)
        item = earlier([r["correct"] for r in before if r["item_id"] == row["item_id"]], DECAYS)
        for n in names:
            assert hist[f"total_{n}"][t] == pytest.approx(total[n], abs=1e-12), (t, n)
            assert hist[f"item_{n}"][t] == pytest.approx(item[n], abs=1e-12), (t, n)
        for k in dict.fromkeys(row["skill_ids"]):
            want_skill.append((t, k, earlier([r["correct"] for r in before if k in r["skill_ids"]], DECAYS)))
    assert skills.columns == ["pos", "skill_id", *[f"skill_{n}" for n in names]]
    assert skills.schema["pos"] == pl.Int64
    assert list(zip(skills["pos"].to_list(), skills["skill_id"].to_list())) == [(t, k) for t, k, _ in want_skill]
    for j, (_, _, stats) in enumerate(want_skill):
        for n in names:
            assert skills[f"skill_{n}"][j] == pytest.approx(stats[n], abs=1e-12)
    assert response_history(ordered).columns == [f"{s}_{n}" for s in ("total", "item") for n in ("attempts", "wins", "fails")]


def test_online_counters_give_the_batch_statistics() -> None:
    counter = new_counter(DECAYS)
    assert counter == [0.0] * 8
    answers = [1.0, 0.0, 0.5, 1.0, 1.0, 0.0]
    for j, v in enumerate(answers):
        stats = counter_stats(counter, DECAYS)
        want = earlier(answers[:j], DECAYS)
        assert set(stats) == set(want)
        for n in want:
            assert stats[n] == pytest.approx(want[n], abs=1e-12)
        record(counter, v, DECAYS)
    assert new_counter(()) == [0.0, 0.0]
    c = new_counter(())
    record(c, 0.25, ())
    assert counter_stats(c, ()) == {"attempts": 1.0, "wins": 0.25, "fails": 0.75}


def test_sequential_order_checks() -> None:
    with pytest.raises(ValueError, match=r"^responses lack column\(s\) \['skill_ids', 'seq'\]; expected the canonical response columns$"):
        sequential_order(LOG.drop("skill_ids", "seq"))
    bad = LOG.with_columns(pl.when(pl.col("seq") == 2).then(None).otherwise(pl.col("correct")).alias("correct"))
    with pytest.raises(ValueError, match=r"^'correct' has 1 null value\(s\); every response needs a score in \[0, 1\]$"):
        sequential_order(bad)
    ints = sequential_order(LOG.with_columns(pl.col("correct").round().cast(pl.Int64)))
    assert ints.schema["correct"] == pl.Float64
    extra = sequential_order(LOG.with_columns(pl.lit(1).alias("other")))
    assert "other" not in extra.columns
