"""BKT on a local Ray cluster (2 CPUs): two workers' E-steps, reduced at the driver, give the local fit,
through the API and through `kt fit --engine ray`."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import polars as pl
import pytest

from engine.cli import main
from engine.distributed.bkt import fit_on_ray
from models.bkt import BKT, bkt_forget
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
