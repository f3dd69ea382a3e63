"""The outside world driven in process (`experiments.outside_inproc`): item ids mapped both ways, the
paired comparison of two saved runs by hand, and a small end-to-end run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from experiments import outside_inproc as inproc
from experiments.outside_check.pipeline import write_catalog, write_random_practice_log
from experiments.outside_check.world import WorldSpec, make_cohort, make_world


def test_items_map_between_the_world_and_the_catalog_by_id(tmp_path: Path) -> None:
    world = make_world(WorldSpec(peak_success=0.65), 3)
    cohort = make_cohort(world, 12, 5, "stu")
    catalog = write_catalog(world, tmp_path / "catalog")
    log = tmp_path / "log.csv"
    write_random_practice_log(world, make_cohort(world, 150, 6, "log"), 40, 7, log)
    policy = inproc.EquilearnInProcess(world, cohort, catalog, log, seed=0)
    ids = policy.engine.catalog.item_ids
    assert [ids[c] for c in policy.to_catalog] == list(world.item_ids)
    assert np.array_equal(policy.to_world[policy.to_catalog], np.arange(world.n_items))
    chosen = policy.choose(0)  # world indices of items the engine chose in its own catalog
    assert chosen.shape == (12,) and chosen.min() >= 0 and chosen.max() < world.n_items
    policy.observe(0, chosen, np.ones(12, dtype=bool))
    assert np.all(policy.batch.n_responses == 1)


def test_compare_prints_the_paired_differences_by_hand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    initial = np.arange(8, dtype=float)  # quartiles: two students each, in order
    before = {"peak45/equilearn": np.zeros(8), "peak45/gated curriculum": np.zeros(8), "peak45/initial": initial}
    after = {"peak45/equilearn": np.array([1, 3, 0, 0, 0, 0, 2, 2], dtype=float) / 100,
             "peak45/gated curriculum": np.full(8, 0.01), "peak45/initial": initial}
    np.savez(tmp_path / "b.npz", **before)
    np.savez(tmp_path / "a.npz", **after)
    inproc.compare(tmp_path / "b.npz", tmp_path / "a.npz")
    out = capsys.readouterr().out
    d = after["peak45/equilearn"]
    half = 1.96 * d.std(ddof=1) / np.sqrt(8)  # mean 0.01
    assert f"after - before +0.0100 ± {half:.4f}" in out
    q1 = np.array([0.01, 0.03])
    assert f"+0.0200 ± {1.96 * q1.std(ddof=1) / np.sqrt(2):.4f}" in out  # the lowest quartile
    # against the curriculum's 0.01: Q1 (0, 0.02), Q2 and Q3 -0.01 each, Q4 +0.01 each
    half_q1 = 1.96 * np.array([0.0, 0.02]).std(ddof=1) / np.sqrt(2)
    expected = f"+0.0100 ± {half_q1:.4f}, -0.0100 ± 0.0000, -0.0100 ± 0.0000, +0.0100 ± 0.0000"
    assert out.split("gated curriculum by quartile")[1].strip() == expected
