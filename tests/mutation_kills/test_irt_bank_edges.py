"""`ItemBank` (models/irt/bank.py) against its docstring: null parameters load as NaN (items that could
not be estimated), `from_records` refuses a malformed entry with a message naming the entry and the
field, item ids must be non-empty strings (or integers, not booleans), `from_dict` needs an "items"
list, and a bank without usable items has no default item."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.irt.bank import ItemBank

GOOD = {"item_id": "q1", "a": 1.2, "b": -0.4, "c": 0.1, "se_a": 0.2, "se_b": 0.1, "se_c": None}


def test_null_parameters_load_as_nan() -> None:
    bank = ItemBank.from_records([GOOD, {"item_id": "q2", "a": None, "b": None, "c": None}])
    assert bank.item_ids.tolist() == ["q1", "q2"]
    assert bank.a[0] == 1.2 and math.isnan(bank.a[1]) and math.isnan(bank.b[1]) and math.isnan(bank.c[1])
    assert math.isnan(bank.se_c[0]) and math.isnan(bank.se_a[1])
    assert bank.usable.tolist() == [True, False]
    assert bank.to_records()[1] == {"item_id": "q2", "a": None, "b": None, "c": None, "se_a": None, "se_b": None, "se_c": None}
    # integer ids become strings
    assert ItemBank.from_records([{**GOOD, "item_id": 7}]).item_ids.tolist() == ["7"]


def test_bad_values_name_the_entry_and_the_field() -> None:
    with pytest.raises(ValueError, match=r"^items\[1\] \(q2\): 'b' must be a number or null, got 'x'$"):
        ItemBank.from_records([GOOD, {**GOOD, "item_id": "q2", "b": "x"}])
    with pytest.raises(ValueError, match=r"^items\[0\] \(q1\): 'se_b' must be a number or null, got True$"):
        ItemBank.from_records([{**GOOD, "se_b": True}])
    with pytest.raises(ValueError, match=r"^items\[0\] \(q1\): field 'c' is missing$"):
        ItemBank.from_records([{k: v for k, v in GOOD.items() if k != "c"}])
    with pytest.raises(ValueError, match=r"^items\[1\]: each item must be an object with item_id, a, b, c; got \['q2'\]$"):
        ItemBank.from_records([GOOD, ["q2"]])
    with pytest.raises(ValueError, match=r"^'items' must be a non-empty list of item objects, got dict$"):
        ItemBank.from_records({"q1": GOOD})
    with pytest.raises(ValueError, match=r"^'items' must be a non-empty list of item objects, got list$"):
        ItemBank.from_records([])


@pytest.mark.parametrize("item_id", [True, False, "", "   ", None, 1.5])
def test_item_ids_must_be_non_empty_strings(item_id) -> None:
    with pytest.raises(ValueError, match=r"^items\[0\]: 'item_id' must be a non-empty string, got "):
        ItemBank.from_records([{**GOOD, "item_id": item_id}])


def test_from_dict_needs_an_items_list() -> None:
    for payload in ({}, {"item": [GOOD]}, [GOOD], None):
        with pytest.raises(ValueError, match=r"^an item bank must be a JSON object with an 'items' list$"):
            ItemBank.from_dict(payload)
    assert ItemBank.from_dict({"items": [GOOD]}).a.tolist() == [1.2]


def test_default_item_and_codes() -> None:
    bank = ItemBank.from_arrays(["u", "v", "w"], [1.0, 2.0, np.nan], [0.5, -0.5, 3.0], [0.1, 0.3, 0.0])
    assert bank.default_item() == pytest.approx((1.5, 0.0, 0.2))  # the usable items u and v only
    assert bank.codes(["w", "x", "u"]).tolist() == [2, -1, 0]
    with pytest.raises(ValueError, match=r"^item_id: 1 missing id\(s\), first at position 1"):
        bank.codes(["u", None])
    empty = ItemBank.from_arrays(["u"], [np.nan], [0.0])
    with pytest.raises(ValueError, match=r"^the item bank has no usable items \(every item lacks a, b or c\)$"):
        empty.default_item()


def test_constructor_checks() -> None:
    # ids become unique strings; parameters floats with None as NaN (missing)
    bank = ItemBank(np.array([3, 4]), [1.0, None], [0.0, 1.0], [0, 0], [None, None], [0.1, 0.2], [None, None])
    assert bank.item_ids.tolist() == ["3", "4"] and bank.item_ids.dtype == object
    assert bank.a.dtype == np.float64 and math.isnan(bank.a[1]) and bank.c.dtype == np.float64
    assert bank.to_records()[0]["item_id"] == "3"
    assert ItemBank.from_arrays([7, 8], [1.0, 1.0], [0.0, 0.0]).item_ids.tolist() == ["7", "8"]
    with pytest.raises(ValueError, match=r"^ItemBank\.b has shape \(1,\), expected \(2,\) \(one per item\)$"):
        ItemBank(np.array(["u", "v"]), [1.0, 1.0], [0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match=r"^item ids must be unique; repeated: \['u'\]$"):
        ItemBank.from_arrays(["u", "v", "u"], [1.0] * 3, [0.0] * 3)
    # c in [0, 1) for usable items: 1 is refused, an item without estimates is not checked
    with pytest.raises(ValueError, match=r"^every c \(lower asymptote\) must lie in \[0, 1\)$"):
        ItemBank.from_arrays(["u"], [1.0], [0.0], [1.0])
    with pytest.raises(ValueError, match=r"lower asymptote"):
        ItemBank.from_arrays(["u"], [1.0], [0.0], [-0.1])
    assert not ItemBank.from_arrays(["u", "v"], [np.nan, 1.0], [np.nan, 0.0], [1.5, 0.0]).usable[0]
    assert not ItemBank.from_arrays(["u"], [1.0], [np.nan], [1.5]).usable[0]
