"""`irt calibrate` on a local Ray cluster (2 CPUs): the workers' E-steps, reduced at the driver, give the
local engine's parameters, from a frame in the object store and from Parquet partitions read by the workers."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import polars as pl
import pytest

from engine.cli import main
from engine.distributed.irt import calibrate_on_ray, peak_worker_memory
from engine.distributed.partitions import split_by_student
from models.irt import ResponseData, calibrate
from tests.distributed.conftest import by_item, simulated_log


def local(frame: pl.DataFrame, **options: object):
    return calibrate(ResponseData.from_arrays(frame["student_id"], frame["item_id"], frame["correct"]), **options)


def test_two_ray_workers_give_the_local_2pl(ray: ModuleType) -> None:
    frame, sim = simulated_log(n_students=2000, n_items=20, per_student=12)
    one = local(frame, model="2pl", standard_errors="crossprod")
    result, pool = calibrate_on_ray(frame, ray, 2, measure=True, model="2pl", standard_errors="crossprod")
    try:
        assert len(pool) == 2 and min(peak_worker_memory(pool)) > 0
        assert pool.traffic.received > 0
    finally:
        pool.shutdown()
    assert result.n_iter == one.n_iter and result.converged
    for field in ("a", "b", "se_a", "se_b"):
        ours, theirs = by_item(result.bank.item_ids, getattr(result.bank, field)), by_item(one.bank.item_ids, getattr(one.bank, field))
        np.testing.assert_allclose([ours[k] for k in theirs], list(theirs.values()), atol=1e-6)
    truth = dict(zip((f"q{k:02d}" for k in range(len(sim.a))), sim.a))
    slopes = by_item(result.bank.item_ids, result.bank.a)
    assert np.corrcoef([slopes[k] for k in truth], list(truth.values()))[0, 1] > 0.8


def test_cli_on_ray_reads_parquet_partitions_on_the_workers_and_matches_local(
        ray: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    frame, _ = simulated_log(n_students=1000, n_items=15, per_student=10, model="rasch", seed=11)
    csv = tmp_path / "log.csv"
    frame.write_csv(csv)
    folder = tmp_path / "parts"
    folder.mkdir()
    for k, part in enumerate(split_by_student(frame, 3)):
        part.write_parquet(folder / f"part-{k}.parquet")
    base = ["irt", "calibrate", "--format", "generic", "--model", "rasch"]
    assert main([*base[:2], str(csv), *base[2:], "--engine", "local", "--out", str(tmp_path / "local.json")]) == 0
    monkeypatch.setenv("EQUILEARN_ENGINE", "ray")  # the environment variable chooses Ray as well as --engine
    assert main([*base[:2], str(folder), *base[2:], "--out", str(tmp_path / "ray.json")]) == 0
    capsys.readouterr()
    mine = {i["item_id"]: i for i in json.loads((tmp_path / "ray.json").read_text())["items"]}
    theirs = {i["item_id"]: i for i in json.loads((tmp_path / "local.json").read_text())["items"]}
    assert mine.keys() == theirs.keys()
    np.testing.assert_allclose([mine[k]["b"] for k in theirs], [theirs[k]["b"] for k in theirs], atol=1e-6)
    np.testing.assert_allclose([mine[k]["se_b"] for k in theirs], [theirs[k]["se_b"] for k in theirs], atol=1e-6)


def test_a_workers_data_error_reaches_the_cli_user(ray: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame, _ = simulated_log(n_students=30, n_items=5, per_student=5)
    folder = tmp_path / "parts"
    folder.mkdir()
    frame.with_columns(pl.lit(2.0).alias("correct")).write_parquet(folder / "bad.parquet")
    assert main(["irt", "calibrate", str(folder), "--format", "generic", "--engine", "ray"]) == 1
    assert "bad.parquet" in capsys.readouterr().err


def test_kt_fit_irt_on_ray_writes_the_local_model(ray: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame, _ = simulated_log(n_students=800, n_items=12, per_student=8, model="rasch", seed=5)
    csv = tmp_path / "log.csv"
    frame.write_csv(csv)
    args = ["kt", "fit", "--data", str(csv), "--format", "generic", "--model", "irt"]
    assert main([*args, "--out", str(tmp_path / "local.json")]) == 0
    assert main([*args, "--engine", "ray", "--out", str(tmp_path / "ray.json")]) == 0
    capsys.readouterr()
    from engine.cli.kt import load_model

    mine, theirs = (load_model(json.loads((tmp_path / f"{n}.json").read_text())) for n in ("ray", "local"))
    assert mine.calibration_.n_iter == theirs.calibration_.n_iter
    np.testing.assert_allclose(mine.bank_.b, theirs.bank_.b, atol=1e-6)
    np.testing.assert_allclose(mine.predict_proba(frame), theirs.predict_proba(frame), atol=1e-6)


def test_fit_on_ray_sets_every_learned_attribute_that_fit_sets(ray: ModuleType) -> None:
    from engine.distributed.kt import fit_irt_on_ray
    from models.irt.estimator import knowledge_tracing_irt

    frame, _ = simulated_log(n_students=300, n_items=8, per_student=6, model="rasch", seed=2)
    local_model, ray_model = knowledge_tracing_irt().fit(frame), fit_irt_on_ray(knowledge_tracing_irt(), frame, ray, 2)
    learned = lambda m: sorted(k for k in vars(m) if k.endswith("_") and not k.startswith("_"))  # noqa: E731
    assert learned(ray_model) == learned(local_model)
