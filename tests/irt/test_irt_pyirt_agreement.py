"""Agreement with pyirt 0.3.4 (the user's reference) on a simulated 2PL, bounds widened.

pyirt runs only in a subprocess of its own venv (/work/refvenvs/pyirt, see docs/irt.md): it changes
numpy's error handling and the root logger of whatever process imports it. Skips if that venv is absent.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from models.irt import ResponseData, calibrate
from models.irt.simulate import simulate

PYIRT_PYTHON = Path("/work/refvenvs/pyirt/bin/python")
RUNNER = Path(__file__).resolve().parents[2] / "experiments" / "irt_reference.py"


def test_irt_difficulties_agree_with_pyirt(tmp_path: Path) -> None:
    if not PYIRT_PYTHON.exists():
        pytest.skip(f"pyirt reference venv not found at {PYIRT_PYTHON}")
    sim = simulate(400, 15, None, "2pl", random_state=11)
    path = tmp_path / "sim.npz"
    np.savez(path, student=sim.student, item=sim.item, correct=sim.correct)
    run = subprocess.run([str(PYIRT_PYTHON), str(RUNNER), "pyirt", str(path)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    theirs = json.loads(run.stdout.strip().splitlines()[-1])
    cal = calibrate(ResponseData.from_arrays(sim.student, sim.item, sim.correct), "2pl", standard_errors="none")
    ours = np.empty(15)
    ours[cal.bank.item_ids.astype(int)] = cal.bank.b
    r = np.corrcoef(ours, theirs["b"])[0, 1]
    assert r > 0.99, r
