"""The experiment runner's per-group test table keeps small groups private (engine.experiment.runner.group_metrics).

Hand-built case: 60 test students in group A, 30 in B, 4 in C (below the minimum of 10). Alone, C's count and its
additive metrics (log-loss, accuracy) would be the overall figures minus A's and B's; so B is hidden with it, and
neither hidden row carries a count.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from engine.experiment.runner import group_metrics


def _case() -> tuple[pl.DataFrame, dict[str, np.ndarray], pl.DataFrame]:
    sizes = {"A": 60, "B": 30, "C": 4}
    students = [f"{g}{i}" for g, n in sizes.items() for i in range(n)]
    test = pl.DataFrame({"student_id": [s for s in students for _ in range(5)],
                         "correct": [float(k % 2) for _ in students for k in range(5)]})
    p = np.where(test["correct"].to_numpy() > 0, 0.8, 0.3)
    roster = pl.DataFrame({"student_id": students, "grp": [s[0] for s in students]})
    return test, {"m": p}, roster


def test_a_small_group_and_its_complement_carry_no_count_and_no_metric() -> None:
    test, predictions, roster = _case()
    rows = {r["value"]: r for r in group_metrics(test, predictions, roster, ("grp",), 10)}
    assert rows["C"] == {"group": "grp", "value": "C", "suppressed": True}
    assert rows["B"] == {"group": "grp", "value": "B", "suppressed": True}  # the smallest shown group goes with C
    assert rows["A"]["students"] == 60 and rows["A"]["responses"] == 300 and "m" in rows["A"]


def test_groups_at_the_minimum_are_all_shown() -> None:
    test, predictions, roster = _case()
    rows = group_metrics(test, predictions, roster, ("grp",), 4)
    assert [r["students"] for r in rows] == [60, 30, 4] and not any(r.get("suppressed") for r in rows)
