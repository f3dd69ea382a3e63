"""`wide` loader on the classic IRT files: sizes from the README, published margins, plain-csv checks."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from engine.data import load
from engine.errors import ConfigError

SAT12_KEY = "1,4,5,2,3,1,2,1,3,1,2,4,2,1,5,3,4,4,1,4,3,3,4,1,3,5,1,3,1,5,4,5".split(",")  # README


def _csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def _item_means(data) -> list[float]:
    means = data.train.group_by("item_id", maintain_order=True).agg(pl.col("correct").mean())
    return [round(m, 3) for m in means["correct"]]


def test_lsat6_size_and_published_proportions(shared_data, assert_clean):
    data = load(shared_data / "irt/ltm_LSAT.csv", "wide")
    assert data.train.height == 5_000 and data.train["student_id"].n_unique() == 1_000
    # ltm descript(LSAT): proportion correct per item (Bock & Lieberman 1970 data).
    assert _item_means(data) == [0.924, 0.709, 0.553, 0.763, 0.870]
    assert data.train["skill_ids"].list.len().max() == 0
    assert data.roster is None
    assert_clean(data)


def test_lsat7_patterns_expand_to_persons(shared_data, assert_clean):
    path = shared_data / "irt/mirt_LSAT7.csv"
    patterns = _csv(path)
    persons = sum(int(float(p["freq"])) for p in patterns)
    assert persons == 1_000
    data = load(path, "wide")
    assert data.train["student_id"].n_unique() == persons and data.train.height == 5 * persons
    assert "freq" not in set(data.train["item_id"])
    expected = [
        round(sum(float(p[item]) * float(p["freq"]) for p in patterns) / persons, 3)
        for item in ("Item.1", "Item.2", "Item.3", "Item.4", "Item.5")
    ]
    assert _item_means(data) == expected
    assert_clean(data)


def test_verbal_aggression_covariates_go_to_the_roster(shared_data, assert_clean):
    data = load(shared_data / "irt/difR_verbal.tsv", "wide")
    assert data.train["student_id"].n_unique() == 316 and data.train["item_id"].n_unique() == 24
    assert not {"Anger", "Gender"} & set(data.train["item_id"])
    assert data.roster.columns == ["student_id", "Anger", "Gender"]
    assert data.roster.height == 316
    # De Boeck & Wilson (2004): 243 women (Gender 0) and 73 men (Gender 1).
    assert dict(data.roster.group_by("Gender").len().iter_rows()) == {0: 243, 1: 73}
    assert_clean(data)


def test_pisa_ids_and_covariates(shared_data, assert_clean):
    path = shared_data / "irt/sirt_data.pisaMath__data.csv"
    rows = _csv(path)
    data = load(path, "wide")
    assert data.train["student_id"].n_unique() == 565 and data.train["item_id"].n_unique() == 11
    assert set(data.roster.columns) == {"student_id", "idschool", "female", "hisei", "migra"}
    assert set(data.roster["student_id"]) == {r["idstud"] for r in rows}
    answered = sum(1 for r in rows for k, v in r.items() if k.startswith("M") and v not in ("", "NA"))
    assert data.train.height == answered
    assert data.roster["hisei"].dtype == pl.Float64
    assert_clean(data)


def test_sat12_scored_with_the_key(shared_data, assert_clean):
    path = shared_data / "irt/mirt_SAT12.csv"
    rows = _csv(path)
    items = list(rows[0].keys())
    data = load(path, "wide")
    assert data.train["student_id"].n_unique() == 600 and data.train["item_id"].n_unique() == 32
    answered = [(item, r[item]) for r in rows for item in items if r[item] != "8"]  # 8 = not answered
    assert data.train.height == len(answered)
    key = dict(zip(items, SAT12_KEY))
    assert data.train["correct"].sum() == sum(choice == key[item] for item, choice in answered)
    assert_clean(data)


def test_explicit_options_and_missing_cells(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("pid,q1,q2,grade,region\na,1,0,5,N\nb,NA,1,6,S\n")
    data = load(path, "wide", id_column="pid", covariates=["grade", "region"])
    assert sorted(data.train.select("student_id", "item_id").rows()) == [("a", "q1"), ("a", "q2"), ("b", "q2")]
    assert data.roster.rows() == [("a", 5, "N"), ("b", 6, "S")]


def test_key_of_wrong_length_is_a_config_error(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("q1,q2\n1,2\n")
    with pytest.raises(ConfigError):
        load(path, "wide", key=["1"])
