"""`lpp` loader on the Gervet et al. (2020) ASSISTments 2009 split: counts from the dataset README."""

from __future__ import annotations

import pytest

from engine.data import load


@pytest.fixture(scope="module")
def assistments09(shared_data):
    return load(shared_data / "assistments09", "lpp")


def test_counts_match_readme(assistments09, assert_clean):
    data = assistments09
    assert data.train.height == 220_070
    assert data.test.height == 58_266
    assert data.train["student_id"].n_unique() == 2_491
    assert data.responses["student_id"].n_unique() == 3_114
    assert data.responses["skill_ids"].explode().drop_nulls().n_unique() == 123
    assert 17_650 <= data.responses["item_id"].n_unique() < 17_750  # README: ~17.7k items
    assert_clean(data)


def test_split_is_by_student(assistments09):
    train, test = set(assistments09.train["student_id"]), set(assistments09.test["student_id"])
    assert not train & test


def test_item_skills_come_from_the_qmatrix(assistments09):
    q = assistments09.qmatrix
    pairs = assistments09.train.select("item_id", "skill_ids").explode("skill_ids").drop_nulls().unique()
    joined = pairs.join(q, left_on=["item_id", "skill_ids"], right_on=["item_id", "skill_id"], how="anti")
    assert joined.height == 0
