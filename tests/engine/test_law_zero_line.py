"""The learning law's zero line: in a suite world where nobody learns (independent truth: the world's learning
rate is 0), the "entry" bands find no learning in any well-populated band, while the served "state" bands find
learning rising with success (the bias docs/engine.md describes); with learning in the world, "entry" finds it."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from engine.catalog import load_catalog
from engine.errors import ConfigError
from engine.recommend.law import LearningLaw
from engine.recommend.learning import DifficultyProgress, fit_from_log
from engine.simulate.suite import Setting, built_policy, random_practice_log, setting_by_name
from experiments.suite_diagnosis import NO_LEARNING as NOBODY_LEARNS

POPULATED = 1000  # bands with at least this many logged steps are judged (the rest have SEs of 0.1-0.4)


def _laws(setting: Setting) -> tuple[LearningLaw, LearningLaw]:
    """(state law as `model build` serves it, entry law) from one random-practice log of 300 students x 60 steps."""
    catalog = load_catalog(None)
    log = random_practice_log(setting, catalog, 300, 60, seed=10_001)
    engine, progress = built_policy(catalog, log, seed=1)
    entry = DifficultyProgress.from_dict(fit_from_log(copy.deepcopy(engine), log, law_bands="entry")).law
    return progress.law, entry


def _z(law: LearningLaw) -> np.ndarray:
    populated = np.asarray(law.n) >= POPULATED
    return (np.asarray(law.gamma) / np.asarray(law.se))[populated]


@pytest.fixture(scope="module")
def null_laws() -> tuple[LearningLaw, LearningLaw]:
    return _laws(NOBODY_LEARNS)


def test_entry_bands_find_no_learning_where_nobody_learns(null_laws: tuple[LearningLaw, LearningLaw]) -> None:
    _, entry = null_laws
    z = _z(entry)
    assert z.size >= 4
    assert np.all(np.abs(z) < 3), z


def test_state_bands_find_learning_where_nobody_learns(null_laws: tuple[LearningLaw, LearningLaw]) -> None:
    state, _ = null_laws
    z = _z(state)
    assert z.min() < -3 and z.max() > 3, z  # the documented bias: the served law's gammas track standing


def test_entry_bands_find_learning_where_students_learn() -> None:
    _, entry = _laws(setting_by_name("proficiency-peak60"))
    gamma, se, n = (np.asarray(x, dtype=float) for x in (entry.gamma, entry.se, entry.n))
    populated = n >= POPULATED
    mean = (n * gamma)[populated].sum() / n[populated].sum()
    mean_se = np.sqrt(((n * se) ** 2)[populated].sum()) / n[populated].sum()  # the bands taken as independent
    assert mean > 3 * mean_se, (mean, mean_se)


def test_unknown_law_bands_are_refused() -> None:
    with pytest.raises(ConfigError, match="law_bands"):
        fit_from_log(None, None, law_bands="band")  # type: ignore[arg-type]
