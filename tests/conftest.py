"""Shared fixtures: where the public datasets live, and an isolated EQUILEARN_HOME per test."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real public datasets (../shared/data); tests needing it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"public datasets not found at {SHARED_DATA} (CI provides them; see README for downloads)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own EQUILEARN_HOME so no local state leaks between tests or into the repo."""
    home = tmp_path / "equilearn-home"
    monkeypatch.setenv("EQUILEARN_HOME", str(home))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    return home
