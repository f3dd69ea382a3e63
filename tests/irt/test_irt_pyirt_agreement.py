"""Agreement of our 2PL calibration with the reference tools pyirt 0.3.4 and girth 0.8.0 on simulated data.

Each tool runs in a subprocess of its own venv (.refs/pyirt, .refs/girth, built by `make refs-irt`, which
`make test` runs first): pyirt changes numpy's error handling and the root logger of whatever process
imports it, so it is never imported here. Without the venv the test skips, except when
EQUILEARN_REQUIRE_REFS=1 (set by .ci/run): then it fails, so CI cannot pass without running it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from models.irt import ResponseData, calibrate
from models.irt.simulate import simulate

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "experiments" / "irt_reference.py"


def reference_python(tool: str) -> Path:
    """The interpreter of the reference venv `.refs/<tool>`; skip (or fail under EQUILEARN_REQUIRE_REFS=1) without it."""
    python = ROOT / ".refs" / tool / "bin" / "python"
    if not python.exists():
        message = f"{tool} reference venv not found at {python}; build it with `make refs-irt`"
        if os.environ.get("EQUILEARN_REQUIRE_REFS") == "1":
            pytest.fail(message + " (EQUILEARN_REQUIRE_REFS=1)")
        pytest.skip(message)
    return python


def fit_both(tool: str, n_students: int, n_items: int, seed: int, workdir: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(ours, theirs): 2PL discriminations `a` and difficulties `b` in item-code order on one simulated data set."""
    python = reference_python(tool)
    sim = simulate(n_students, n_items, None, "2pl", random_state=seed)
    path = workdir / "sim.npz"
    np.savez(path, student=sim.student, item=sim.item, correct=sim.correct)
    run = subprocess.run([str(python), str(RUNNER), tool, str(path)], capture_output=True, text=True, timeout=300, cwd=workdir)
    assert run.returncode == 0, run.stderr[-2000:]
    theirs = json.loads(run.stdout.strip().splitlines()[-1])
    cal = calibrate(ResponseData.from_arrays(sim.student, sim.item, sim.correct), "2pl", standard_errors="none")
    order = cal.bank.item_ids.astype(int)
    ours = {"a": np.empty(n_items), "b": np.empty(n_items)}
    ours["a"][order], ours["b"][order] = cal.bank.a, cal.bank.b
    return ours, {"a": np.asarray(theirs["a"], dtype=float), "b": np.asarray(theirs["b"], dtype=float)}


def test_irt_parameters_agree_with_pyirt(tmp_path: Path) -> None:
    # pyirt integrates over an 11-point grid on [-4, 4] (ours: 61 points on [-6, 6]), so its values sit on a
    # slightly different scale; the ordering and spacing of the items must still agree.
    ours, theirs = fit_both("pyirt", 400, 15, 11, tmp_path)
    assert np.corrcoef(ours["b"], theirs["b"])[0, 1] > 0.999
    assert np.corrcoef(ours["a"], theirs["a"])[0, 1] > 0.99


def test_irt_parameters_agree_with_girth(tmp_path: Path) -> None:
    # girth's twopl_mml maximizes the same marginal likelihood (N(0, 1) ability, quadrature): same values
    ours, theirs = fit_both("girth", 400, 15, 11, tmp_path)
    np.testing.assert_allclose(ours["a"], theirs["a"], atol=0.005)
    np.testing.assert_allclose(ours["b"], theirs["b"], atol=0.01)
