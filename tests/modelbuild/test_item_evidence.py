"""`model build` measures on held-out students how much each item's own guess and slip should count.

Truth: two logs simulated from binary BKT learners on the demo catalog's single-skill items, identical but
for the items' slips. Where items of a skill differ (slip 0.03 or 0.45, alternating), the build serves
item-level evidence and its held-out log-loss beats skill parameters only; where every item has the same
slip, the item estimates are noise and the build keeps them out (or all but out)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from engine.catalog import load_catalog
from engine.modelbuild import build_model_set
from engine.modelbuild.item_evidence import PRIOR_N

STUDENTS, STEPS = 300, 60


def bkt_log(catalog, slips: np.ndarray, seed: int) -> pl.DataFrame:
    """Random practice on single-skill items: prior 0.3, learn 0.2, guess 0.2, slip per item."""
    rng = np.random.default_rng(seed)
    single = np.flatnonzero(catalog.item_skills.sum(axis=1) == 1)
    skill_of = catalog.item_skills[single].argmax(axis=1)
    known = rng.random((STUDENTS, catalog.n_skills)) < 0.3
    rows = np.arange(STUDENTS)
    student, item, correct = [], [], []
    for _ in range(STEPS):  # one answer per student per step, all students at once
        pick = rng.integers(0, single.size, STUDENTS)
        k = skill_of[pick]
        p = np.where(known[rows, k], 1.0 - slips[pick], 0.2)
        student.append(rows), item.append(single[pick]), correct.append((rng.random(STUDENTS) < p).astype(int))
        known[rows, k] |= rng.random(STUDENTS) < 0.2
    s, i = np.concatenate(student), np.concatenate(item)
    order = np.lexsort((np.repeat(np.arange(STEPS), STUDENTS), s))
    ids = np.asarray(catalog.item_ids)
    return pl.DataFrame({"student_id": [f"s{x:03d}" for x in s[order]], "item_id": ids[i[order]],
                         "correct": np.concatenate(correct)[order], "seq": np.tile(np.arange(STEPS), STUDENTS)})


def served_prior_n(slips_of: callable) -> tuple[float | None, dict]:
    catalog = load_catalog(None)
    single = np.flatnonzero(catalog.item_skills.sum(axis=1) == 1)
    slips = slips_of(np.arange(single.size))
    model_set, diagnostics = build_model_set(catalog, bkt_log(catalog, slips, seed=2), predictor="auto", seed=0)
    choice = model_set.components["build"]["item_evidence"]
    assert model_set.components["mastery"]["skill_model"].get("item_prior_n") == choice["prior_n"]
    assert any("answer evidence measured on the held-out students" in note for note in diagnostics.notes)
    return choice["prior_n"], {math.inf if r["prior_n"] is None else r["prior_n"]: r["logloss"] for r in choice["tried"]}


@pytest.mark.slow
def test_items_that_differ_get_their_own_evidence_and_alike_items_do_not() -> None:
    differ, tried = served_prior_n(lambda k: np.where(k % 2 == 0, 0.03, 0.45))
    assert set(tried) == set(PRIOR_N)
    assert differ is not None and tried[differ] == min(tried.values()) < tried[math.inf]
    alike, _ = served_prior_n(lambda k: np.full(k.size, 0.2))
    assert alike is None or alike > differ
