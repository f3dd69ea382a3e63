"""Edge cases of the DIF blocklist (engine/fairness/blocklist.py) that the mutation run showed untested.

Reference: the documented hand-off format worked by hand on small DIF results (objects, `ItemAudit`s and
the JSON of `equilearn audit dif`, with and without its `results` wrapper).
"""

from __future__ import annotations

import pytest

from engine.errors import ConfigError
from engine.fairness.blocklist import blocked_items, blocklist_document
from engine.fairness.dif import DifItem, DifResult
from engine.fairness.item_audit import ItemAudit


def _item(item_id: str, flag: bool, **kw) -> DifItem:
    return DifItem(item_id, kw.pop("focal", "f"), "r", 10, 10, 5.0, 0.01, p_adjusted=0.02, flag_for_review=flag, **kw)


def _result(method: str = "mh") -> DifResult:
    items = [_item("b", True, ets_class="C", delta=-2.0), _item("a", False, ets_class="A", delta=0.1),
             _item("c", True, ets_class="C", delta=1.7, focal="g")]
    return DifResult(method, items, "score", False, 0, True, "none", 0.05)


def test_objects_audits_and_json_give_the_same_items() -> None:
    result = _result()
    assert blocked_items(result) == ["b", "c"]
    audit = ItemAudit("grp", "r", ["f"], 20, result)
    assert blocked_items(audit) == ["b", "c"]
    assert blocked_items(ItemAudit("grp", "r", ["f"], 0, None)) == []
    payload = {"audit": "dif", "results": {**result.to_dict(), "group_col": "grp"}}
    assert blocked_items(payload) == ["b", "c"]
    assert blocked_items(result.to_dict()) == ["b", "c"]  # the bare result, no "audit" key
    assert blocked_items({"audit": "dif", "items": [{"item_id": 7, "flag_for_review": True}]}) == ["7"]
    assert blocked_items() == [] and blocked_items([]) == []
    assert blocked_items({"audit": "dif", "results": {}}) == []  # a result without items flags nothing


def test_union_over_sources_and_nested_lists() -> None:
    other = DifResult("logistic-both", [_item("z", True, jg_class="C", delta_r2=0.09), _item("b", True, jg_class="C")],
                      "score", False, 0, True, "none", 0.05)
    assert blocked_items(_result(), other) == ["b", "c", "z"]
    assert blocked_items([_result(), other]) == ["b", "c", "z"]
    assert blocked_items((_result(),), [other]) == ["b", "c", "z"]


def test_document_gives_every_reason_without_empty_fields() -> None:
    other = DifResult("logistic-both", [_item("b", True, jg_class="C", delta_r2=0.09)], "score", False, 0, True, "none", 0.05)
    payload = {"audit": "dif", "results": {**_result().to_dict(), "group_col": "gender"}}
    doc = blocklist_document(payload, other)
    assert doc["blocked_items"] == ["b", "c"]
    assert list(doc["reasons"]) == ["b", "c"]
    assert doc["reasons"]["b"] == [
        {"method": "mh", "group_col": "gender", "focal": "f", "reference": "r", "class": "C", "delta": -2.0,
         "p_adjusted": 0.02},
        {"method": "logistic-both", "focal": "f", "reference": "r", "class": "C", "delta_r2": 0.09, "p_adjusted": 0.02}]
    assert doc["reasons"]["c"] == [{"method": "mh", "group_col": "gender", "focal": "g", "reference": "r", "class": "C",
                                    "delta": 1.7, "p_adjusted": 0.02}]
    assert doc["note"] == "withhold these items from serving until a person has reviewed them (DIF class C)"
    assert blocklist_document() == {"blocked_items": [], "reasons": {}, "note": doc["note"]}


def test_other_inputs_are_refused_with_what_was_expected() -> None:
    with pytest.raises(ConfigError, match="not an item \\(DIF\\) audit result: expected the JSON of `equilearn audit dif` "
                                          "\\(audit = 'dif'\\), got audit = 'model'"):
        blocked_items({"audit": "model", "items": []})
    with pytest.raises(ConfigError, match="got audit = None"):
        blocked_items({"method": "mh"})  # neither items nor results
    with pytest.raises(ConfigError, match="cannot read flagged items from int"):
        blocked_items([3])
