"""A build's replays stop growing with the log: the grids replay a seeded draw of held-out students, and the
policy's learning replays the draw of students its law is fitted on. Truth: the draw's definition (whole
students, no response lost or added) and the same fit run on the drawn students alone."""

from __future__ import annotations

import json

import polars as pl

from engine.catalog import load_catalog
from engine.mastery import MasteryEngine
from engine.modelbuild.predictor import sample_students
from engine.recommend.learning import _law_rows, fit_from_log  # _law_rows: the draw the law has always used
from engine.simulate.suite import Setting, random_practice_log, setting_by_name


def test_a_sample_keeps_whole_students_and_a_small_log_whole() -> None:
    log = random_practice_log(Setting("plain", "bkt", {}), load_catalog(None), 40, 12, seed=3)
    assert sample_students(log, limit=40).equals(log)
    sample = sample_students(log, limit=15, seed=2)
    chosen = sample["student_id"].unique()
    assert chosen.len() == 15
    assert sample.equals(log.filter(pl.col("student_id").is_in(chosen.to_list())))  # every answer of each, in order
    assert sample_students(log, limit=15, seed=2).equals(sample)  # seeded
    assert not sample_students(log, limit=15, seed=5)["student_id"].unique().sort().equals(chosen.sort())


def test_policy_learning_on_a_large_log_is_the_fit_on_its_drawn_students() -> None:
    catalog = load_catalog(None)
    log = random_practice_log(setting_by_name("proficiency-peak60"), catalog, 60, 30, seed=4)
    whole = fit_from_log(MasteryEngine(catalog), log, max_law_students=25, seed=1)
    ordered = log["student_id"].unique().sort().to_list()
    drawn = [s for s, row in zip(ordered, _law_rows(len(ordered), 25, 1)) if row >= 0]
    alone = fit_from_log(MasteryEngine(catalog), log.filter(pl.col("student_id").is_in(drawn)), max_law_students=25, seed=1)
    assert len(drawn) == 25 and json.dumps(whole, sort_keys=True) == json.dumps(alone, sort_keys=True)
