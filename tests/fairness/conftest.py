"""Fixtures for the fairness tests: the public DIF and PISA files, located relative to the project."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"public dataset not found at {path} (CI provides ../shared/data; see README for downloads)")
    return path


@pytest.fixture(scope="session")
def verbal() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """difR's verbal aggression data: (316 x 24 responses, Gender 0/1, item names)."""
    table = pl.read_csv(_require(DATA / "irt" / "difR_verbal.tsv"), separator="\t")
    items = table.columns[:24]
    return table.select(items).to_numpy().astype(float), table["Gender"].to_numpy(), items


@pytest.fixture(scope="session")
def verbal_path() -> Path:
    return _require(DATA / "irt" / "difR_verbal.tsv")


@pytest.fixture(scope="session")
def pisa() -> pl.DataFrame:
    return pl.read_csv(_require(DATA / "irt" / "sirt_data.pisaMath__data.csv"))


@pytest.fixture(scope="session")
def oulad_path() -> Path:
    return _require(DATA / "oulad")
