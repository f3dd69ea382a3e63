"""The partitioned E-step (the distributed engine's math, workers in this process): the statistics of
student partitions add up to the whole log's, so calibration gives the local engine's parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.distributed.irt import calibrate_inline
from engine.distributed.partitions import split_by_student
from models.irt import ItemBank, ResponseData, calibrate
from tests.distributed.conftest import by_item, simulated_log


def local(frame: pl.DataFrame, **options: object):
    return calibrate(ResponseData.from_arrays(frame["student_id"], frame["item_id"], frame["correct"]), **options)


@pytest.mark.parametrize("model", ["rasch", "1pl", "2pl", "3pl"])
def test_three_partitions_give_the_local_parameters(model: str) -> None:
    n_students = 3000 if model == "3pl" else 1200
    frame, sim = simulated_log(model=model, n_students=n_students)
    one = local(frame, model=model)
    three = calibrate_inline(frame, 3, model=model)
    assert three.n_iter == one.n_iter and three.converged
    for field in ("a", "b", "c", "se_b"):
        ours, theirs = by_item(three.bank.item_ids, getattr(three.bank, field)), by_item(one.bank.item_ids, getattr(one.bank, field))
        np.testing.assert_allclose([ours[k] for k in theirs], list(theirs.values()), atol=1e-6, equal_nan=True)
    assert three.loglik == pytest.approx(one.loglik, abs=1e-6)
    assert three.n_students == one.n_students == n_students
    # and both are near the simulation's truth (an independent check that the sum is the right one)
    truth = dict(zip((f"q{k:02d}" for k in range(len(sim.b))), sim.b))
    estimated = by_item(three.bank.item_ids, three.bank.b)
    assert np.corrcoef([estimated[k] for k in truth], list(truth.values()))[0, 1] > 0.95


def test_partition_statistics_add_up_to_the_whole_logs() -> None:
    frame, _ = simulated_log(n_students=400)
    parts = split_by_student(frame, 4)
    assert sum(p.height for p in parts) == frame.height
    students = [set(p["student_id"]) for p in parts]
    assert sum(len(s) for s in students) == len(set().union(*students)) == 400  # disjoint, complete


def test_fixed_item_calibration_and_crossprod_errors_match_too() -> None:
    frame, _ = simulated_log(n_students=1500)
    full = local(frame, model="2pl")
    anchors = full.bank
    keep = np.isin(anchors.item_ids, anchors.item_ids[:8])
    bank = ItemBank(anchors.item_ids[keep], anchors.a[keep], anchors.b[keep], anchors.c[keep],
                    anchors.se_a[keep], anchors.se_b[keep], anchors.se_c[keep])
    one = local(frame, model="2pl", anchors=bank, standard_errors="crossprod")
    two = calibrate_inline(frame, 2, model="2pl", anchors=bank, standard_errors="crossprod")
    assert (two.latent_mean, two.latent_sd) == pytest.approx((one.latent_mean, one.latent_sd), abs=1e-6)
    np.testing.assert_allclose(two.bank.se_a, one.bank.se_a, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(two.bank.b, one.bank.b, atol=1e-6)


def test_more_partitions_than_students_leaves_some_empty_and_still_agrees() -> None:
    frame, _ = simulated_log(n_students=60, n_items=6, per_student=6)
    assert min(p.height for p in split_by_student(frame, 80)) == 0
    np.testing.assert_allclose(calibrate_inline(frame, 80, model="rasch").bank.b, local(frame, model="rasch").bank.b, atol=1e-6)


def test_parquet_files_that_share_a_student_are_refused(tmp_path: Path) -> None:
    frame, _ = simulated_log(n_students=50, n_items=5, per_student=5)
    frame.head(100).write_parquet(tmp_path / "a.parquet")
    frame.slice(98).write_parquet(tmp_path / "b.parquet")  # rows 98, 99 repeat a student of a.parquet
    for workers in (2, 1):  # files on two workers, and both files on one worker
        with pytest.raises(ValueError, match="more than one partition.*partition the log by student_id"):
            calibrate_inline(tmp_path, workers, model="rasch")


def test_a_non_binary_answer_is_reported_with_its_partition(tmp_path: Path) -> None:
    frame, _ = simulated_log(n_students=50, n_items=5, per_student=5)
    bad = frame.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(0.5).otherwise(pl.col("correct")).alias("correct"))
    bad.write_parquet(tmp_path / "only.parquet")
    with pytest.raises(ValueError, match=r"only\.parquet.*position 3: 0\.5.*score partial credit"):
        calibrate_inline(tmp_path, 1, model="rasch")


def test_a_missing_column_names_it_and_the_flag(tmp_path: Path) -> None:
    frame, _ = simulated_log(n_students=20, n_items=5, per_student=5)
    frame.rename({"correct": "score"}).write_parquet(tmp_path / "p.parquet")
    with pytest.raises(ValueError, match=r"missing column\(s\) correct.*--column"):
        calibrate_inline(tmp_path, 1, model="rasch")
    mapped = calibrate_inline(tmp_path, 1, columns={"correct": "score"}, model="rasch")
    assert mapped.bank.item_ids.size == 5
