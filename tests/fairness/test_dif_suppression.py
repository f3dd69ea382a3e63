"""The item (DIF) audit's privacy: a hidden focal group is never named where the policy withholds names, and
complementary suppression keeps "students in the table minus the shown counts" from being one small group.

The truth in every test is worked by hand from the group sizes the table is built with (module docstring of
engine/fairness/item_audit.py): which groups are hidden, which counts may be published, what the report says.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import polars as pl
import pytest

from engine.errors import ConfigError
from engine.fairness.gate import INSUFFICIENT, load_policy
from engine.fairness.item_audit import audit_items, hidden_focal_groups
from engine.fairness.report import render_html, render_markdown
from engine.fairness.results import assemble
from engine.fairness.tracking import json_safe

# reference Rowan; focal Aster (shown), Birch (4 students < 10: hidden), Cedar (hidden with Birch: the smallest
# shown focal group, 20 < 30). Distinctive labels, so a name found in a text is that group's.
SIZES = {"Rowan": 40, "Aster": 30, "Cedar": 20, "Birch": 4}
FOCAL = ["Aster", "Birch", "Cedar"]


def _table(sizes: dict[str, int], seed: int = 0, n_items: int = 4) -> pl.DataFrame:
    """One row per student, every item answered (so n_reference / n_focal are the group sizes)."""
    rng = np.random.default_rng(seed)
    group = np.concatenate([[g] * n for g, n in sizes.items()])
    ability = rng.normal(size=group.size)
    items = {f"q{j}": (rng.random(group.size) < 1 / (1 + np.exp(-(ability - 0.2 * j)))).astype(np.int64)
             for j in range(n_items)}
    return pl.DataFrame({"grp": group, **items})


def _counts(value: Any) -> list[int]:
    """Every student count published anywhere in a (JSON) result."""
    keys = {"n_students", "n_reference", "n_focal", "excluded_students", "students"}
    if isinstance(value, dict):
        return ([v for k, v in value.items() if k in keys and isinstance(v, int) and not isinstance(v, bool)]
                + [c for v in value.values() for c in _counts(v)])
    if isinstance(value, list):
        return [c for v in value for c in _counts(v)]
    return []


def _groups_line(payload: dict[str, Any]) -> str:
    return next(line for line in render_markdown(payload).splitlines() if line.startswith("Groups:"))


def _payload(audit, show_labels: bool) -> dict[str, Any]:
    policy = replace(load_policy(), show_suppressed_labels=show_labels)
    return json.loads(json.dumps(json_safe(assemble(audit, policy))))


# ---------------------------------------------------------------- the complementary rule, by hand
@pytest.mark.parametrize(("sizes", "focal", "expected"), [
    ({"R": 40, "A": 30, "C": 20, "B": 4}, ["A", "B", "C"], ["B", "C"]),  # B small; C (20 < 30) hidden with it
    ({"R": 40, "A": 30, "B": 4}, ["A", "B"], ["A", "B"]),  # the only shown focal group goes too
    ({"R": 40, "A": 30, "C": 20, "B": 3, "D": 4}, ["A", "B", "C", "D"], ["B", "C", "D"]),  # 3 + 4 < 10: C too
    ({"R": 40, "A": 30, "B": 6, "D": 5}, ["A", "B", "D"], ["B", "D"]),  # 6 + 5 >= 10: enough on their own
    ({"R": 40, "A": 20, "C": 20, "B": 4}, ["C", "A", "B"], ["A", "B"]),  # tie at 20: the label first in sort order
    ({"R": 9, "A": 30, "C": 20}, ["A", "C"], ["A", "C"]),  # small reference: every focal group
    ({"R": 40, "A": 10, "C": 20}, ["A", "C"], []),  # exactly min_group_size is shown
])
def test_hidden_focal_groups_follow_the_documented_rule(sizes, focal, expected) -> None:
    assert hidden_focal_groups(sizes, "R", focal, 10) == expected


def test_only_shown_groups_are_counted_and_no_count_isolates_the_small_group() -> None:
    audit = audit_items(_table(SIZES), "grp", FOCAL, reference="Rowan")
    assert audit.suppressed_groups == ["Birch", "Cedar"]
    assert {i.focal for i in audit.result.items} == {"Aster"}
    assert {(i.n_reference, i.n_focal) for i in audit.result.items} == {(40, 30)}
    assert audit.n_students == 40 + 30 and audit.excluded_students == 0
    payload = _payload(audit, True)
    # the only counts published are the reference's, Aster's and their sum; the table's 94 students minus
    # them leave Birch + Cedar = 24 together, never Birch's 4 or Cedar's 20 alone
    assert set(_counts(payload)) <= {0, 40, 30, 70}
    assert payload["check_notes"]["dif_c_items"].startswith("2 group(s) suppressed")


# ---------------------------------------------------------------- names
def test_policy_without_labels_names_no_hidden_group_anywhere() -> None:
    audit = audit_items(_table(SIZES), "grp", FOCAL, reference="Rowan")
    payload = _payload(audit, False)
    texts = {"json": json.dumps(payload), "markdown": render_markdown(payload), "html": render_html(payload)}
    for kind, text in texts.items():
        assert "Birch" not in text and "Cedar" not in text, kind
        assert "Aster" in text, kind
    assert payload["results"]["focal"] == ["Aster"]
    assert payload["results"]["suppressed_groups"] == [{"attribute": "grp", "count": 2}]
    assert [(e["group"], e["suppressed"]) for e in payload["evidence"]] == [("Aster", False), (None, True), (None, True)]
    assert _groups_line(payload) == "Groups: grp; reference Rowan; focal Aster; 2 group(s) hidden. Matching on the score."


def test_policy_with_labels_names_them_only_in_the_suppression_list_and_the_report() -> None:
    audit = audit_items(_table(SIZES), "grp", FOCAL, reference="Rowan")
    payload = _payload(audit, True)
    assert [h["group"] for h in payload["suppressed_groups"]] == ["Birch", "Cedar"]
    assert _groups_line(payload) == "Groups: grp; reference Rowan; focal Aster; hidden: Birch, Cedar. Matching on the score."
    # the audit's own result and the gate's evidence never carry a hidden group's name
    for part in ("results", "evidence", "checks", "items"):
        assert "Birch" not in json.dumps(payload[part]) and "Cedar" not in json.dumps(payload[part]), part


def test_the_reviewers_case_two_focal_groups_one_small() -> None:
    """focal Aster, Birch with Birch under the minimum: Aster is hidden with it, so nothing is compared or named."""
    audit = audit_items(_table({"Rowan": 40, "Aster": 30, "Birch": 4}), "grp", ["Aster", "Birch"], reference="Rowan")
    assert audit.suppressed_groups == ["Aster", "Birch"] and audit.result is None
    assert audit.n_students == 0 and audit.excluded_students == 0
    payload = _payload(audit, False)
    assert payload["status"] == INSUFFICIENT
    assert payload["results"]["focal"] == [] and set(_counts(payload)) <= {0}
    assert [e["group"] for e in payload["evidence"]] == [None, None]
    assert _groups_line(payload) == "Groups: grp; reference Rowan; no focal group shown; 2 group(s) hidden. Matching on the score."
    for text in (json.dumps(payload), render_markdown(payload), render_html(payload)):
        assert "Aster" not in text and "Birch" not in text


def test_report_never_prints_names_a_stored_result_still_holds() -> None:
    """A result written before the fix holds `focal` with the hidden names and `suppressed_groups` as names; the
    report prints only what the policy-made list allows (here: a count)."""
    audit = audit_items(_table(SIZES), "grp", FOCAL, reference="Rowan")
    payload = _payload(audit, False)
    payload["results"]["focal"] = list(FOCAL)
    payload["results"]["suppressed_groups"] = ["Birch", "Cedar"]
    assert _groups_line(payload) == "Groups: grp; reference Rowan; focal Aster; 2 group(s) hidden. Matching on the score."


# ---------------------------------------------------------------- the floor of min_group_size
@pytest.mark.parametrize("size", [0, -5])
def test_min_group_size_below_one_is_refused(size: int) -> None:
    with pytest.raises(ConfigError, match=f"^min_group_size must be at least 1, got {size}$"):
        audit_items(_table(SIZES), "grp", FOCAL, reference="Rowan", min_group_size=size)


def test_min_group_size_one_hides_nobody() -> None:
    audit = audit_items(_table(SIZES), "grp", FOCAL, reference="Rowan", min_group_size=1)
    assert audit.suppressed_groups == [] and audit.n_students == 94
    assert {(i.focal, i.n_focal) for i in audit.result.items} == {("Aster", 30), ("Birch", 4), ("Cedar", 20)}
