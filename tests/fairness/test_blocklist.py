"""DIF class C items reach the recommender: `blocked_items` from audit objects and JSON, and the CLI file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.errors import ConfigError
from engine.fairness.blocklist import blocked_items, blocklist_document
from engine.fairness.dif import mh_dif
from engine.recommend import RecommenderConfig


def _class_c_by_rule(result) -> set[str]:
    """Independent reading of the ETS rule: |D| >= 1.5, significant, and |D| significantly above 1."""
    return {i.item_id for i in result.items
            if abs(i.delta) >= 1.5 and i.p < 0.05 and (abs(i.delta) - 1) / i.delta_se > 1.6448536}


def test_blocked_items_are_the_class_c_items_from_objects_and_json(verbal) -> None:
    X, gender, items = verbal
    result = mh_dif(X, gender, items, reference="0", focal=["1"])
    expected = _class_c_by_rule(result)
    assert expected  # verbal has large, significant DIF (e.g. S2WantShout, |D| = 2.49)
    assert set(blocked_items(result)) == expected
    as_json = json.loads(json.dumps(result.to_dict()))
    assert blocked_items(as_json) == sorted(expected)
    doc = blocklist_document(result)
    assert doc["blocked_items"] == sorted(expected)
    assert all(r[0]["class"] == "C" for r in doc["reasons"].values())


def test_union_over_several_audits_and_hand_off_to_the_recommender(verbal) -> None:
    X, gender, items = verbal
    one = mh_dif(X, gender, items, reference="0", focal=["1"])
    # a second grouping that flags nothing: random halves
    other = mh_dif(X, np.random.default_rng(0).integers(0, 2, len(gender)), items, reference="0", focal=["1"])
    merged = blocked_items([one, other])
    assert merged == sorted(set(blocked_items(one)) | set(blocked_items(other)))
    config = RecommenderConfig.from_dict({"blocked_items": merged})
    assert list(config.blocked_items) == merged


def test_other_audits_are_refused() -> None:
    with pytest.raises(ConfigError, match="not an item"):
        blocked_items({"audit": "model", "results": {}})


def test_cli_writes_the_blocked_items_file(verbal_path: Path, tmp_path: Path) -> None:
    out, blocked = tmp_path / "dif.json", tmp_path / "blocked.json"
    assert main(["audit", "dif", str(verbal_path), "--group-col", "Gender", "--focal", "1", "--reference", "0",
                 "--out", str(out), "--blocked-out", str(blocked)]) == 0
    items = json.loads(out.read_text())["items"]
    doc = json.loads(blocked.read_text())
    assert doc["blocked_items"] == sorted(i["item_id"] for i in items if i["ets_class"] == "C")
    assert "S2WantShout" in doc["blocked_items"]
