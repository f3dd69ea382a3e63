"""`oulad` loader: README counts, dropped missing scores, roster normalisation, ordering."""

from __future__ import annotations

import csv

import polars as pl
import pytest

from engine.data import load


@pytest.fixture(scope="module")
def oulad(shared_data):
    return load(shared_data / "oulad", "oulad")


@pytest.fixture(scope="module")
def score_rows(shared_data) -> list[dict[str, str]]:
    with (shared_data / "oulad/studentAssessment.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_counts_match_readme(oulad, score_rows, assert_clean):
    assert len(score_rows) == 173_912  # README: assessment scores
    missing = sum(1 for r in score_rows if r["score"].strip() in ("", "?"))
    assert oulad.train.height == 173_912 - missing
    assert [d.rows for d in oulad.dropped] == [missing]
    assert oulad.roster.height == 32_593  # README: student-module rows
    assert oulad.roster["student_id"].n_unique() == 32_593
    assert oulad.train["skill_ids"].explode().n_unique() == 7  # OULAD has 7 modules (Kuzilek et al. 2017)
    assert_clean(oulad)


def test_correct_is_score_over_100(oulad, score_rows):
    scores = [float(r["score"]) for r in score_rows if r["score"].strip() not in ("", "?")]
    assert oulad.train["correct"].sum() == pytest.approx(sum(scores) / 100.0)
    assert oulad.train["correct"].min() >= 0.0 and oulad.train["correct"].max() <= 1.0


def test_roster_has_subgroups_and_normalised_imd_band(oulad):
    roster = oulad.roster
    assert roster.columns == ["student_id", "gender", "age_band", "disability", "imd_band", "region", "highest_education"]
    bands = set(roster["imd_band"].drop_nulls())
    assert "10-20%" in bands and "10-20" not in bands
    assert all(b.endswith("%") for b in bands)
    assert roster["imd_band"].null_count() > 0  # '?' is missing, not a band
    assert "?" not in set(roster["gender"]) | set(roster["region"])


def test_responses_ordered_by_submission_date(oulad, score_rows, shared_data):
    with (shared_data / "oulad/assessments.csv").open(newline="") as handle:
        module = {r["id_assessment"]: (r["code_module"], r["code_presentation"]) for r in csv.DictReader(handle)}
    date = {
        (f"{r['id_student']}_{module[r['id_assessment']][0]}_{module[r['id_assessment']][1]}", r["id_assessment"]): int(r["date_submitted"])
        for r in score_rows
    }
    dates = pl.Series([date[(s, i)] for s, i in oulad.train.sort("student_id", "seq").select("student_id", "item_id").iter_rows()])
    ordered = oulad.train.sort("student_id", "seq").with_columns(dates.alias("date"))
    assert ordered.select((pl.col("date").diff().over("student_id") < 0).sum()).item() == 0
