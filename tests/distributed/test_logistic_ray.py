"""The logistic learner models (IRT-LR, AFM, PFA, Best-LR) over student partitions: the shared Newton fit
reaches scikit-learn's optimum of the same penalised objective; partitions in this process and two Ray
workers give the local fit; `kt fit --engine ray` writes the local model; Elo and the stacked model refuse."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import polars as pl
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from engine.cli import main
from engine.distributed.kt import ray_family
from engine.distributed.logistic import fit_inline, fit_on_ray
from engine.errors import ConfigError
from models.logistic import AFM, IRTLR, PFA, BestLR
from models.logistic.features import sequential_order
from models.logistic.newton import DesignPartition, PartitionSum, Statistics

SCHEMA = {"student_id": pl.Utf8, "item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8), "correct": pl.Float64, "seq": pl.Int64}
# PFA truth per skill: easiness, weight of log(1 + earlier wins), weight of log(1 + earlier fails)
BETA, GAMMA, RHO = np.array([-0.6, 0.0, 0.5]), np.array([0.5, 0.3, 0.4]), np.array([-0.3, -0.1, -0.2])


def pfa_log(n_students: int = 600, length: int = 15, seed: int = 3) -> pl.DataFrame:
    """Responses drawn from classic PFA (one skill per item, 4 items per skill), all students step by step."""
    rng = np.random.default_rng(seed)
    wins, fails = np.zeros((n_students, 3)), np.zeros((n_students, 3))
    students = np.arange(n_students)
    rows = []
    for t in range(length):
        item = rng.integers(0, 12, n_students)
        k = item // 4
        y = (rng.random(n_students) < expit(BETA[k] + GAMMA[k] * np.log1p(wins[students, k]) + RHO[k] * np.log1p(fails[students, k]))).astype(float)
        wins[students, k] += y
        fails[students, k] += 1.0 - y
        rows.append((students, item, k, y, np.full(n_students, t)))
    s, i, k, y, t = (np.concatenate(c) for c in zip(*rows))
    return pl.DataFrame({"student_id": [f"s{v}" for v in s], "item_id": [f"q{v:02d}" for v in i],
                         "skill_ids": [[f"k{v}"] for v in k], "correct": y, "seq": t}, schema=SCHEMA)


def assert_same_fit(mine, theirs, atol: float = 1e-6) -> None:
    assert mine.layout_.items == theirs.layout_.items and mine.layout_.skills == theirs.layout_.skills
    assert mine.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(mine.coef_, theirs.coef_, rtol=0, atol=atol)
    assert abs(mine.intercept_ - theirs.intercept_) <= atol


def test_partition_statistics_are_the_derivatives_of_the_loss() -> None:
    """Gradient and Hessian products against central finite differences, and two student halves adding up."""
    model = BestLR()
    ordered = sequential_order(pfa_log(60, 8))
    model.fit(ordered)
    part = model.design_partition(ordered)
    rng = np.random.default_rng(0)
    beta, v = rng.normal(0, 0.3, part.design.shape[1] + 1), rng.normal(0, 1, part.design.shape[1] + 1)
    stats, h = part.statistics(beta), 1e-6
    assert stats.gradient @ v == pytest.approx((part.loss(beta + h * v) - part.loss(beta - h * v)) / (2 * h), rel=1e-6)
    numeric = (part.statistics(beta + h * v).gradient - part.statistics(beta - h * v).gradient) / (2 * h)
    part.statistics(beta)
    np.testing.assert_allclose(part.hessian_product(v), numeric, rtol=1e-5, atol=1e-6)
    unit = np.zeros_like(beta)
    unit[3] = 1.0
    assert stats.hessian_diagonal[3] == pytest.approx(part.hessian_product(unit)[3], rel=1e-12)
    halves = [DesignPartition(part.design[rows], part.y[rows]) for rows in (slice(0, 200), slice(200, None))]
    total = Statistics.total_of([p.statistics(beta) for p in halves])
    assert total.loss == pytest.approx(stats.loss, rel=1e-12)
    np.testing.assert_allclose(total.gradient, stats.gradient, atol=1e-10)
    np.testing.assert_allclose(PartitionSum(halves).hessian_product(v), part.hessian_product(v), atol=1e-10)


@pytest.mark.parametrize("fractional", [False, True])
def test_the_newton_fit_reaches_scikit_learns_optimum(fractional: bool) -> None:
    """The same penalised objective minimised by scikit-learn's exact-Hessian solver at a tight tolerance;
    a partial credit c is a label-1 row weighted c plus a label-0 row weighted 1 - c there."""
    log = pfa_log()
    if fractional:
        log = log.with_columns(pl.when(pl.col("seq") % 3 == 0).then(pl.col("correct") * 0.5 + 0.2).otherwise(pl.col("correct")).alias("correct"))
    model = PFA(C=0.5).fit(log)
    ordered = sequential_order(log)
    design, y = model._design(ordered), ordered["correct"].to_numpy()
    reference = LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12, max_iter=100)
    from scipy.sparse import vstack  # noqa: PLC0415

    reference.fit(vstack([design, design]), np.r_[np.ones(y.size), np.zeros(y.size)], sample_weight=np.r_[y, 1.0 - y])
    np.testing.assert_allclose(model.coef_, reference.coef_.ravel(), rtol=0, atol=1e-6)
    assert model.intercept_ == pytest.approx(reference.intercept_[0], abs=1e-6)
    if not fractional:  # and the fit is the simulation's, roughly
        easiness = model.intercept_ + np.array([dict(model.coefficients().iter_rows())[f"skill=k{k}"] for k in range(3)])
        assert easiness == pytest.approx(BETA, abs=0.25)


@pytest.mark.parametrize("cls", [IRTLR, AFM, PFA, BestLR])
def test_three_partitions_in_this_process_give_the_local_fit(cls: type) -> None:
    log = pfa_log(300, 12, seed=5)
    # an item answered by one student only, so the partitions' item vocabularies differ
    log = pl.concat([log, pl.DataFrame({"student_id": ["s0"], "item_id": ["rare"], "skill_ids": [["k9"]], "correct": [1.0],
                                        "seq": [99]}, schema=SCHEMA)])
    local = cls().fit(log)
    assert "rare" in local.layout_.items
    assert_same_fit(fit_inline(cls(), log, 3), local)


def test_two_ray_workers_give_the_local_pfa_fit(ray: ModuleType) -> None:
    log = pfa_log()
    local = PFA().fit(log)
    mine, pool = fit_on_ray(PFA(), log, ray, 2, measure=True)
    try:
        assert len(pool) == 2 and pool.traffic.received > 0
        assert min(pool.map("peak_rss_bytes")) > 0
    finally:
        pool.shutdown()
    assert_same_fit(mine, local)
    np.testing.assert_allclose(mine.predict_proba(log), local.predict_proba(log), atol=1e-9)


def write_csv(frame: pl.DataFrame, path: Path) -> Path:
    frame.with_columns(pl.col("skill_ids").list.join(",")).write_csv(path)
    return path


@pytest.mark.parametrize("name, cls", [("pfa", PFA), ("best-lr", BestLR)])
def test_kt_fit_on_ray_writes_the_local_model(ray: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str], name: str, cls: type) -> None:
    csv = write_csv(pfa_log(400, 10, seed=11), tmp_path / "log.csv")
    args = ["kt", "fit", "--data", str(csv), "--format", "generic", "--model", name]
    assert main([*args, "--engine", "local", "--out", str(tmp_path / "local.json")]) == 0
    if name == "pfa":
        assert main([*args, "--engine", "ray", "--out", str(tmp_path / "ray.json")]) == 0
    else:  # the engine from the environment
        monkeypatch.setenv("EQUILEARN_ENGINE", "ray")
        assert main([*args, "--out", str(tmp_path / "ray.json")]) == 0
    capsys.readouterr()
    mine, theirs = (cls.from_dict(json.loads((tmp_path / f"{n}.json").read_text())) for n in ("ray", "local"))
    assert_same_fit(mine, theirs)


def test_the_stacked_model_refuses_before_loading(capsys: pytest.CaptureFixture[str]) -> None:
    for name, reason in (("best", "out-of-fold logits of sub-models"),):
        code = main(["kt", "fit", "--data", "/nonexistent.csv", "--format", "generic", "--model", name, "--engine", "ray",
                     "--out", "/nonexistent.json"])
        assert code == 2
        assert reason in capsys.readouterr().err
    with pytest.raises(ConfigError, match="scikit-learn's solvers run in one process"):
        ray_family(PFA(solver="lbfgs"))
    assert ray_family(PFA()) == "logistic"
