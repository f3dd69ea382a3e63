"""One real MLflow SQLite store per test session (creating one takes seconds), shared by the registry tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import Settings


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings pointing at a fresh local MLflow store (sqlite + artifact folder) in a session tmp dir."""
    home = tmp_path_factory.mktemp("mlflow-home")
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'equilearn.db'}", mlflow_uri=f"sqlite:///{home / 'mlflow.db'}")
    from engine.registry.store import connect

    connect(settings)  # creates the database once
    return settings


@pytest.fixture
def store_env(mlflow_store: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The session store as the environment's store, for CLI tests (EQUILEARN_MLFLOW_URI overrides the home's)."""
    monkeypatch.setenv("EQUILEARN_MLFLOW_URI", mlflow_store.mlflow_uri)
    return mlflow_store


def demo_roster(path: Path, n_students: int) -> Path:
    """A made-up roster for the demo students: group 'a' for even ids, 'b' for odd (tests only)."""
    lines = ["student_id,cohort"] + [f"s{s:04d},{'a' if s % 2 == 0 else 'b'}" for s in range(n_students)]
    path.write_text("\n".join(lines) + "\n")
    return path
