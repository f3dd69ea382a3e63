"""Split checks behind the caveats of the KT tables: hand-built splits with known order and duplicates."""

from __future__ import annotations

import numpy as np
import polars as pl

from engine.experiment.annotations import published_cells
from engine.experiment.caveats import caveat_lines, split_checks

SCHEMA = {"student_id": pl.Utf8, "item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8), "correct": pl.Float64, "seq": pl.Int64}


def frame(rows: list[tuple[str, str, float]], item_is_skill: bool = True) -> pl.DataFrame:
    """(student, skill, correct) rows in order; `seq` counts within each student."""
    seq: dict[str, int] = {}
    out = []
    for student, skill, correct in rows:
        seq[student] = seq.get(student, -1) + 1
        out.append({"student_id": student, "item_id": skill if item_is_skill else f"q{len(out)}", "skill_ids": [skill],
                    "correct": correct, "seq": seq[student]})
    return pl.DataFrame(out, schema=SCHEMA)


def paired_log(prefix: str, students: int, seed: int) -> list[tuple[str, str, float]]:
    """Skills 7 and 12 hold the same answers (one problem stored under both skills); 30 and 40 independent ones."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(students):
        same = [0.0, 1.0, *rng.integers(0, 2, 4).astype(float)]  # 6 answers, both right and wrong
        rows += [(f"{prefix}{s}", "7", y) for y in same] + [(f"{prefix}{s}", "12", y) for y in same]
        rows += [(f"{prefix}{s}", "30", float(y)) for y in rng.integers(0, 2, 6)]
        rows += [(f"{prefix}{s}", "40", float(y)) for y in rng.integers(0, 2, 6)]
    return rows


def test_order_check_counts_students_sorted_by_numeric_skill_id() -> None:
    # t1 runs 2, 10, 10 (sorted as numbers, not as text); t2 answers one skill; t3 runs 5 then 3 (time order)
    test = frame([("t1", "2", 1.0), ("t1", "10", 0.0), ("t1", "10", 1.0), ("t2", "4", 1.0), ("t2", "4", 0.0),
                  ("t3", "5", 1.0), ("t3", "3", 0.0)])
    checks = split_checks(frame([("a", "1", 1.0), ("a", "2", 0.0)]), test)
    assert (checks.test_students, checks.multi_skill_students, checks.skill_ordered_students) == (3, 2, 1)
    assert not any("order" in line for line in caveat_lines(checks))  # 1 of 2 sorted: no claim of a sorted split


def test_duplicated_skill_pairs_and_rows_are_found_and_independent_skills_are_not() -> None:
    train, test = frame(paired_log("a", 30, 1)), frame(paired_log("t", 8, 2))
    checks = split_checks(train, test)
    assert checks.duplicated_pairs == [("12", "7")]  # skill ids compared as text: "12" < "7"
    assert checks.test_duplicated_rows == 8 * 6 and checks.train_duplicated_rows == 30 * 6
    assert checks.skill_ordered_students == checks.multi_skill_students == 8  # rows written skill by skill
    text = " ".join(caveat_lines(checks))
    assert "All 8 test students" in text and "at least 48 of 192 test rows" in text and "12-7" in text


def test_item_level_data_gets_no_duplicate_check_and_a_clean_split_no_caveat() -> None:
    train, test = frame(paired_log("a", 30, 1), item_is_skill=False), frame(paired_log("t", 8, 2), item_is_skill=False)
    checks = split_checks(train, test)
    assert not checks.skill_level and checks.duplicated_pairs == [] and checks.test_duplicated_rows == 0
    shuffled = test.sample(fraction=1.0, shuffle=True, seed=0).with_columns(
        pl.int_range(pl.len()).over("student_id").alias("seq"))  # rows no longer in skill order
    assert caveat_lines(split_checks(train, shuffled)) == []


def test_published_cells_number_notes_and_mark_rows_without_a_comparable_figure() -> None:
    cells, notes = published_cells(["irt", "irt-lr", "pfa"], {"irt-lr": "0.69", "pfa": "0.72"}, {"irt": "online", "pfa": "split"}, 3)
    assert cells == {"irt": "none: see note 3", "irt-lr": "0.69", "pfa": "0.72 (note 4)"}
    assert notes == ["3. `irt`: online", "4. `pfa`: split"]
