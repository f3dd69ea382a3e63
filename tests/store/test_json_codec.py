"""The store's JSON codec (orjson, with the standard library where their rules differ) reads and writes what the
standard library's json does: the reference is `json` itself, on generated values and on both backends."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.store.types import dumps_json, loads_json

# JSON values with what the fast path does not cover: whole numbers of any size, non-finite floats, any text
scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                      max_leaves=20)


def _stdlib_text(value) -> str:
    """The standard library's text of `value`, non-finite floats written as null (the store's rule)."""
    def finite(v):
        if isinstance(v, float):
            return v if math.isfinite(v) else None
        if isinstance(v, dict):
            return {k: finite(x) for k, x in v.items()}
        if isinstance(v, list):
            return [finite(x) for x in v]
        return v
    return json.dumps(finite(value), allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(values)
def test_what_is_written_reads_back_as_the_standard_library_reads_its_own_text(value):
    assert loads_json(dumps_json(value)) == json.loads(_stdlib_text(value))


@settings(max_examples=300, deadline=None)
@given(values)
def test_any_text_the_standard_library_writes_reads_as_it_reads_it(value):
    text = json.dumps(value)  # NaN and Infinity literals included, as an older row may hold them
    expected = json.loads(text)
    assert json.dumps(loads_json(text)) == json.dumps(expected)  # (NaN != NaN: compare the texts)
    assert json.dumps(loads_json(text.encode())) == json.dumps(expected)  # bytes, as PostgreSQL's driver passes them


def test_numbers_beyond_64_bits_stay_whole_numbers():
    big = 2**70 + 1
    assert loads_json(dumps_json({"n": big})) == {"n": big}
    assert loads_json(b'[18446744073709551617, -18446744073709551617]') == [2**64 + 1, -(2**64 + 1)]
    assert loads_json("[-9223372036854775809]") == [-(2**63) - 1]  # 19 digits, below orjson's 64-bit range
    assert loads_json(memoryview(b'{"n": 123456789012345678901234567890}')) == {"n": 123456789012345678901234567890}


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,3})?", fullmatch=True))
def test_number_text_of_any_length_reads_as_json_reads_it(number):
    text = f"[{number}]"  # long fractions go to orjson, long whole parts and overflows (1e400) to json
    assert json.dumps(loads_json(text)) == json.dumps(json.loads(text))


def test_numpy_values_datetimes_and_non_string_keys_are_written_as_json_writes_them():
    when = datetime(2024, 5, 1, 12, tzinfo=UTC)
    doc = {"a": np.float64(0.25), "b": np.arange(3), "c": np.array([1.5, np.nan]), "d": np.int64(7), "e": np.bool_(True),
           "f": when, "g": datetime(2024, 5, 1, 12), "h": float("inf")}
    assert loads_json(dumps_json(doc)) == {"a": 0.25, "b": [0, 1, 2], "c": [1.5, None], "d": 7, "e": True,
                                           "f": when.isoformat(), "g": when.isoformat(), "h": None}
    assert loads_json(dumps_json({1: "x"})) == {"1": "x"}  # json's rule for a whole-number key


def test_the_store_keeps_a_document_with_every_such_value(store):
    doc = {"big": 2**70 + 1, "ratio": 0.1, "tiny": 1e-05, "gone": float("nan"), "text": "\u00e9\u4e2d", "nested": [[{"x": None}]],
           "nul": "a\x00b"}  # states are opaque on both backends (json text on PostgreSQL, which keeps a NUL; JSONB did not)
    store.put_state("s1", doc)
    assert store.get_state("s1").state == {**doc, "gone": None}
