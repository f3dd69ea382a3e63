"""`model build` measures on held-out students whether the practised skills should follow the general ability.

Truth: random-practice logs simulated on the demo catalog (its own 3PL items) from students whose skill abilities
are 0.9 x a general ability + sqrt(0.19) x the skill's own (no learning): what a student shows on one skill tells
about the others, so the build must switch `share_general` on, with a smaller held-out log-loss on than off, and
serve what it chose. A caller can fix the setting instead."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.catalog import load_catalog
from engine.modelbuild import build_model_set

STUDENTS, STEPS = 300, 60


def shared_ability_log(catalog, general_weight: float, seed: int) -> pl.DataFrame:  # noqa: ANN001
    rng = np.random.default_rng(seed)
    theta = general_weight * rng.standard_normal((STUDENTS, 1)) + np.sqrt(1 - general_weight**2) * rng.standard_normal(
        (STUDENTS, catalog.n_skills))
    student, item, correct = [], [], []
    rows = np.arange(STUDENTS)
    for _ in range(STEPS):  # one random item per student per step
        pick = rng.integers(0, catalog.n_items, STUDENTS)
        th = theta[rows, catalog.item_skill[pick]]
        c = catalog.item_c[pick]
        p = c + (1 - c) / (1 + np.exp(-catalog.item_a[pick] * (th - catalog.item_b[pick])))
        student.append(rows), item.append(pick), correct.append((rng.random(STUDENTS) < p).astype(int))
    s, i = np.concatenate(student), np.concatenate(item)
    order = np.lexsort((np.repeat(np.arange(STEPS), STUDENTS), s))
    return pl.DataFrame({"student_id": [f"s{x:03d}" for x in s[order]], "item_id": np.asarray(catalog.item_ids)[i[order]],
                         "correct": np.concatenate(correct)[order], "seq": np.tile(np.arange(STEPS), STUDENTS)})


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(None)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_build_switches_sharing_on_when_skills_share_a_general_ability(catalog, seed: int) -> None:  # noqa: ANN001
    model_set, diagnostics = build_model_set(catalog, shared_ability_log(catalog, 0.9, seed), seed=0)
    choice = model_set.components["build"]["share_general"]
    losses = {row["share_general"]: row["logloss"] for row in choice["tried"]}
    assert choice["share_general"] is True and losses[True] < losses[False]
    assert model_set.components["mastery"]["mastery"]["share_general"] is True  # served as chosen
    assert any("follow the general ability" in note for note in diagnostics.notes)


def test_a_caller_can_fix_the_setting(catalog) -> None:  # noqa: ANN001
    model_set, _ = build_model_set(catalog, shared_ability_log(catalog, 0.9, 1), seed=0, share_general=False)
    choice = model_set.components["build"]["share_general"]
    assert choice == {"share_general": False, "reason": "fixed by the caller", "tried": []}
    assert model_set.components["mastery"]["mastery"]["share_general"] is False
