"""Shared fixtures: where the public datasets live, and an isolated EQUILEARN_HOME per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _locate_shared_data() -> Path:
    """EQUILEARN_DATA_ROOT if set, else the nearest `shared/data` beside the project or any folder above it.

    Walking up matters for copies of the project made inside it (mutmut runs the tests from
    `mutants/`), where `../shared` is one level further away; without it the published-estimate
    tests would skip there and every mutant they would kill would survive.
    """
    if os.environ.get("EQUILEARN_DATA_ROOT"):
        return Path(os.environ["EQUILEARN_DATA_ROOT"])
    for folder in PROJECT_ROOT.parents:
        if (folder / "shared" / "data").is_dir():
            return folder / "shared" / "data"
    return PROJECT_ROOT.parent / "shared" / "data"


SHARED_DATA = _locate_shared_data()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real public datasets (../shared/data or EQUILEARN_DATA_ROOT); tests needing it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"public datasets not found at {SHARED_DATA} (CI provides them; see README for downloads)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def no_leaked_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test that leaves an EQUILEARN_* variable changed in this process (set it with monkeypatch): the tests
    run on several workers (pytest-xdist), so a leaked setting would change whichever test that worker runs next.
    Set up first, so torn down last; monkeypatch's own changes are undone before the comparison."""
    before = {k: v for k, v in os.environ.items() if k.startswith("EQUILEARN_")}
    yield
    monkeypatch.undo()
    after = {k: v for k, v in os.environ.items() if k.startswith("EQUILEARN_")}
    if after != before:
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        pytest.fail(f"the test left {', '.join(changed)} changed in os.environ; set it with monkeypatch.setenv")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_leaked_settings: None) -> Path:
    """Every test gets its own EQUILEARN_HOME so no local state leaks between tests or into the repo."""
    home = tmp_path / "equilearn-home"
    monkeypatch.setenv("EQUILEARN_HOME", str(home))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    return home

