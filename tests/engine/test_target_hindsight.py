"""experiments/target_hindsight.py: a one-band law puts the learning where it says, and a policy serving it aims its
items at that band (the experiment's fixed targets are fixed targets)."""

from __future__ import annotations

import numpy as np

from engine.catalog import demo_catalog
from engine.mastery import MasteryEngine
from engine.recommend import Recommender
from engine.recommend.law import LearningLaw
from engine.recommend.learning import BAND_EDGES, DifficultyProgress, band_of
from experiments.outside_inproc import run_setting
from experiments.target_hindsight import ELSEWHERE, IN_BAND, one_hot_law, outside_gains

LAW = LearningLaw(edges=BAND_EDGES, gamma=(0.1, 0.3, 0.2, 0.4, 0.1, -0.2), se=(0.05,) * 6, n=(900, 800, 700, 600, 500, 50))


def test_one_hot_law_keeps_everything_but_gamma() -> None:
    law = one_hot_law(LAW, 2)
    assert law.gamma == (ELSEWHERE, ELSEWHERE, IN_BAND, ELSEWHERE, ELSEWHERE, ELSEWHERE)
    assert (law.edges, law.se, law.n) == (LAW.edges, LAW.se, LAW.n) and law.informative


def test_a_policy_serving_a_one_band_law_aims_at_that_band() -> None:
    """300 placed students (ability N(0, 1), SD 0.3 after 20 answers), five draws each: with the learning at
    75%-90% the first items are predicted easier on average, and fall in that band more often and in the 30%-45% band
    less often, than with the learning at 30%-45%. (The aim is loose: a skill has 8 items of which the randomesque
    draw takes one of the best 5, and a skill not practised yet has a wide ability.)"""
    engine = MasteryEngine(demo_catalog())
    batch = engine.new_batch([f"s{i}" for i in range(300)])
    batch.theta[:] = np.random.default_rng(3).normal(size=300)
    batch.theta_sd[:], batch.n_responses[:] = 0.3, 20

    def predicted(band: int) -> np.ndarray:
        progress = DifficultyProgress()
        progress.law = one_hot_law(LAW, band)
        rec = Recommender(engine, progress=progress)
        return np.concatenate([rec.choose_batch(batch, 1, rng=np.random.default_rng(seed)).item_p_correct[:, 0]
                               for seed in range(5)])

    low, high = predicted(1), predicted(4)
    assert high.mean() > low.mean() + 0.04, (low.mean(), high.mean())
    edges = np.asarray(BAND_EDGES)
    assert (band_of(high, edges) == 4).mean() > 2 * (band_of(low, edges) == 4).mean()
    assert (band_of(low, edges) == 1).mean() > 1.5 * (band_of(high, edges) == 1).mean()


def test_outside_served_column_is_the_in_process_equilearn_run() -> None:
    """The outside part's "served" gains are exactly what `experiments.outside_inproc` gives equilearn on the same
    world, cohort and answer draws (40 students x 10 steps), and every band's one-hot run is there."""
    gains = outside_gains("peak65", 7, 0, 40, 10)
    reference = run_setting("peak65", 40, 10, 7, 0)["equilearn"].gain
    np.testing.assert_array_equal(gains["served"], reference)
    assert set(gains) == {"served", *(str(b) for b in range(len(BAND_EDGES) - 1))}
