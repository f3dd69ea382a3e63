"""Bad input gives a DataValidationError naming the row (data rows from 1, or the file line for the
3-line format) and the column, for every loader that reads such data."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.data import load
from engine.errors import DataValidationError, Problem

DATASHOP_HEADER = "Anon Student Id\tProblem Name\tStep Name\tCorrect First Attempt\tFirst Transaction Time\tKC(Default)\n"


def _problems(path: Path, fmt: str, **options) -> list[Problem]:
    with pytest.raises(DataValidationError) as info:
        load(path, fmt, **options)
    assert str(info.value)  # the message lists the problems
    return info.value.problems


def _where(problems: list[Problem]) -> list[tuple[int | None, str | None]]:
    return [(p.row, p.column) for p in problems]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- missing column -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "name", "text", "column"),
    [
        ("generic", "log.csv", "student_id,item_id\ns1,i1\n", "correct"),
        ("assistments", "raw.csv", "order_id,user_id,problem_id,skill_id\n1,u,p,3\n", "correct"),
        ("datashop", "steps.tsv", "Anon Student Id\tProblem Name\tStep Name\tFirst Transaction Time\tKC(Default)\nu\tp\ts\t2006-10-26 09:52:30.0\t\n", "Correct First Attempt"),
        ("wide", "m.csv", "q1,q2\n0,1\n", "grade"),
    ],
)
def test_missing_column_is_named(tmp_path, fmt, name, text, column):
    options = {"covariates": ["grade"]} if fmt == "wide" else {}
    problems = _problems(_write(tmp_path, name, text), fmt, **options)
    assert _where(problems) == [(None, column)]


def test_missing_lpp_column_is_named(tmp_path):
    folder = tmp_path / "lpp"
    folder.mkdir()
    for split in ("train", "test"):
        (folder / f"preprocessed_data_{split}.csv").write_text("user_id\titem_id\ttimestamp\tskill_id\n1\t2\t0\t3\n")
    import numpy as np
    import scipy.sparse as sp

    sp.save_npz(folder / "q_mat.npz", sp.csr_matrix(np.ones((3, 4))))
    assert (None, "correct") in _where(_problems(folder, "lpp"))


# --- correctness outside [0, 1] -------------------------------------------------------------------
def test_generic_correct_outside_unit_interval(tmp_path):
    path = _write(tmp_path, "log.csv", "student_id,item_id,correct\ns1,i1,1\ns1,i2,2\ns2,i1,-0.5\n")
    assert _where(_problems(path, "generic")) == [(2, "correct"), (3, "correct")]


def test_assistments_correct_outside_unit_interval(tmp_path):
    path = _write(tmp_path, "raw.csv", "order_id,user_id,problem_id,correct,skill_id\n1,u,p,1,3\n2,u,p,3,3\n")
    problems = _problems(path, "assistments")
    assert _where(problems) == [(2, "correct")] and problems[0].value == 3.0


def test_wide_cell_outside_unit_interval(tmp_path):
    path = _write(tmp_path, "m.csv", "q1,q2,q3\n0,1,1\n1,2,0\n")
    problems = _problems(path, "wide")
    assert _where(problems) == [(2, "q2")] and problems[0].value == "2"


def test_oulad_score_above_100(tmp_path):
    folder = _oulad_folder(tmp_path, scores="1,10,5,0,50\n1,11,7,0,140\n")
    assert _where(_problems(folder, "oulad")) == [(2, "correct")]


# --- empty ids ------------------------------------------------------------------------------------
def test_generic_empty_and_blank_student_ids(tmp_path):
    path = _write(tmp_path, "log.csv", "student_id,item_id,correct\ns1,i1,1\n,i2,0\n  ,i3,1\n")
    assert _where(_problems(path, "generic")) == [(2, "student_id"), (3, "student_id")]


def test_datashop_empty_student_id(tmp_path):
    path = _write(tmp_path, "steps.tsv", DATASHOP_HEADER + "u1\tp\ts\t1\t2006-10-26 09:52:30.0\tk\n\tp\ts\t0\t2006-10-26 09:53:30.0\tk\n")
    assert _where(_problems(path, "datashop")) == [(2, "student_id")]


def test_wide_empty_person_id(tmp_path):
    path = _write(tmp_path, "m.csv", "idstud,q1\n7,1\n,0\n")
    assert _where(_problems(path, "wide")) == [(2, "student_id")]


def test_wide_duplicate_person_id(tmp_path):
    path = _write(tmp_path, "m.csv", "idstud,q1\n7,1\n8,1\n7,0\n")
    assert {row for row, _ in _where(_problems(path, "wide"))} == {1, 3}


# --- malformed 3-line records ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "where", "value"),
    [
        ("2\n1,2\n0,1\n3\n1,2\n0,1\n", (4, "count"), 3),  # count says 3, two responses given
        ("2\n1,2\n0,1\n2\n1,2\n0,2\n", (6, "correct"), "2"),  # answer not 0/1 on line 6
        ("2\n1,2\n0,1\nx\n1\n1\n", (4, "count"), "x"),  # count is not a number
        ("2\n1,2\n0,1\n1\n5\n", (None, None), 5),  # incomplete last record: 5 lines
    ],
)
def test_malformed_three_line_record(tmp_path, text, where, value):
    problems = _problems(_write(tmp_path, "records.csv", text), "dkt3")
    assert [((p.row, p.column), p.value) for p in problems] == [(where, value)]


def test_every_malformed_record_is_listed_at_once(tmp_path):
    text = "1\n1\n7\n2\n1,2\n0\n1\n3\n1\n"
    assert _where(_problems(_write(tmp_path, "records.csv", text), "dkt3")) == [(3, "correct"), (4, "count")]


# --- unreadable or missing file -------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["lpp", "dkt3", "datashop", "assistments", "wide", "oulad", "generic"])
def test_missing_path(tmp_path, fmt):
    problems = _problems(tmp_path / "nowhere" / "data.csv", fmt)
    assert "nowhere" in str(problems[0].value)


@pytest.mark.parametrize("fmt", ["dkt3", "datashop", "assistments", "wide", "generic"])
def test_unreadable_file(tmp_path, fmt):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\xff\xfe\x00\x81\x00\x00garbage\x00\xc3")
    with pytest.raises(DataValidationError):
        load(path, fmt)


def test_empty_file(tmp_path):
    problems = _problems(_write(tmp_path, "log.csv", ""), "generic")
    assert problems[0].row is None


# --- non-numeric values ---------------------------------------------------------------------------
def test_generic_non_numeric_correct(tmp_path):
    path = _write(tmp_path, "log.csv", "student_id,item_id,correct\ns1,i1,1\ns1,i2,sometimes\n")
    problems = _problems(path, "generic")
    assert _where(problems) == [(2, "correct")] and problems[0].value == "sometimes"


def test_wide_non_numeric_cell(tmp_path):
    path = _write(tmp_path, "m.csv", "q1\tq2\n0\t1\n1\tx\n".replace("\t", ","))
    assert _where(_problems(path, "wide")) == [(2, "q2")]


def test_lpp_non_numeric_correct(tmp_path):
    import numpy as np
    import scipy.sparse as sp

    folder = tmp_path / "lpp"
    folder.mkdir()
    header = "user_id\titem_id\ttimestamp\tcorrect\tskill_id\n"
    (folder / "preprocessed_data_train.csv").write_text(header + "1\t0\t0\t1\t0\n1\t1\t0\tabc\t0\n")
    (folder / "preprocessed_data_test.csv").write_text(header + "2\t0\t0\t0\t0\n")
    sp.save_npz(folder / "q_mat.npz", sp.csr_matrix(np.eye(2)))
    problems = _problems(folder, "lpp")
    assert _where(problems) == [(2, "correct")] and problems[0].value == "abc"


def test_oulad_non_numeric_score_and_date(tmp_path):
    folder = _oulad_folder(tmp_path, scores="1,10,5,0,50\n1,11,soon,0,abc\n")
    assert _where(_problems(folder, "oulad")) == [(2, "date_submitted"), (2, "score")]


def test_datashop_bad_time(tmp_path):
    path = _write(tmp_path, "steps.tsv", DATASHOP_HEADER + "u1\tp\ts\t1\tyesterday\tk\n")
    assert _where(_problems(path, "datashop")) == [(1, "First Transaction Time")]


def test_wide_bad_frequency(tmp_path):
    path = _write(tmp_path, "m.csv", "q1,freq\n1,3\n0,-1\n")
    assert _where(_problems(path, "wide")) == [(2, "freq")]


# --- helpers --------------------------------------------------------------------------------------
def _oulad_folder(tmp_path: Path, scores: str) -> Path:
    folder = tmp_path / "oulad"
    folder.mkdir()
    (folder / "studentAssessment.csv").write_text("id_assessment,id_student,date_submitted,is_banked,score\n" + scores)
    (folder / "assessments.csv").write_text(
        "code_module,code_presentation,id_assessment,assessment_type,date,weight\nAAA,2013J,1,TMA,19,10\n"
    )
    (folder / "studentInfo.csv").write_text(
        "code_module,code_presentation,id_student,gender,region,highest_education,imd_band,age_band,"
        "num_of_prev_attempts,studied_credits,disability,final_result\n"
        "AAA,2013J,10,F,Wales,HE Qualification,10-20,0-35,0,60,N,Pass\n"
        "AAA,2013J,11,M,Wales,HE Qualification,?,0-35,0,60,N,Pass\n"
    )
    return folder


def test_all_problems_of_a_file_are_listed_together(tmp_path):
    path = _write(tmp_path, "log.csv", "student_id,item_id,correct,timestamp\n,i1,1,\ns1,,0.5,\ns1,i2,7,\ns2,i3,1,later\n")
    assert sorted(_where(_problems(path, "generic")), key=str) == sorted(
        [(1, "student_id"), (2, "item_id"), (3, "correct"), (4, "timestamp")], key=str
    )


def test_a_row_with_an_extra_field_is_named_by_its_line(tmp_path):
    """The quoted comma on line 3 is one field; the fourth field on line 4 is the fault."""
    path = _write(tmp_path, "log.csv", 'student_id,item_id,correct\ns1,i1,1\ns1,"i,2",0\ns1,i3,1,extra\ns1,i4,0\n')
    [problem] = _problems(path, "generic")
    assert "first at line 4 of the file" in problem.hint
