"""`datashop` loader on the KDD Cup 2010 Algebra I head: README counts and plain-csv cross-checks."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime, timezone

import polars as pl
import pytest

from engine.data import load

FILE = "samples/datashop_algebra05_head.csv"


@pytest.fixture(scope="module")
def rows(shared_data) -> list[dict[str, str]]:
    with (shared_data / FILE).open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def datashop(shared_data):
    return load(shared_data / FILE, "datashop")


def test_counts_match_readme_and_file(datashop, rows, assert_clean):
    r = datashop.train
    assert r.height == 18_220 == len(rows)
    assert r["student_id"].n_unique() == 11
    per_student = dict(r.group_by("student_id").len().iter_rows())
    assert per_student == dict(Counter(row["Anon Student Id"] for row in rows))
    assert r["correct"].sum() == sum(int(row["Correct First Attempt"]) for row in rows)
    assert_clean(datashop)


def test_skills_are_kc_default_split_on_tildes(datashop, rows):
    expected = {kc for row in rows if row["KC(Default)"] for kc in row["KC(Default)"].split("~~")}
    assert set(datashop.train["skill_ids"].explode().drop_nulls()) == expected
    no_kc = sum(1 for row in rows if not row["KC(Default)"])
    assert (datashop.train["skill_ids"].list.len() == 0).sum() == no_kc  # kept, not dropped
    assert datashop.dropped == []


def test_first_file_row_maps_to_its_response(datashop):
    # Row 1: JG4Tz, LDEMO_WKST / R1C1, first transaction 2006-10-26 09:52:30.0, incorrect, no KC.
    first = datashop.train.filter((pl.col("student_id") == "JG4Tz") & (pl.col("item_id") == "LDEMO_WKST::R1C1"))
    assert first.height >= 1
    row = first.sort("timestamp").row(0, named=True)
    assert row["correct"] == 0.0 and row["skill_ids"] == []
    assert row["timestamp"] == datetime(2006, 10, 26, 9, 52, 30, tzinfo=timezone.utc)


def test_ordered_by_first_transaction_time_within_student(datashop):
    r = datashop.train.sort("student_id", "seq")
    backwards = r.select((pl.col("timestamp").diff().over("student_id") < pl.duration(seconds=0)).sum()).item()
    assert backwards == 0
    assert r.group_by("student_id").agg((pl.col("seq").max() + 1 == pl.len()).alias("ok"))["ok"].all()


def test_hierarchy_option_distinguishes_units(shared_data, rows):
    data = load(shared_data / FILE, "datashop", with_hierarchy=True)
    expected = {f"{r['Problem Hierarchy']}::{r['Problem Name']}::{r['Step Name']}" for r in rows}
    assert set(data.train["item_id"]) == expected
