"""`assistments` loader: the raw two-skill sample (README) and the multi-skill merging rule."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from engine.data import load
from engine.errors import DataValidationError

FILE = "samples/assistments_raw_2skills.csv"
HEADER = "order_id,user_id,problem_id,correct,skill_id,school_id\n"


@pytest.fixture(scope="module")
def rows(shared_data) -> list[dict[str, str]]:
    with (shared_data / FILE).open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def sample(shared_data):
    return load(shared_data / FILE, "assistments")


def test_counts_match_readme_and_file(sample, rows, assert_clean):
    assert len(rows) == 10_791  # README: 10,791 raw rows
    r = sample.train
    assert r.height == len({row["order_id"] for row in rows})  # one response per answer (order_id)
    assert r["student_id"].n_unique() == len({row["user_id"] for row in rows})
    assert r["skill_ids"].explode().drop_nulls().n_unique() == 2  # README: 2 skills
    assert sample.dropped == []
    assert_clean(sample)


def test_order_follows_order_id_within_student(sample, rows):
    expected: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for row in rows:
        expected[row["user_id"]].append((int(row["order_id"]), row["problem_id"]))
    loaded = sample.train.sort("student_id", "seq").group_by("student_id", maintain_order=True).agg("item_id")
    for student, items in loaded.iter_rows():
        assert items == [problem for _, problem in sorted(expected[student])]


def test_school_and_teacher_ids_stay_out_of_responses(sample):
    assert not {"school_id", "teacher_id", "student_class_id"} & set(sample.train.columns)


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "raw.csv"
    path.write_text(HEADER + body)
    return path


def test_repeated_order_rows_merge_into_one_multi_skill_response(tmp_path):
    path = _write(tmp_path, "7,u1,p1,1,10.0,s\n7,u1,p1,1,13.0,s\n3,u1,p0,0,10.0,s\n9,u1,p2,0,,s\n")
    r = load(path, "assistments").train.sort("seq")
    assert r["item_id"].to_list() == ["p0", "p1", "p2"]  # ordered by order_id 3, 7, 9
    assert r["skill_ids"].to_list() == [["10"], ["10", "13"], []]
    assert r["correct"].to_list() == [0.0, 1.0, 0.0]


def test_answers_without_skill_are_dropped_only_on_request_and_counted(tmp_path):
    path = _write(tmp_path, "1,u1,p1,1,10,s\n2,u1,p2,0,,s\n3,u2,p2,1,,s\n")
    data = load(path, "assistments", drop_missing_skills=True)
    assert data.train.height == 1
    assert [d.rows for d in data.dropped] == [2]
    assert "skill" in data.dropped[0].reason


def test_repeated_rows_that_disagree_are_named(tmp_path):
    path = _write(tmp_path, "4,u1,p1,1,10,s\n4,u1,p1,0,13,s\n")
    with pytest.raises(DataValidationError) as info:
        load(path, "assistments")
    problem = info.value.problems[0]
    assert (problem.row, problem.column, problem.value) == (1, "correct", 4)  # value: the order_id
