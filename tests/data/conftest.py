"""Fixtures for the loader tests (`shared_data`, the public datasets folder, comes from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.data import Dataset, find_problems


@pytest.fixture(scope="session")
def assert_clean() -> Callable[[Dataset], None]:
    """Check a loaded Dataset against the canonical schemas again, independently of the loader."""

    def check(dataset: Dataset) -> None:
        for table in (dataset.train, dataset.test):
            if table is not None:
                assert find_problems(table, "responses")[1] == []
        if dataset.roster is not None:
            assert find_problems(dataset.roster, "roster")[1] == []
            assert not set(dataset.roster.columns) & (set(dataset.train.columns) - {"student_id"})

    return check
