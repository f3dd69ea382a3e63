"""Fit a 2PL with one tool (ours, pyirt or girth) in *this* process and print a JSON result.

Run as a separate process so each tool's side effects (pyirt resets numpy error handling and the root
logger) and its peak memory stay its own:

    PYTHON irt_reference.py TOOL DATA.npz

DATA.npz holds aligned int arrays `student`, `item`, `correct` (codes from 0). Output JSON on stdout:
{"tool", "seconds", "peak_rss_mb", "a": [...], "b": [...]} with b the difficulty (P = 1 / (1 +
exp(-a (theta - b)))), items in code order. pyirt and girth each run in their own venv
(.refs/pyirt, .refs/girth: `make refs-irt`); "ours" needs the project venv and the project root on sys.path.
This file is a script, not a module of the package: nothing imports it.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
import time

import numpy as np

PYIRT_BOUNDS = {"theta_bnds": [-4, 4], "alpha_bnds": [0.05, 5.0], "beta_bnds": [-8.0, 8.0]}  # widened from [0.25, 2], [-2, 2]


def fit_ours(student: np.ndarray, item: np.ndarray, correct: np.ndarray, n_items: int, se: str = "none") -> tuple[np.ndarray, np.ndarray]:
    from models.irt import ResponseData, calibrate

    cal = calibrate(ResponseData.from_arrays(student, item, correct), "2pl", standard_errors=se)
    order = cal.bank.item_ids.astype(int)
    a, b = np.full(n_items, np.nan), np.full(n_items, np.nan)
    a[order], b[order] = cal.bank.a, cal.bank.b
    return a, b


def fit_pyirt(student: np.ndarray, item: np.ndarray, correct: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    from pyirt import irt

    rows = list(zip(student.tolist(), item.tolist(), correct.tolist()))
    params = irt(rows, nargout=1, max_iter=30, tol=1e-4, **PYIRT_BOUNDS)
    a, b = np.full(n_items, np.nan), np.full(n_items, np.nan)
    for key, value in params.items():
        a[int(key)] = value["alpha"]
        b[int(key)] = -value["beta"] / value["alpha"]  # pyirt's beta is the intercept of alpha * theta + beta
    return a, b


def fit_girth(student: np.ndarray, item: np.ndarray, correct: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    import girth

    dense = np.full((n_items, int(student.max()) + 1), girth.INVALID_RESPONSE, dtype=np.int64)  # girth needs items x persons
    dense[item, student] = correct
    result = girth.twopl_mml(dense)
    return np.asarray(result["Discrimination"], dtype=float), np.asarray(result["Difficulty"], dtype=float)


def fit_ours_with_errors(student: np.ndarray, item: np.ndarray, correct: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    return fit_ours(student, item, correct, n_items, se="auto")


TOOLS = {"ours": fit_ours, "ours+se": fit_ours_with_errors, "pyirt": fit_pyirt, "girth": fit_girth}


def main(argv: list[str]) -> int:
    tool, path = argv[1], argv[2]
    data = np.load(path)
    student, item, correct = (np.asarray(data[k], dtype=np.int64) for k in ("student", "item", "correct"))
    n_items = int(item.max()) + 1
    importlib.import_module({"ours": "models.irt", "ours+se": "models.irt", "pyirt": "pyirt", "girth": "girth"}[tool])  # imports are not fit time
    start = time.perf_counter()
    a, b = TOOLS[tool](student, item, correct, n_items)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    print(json.dumps({"tool": tool, "seconds": seconds, "peak_rss_mb": peak, "a": a.tolist(), "b": b.tolist()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
