"""The numbers the fairness report prints, and the files `write_reports` writes (engine/fairness/report.py).

The second mutation pass (docs/mutation_fairness_evaluation.md) found that no fast test checked a printed number:
`_num` printing 'n/a' for every value survived, and so did blanked group values, CIs, delta AUC and ABROCA. These tests
build a small model-audit result by hand (no audit is run), so every number in it is known, and check the report
against the documented format, worked out by hand from the inputs:

- a number prints with 3 decimals (`0.81234` -> `0.812`), delta AUC with 4, the LR statistic with 2; a value strictly
  between 0 and 10**-digits prints with 3 significant figures instead (`0.00042` -> `0.00042`, not `0.000`); 0 prints
  as `0.000`; an int prints as is; None, nan and inf print `n/a`; a non-number prints as its text;
- an interval prints `lo to hi`, or `n/a` when either end is missing or not finite;
- the small ROC / calibration panels map the unit square onto the panel's frame (x 30..204 left to right, y 174..22
  bottom to top, from `svg.SMALL` = 210 and its paddings), so a point of a curve is at a pixel known in advance.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from engine.fairness import report
from engine.fairness.report import _audited, _ci, _group_table, _hidden, _num, blocks, render_html, render_markdown, write_reports

NS = "{http://www.w3.org/2000/svg}"
INK, GREY = "#1d3f8f", "#6b6b6b"


# ---- _num and _ci: the documented number format, value by value ------------------------------------------------

@pytest.mark.parametrize(("value", "digits", "printed"), [
    (0.81234, 3, "0.812"),          # 3 decimals by default
    (0.5, 3, "0.500"),              # trailing zeros kept (not the 3 significant figures of '.3g')
    (12.3456, 3, "12.346"),
    (-0.0021, 3, "-0.002"),         # |v| above 10**-3: fixed decimals
    (0.0, 3, "0.000"),              # zero is not 'tiny': fixed decimals
    (0.00042, 3, "0.00042"),        # 0 < |v| < 10**-3: 3 significant figures, not '0.000'
    (-0.00042, 3, "-0.00042"),
    (0.0008, 3, "0.0008"),          # just under 10**-3
    (0.001234, 3, "0.001"),         # just over 10**-3: fixed decimals
    (0.01234, 4, "0.0123"),         # digits=4
    (0.00001234, 4, "1.23e-05"),    # below 10**-4 with digits=4
    (7.4567, 2, "7.46"),            # digits=2
    (3, 3, "3"),                    # an int prints as is
    (1500, 3, "1500"),
    (True, 3, "True"),
    ("ses", 3, "ses"),              # a non-number prints as its text
    (None, 3, "n/a"),
    (float("nan"), 3, "n/a"),
    (float("inf"), 3, "n/a"),
    (float("-inf"), 3, "n/a"),
])
def test_num_prints_the_documented_format(value: Any, digits: int, printed: str) -> None:
    assert _num(value, digits) == printed


def test_num_default_is_three_decimals() -> None:
    assert _num(0.12345) == "0.123"
    assert _num(0.0005) == "0.0005"


@pytest.mark.parametrize(("lo", "hi", "printed"), [
    (0.75, 0.8712, "0.750 to 0.871"),
    (-0.0021, 0.02679, "-0.002 to 0.027"),
    (0.00042, 0.5, "0.00042 to 0.500"),
    (None, 0.5, "n/a"),
    (0.5, None, "n/a"),
    (None, None, "n/a"),
    (float("nan"), 0.5, "n/a"),
    (0.5, float("nan"), "n/a"),
    (float("-inf"), float("inf"), "n/a"),
])
def test_ci_prints_both_ends_or_na(lo: Any, hi: Any, printed: str) -> None:
    assert _ci(lo, hi) == printed


# ---- _group_table and _hidden -------------------------------------------------------------------------------------

ROWS = [
    {"attribute": "sex", "group": "F", "stratum": "low", "n_students": 120, "value": 0.81234, "ci_low": 0.75, "ci_high": 0.8712},
    {"attribute": "sex", "group": "M", "stratum": "high", "n_students": 1500, "value": 0.00042, "ci_low": None, "ci_high": 0.01},
]


def test_group_table_prints_students_value_and_ci_of_each_shown_group_then_the_hidden_ones() -> None:
    hidden = [{"table": "model", "attribute": "sex", "group": "X", "stratum": "low"},
              {"table": "model", "attribute": "ses", "count": 2, "stratum": "high"}]
    kind, head, body = _group_table(ROWS, False, hidden=hidden)
    assert kind == "table"
    assert head == ["attribute", "group", "students", "value", "95% CI"]
    assert body == [["sex", "F", "120", "0.812", "0.750 to 0.871"],
                    ["sex", "M", "1500", "0.00042", "n/a"],
                    ["sex", "X", "suppressed", "suppressed", ""],
                    ["ses", "2 group(s)", "suppressed", "suppressed", ""]]


def test_group_table_with_strata_puts_the_stratum_first_and_names_the_value() -> None:
    hidden = [{"table": "gain_by_group", "attribute": "ses", "count": 3, "stratum": "Q2"}]
    kind, head, body = _group_table(ROWS, True, "gain", hidden=hidden)
    assert head == ["stratum", "attribute", "group", "students", "gain", "95% CI"]
    assert body == [["low", "sex", "F", "120", "0.812", "0.750 to 0.871"],
                    ["high", "sex", "M", "1500", "0.00042", "n/a"],
                    ["Q2", "ses", "3 group(s)", "suppressed", "suppressed", ""]]


def test_hidden_keeps_the_entries_of_one_table_and_copes_with_none() -> None:
    payload = {"suppressed_groups": [{"table": "model", "attribute": "sex", "group": "X"},
                                     {"table": "gain_by_group", "attribute": "ses", "count": 2},
                                     {"table": "model", "attribute": "ses", "count": 3}]}
    assert _hidden(payload, "model") == [{"table": "model", "attribute": "sex", "group": "X"},
                                         {"table": "model", "attribute": "ses", "count": 3}]
    assert _hidden(payload, "exposure") == []
    assert _hidden({}, "model") == []   # an older result without the key


# ---- _audited: the 'what was audited' table, case by case --------------------------------------------------------

def _payload_for(kind: str, data: dict[str, Any], model_version: str | None = None, results: dict[str, Any] | None = None):
    return {"audit": kind, "data": data, "model_version": model_version, "results": results or {},
            "policy": {"name": "default", "version": "2"}, "min_group_size": 10, "generated_at": "2026-01-02T03:04:05+00:00"}


def test_audited_model_with_every_field_given() -> None:
    data = {"path": "preds.csv", "format": "long", "n_students": 1234, "n_rows": 56789, "model": "lr-v2", "split": "students 80/20",
            "n_train": 40000, "n_test": 10000, "groups": "sex", "outcome": "correct >= 0.4", "source": "unused", "students": 9}
    rows = dict(_audited(_payload_for("model", data, "set-7", {"group_col": "unused"})))
    assert rows == {
        "Audited": report.KIND_WORDS["model"],
        "Model": "lr-v2 (model set set-7)",
        "Data": "preds.csv (long format); 1,234 students, 56,789 predicted answers",
        "Outcome": "correct >= 0.4",
        "Split": "students 80/20: fitted on 40,000 answers of other students, audited on 10,000 held-out answers",
        "Groups": "sex",
        "Policy": "default version 2; groups under 10 students hidden",
        "Generated": "2026-01-02T03:04:05+00:00",
    }


def test_audited_model_with_the_fallback_keys() -> None:
    # 'source' for the path, 'students' for n_students, 'n_test' for n_rows, 'group' for groups, the model set's
    # version for the model; no split (n_train alone is not a split)
    data = {"source": "warehouse", "students": 12, "n_test": 3456, "n_train": 100, "group": "ses"}
    rows = dict(_audited(_payload_for("model", data, "mv1")))
    assert rows["Model"] == "mv1"
    assert rows["Data"] == "warehouse; 12 students, 3,456 predicted answers"
    assert rows["Split"] == "none given: predictions audited as supplied"
    assert rows["Groups"] == "ses"
    assert rows["Outcome"] == "the answer's score as given (1 = right)"


def test_audited_same_model_name_twice_is_not_repeated_and_missing_counts_are_left_out() -> None:
    rows = dict(_audited(_payload_for("model", {"model": "lr-v2", "split": "by time", "n_train": 5000,
                                                "n_students": "about 30", "n_rows": 300.0}, "lr-v2")))
    assert rows["Model"] == "lr-v2"
    # a count that is not an int: printed as given for students, left out for answers
    assert rows["Data"] == "as given; about 30 students"
    # n_test not given: 0 held-out answers
    assert rows["Split"] == "by time: fitted on 5,000 answers of other students, audited on 0 held-out answers"
    assert rows["Groups"] == "see the tables"
    rows = dict(_audited(_payload_for("model", {})))
    assert rows["Model"] == "not named" and rows["Data"] == "as given"


def test_audited_dif_counts_no_predicted_answers_and_takes_the_group_column_from_the_results() -> None:
    data = {"n_students": 40, "n_rows": 500}
    rows = dict(_audited(_payload_for("dif", data, results={"group_col": "gender"})))
    assert rows["Data"] == "as given; 40 students"
    assert rows["Split"] == "none: the data were audited as given"
    assert rows["Groups"] == "gender"
    assert rows["Outcome"] == "right or wrong on each question, students matched on their total score"
    assert rows["Audited"] == report.KIND_WORDS["dif"]


# ---- the model report, rendered: every number of a hand-made result ------------------------------------------------

FPR = [0.0, 0.5, 1.0]
TPR = {"F": [0.0, 0.75, 1.0], "M": [0.0, 0.5, 1.0], "U": [0.0, 0.25, 1.0]}


def _model_payload() -> dict[str, Any]:
    by_group = [
        {"metric": "auc", "attribute": "sex", "group": "F", "n_students": 120, "value": 0.81234, "ci_low": 0.75, "ci_high": 0.8712},
        {"metric": "auc", "attribute": "sex", "group": "M", "n_students": 1500, "value": 0.79, "ci_low": 0.7712, "ci_high": 0.81},
        {"metric": "made_up_metric", "attribute": "sex", "group": "F", "n_students": 120, "value": float("nan"),
         "ci_low": None, "ci_high": None},
    ]
    results = {
        "by_group": by_group, "identity_finding": "Group membership adds little.",
        "abroca": [
            {"attribute": "sex", "group": "F", "reference": "M", "abroca": 0.0456, "ci_low": 0.01, "ci_high": 0.08, "p_value": 0.2},
            # the reference of this pair has no ROC curve in the result (e.g. not estimable): no grey curve is drawn
            {"attribute": "ses", "group": "low", "reference": "high", "abroca": 0.00042, "ci_low": None, "ci_high": None,
             "p_value": None},
        ],
        "roc": [{"attribute": "sex", "group": g, "fpr": FPR, "tpr": t} for g, t in TPR.items()]
               + [{"attribute": "ses", "group": "low", "fpr": FPR, "tpr": TPR["F"]}],
        "reliability": [{"attribute": "sex", "group": "F", "predicted": [0.25, 0.5], "observed": [0.5, 0.75]},
                        {"attribute": "ses", "group": "low", "predicted": [0.1, 0.9], "observed": [0.2, 0.8]}],
    }
    return {
        "audit": "model", "status": "PASS", "policy": {"name": "default", "version": "2"}, "model_version": "set-7",
        "generated_at": "2026-01-02T03:04:05+00:00",
        "data": {"path": "preds.csv", "n_students": 1620, "n_rows": 20000, "model": "lr-v2"},
        "min_group_size": 10, "findings": ["A finding."], "checks": [], "check_status": {}, "check_notes": {},
        "policy_checks": [], "alpha": 0.05, "confidence": 0.95,
        "suppressed_groups": [{"table": "model", "stratum": None, "attribute": "sex", "group": "X"},
                              {"table": "gain_by_group", "stratum": None, "attribute": "ses", "group": "Y"}],
        "results": results,
        "identity_predictiveness": {"delta_auc": 0.01234, "delta_auc_ci": [-0.0021, 0.02679], "lr_stat": 7.4567,
                                    "p_value": 0.0234, "n_students": 250},
    }


def _table_after(markdown: str, heading: str) -> list[str]:
    lines = markdown.split(heading + "\n", 1)[1].split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    return lines[start:end]


def test_model_report_prints_the_group_tables() -> None:
    markdown = render_markdown(_model_payload())
    assert _table_after(markdown, "### auc: " + report.explain.METRIC_WORDS["auc"]) == [
        "| attribute | group | students | value | 95% CI |", "|---|---|---|---|---|",
        "| sex | F | 120 | 0.812 | 0.750 to 0.871 |",
        "| sex | M | 1500 | 0.790 | 0.771 to 0.810 |",
        "| sex | X | suppressed | suppressed |  |",       # hidden in the model tables; 'Y' is of another table
    ]
    # a metric without words is its own heading; its nan value and missing CI print n/a
    assert _table_after(markdown, "### made_up_metric") == [
        "| attribute | group | students | value | 95% CI |", "|---|---|---|---|---|",
        "| sex | F | 120 | n/a | n/a |", "| sex | X | suppressed | suppressed |  |"]
    assert "made_up_metric: " not in markdown


def test_model_report_prints_the_identity_test_and_abroca() -> None:
    markdown = render_markdown(_model_payload())
    assert _table_after(markdown, "## Identity-predictiveness test") == [
        "| delta AUC | 95% CI | LR statistic | p-value | students |", "|---|---|---|---|---|",
        "| 0.0123 | -0.002 to 0.027 | 7.46 | 0.023 | 250 |"]       # delta AUC 4 decimals, LR 2, p 3
    assert _table_after(markdown, "## ABROCA (area between ROC curves)") == [
        "| attribute | group | reference | ABROCA | 95% CI | permutation p |", "|---|---|---|---|---|---|",
        "| sex | F | M | 0.046 | 0.010 to 0.080 | 0.200 |",
        "| ses | low | high | 0.00042 | n/a | n/a |"]


def test_model_report_prints_the_data_summary() -> None:
    markdown = render_markdown(_model_payload())
    assert "| Data | preds.csv; 1,620 students, 20,000 predicted answers |" in markdown
    assert "| Model | lr-v2 (model set set-7) |" in markdown


def _panels(payload: dict[str, Any], heading: str) -> dict[str, ET.Element]:
    out = blocks(payload)
    at = out.index(("h3", heading))
    svgs = next(b for b in out[at:] if b[0] == "svgs")[1]
    trees = [ET.fromstring(s) for s in svgs]
    return {t.find(NS + "title").text: t for t in trees}


def _points(xs: list[float], ys: list[float]) -> str:
    # the panel frame is x 30..204 (left to right) and y 174..22 (bottom to top): see the module docstring
    return " ".join(f"{30 + 174 * x:.1f},{174 - 152 * y:.1f}" for x, y in zip(xs, ys))


def _lines(panel: ET.Element, stroke: str) -> list[str]:
    return [p.get("points") for p in panel.iter(NS + "polyline") if p.get("stroke") == stroke]


def test_model_report_roc_panels_label_each_group_and_draw_the_reference_under_the_others() -> None:
    panels = _panels(_model_payload(), "ROC curves by sex, one panel per group")
    assert set(panels) == {"F: ABROCA 0.046", "M (reference)", "U"}   # U has no ABROCA pair and is not the reference
    f, m, u = panels["F: ABROCA 0.046"], panels["M (reference)"], panels["U"]
    # each panel draws its own group's curve in blue, at the pixels of its (fpr, tpr) points
    assert _lines(f, INK) == [_points(FPR, TPR["F"])] == ["30.0,174.0 117.0,60.0 204.0,22.0"]
    assert _lines(m, INK) == [_points(FPR, TPR["M"])]
    assert _lines(u, INK) == [_points(FPR, TPR["U"])]
    # the reference (M) in grey on the other groups' panels, with its name and the ABROCA area; not on its own panel
    for panel in (f, u):
        assert _lines(panel, GREY) == [_points(FPR, TPR["M"])]
        assert [t.text for t in panel.iter(NS + "text") if t.get("fill") == GREY] == ["grey: M"]
        polygon = panel.find(NS + "polygon").get("points")
        mine = TPR["F"] if panel is f else TPR["U"]
        assert polygon == _points(FPR + FPR[::-1], mine + TPR["M"][::-1])
    assert _lines(m, GREY) == [] and m.find(NS + "polygon") is None
    assert not [t for t in m.iter(NS + "text") if t.get("fill") == GREY]


def test_model_report_roc_panel_without_the_reference_curve_and_calibration_panels_per_attribute() -> None:
    payload = _model_payload()
    ses = _panels(payload, "ROC curves by ses, one panel per group")
    assert set(ses) == {"low: ABROCA 0.00042"}
    low = ses["low: ABROCA 0.00042"]
    assert _lines(low, GREY) == [] and low.find(NS + "polygon") is None     # the reference has no curve
    assert [t.text for t in low.iter(NS + "text") if t.get("fill") == GREY] == ["grey: high"]
    # calibration panels: one per group of that attribute only, dots at the pixels of (predicted, observed)
    sex = _panels(payload, "Calibration by sex, one panel per group")
    assert set(sex) == {"F"}
    dots = [(float(c.get("cx")), float(c.get("cy"))) for c in sex["F"].iter(NS + "circle")]
    assert dots == [(73.5, 98.0), (117.0, 60.0)]     # (0.25, 0.5) and (0.5, 0.75) by hand
    assert set(_panels(payload, "Calibration by ses, one panel per group")) == {"low"}


def test_html_report_prints_the_same_numbers() -> None:
    html = render_html(_model_payload())
    cells = re.findall(r"<td class='[^']*'>([^<]*)</td>", html)
    for number in ("0.812", "0.750 to 0.871", "1500", "0.0123", "-0.002 to 0.027", "7.46", "0.023", "0.046",
                   "0.010 to 0.080", "0.00042"):
        assert number in cells, number


# ---- write_reports ------------------------------------------------------------------------------------------------

def test_write_reports_writes_both_files_into_new_folders_and_overwrites(tmp_path: Path) -> None:
    payload = _model_payload()
    html, markdown = tmp_path / "a" / "b" / "report.html", tmp_path / "c" / "d" / "report.md"
    write_reports(payload, html=html, markdown=str(markdown))
    assert html.read_text().startswith("<!DOCTYPE html>") and html.read_text() == render_html(payload)
    text = markdown.read_text()
    assert text.startswith("# Fairness audit: model\n") and text == render_markdown(payload)
    assert "| sex | F | 120 | 0.812 | 0.750 to 0.871 |" in text
    # again into the same (now existing) folders, with another result: the files are replaced
    payload["identity_predictiveness"]["lr_stat"] = 1.0
    write_reports(payload, html=html, markdown=markdown)
    assert "| 0.0123 | -0.002 to 0.027 | 1.00 | 0.023 | 250 |" in markdown.read_text()
    assert html.read_text() == render_html(payload)


def test_write_reports_writes_only_what_is_asked(tmp_path: Path) -> None:
    write_reports(_model_payload(), markdown=tmp_path / "only.md")
    assert [p.name for p in tmp_path.iterdir()] == ["only.md"]
    write_reports(_model_payload())
    assert [p.name for p in tmp_path.iterdir()] == ["only.md"]
    assert (tmp_path / "only.md").read_text().startswith("# Fairness audit: model\n")
