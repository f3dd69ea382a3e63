"""`model build` measures forgetting on its held-out students instead of assuming it.

Truth: the forgetting rate a log was simulated with (binary BKT learners, one step a day, who lose a
learned skill with probability `forget` per day): the more they forget, the shorter the stability served.
And two hand-checkable cases: a log without times (nothing to measure) and one whose answers all carry
the same time (no time passes, so every stability predicts alike and the longest is kept)."""

from __future__ import annotations

import polars as pl
import pytest

from engine.catalog import load_catalog
from engine.mastery import MasteryConfig, MasteryEngine
from engine.modelbuild import build_model_set
from engine.modelbuild.forgetting import STABILITY_DAYS, choose_stability
from engine.runtime.catalogs import catalog_from_dict
from engine.simulate.suite import Setting, random_practice_log


def served_stability(forget: float) -> tuple[float, dict]:
    catalog = load_catalog(None)
    log = random_practice_log(Setting(f"forget-{forget}", "bkt", {"forget": forget}), catalog, 300, 60, seed=3)
    model_set, _ = build_model_set(catalog, log, predictor="auto", seed=0)
    components = model_set.components
    engine = MasteryEngine.from_components(catalog_from_dict(components["catalog"]), components["mastery"])
    return engine.config.stability_days, components["build"]["forgetting"]


@pytest.mark.slow
def test_students_who_forget_faster_get_a_shorter_stability() -> None:
    none, record = served_stability(0.0)
    some, _ = served_stability(0.01)
    fast, _ = served_stability(0.05)
    assert none > some > fast  # the served engine's own setting, ordered as the simulated forgetting
    assert none == max(STABILITY_DAYS)  # nothing forgotten: the longest stability tried
    tried = {row["stability_days"]: row["logloss"] for row in record["tried"]}
    assert set(tried) == set(STABILITY_DAYS) and tried[none] == min(tried.values())


def test_a_log_without_times_keeps_the_default_and_says_why() -> None:
    catalog = load_catalog(None)
    log = random_practice_log(Setting("plain", "bkt", {}), catalog, 300, 40, seed=5).drop("timestamp")
    model_set, diagnostics = build_model_set(catalog, log, predictor="blend", seed=0)
    assert model_set.components["mastery"]["mastery"]["stability_days"] == MasteryConfig().stability_days
    assert model_set.components["build"]["forgetting"]["stability_days"] is None
    assert any("no answer times" in note for note in diagnostics.notes)


def test_when_no_time_passes_every_stability_predicts_alike_and_the_longest_is_kept() -> None:
    catalog = load_catalog(None)
    log = random_practice_log(Setting("plain", "bkt", {}), catalog, 60, 15, seed=7)
    same_time = log.with_columns(pl.lit(log["timestamp"][0]).alias("timestamp"))
    choice = choose_stability(MasteryEngine(catalog), same_time, irt_weight=0.5)
    assert len(set(choice.logloss.values())) == 1
    assert choice.stability_days == max(STABILITY_DAYS)
    assert choose_stability(MasteryEngine(catalog), log.drop("timestamp"), 0.5).stability_days is None
