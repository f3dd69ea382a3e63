"""Elo over student partitions: per step, the workers' per-item sums of error and counts, added at the driver,
give the local `Elo.fit` (bit for bit with one partition, to rounding with several), in this process and on a
local Ray cluster, through the API and through `kt fit --engine ray`."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import polars as pl
import pytest
from scipy.special import expit

from engine.cli import main
from engine.distributed.bkt import split_responses
from engine.distributed.elo import EloPartitionWorker, fit_inline, fit_on_ray, fit_partitioned
from engine.distributed.kt import ray_family
from engine.distributed.pools import InlinePool
from models.elo import Elo

SCHEMA = {"student_id": pl.Utf8, "item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8), "correct": pl.Float64, "seq": pl.Int64}


def learning_log(n_students: int = 240, n_items: int = 25, max_len: int = 20, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    """A Rasch-like log with sequences of different lengths, 0-2 skills per response and the true difficulties."""
    rng = np.random.default_rng(seed)
    b = np.linspace(-1.5, 1.5, n_items)
    rows = []
    for s in range(n_students):
        theta = rng.normal()
        for t in range(int(rng.integers(1, max_len + 1))):
            i = int(rng.integers(n_items))
            skills = [f"k{j}" for j in rng.choice(4, int(rng.integers(0, 3)), replace=False)]
            rows.append((f"s{s}", f"i{i:02d}", skills, float(rng.random() < expit(theta - b[i])), 10 * t))
    return pl.DataFrame(rows, schema=SCHEMA, orient="row"), b


def gaps(mine: Elo, local: Elo, frame: pl.DataFrame) -> dict[str, float]:
    assert mine.items_ == local.items_ and mine.skills_ == local.skills_
    np.testing.assert_array_equal(mine.item_counts_, local.item_counts_)
    return {"difficulty": float(np.max(np.abs(mine.difficulty_ - local.difficulty_))),
            "predict": float(np.max(np.abs(mine.predict_proba(frame) - local.predict_proba(frame))))}


@pytest.mark.parametrize("epochs", [1, 3])
def test_partitioned_elo_gives_the_local_fit(epochs: int) -> None:
    frame, _ = learning_log()
    local = Elo(epochs=epochs).fit(frame)
    assert gaps(fit_inline(Elo(epochs=epochs), frame, 1), local, frame) == {"difficulty": 0.0, "predict": 0.0}
    for n_parts in (3, 500):  # 500 partitions for 240 students: many are empty, all lengths differ
        assert max(gaps(fit_inline(Elo(epochs=epochs), frame, n_parts), local, frame).values()) < 1e-12


def test_partitioned_elo_recovers_the_difficulty_order_and_keeps_hyperparameters() -> None:
    frame, b = learning_log(n_students=600, max_len=30, seed=2)
    fit = fit_inline(Elo(item_alpha=0.8, skill_beta=0.2), frame, 4)
    est = fit.difficulty_[[fit.items_.index(f"i{i:02d}") for i in range(b.size)]]
    assert np.corrcoef(est, b)[0, 1] > 0.9 and abs(est.mean()) < 1e-12
    assert max(gaps(fit, Elo(item_alpha=0.8, skill_beta=0.2).fit(frame), frame).values()) < 1e-12


def test_two_steps_are_the_hand_computed_mean_error_updates() -> None:
    """Students a (partition 0), b and c (partition 1). Step 0: a and b answer q right, c answers r wrong;
    all predictions are expit(0) = 1/2, so q moves once by its mean error +1/2 (not by the sum, 1) and r by
    -1/2. Step 1: a answers r right, from theta_a = U(0) 1/2 = 0.5 and theta_ak = 0.8 * 1/2 = 0.4."""
    row = lambda *values: pl.DataFrame([values], schema=SCHEMA, orient="row")  # noqa: E731
    parts = [pl.concat([row("a", "q", ["k"], 1.0, 0), row("a", "r", ["k"], 1.0, 1)]),
             pl.concat([row("b", "q", ["k"], 1.0, 0), row("c", "r", ["k"], 0.0, 0)])]
    model = fit_partitioned(Elo(), InlinePool([EloPartitionWorker(f"p{k}", p, Elo()) for k, p in enumerate(parts)]))
    d_q, d_r = -0.5, 0.5
    d_r -= 1.0 / (1.0 + 0.05 * 1) * (1.0 - expit(0.5 + 0.4 - d_r))
    centre = (d_q + d_r) / 2
    assert model.items_ == ["q", "r"] and model.item_counts_.tolist() == [1.0, 2.0]
    np.testing.assert_allclose(model.difficulty_, [d_q - centre, d_r - centre], rtol=0, atol=1e-15)
    np.testing.assert_allclose(Elo().fit(pl.concat(parts)).difficulty_, model.difficulty_, rtol=0, atol=1e-15)


def test_an_empty_log_and_a_bad_partition_are_refused() -> None:
    frame, _ = learning_log(n_students=10)
    with pytest.raises(ValueError, match="empty"):
        fit_inline(Elo(), frame.head(0), 2)
    with pytest.raises(ValueError, match="alpha"):
        fit_inline(Elo(alpha=-1.0), frame, 2)
    with pytest.raises(ValueError, match=r"partition \d of 2: .*'correct' has 1 null"):
        fit_inline(Elo(), frame.with_columns(pl.when(pl.col("seq") == 0).then(None).otherwise(pl.col("correct"))
                                             .alias("correct")).head(1), 2)
    assert ray_family(Elo()) == "elo"


def test_two_ray_workers_give_the_local_elo_fit_and_kt_fit_on_ray(ray: ModuleType, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    frame, _ = learning_log(n_students=150, max_len=12, seed=5)
    local = Elo(epochs=2).fit(frame)
    mine, pool = fit_on_ray(Elo(epochs=2), frame, ray, 2, measure=True)
    try:
        assert len(pool) == 2 and pool.traffic.received > 0
    finally:
        pool.shutdown()
    assert max(gaps(mine, local, frame).values()) < 1e-12
    csv = tmp_path / "log.csv"
    frame.with_columns(pl.col("skill_ids").list.join(",")).write_csv(csv)
    args = ["kt", "fit", "--data", str(csv), "--format", "generic", "--model", "elo"]
    assert main([*args, "--out", str(tmp_path / "local.json")]) == 0
    assert main([*args, "--engine", "ray", "--out", str(tmp_path / "ray.json")]) == 0
    capsys.readouterr()
    mine, theirs = (Elo.from_dict(json.loads((tmp_path / f"{n}.json").read_text())) for n in ("ray", "local"))
    assert mine.items_ == theirs.items_
    np.testing.assert_allclose(mine.difficulty_, theirs.difficulty_, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(mine.item_counts_, theirs.item_counts_)
