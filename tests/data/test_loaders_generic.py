"""`generic` loader: column mapping, skill splitting, ordering, roster, Parquet; and the registry."""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest

from engine.data import FORMATS, load
from engine.errors import ConfigError, DataValidationError

MAPPING = {"student_id": "user", "item_id": "question", "correct": "ok", "skill_ids": "kcs", "timestamp": "when"}


@pytest.fixture()
def log_file(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text(
        "user;question;ok;kcs;when;group\n"
        "u1;q1;1;a|b;2021-03-02T10:00:00;x\n"
        "u1;q2;0;;2021-03-01T10:00:00;x\n"
        "u2;q1;0.5;b;2021-03-01T09:00:00+01:00;y\n"
    )
    return path


def test_mapping_splits_skills_and_orders_by_time(log_file):
    data = load(log_file, "generic", columns=MAPPING, skill_separator="|", roster_columns=["group"])
    r = data.train.sort("student_id", "seq")
    assert r.select("student_id", "item_id", "skill_ids", "correct").rows() == [
        ("u1", "q2", [], 0.0),
        ("u1", "q1", ["a", "b"], 1.0),
        ("u2", "q1", ["b"], 0.5),
    ]
    assert r["timestamp"][2] == datetime(2021, 3, 1, 8, 0, tzinfo=timezone.utc)  # +01:00 read as an offset
    assert data.roster.rows() == [("u1", "x"), ("u2", "y")]
    assert "group" not in data.train.columns


def test_parquet_with_canonical_names_round_trips(tmp_path):
    frame = pl.DataFrame(
        {"student_id": ["s1", "s1", "s2"], "item_id": ["i1", "i2", "i1"], "skill_ids": [["k1"], [], ["k1", "k2"]],
         "correct": [1.0, 0.0, 1.0], "seq": [1, 0, 0]}
    )
    path = tmp_path / "log.parquet"
    frame.write_parquet(path)
    r = load(path, "generic").train
    assert r.sort("student_id", "seq").select("student_id", "item_id", "skill_ids").rows() == [
        ("s1", "i2", []), ("s1", "i1", ["k1"]), ("s2", "i1", ["k1", "k2"])
    ]


def test_roster_column_must_be_constant_per_student(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("student_id,item_id,correct,gender\ns1,i1,1,F\ns1,i2,0,M\n")
    with pytest.raises(DataValidationError) as info:
        load(path, "generic", roster_columns=["gender"])
    assert [(p.row, p.column) for p in info.value.problems] == [(1, "student_id"), (2, "student_id")]


def test_every_format_of_the_foundation_issue_is_registered():
    assert {"lpp", "dkt3", "datashop", "assistments", "wide", "oulad", "generic"} <= set(FORMATS)
    with pytest.raises(ConfigError):
        load("anything", "no-such-format")
