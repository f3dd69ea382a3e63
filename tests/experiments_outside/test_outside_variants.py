"""The outside world bent other ways (`experiments.outside_variants`): each variant moves one thing, and the claims
it reports agree with sums made here from the runs themselves."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

from engine.modelbuild import build_model_set
from experiments import outside_variants as ov
from experiments.outside_check.world import WorldSpec


def test_each_variant_moves_one_parameter_of_the_world_or_the_log() -> None:
    defaults = WorldSpec()
    for name, (changes, log_students) in ov.VARIANTS.items():
        spec = dataclasses.replace(defaults, **changes)  # a misspelt field would raise here
        moved = [f.name for f in dataclasses.fields(WorldSpec) if getattr(spec, f.name) != getattr(defaults, f.name)]
        assert len(moved) + (log_students != 300) + (name in ov.STEPS) <= 1, name
    assert sum(not changes and log_students == 300 and name not in ov.STEPS
               for name, (changes, log_students) in ov.VARIANTS.items()) == 1  # the reference
    assert set(ov.STEPS) <= set(ov.VARIANTS) and all(steps > 0 for steps in ov.STEPS.values())
    # a variant's build options are the platform's settings, each an option of `model build`
    options = inspect.signature(build_model_set).parameters
    for name, chosen in ov.BUILD_OPTIONS.items():
        assert name in ov.VARIANTS and chosen and set(chosen) <= set(options), name


def test_the_claims_of_a_small_run_follow_from_its_runs() -> None:
    runs, group, flags, quartile = ov.run_variant({"n_skills": 8, "mastery_level": 0.9}, 150, students=40, steps=20,
                                                 world_seeds=(3,), seed=1)
    c = ov.claims(runs, group, flags, quartile)
    ours = runs["equilearn"].gain
    for name in ov.BASELINES:
        assert c["versus"][name].mean == pytest.approx(float(np.mean(ours - runs[name].gain)))
    assert c["best"] == max(ov.BASELINES, key=lambda name: runs[name].gain.mean())
    assert c["share"] == pytest.approx(ours.mean() / runs["oracle"].gain.mean())
    # the lowest cell is no higher than the whole cohort's lower bound against the best baseline's group cells
    high = group == 0
    cell = ours[high] - runs[c["best"]].gain[high]
    assert c["lowest_cell"].low <= cell.mean()
    final = runs["gated curriculum"].final
    assert c["gap"]["gated curriculum"] == pytest.approx(final[group == 0].mean() - final[group == 1].mean())
    # the flags are the engine's, one per student and skill; the right ones are those the world counts as mastered
    # (a 90% line, so that some flags are wrong and the count tells flags from right flags)
    assert flags.shape == runs["equilearn"].final_mastered.shape and flags.dtype == bool
    assert c["flags"] == int(flags.sum())
    assert 0 < c["flags_right"] < c["flags"]
    assert c["flags_right"] == sum(bool(runs["equilearn"].final_mastered[i, k]) for i, k in zip(*np.nonzero(flags)))
    text = ov.markdown({"small": c}, "cmd", 0.0, 1.0, (3,), 40)
    assert "| small |" in text and f"{c['gains']['equilearn'].mean:.3f}" in text


def test_worlds_pool_their_students_with_quartiles_within_each_world() -> None:
    one = [ov.run_variant({"n_skills": 8}, 150, students=40, steps=10, world_seeds=(seed,), seed=1) for seed in (3, 4)]
    runs, group, flags, quartile = ov.run_variant({"n_skills": 8}, 150, students=40, steps=10, world_seeds=(3, 4), seed=1)
    for name, run in runs.items():  # the pooled run is the two worlds' runs one after the other
        for field in ("initial", "final", "on_mastered", "final_mastered"):
            assert np.array_equal(getattr(run, field), np.concatenate([getattr(w[0][name], field) for w in one]))
        assert run.ready_listed.events == sum(w[0][name].ready_listed.events for w in one)
        assert run.ready_listed.hits == sum(w[0][name].ready_listed.hits for w in one)
    assert np.array_equal(group, np.concatenate([w[1] for w in one]))
    assert np.array_equal(flags, np.concatenate([w[2] for w in one]))
    # quartiles are ranked within each world: ten students of each quartile in each world of forty
    for part in (quartile[:40], quartile[40:]):
        assert np.bincount(part, minlength=4).tolist() == [10, 10, 10, 10]
    assert np.array_equal(quartile, np.concatenate([w[3] for w in one]))
