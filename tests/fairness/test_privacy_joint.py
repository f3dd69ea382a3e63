"""Small-group privacy across the tables of one output (engine.fairness.groups.plan_suppression in MetricFrame and
the audits), against hand-built populations whose hidden cells could otherwise be worked out by subtraction."""

from __future__ import annotations

import polars as pl

from engine.fairness.metricframe import MetricFrame
from engine.fairness.metrics import RatioMetric
from engine.fairness.outcome_audit import audit_outcomes

FAST = dict(n_boot=25, min_group_size=10)


def test_outcome_audit_hides_a_group_total_or_a_second_quartile_cell() -> None:
    # 40 students per quartile band of prior score: group C has 3 in the lowest quartile, 13 in each other one;
    # shown, C's total gain and its three other quartile cells would give its lowest-quartile students' gain
    rows, groups = [], []
    for q, (n_a, n_c) in enumerate([(37, 3), (27, 13), (27, 13), (27, 13)]):
        for g, n in (("A", n_a), ("C", n_c)):
            for _ in range(n):
                sid = f"s{len(rows)}"
                pre = q + 0.5 * len(rows) / 200  # quartile q's pre scores all lie in [q, q + 1)
                rows.append({"student_id": sid, "pre": pre, "post": pre + (0.3 if g == "C" else 0.1)})
                groups.append({"student_id": sid, "grp": g})
    audit = audit_outcomes(pl.DataFrame(rows), pl.DataFrame(groups), "grp", **FAST)
    within = {(r["stratum"], r["group"]) for r in audit.to_dict()["gain_by_group_within_quartile"]}
    total_shown = any(r["group"] == "C" for r in audit.to_dict()["gain_by_group"])
    c_hidden = [q for q in ("Q1", "Q2", "Q3", "Q4") if (q, "C") not in within]
    assert "Q1" in c_hidden
    assert not total_shown or len(c_hidden) >= 2


def test_an_unrostered_count_is_withheld_when_the_missing_group_is_hidden() -> None:
    ids = [f"s{i}" for i in range(103)]
    data = pl.DataFrame({"student_id": ids, "ok": [float(i % 2) for i in range(103)]})
    roster = pl.DataFrame({"student_id": ids[:100], "gender": ["F"] * 60 + ["M"] * 40})  # 3 without a roster row
    frame = MetricFrame(data, [RatioMetric("rate", "ok")], "gender", roster=roster, **FAST)
    # (missing) has 3 students: hidden, M with it; publishing "3 without a roster row" would undo both
    assert {s["group"] for s in frame.suppressed} == {"(missing)", "M"}
    assert frame.students_without_roster is None
    shown = MetricFrame(data, [RatioMetric("rate", "ok")], "gender", roster=roster, n_boot=25, min_group_size=3)
    assert shown.students_without_roster == 3 and not shown.suppressed


def test_a_rate_over_a_few_of_a_groups_students_is_withheld() -> None:
    # B has 30 students but only 2 of them ever reach declared mastery: its mastery success rate describes 2 students
    rows = []
    for i in range(60):
        g = "A" if i < 30 else "B"
        for k in range(10):
            m = 1.0 if (g == "A" or i in (30, 31)) and k >= 5 else 0.0
            y = float(k % 3 != 0)
            rows.append({"student_id": f"s{i}", "g": g, "y": y, "m_one": m, "m_y": m * y, "one_y": y})
    frame = MetricFrame(pl.DataFrame(rows), [RatioMetric("mastery_success", "m_y", "m_one"), RatioMetric("accuracy", "one_y")],
                        "g", **FAST)
    values = {(r["group"], r["metric"]): r["value"] for r in frame.by_group.to_dicts()}
    assert ("B", "mastery_success") not in values and values[("B", "accuracy")] == 0.6  # 6 of each 10 answers right
    assert values[("A", "mastery_success")] == 0.6  # answers k = 5..9 at mastery: wrong at k = 6 and 9, so 3 of 5
    assert frame.withheld == [{"stratum": None, "attribute": "g", "group": "B", "metric": "mastery_success"}]
