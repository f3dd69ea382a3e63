"""The platform shapes of `experiments.pipeline_shapes` are what they say, as the catalog loader and the generic log
reader read them (the experiment runs the whole README pipeline on them; this checks its inputs)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from engine.catalog import load_catalog
from engine.data import load
from engine.modelbuild.bank import MIN_RESPONSES
from experiments.pipeline_shapes import CALIBRATED, SHAPES, most_answers, write_platform


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_each_shape_loads_as_described(shape, tmp_path: Path) -> None:
    catalog_dir, log_path = write_platform(shape, tmp_path)
    catalog = load_catalog(catalog_dir)
    log = load(log_path, "generic").responses
    assert (catalog.n_skills, catalog.n_items) == (shape.skills, shape.skills * shape.items_per_skill)
    assert log.height == shape.students * shape.steps and log["student_id"].n_unique() == shape.students
    assert set(log["item_id"].unique()) <= set(catalog.item_ids)
    assert most_answers(log_path) == log.group_by("item_id").len()["len"].max()
    prerequisites = catalog.graph.direct.sum()
    assert (prerequisites == 0) == (shape.graph == "flat")
    if shape.graph == "chain":
        assert prerequisites == shape.skills - 1
    assert (catalog.resource_level.size == shape.skills) == (not shape.all_levels)
    assert ((catalog.item_skills.sum(axis=1) > 1).any()) == shape.two_tags
    assert ("timestamp" in pl.read_csv(log_path, n_rows=1).columns) == (shape.times != "none")
    given = "b" in pl.read_csv(catalog_dir / "items.csv", n_rows=1).columns
    assert given == shape.irt_params
    assert CALIBRATED == MIN_RESPONSES
    assert (most_answers(log_path) < CALIBRATED) == (shape.name == "large")  # the one shape the build calibrates nothing of
