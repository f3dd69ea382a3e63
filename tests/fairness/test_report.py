"""Reports: a suppressed group's numbers (and, on request, its name) appear in no output; charts are valid SVG."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any

import numpy as np
import polars as pl
import pytest

from engine.fairness.gate import load_policy
from engine.fairness.model_audit import audit_model
from engine.fairness.report import render_html, render_markdown
from engine.fairness.results import assemble
from engine.fairness.tracking import json_safe
from tests.fairness import simulate as sim

SIZES = {"Alpha": 61, "Beta": 33, "Zeta": 7}  # Zeta is below 10; Beta must be hidden with it


@pytest.fixture(scope="module")
def audit():
    rng = np.random.default_rng(5)
    labels = np.concatenate([[g] * n for g, n in SIZES.items()])
    roster = sim.roster(labels.size, rng).with_columns(pl.Series("origin", labels))
    return audit_model(sim.predictions(roster, rng), "origin,ses", roster=roster, n_boot=40, n_permutations=40)


def _texts(payload: dict[str, Any]) -> dict[str, str]:
    return {"json": json.dumps(json_safe(payload)), "markdown": render_markdown(payload), "html": render_html(payload)}


def _all_counts(value: Any) -> list[int]:
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "n_students" and isinstance(v, int)] + \
               [c for v in value.values() for c in _all_counts(v)]
    if isinstance(value, list):
        return [c for v in value for c in _all_counts(v)]
    return []


def test_hidden_groups_have_no_numbers_anywhere(audit) -> None:
    payload = json.loads(json.dumps(json_safe(assemble(audit, load_policy()))))
    assert {(s["attribute"], s["group"]) for s in payload["suppressed_groups"]} == {("origin", "Zeta"), ("origin", "Beta")}
    numbers = {k: v for k, v in payload.items() if k != "suppressed_groups"}
    text = json.dumps(numbers)
    assert "Zeta" not in text and "Beta" not in text
    counts = _all_counts(payload)
    assert SIZES["Zeta"] not in counts and SIZES["Beta"] not in counts
    # what is shown (all students, Alpha) only reveals Zeta + Beta together
    shown = {(r["attribute"], r["group"]): r["n_students"] for r in payload["results"]["by_group"] if r["metric"] == "auc"}
    total = payload["results"]["overall"][0]["n_students"]
    assert total - shown[("origin", "Alpha")] == SIZES["Zeta"] + SIZES["Beta"]
    markdown = render_markdown(payload)
    lines_naming = [line for line in markdown.splitlines() if "Zeta" in line]
    # the list of hidden groups, and a "suppressed" mark (no number) in each group table of the model
    assert lines_naming[0] == "- origin: Zeta"
    marks = lines_naming[1:]
    assert len(marks) == len({r["metric"] for r in payload["results"]["by_group"]})
    assert set(marks) == {"| origin | Zeta | suppressed | suppressed |  |"}


def test_hidden_group_names_can_be_withheld_too(audit) -> None:
    policy = replace(load_policy(), show_suppressed_labels=False)
    payload = assemble(audit, policy)
    for kind, text in _texts(payload).items():
        assert "Zeta" not in text and "Beta" not in text, kind
    assert {"table": "model", "stratum": None, "attribute": "origin", "count": 2} in payload["suppressed_groups"]


def test_html_is_self_contained_with_valid_charts(audit) -> None:
    html = render_html(assemble(audit, load_policy()))
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    charts = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    # small multiples: a ROC panel and a calibration panel per shown group (origin: Alpha; ses: its two groups)
    shown = {(r["attribute"], r["group"]) for r in audit.to_dict()["by_group"]}
    assert len(charts) == 2 * len(shown) == 6
    for chart in charts:
        ET.fromstring(chart)  # well-formed
    assert "area between them is ABROCA" in html and "<polygon" in html
    # it opens with what was audited, the verdict, who is affected and what to do; then findings and checks
    order = [html.index(h) for h in ("What was audited", "Verdict", "Who is affected", "What to do", "Findings", "Checks",
                                     "Model accuracy")]
    assert order == sorted(order)


def test_report_says_what_was_audited_and_how_many_students_would_settle_it(audit) -> None:
    payload = assemble(audit, load_policy(), data={"model": "best-lr", "outcome": "correct >= 0.4", "split": "students 80/20",
                                                   "n_train": 1000, "n_test": 250, "groups": "origin,ses", "n_students": 101})
    markdown = render_markdown(payload)
    head = markdown.split("## Findings")[0]
    for text in ("| Model | best-lr |", "| Outcome | correct >= 0.4 |", "students 80/20", "| Groups | origin,ses |"):
        assert text in head
    assert payload["status"] in head.upper().replace(" ", "_") or "NOT ENOUGH EVIDENCE" in head
    # every check in its policy's words, with what its value means
    for check in load_policy().checks:
        if check.audit == "model":
            assert check.description.rstrip(".") in markdown
    assert "observed minus predicted success" in markdown and "AUC: 0.5 is chance" in markdown
    undecided = [r for r in payload["checks"] if r["status"] == "INSUFFICIENT_EVIDENCE" and r["ci"][0] is not None]
    if undecided:
        assert "more students" in head
