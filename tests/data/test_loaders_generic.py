"""`generic` loader: column mapping, skill splitting, ordering, roster, Parquet; and the registry."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

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


def test_boolean_words_and_columns_are_read_as_one_and_zero(tmp_path):
    """Python's csv and pandas write booleans as True/False: those words (any case) are 1/0, as is a Parquet
    Boolean column; any other word is still an error naming the row."""
    path = tmp_path / "log.csv"
    path.write_text("student_id,item_id,correct\ns1,i1,True\ns1,i2,FALSE\ns1,i3, true \ns1,i4,0\ns1,i5,1\n")
    assert load(path, "generic").train.sort("seq")["correct"].to_list() == [1.0, 0.0, 1.0, 0.0, 1.0]
    parquet = tmp_path / "log.parquet"
    pl.DataFrame({"student_id": ["s1", "s1"], "item_id": ["i1", "i2"], "correct": [True, False]}).write_parquet(parquet)
    assert load(parquet, "generic").train.sort("seq")["correct"].to_list() == [1.0, 0.0]
    path.write_text("student_id,item_id,correct\ns1,i1,maybe\n")
    with pytest.raises(DataValidationError) as info:
        load(path, "generic")
    assert [(p.row, p.column, p.value) for p in info.value.problems] == [(1, "correct", "maybe")]


def test_plain_number_timestamps_are_unix_seconds_or_milliseconds(tmp_path):
    """1768852800 s after 1970-01-01 UTC is 2026-01-19 20:00 UTC (datetime.fromtimestamp); a column with a value of
    1e11 or more is in milliseconds; below 1e8 (1973) a plain number is a step count, an error unless `unix` / `unix_ms`
    name the unit."""
    when = datetime(2026, 1, 19, 20, 0, tzinfo=timezone.utc)
    path = tmp_path / "log.csv"
    path.write_text("student_id,item_id,correct,timestamp\ns1,i1,1,1768852800\ns1,i2,0,1768852800.25\n")
    assert load(path, "generic").train.sort("seq")["timestamp"].to_list() == [when, when + timedelta(milliseconds=250)]
    path.write_text("student_id,item_id,correct,timestamp\ns1,i1,1,1768852800000\ns1,i2,0,1768852800500\n")
    assert load(path, "generic").train.sort("seq")["timestamp"].to_list() == [when, when + timedelta(milliseconds=500)]
    path.write_text("student_id,item_id,correct,timestamp\ns1,i1,1,5000\n")
    with pytest.raises(DataValidationError) as info:  # a step or day count, not a time in 1970
        load(path, "generic")
    assert "seq" in info.value.problems[0].hint
    assert load(path, "generic", timestamp_format="unix_ms").train["timestamp"].to_list() == [
        datetime(1970, 1, 1, 0, 0, 5, tzinfo=timezone.utc)]
    assert load(path, "generic", timestamp_format="unix").train["timestamp"].to_list() == [
        datetime(1970, 1, 1, 1, 23, 20, tzinfo=timezone.utc)]


def test_a_time_that_cannot_be_read_names_the_flag_that_fixes_it(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("student_id,item_id,correct,timestamp\ns1,i1,1,2026-01-19T20:00:00Z\ns1,i2,0,yesterday\n")
    with pytest.raises(DataValidationError) as info:
        load(path, "generic")
    [problem] = info.value.problems
    assert (problem.row, problem.column, problem.value) == (2, "timestamp", "yesterday")
    assert "--timestamp-format" in problem.hint and "unix" in problem.hint
    path.write_text("student_id,item_id,correct,timestamp\ns1,i1,1,19.01.2026 20:00\n")
    assert load(path, "generic", timestamp_format="%d.%m.%Y %H:%M").train["timestamp"].to_list() == [
        datetime(2026, 1, 19, 20, 0, tzinfo=timezone.utc)]


def test_command_line_flags_reach_the_generic_loader(tmp_path):
    """`--separator tab`, `--skill-separator` and `--timestamp-format` become the loader's arguments and read a file the
    defaults cannot; a generic-only flag given with another format is an error naming both."""
    import argparse

    from engine.cli.loading import add_loader_options, loader_options

    parser = argparse.ArgumentParser()
    add_loader_options(parser)
    path = tmp_path / "log.txt"
    path.write_text("student_id\titem_id\tcorrect\tskill_ids\ttimestamp\ns1\ti1\t1\ta;b\t19.01.2026\n")
    args = parser.parse_args(["--separator", "tab", "--skill-separator", ";", "--timestamp-format", "%d.%m.%Y"])
    options = loader_options(args, "generic")
    assert options == {"separator": "\t", "skill_separator": ";", "timestamp_format": "%d.%m.%Y"}
    row = load(path, "generic", **options).train.row(0, named=True)
    assert (row["skill_ids"], row["timestamp"]) == (["a", "b"], datetime(2026, 1, 19, tzinfo=timezone.utc))
    with pytest.raises(ConfigError, match="--skill-separator does not apply to --format wide"):
        loader_options(parser.parse_args(["--skill-separator", ";"]), "wide")


def _rows(path):
    return load(path, "generic").train.select("student_id", "item_id", "correct", "seq", "timestamp").rows()


def test_a_log_as_spreadsheets_write_it_reads_as_the_plain_one(tmp_path):
    """Header names after a comma-and-space or in another case, ids padded with spaces, blank lines in the middle and at
    the end: the same answers as the plain file (each of these stopped or changed the build before)."""
    plain = tmp_path / "plain.csv"
    plain.write_text("student_id,item_id,correct,timestamp\nu1,q1,1,2026-01-05T10:00:00Z\nu1,q2,0,2026-01-05T10:01:00Z\n"
                     "u2,q1,0,2026-01-05T11:00:00Z\n")
    messy = tmp_path / "messy.csv"
    messy.write_text("Student_ID, Item_ID, Correct, Timestamp\r\nu1 , q1,1,2026-01-05T10:00:00Z\r\n\r\n"
                     " u1,q2 ,0,2026-01-05T10:01:00Z\r\nu2,q1,0,2026-01-05T11:00:00Z\r\n,,,\r\n\r\n")
    assert _rows(messy) == _rows(plain)
    assert load(messy, "generic").train["timestamp"].null_count() == 0  # the time column was found, not left out


def test_missing_columns_are_named_with_the_columns_the_file_has(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("learner,question,ok\nu1,q1,1\n")
    with pytest.raises(DataValidationError) as err:
        load(path, "generic")
    assert "the file's columns: 'learner', 'question', 'ok'" in str(err.value)


def test_day_and_month_order_is_read_from_the_dates_or_asked_for(tmp_path):
    """01/13/2026 can only be month-first and 13/01/2026 only day-first; a column whose every date reads both ways is
    an error asking for the format, not a silent guess (01/04 was read as 1 April)."""
    month_first = tmp_path / "us.csv"
    month_first.write_text("student_id,item_id,correct,timestamp\nu1,q1,1,01/04/2026 09:00\nu1,q2,1,01/13/2026 09:00\n")
    day_first = tmp_path / "eu.csv"
    day_first.write_text("student_id,item_id,correct,timestamp\nu1,q1,1,04/01/2026 09:00\nu1,q2,1,13/01/2026 09:00\n")
    expected = [datetime(2026, 1, 4, 9, tzinfo=timezone.utc), datetime(2026, 1, 13, 9, tzinfo=timezone.utc)]
    assert load(month_first, "generic").train["timestamp"].to_list() == expected
    assert load(day_first, "generic").train["timestamp"].to_list() == expected
    both = tmp_path / "both.csv"
    both.write_text("student_id,item_id,correct,timestamp\nu1,q1,1,01/04/2026 09:00\nu1,q2,1,03/02/2026 09:00\n")
    with pytest.raises(DataValidationError) as err:
        load(both, "generic")
    assert "--timestamp-format '%m/%d/%Y %H:%M'" in str(err.value) and "01/04/2026 09:00" in str(err.value)
    named = load(both, "generic", timestamp_format="%m/%d/%Y %H:%M").train["timestamp"].to_list()
    assert named == [datetime(2026, 1, 4, 9, tzinfo=timezone.utc), datetime(2026, 3, 2, 9, tzinfo=timezone.utc)]


def test_an_answer_without_a_time_stays_after_the_answer_before_it(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("student_id,item_id,correct,timestamp\nu1,q1,1,2026-01-05T10:00:00Z\nu1,q2,0,\n"
                    "u1,q3,1,2026-01-05T10:05:00Z\nu1,q0,1,2026-01-05T09:00:00Z\n")
    order = load(path, "generic").train.sort("seq")["item_id"].to_list()
    assert order == ["q0", "q1", "q2", "q3"]  # q2 (no time) right after q1, its neighbour in the file; q0 first by time


def test_json_and_compressed_logs_are_named_not_parsed(tmp_path):
    import gzip

    lines = tmp_path / "log.jsonl"
    lines.write_text('{"student_id": "u1", "item_id": "q1", "correct": 1}\n')
    packed = tmp_path / "log.csv.gz"
    packed.write_bytes(gzip.compress(b"student_id,item_id,correct\nu1,q1,1\n"))
    with pytest.raises(DataValidationError, match="JSON logs are not read: write the log as CSV, TSV or Parquet"):
        load(lines, "generic")
    with pytest.raises(DataValidationError, match=r"gzip-compressed: decompress it first"):
        load(packed, "generic")


def test_a_steered_column_is_read_as_booleans_and_a_bad_value_names_its_row(tmp_path):
    """`steered` (whether the adaptive policy chose the item: engine.data.steering) as true/false or 1/0."""
    path = tmp_path / "log.csv"
    path.write_text("student_id,item_id,correct,steered\ns1,q1,1,TRUE\ns1,q2,0,0\ns2,q1,1,false\n")
    data = load(path, "generic")
    assert data.train.sort("student_id", "seq")["steered"].to_list() == [True, False, False]
    path.write_text("student_id,item_id,correct,steered\ns1,q1,1,1\ns1,q2,0,maybe\n")
    with pytest.raises(DataValidationError, match=r"row 2, column 'steered', value 'maybe': steered must be true/false"):
        load(path, "generic")


def test_a_resource_column_is_kept_as_text_with_empty_cells_as_none(tmp_path):
    """`resource_id` (the resource used before the answer: engine.recommend.resource_value), mapped from the user's
    own column name; an empty cell is an answer without a resource."""
    from engine.data.loaders.generic import load_generic
    path = tmp_path / "log.csv"
    path.write_text("student_id,item_id,correct,material\ns1,q1,1, vid-3 \ns1,q2,0,\ns2,q1,1,practice-1\n")
    data = load_generic(path, columns={"resource_id": "material"})
    assert data.train.sort("student_id", "seq")["resource_id"].to_list() == ["vid-3", None, "practice-1"]


def test_plain_number_times_are_read_in_the_unit_their_size_says(tmp_path):
    """2024-09-01T00:00:00Z is 1725148800 s after the epoch: written in s, ms, us and ns, and a column that mixes
    seconds and milliseconds (a platform that changed its export), each row reads as that time; a 0 among them is a
    problem naming its row only, and a nanosecond value under `unix_ms` is a row that cannot be read, not a crash."""
    when = datetime(2024, 9, 1, tzinfo=timezone.utc)
    path = tmp_path / "log.csv"
    rows = [f"s1,i{k},1,1725148800{'0' * zeros}" for k, zeros in enumerate((0, 3, 6, 9, 3, 0))]
    path.write_text("student_id,item_id,correct,timestamp\n" + "\n".join(rows) + "\n")
    assert load(path, "generic").train["timestamp"].to_list() == [when] * 6
    path.write_text("student_id,item_id,correct,timestamp\ns1,i1,1,1725148800\ns1,i2,1,0\ns1,i3,0,1725148800000\n")
    with pytest.raises(DataValidationError) as info:
        load(path, "generic")
    assert [(p.row, p.value) for p in info.value.problems] == [(2, "0")] and "seq" in info.value.problems[0].hint
    path.write_text("student_id,item_id,correct,timestamp\ns1,i1,1,1725148800000000000\n")
    with pytest.raises(DataValidationError) as info:
        load(path, "generic", timestamp_format="unix_ms")
    assert [(p.row, p.column) for p in info.value.problems] == [(1, "timestamp")]


def test_a_log_that_is_not_utf8_is_named_not_merged(tmp_path):
    path = tmp_path / "log.csv"
    path.write_bytes("student_id,item_id,correct\nJosé,i1,1\nJosè,i1,0\n".encode("latin-1"))
    with pytest.raises(DataValidationError) as info:
        load(path, "generic")
    [problem] = info.value.problems
    assert problem.row == 1 and "not UTF-8" in problem.hint and "re-save it as UTF-8" in problem.hint
    path.write_bytes("student_id,item_id,correct\nJosé,i1,1\nJosè,i1,0\n".encode("utf-8"))
    assert set(load(path, "generic").train["student_id"].to_list()) == {"José", "Josè"}


def test_ids_exported_as_floats_read_as_integers_and_more_boolean_words(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("student_id,item_id,correct,resource_id\n7.0,500.0,t,1067.0\n8.0,501.0,No,\n8.0,12.5,YES,3.0\n")
    r = load(path, "generic").train.sort("student_id", "seq")
    assert r["student_id"].to_list() == ["7", "8", "8"]
    assert r["item_id"].to_list() == ["500.0", "501.0", "12.5"]  # not every value float-shaped: kept as written
    assert r["resource_id"].to_list() == ["1067", None, "3"]
    assert r["correct"].to_list() == [1.0, 0.0, 1.0]
