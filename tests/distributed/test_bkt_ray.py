"""BKT on a local Ray cluster (2 CPUs): two workers' E-steps, reduced at the driver, give the local fit,
through the API and through `kt fit --engine ray` (BKT, BKT with forgetting, KT-IDEM, multiprior)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import polars as pl
import pytest

from engine.cli import main
from engine.distributed.bkt import fit_on_ray
from models.bkt import BKT, bkt_forget, bkt_idem
from models.bkt.simulate import simulate_bkt

SKILLS = [
    {"prior": 0.25, "learn": 0.2, "guess": 0.2, "slip": 0.1, "forget": 0.04},
    {"prior": 0.5, "learn": 0.1, "guess": 0.3, "slip": 0.1, "forget": 0.02},
]


def test_two_ray_workers_give_the_local_bkt_forget_fit(ray: ModuleType) -> None:
    frame = simulate_bkt(SKILLS, 400, 15, seed=8)
    local = bkt_forget().fit(frame)
    mine, pool = fit_on_ray(bkt_forget(), frame, ray, 2, measure=True)
    try:
        assert len(pool) == 2 and pool.traffic.received > 0
    finally:
        pool.shutdown()
    np.testing.assert_array_equal(mine.n_iter_, local.n_iter_)
    for name in ("prior", "learn", "forget", "guess", "slip", "loglik"):
        np.testing.assert_allclose(getattr(mine, f"{name}_"), getattr(local, f"{name}_"), rtol=0, atol=1e-6)
    assert abs(mine.learn_[0] - SKILLS[0]["learn"]) < 0.08  # and the fit is the simulation's, roughly
    learned = lambda m: sorted(k for k in vars(m) if k.endswith("_") and not k.startswith("_"))  # noqa: E731
    assert learned(mine) == learned(local)


def test_kt_fit_bkt_on_ray_writes_the_local_model(ray: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = simulate_bkt(SKILLS, 300, 10, seed=9)
    csv = tmp_path / "log.csv"
    frame.with_columns(pl.col("skill_ids").list.join(",")).write_csv(csv)
    args = ["kt", "fit", "--data", str(csv), "--format", "generic", "--model", "bkt"]
    assert main([*args, "--out", str(tmp_path / "local.json")]) == 0
    assert main([*args, "--engine", "ray", "--out", str(tmp_path / "ray.json")]) == 0
    capsys.readouterr()
    mine, theirs = (BKT.from_dict(json.loads((tmp_path / f"{n}.json").read_text())) for n in ("ray", "local"))
    assert mine.skills_ == theirs.skills_ == ["s0", "s1"]
    for name in ("prior", "learn", "guess", "slip"):
        np.testing.assert_allclose(getattr(mine, f"{name}_"), getattr(theirs, f"{name}_"), rtol=0, atol=1e-6)
    np.testing.assert_allclose(mine.predict_proba(frame), theirs.predict_proba(frame), atol=1e-6)


def test_two_ray_workers_give_the_local_kt_idem_multiprior_fit(ray: ModuleType) -> None:
    frame = simulate_bkt(SKILLS, 200, 8, seed=10, item_guess=[[0.1, 0.3], [0.2, 0.4, 0.25]])
    rng = np.random.default_rng(10)
    bands = {f"u{i}": str(rng.choice(["a", "b"])) for i in range(200)}
    frame = frame.with_columns(pl.col("student_id").replace_strict(bands).alias("band"))
    hyper = {"item_params": True, "prior_groups": "band"}
    local = BKT(**hyper).fit(frame)
    mine, pool = fit_on_ray(BKT(**hyper), frame, ray, 2)
    pool.shutdown()
    np.testing.assert_array_equal(mine.n_iter_, local.n_iter_)
    for name in ("prior", "learn", "guess", "slip", "loglik"):
        np.testing.assert_allclose(getattr(mine, f"{name}_"), getattr(local, f"{name}_"), rtol=0, atol=1e-12)
    assert mine.item_guess_slip_["item"] == local.item_guess_slip_["item"] and len(local.item_guess_slip_["item"]) == 5
    np.testing.assert_allclose(mine.item_guess_slip_["guess"], local.item_guess_slip_["guess"], rtol=0, atol=1e-12)
    assert mine.group_prior_["group"] == local.group_prior_["group"] == ["a", "b", "a", "b"]
    np.testing.assert_allclose(mine.group_prior_["prior"], local.group_prior_["prior"], rtol=0, atol=1e-12)


def test_kt_fit_bkt_idem_on_ray_writes_the_local_model(ray: ModuleType, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    frame = simulate_bkt(SKILLS, 200, 8, seed=12, item_guess=[[0.1, 0.3], [0.2, 0.4]])
    csv = tmp_path / "log.csv"
    frame.with_columns(pl.col("skill_ids").list.join(",")).write_csv(csv)
    args = ["kt", "fit", "--data", str(csv), "--format", "generic", "--model", "bkt-idem"]
    assert main([*args, "--out", str(tmp_path / "local.json")]) == 0
    assert main([*args, "--engine", "ray", "--out", str(tmp_path / "ray.json")]) == 0
    capsys.readouterr()
    mine, theirs = (BKT.from_dict(json.loads((tmp_path / f"{n}.json").read_text())) for n in ("ray", "local"))
    assert mine.item_params and mine.item_guess_slip_["item"] == theirs.item_guess_slip_["item"]
    np.testing.assert_array_equal(mine.n_iter_, theirs.n_iter_)
    for key in ("guess", "slip"):
        np.testing.assert_allclose(mine.item_guess_slip_[key], theirs.item_guess_slip_[key], rtol=0, atol=1e-12)
    np.testing.assert_allclose(mine.predict_proba(frame), theirs.predict_proba(frame), rtol=0, atol=1e-12)
    assert bkt_idem().get_params() == mine.get_params()
