"""Shared pieces of the distributed tests: simulated response logs with known item parameters, as canonical frames."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import numpy as np
import polars as pl
import pytest

from models.irt.simulate import Simulated, simulate


def simulated_log(n_students: int = 1500, n_items: int = 20, per_student: int = 12, model: str = "2pl",
                  seed: int = 7) -> tuple[pl.DataFrame, Simulated]:
    """A long log (student_id, item_id as text, correct 0/1) and the simulation's truth."""
    sim = simulate(n_students, n_items, per_student, model=model, random_state=seed)
    frame = pl.DataFrame({
        "student_id": [f"s{k}" for k in sim.student],
        "item_id": [f"q{k:02d}" for k in sim.item],
        "correct": sim.correct.astype(float),
    })
    return frame, sim


def by_item(ids: np.ndarray, values: np.ndarray) -> dict[str, float]:
    return dict(zip((str(i) for i in ids), values.tolist()))


@pytest.fixture(scope="module")
def ray() -> Iterator[ModuleType]:
    """A local 2-CPU Ray cluster shared by a test module (skipped where Ray is not installed)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
