"""`dkt3` loader: README counts on both 3-line datasets, and a round-trip property of the parser."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data import load
from engine.data.loaders.dkt3 import read_dkt3


def _plain_counts(path: Path) -> tuple[int, int]:
    """(records, responses) read with plain Python: every third line holds a record's length."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return len(lines) // 3, sum(int(line) for line in lines[0::3])


def test_assistments09_dkt_counts(shared_data, assert_clean):
    folder = shared_data / "assistments09_dkt"
    data = load(folder, "dkt3")
    assert data.responses.height == 525_534
    assert data.responses["student_id"].n_unique() == 4_217
    assert data.train["item_id"].n_unique() == 123  # README: 123 skills
    for split, table in (("train", data.train), ("test", data.test)):
        records, responses = _plain_counts(folder / f"builder_{split}.csv")
        assert (table["student_id"].n_unique(), table.height) == (records, responses)
    assert_clean(data)


def test_assist2015_counts(shared_data, assert_clean):
    data = load(shared_data / "assist2015", "dkt3")
    assert data.train.height == 484_040
    assert data.test.height == 199_761
    assert data.responses["student_id"].n_unique() == 19_840
    assert data.responses["skill_ids"].explode().n_unique() == 100
    assert_clean(data)


def test_single_file_is_one_split(shared_data):
    path = shared_data / "assistments09_dkt" / "builder_test.csv"
    data = load(path, "dkt3")
    assert data.test is None
    assert data.train.height == _plain_counts(path)[1]


records_strategy = st.lists(
    st.lists(st.tuples(st.integers(0, 300), st.integers(0, 1)), max_size=12), min_size=1, max_size=25
)


@settings(max_examples=60, deadline=None)
@given(records=records_strategy, trailing_comma=st.booleans(), spaces=st.booleans())
def test_parser_round_trip(records, trailing_comma, spaces):
    """Writing random records and parsing them gives back every record's skills and answers in order."""
    tail = "," if trailing_comma else ""
    sep = ", " if spaces else ","
    text = "".join(
        f"{len(r)}\n{sep.join(str(s) for s, _ in r)}{tail}\n{sep.join(str(a) for _, a in r)}{tail}\n" for r in records
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "records.csv"
        path.write_text(text)
        frame = read_dkt3(path, "p")
    assert frame.height == sum(len(r) for r in records)
    for index, record in enumerate(records):
        mine = frame.filter(pl.col("student_id") == f"p-{index}")
        assert mine["item_id"].to_list() == [str(s) for s, _ in record]
        assert mine["correct"].to_list() == [float(a) for _, a in record]
        assert mine["skill_ids"].to_list() == [[str(s)] for s, _ in record]
