"""Edge cases of the assembled audit result (engine/fairness/results.py) that the mutation run showed untested.

References: the documented payload (suppression list with and without labels, findings in words, the gate
re-run on stored evidence) worked by hand on small audits whose gate outcome is known by construction.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl

from engine.fairness.gate import FAIL, INSUFFICIENT, PASS, evaluate_policy, load_policy, parse_policy
from engine.fairness.item_audit import ItemAudit
from engine.fairness.outcome_audit import audit_outcomes
from engine.fairness.recommendation_audit import audit_recommendations
from engine.fairness.results import _fmt, assemble, audit_kind, findings, regate, suppressed_groups

OUTCOME_POLICY = """
policy = "grow"
version = "2"
[[checks]]
name = "grows"
audit = "outcomes"
metric = "gain"
compare = "value"
min = 0
"""


def _outcomes(gain_x: float, n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = [f"s{i:02d}" for i in range(n)]
    group = ["x" if i % 3 == 0 else "y" if i % 3 == 1 else "z" for i in range(n)]
    group[-2:] = ["tiny", "tiny"]
    pre = rng.random(n)
    post = pre + np.where(np.array(group) == "x", gain_x, 0.2) + rng.normal(0, 0.01, n)
    return pl.DataFrame({"student_id": ids, "pre": pre, "post": post}), pl.DataFrame({"student_id": ids, "g": group})


def test_suppressed_groups_with_and_without_labels() -> None:
    outcomes, roster = _outcomes(0.2)
    audit = audit_outcomes(outcomes, roster, "g", n_boot=20, min_group_size=5)
    shown = suppressed_groups(audit, True)
    assert {"table": "gain_by_group", "stratum": None, "attribute": "g", "group": "tiny"} in shown
    assert all(e["table"] in ("gain_by_group", "gain_by_quartile") for e in shown)
    counts = suppressed_groups(audit, False)
    assert all("group" not in e for e in counts)
    total = {}
    for e in shown:
        key = (e["table"], e["stratum"], e["attribute"])
        total[key] = total.get(key, 0) + 1
    assert counts == [{"table": t, "stratum": s, "attribute": a, "count": n} for (t, s, a), n in total.items()]
    item = ItemAudit("gender", "rest", ["F", "X"], 40, None, suppressed_groups=["X"])
    assert suppressed_groups(item, True) == [{"table": "dif", "stratum": None, "attribute": "gender", "group": "X"}]
    assert suppressed_groups(item, False) == [{"table": "dif", "stratum": None, "attribute": "gender", "count": 1}]


def test_overall_suppression_is_listed_as_all_students() -> None:
    outcomes, roster = _outcomes(0.2, n=12)
    audit = audit_outcomes(outcomes, roster, "g", n_boot=10, min_group_size=5)
    hidden = [e for e in suppressed_groups(audit, True) if e["attribute"] == "(all students)"]
    assert hidden and all(e["group"] == "(all students)" and e["table"] == "gain_by_quartile" for e in hidden)


def test_fmt() -> None:
    assert (_fmt(None), _fmt(0.12345), _fmt(3), _fmt("a")) == ("n/a", "0.123", "3", "a")


def test_payload_findings_and_regate_for_a_failing_group() -> None:
    outcomes, roster = _outcomes(-0.2)
    audit = audit_outcomes(outcomes, roster, "g", n_boot=40, min_group_size=5)
    policy = parse_policy(OUTCOME_POLICY)
    payload = assemble(audit, policy, model_version="m/1", data={"rows": 60})
    assert (payload["audit"], payload["status"], payload["model_version"], payload["data"]) == ("outcomes", FAIL, "m/1", {"rows": 60})
    assert payload["policy"] == {"name": "grow", "version": "2", "source": "<string>"}
    assert payload["min_group_size"] == 10 and payload["alpha"] == 0.05 and payload["confidence"] == 0.95
    assert payload["check_status"] == {"grows": FAIL} and payload["results"] == audit.to_dict()
    assert payload["evidence"] == audit.evidence() and payload["policy_checks"][0]["name"] == "grows"
    assert payload["suppressed_groups"] == suppressed_groups(audit, True)
    assert payload["generated_at"].endswith("+00:00") and "identity_predictiveness" not in payload and "items" not in payload
    words = payload["findings"]
    assert words[0] == "Overall, this outcomes audit fails the policy 'grow' (version 2)."
    failing = [c for c in payload["checks"] if c["status"] == FAIL and c["stratum"] is None]
    (row,) = failing
    lo, hi = row["ci"]
    assert f"FAIL grows: g = x: gain value = {row['value']:.3f} (CI {lo:.3f} to {hi:.3f})." in words
    assert any(w.startswith("FAIL grows: g = x in mastery band/stratum Q") for w in words)
    assert words[-1] == "At least one shown row does not show a gain whose interval lies above zero."
    again = regate([payload], policy)
    assert again.status == FAIL and again.check_status == {"grows": FAIL}
    both = regate([payload, {"audit": "outcomes", "evidence": []}], load_policy())
    assert both.check_status["auc_shortfall"] == INSUFFICIENT


def test_findings_for_undecided_and_passing_checks() -> None:
    outcomes, roster = _outcomes(0.2)
    audit = audit_outcomes(outcomes, roster, "g", n_boot=40, min_group_size=5)
    policy = replace(parse_policy(OUTCOME_POLICY), burden_of_proof="model")
    passing = assemble(audit, policy)
    assert passing["status"] == PASS
    assert passing["findings"] == ["Overall, this outcomes audit passes the policy 'grow' (version 2).",
                                   "Every shown row (groups, prior-achievement quartiles, groups within quartiles) gains."]
    strict = parse_policy(OUTCOME_POLICY.replace("min = 0", "min = 0.199"))  # the gain sits on the bound: undecided
    undecided = assemble(audit, strict)
    assert undecided["status"] == INSUFFICIENT
    n = sum(1 for c in undecided["checks"] if c["status"] == INSUFFICIENT)
    note = undecided["check_notes"]["grows"]
    assert (f"Not enough evidence for grows: {n} comparison(s) could not be decided (intervals straddle the bound or "
            f"could not be estimated; more students would decide them); {note}.") in undecided["findings"]
    assert undecided["findings"][0] == ("Overall, this outcomes audit does not have enough evidence to pass the policy "
                                        "'grow' (version 2).")


def test_findings_of_a_recommendation_audit_and_kinds() -> None:
    rows = [{"student_id": f"s{i}", "rank": 1, "level": "core", "kind": "practice", "mastery_band": "mid", "timestamp": 0}
            for i in range(12)]
    roster = pl.DataFrame({"student_id": [f"s{i}" for i in range(12)], "g": ["a"] * 6 + ["b"] * 6})
    audit = audit_recommendations(pl.DataFrame(rows), roster, "g", min_group_size=3, n_boot=20)
    assert audit_kind(audit) == "recommendations"
    payload = assemble(audit, load_policy())
    assert payload["audit"] == "recommendations"
    notes = payload["check_notes"]
    assert notes["remedial_to_advanced_ratio"].startswith("not applicable: no student of any group started on remedial")
    assert "Not enough evidence" not in " ".join(f for f in payload["findings"] if "remedial_to_advanced" in f)
    table_names = {e["table"] for e in suppressed_groups(audit, True)}
    assert table_names <= set(audit.frames)
    gate = evaluate_policy(load_policy(), {"recommendations": audit.evidence()}, audits=["recommendations"])
    assert findings("recommendations", audit, gate)[0].startswith("Overall, this recommendations audit ")


def test_a_check_without_rows_is_explained_by_its_note_alone() -> None:
    outcomes, roster = _outcomes(0.2)
    audit = audit_outcomes(outcomes, roster, "g", n_boot=20, min_group_size=5)
    policy = parse_policy(OUTCOME_POLICY + '\n[[checks]]\nname = "exposure"\naudit = "recommendations"\n'
                          'metric = "advanced_exposure"\ncompare = "ratio"\nmin = 0.8\n')
    gate = evaluate_policy(policy, {"outcomes": audit.evidence()})
    words = findings("outcomes", audit, gate)
    assert "Not enough evidence for exposure: no recommendations audit was supplied." in words


def test_findings_of_item_audits_name_the_flagged_items() -> None:
    from engine.fairness.dif import DifItem, DifResult

    items = [DifItem("q2", "f", "r", 20, 20, 9.0, 0.001, p_adjusted=0.001, flag_for_review=True, ets_class="C"),
             DifItem("q1", "f", "r", 20, 20, 9.0, 0.001, p_adjusted=0.001, flag_for_review=True, ets_class="C"),
             DifItem("q3", "f", "r", 20, 20, 0.1, 0.7, p_adjusted=0.7, ets_class="A")]
    audit = ItemAudit("g", "r", ["f"], 40, DifResult("mh", items, "score", False, 0, True, "none", 0.05))
    gate = evaluate_policy(load_policy(), {"dif": audit.evidence()}, audits=["dif"])
    assert findings("dif", audit, gate)[-1] == ("2 item(s) show large differential functioning (class C) and should be "
                                                "withheld until reviewed: q1, q2.")
    clean = ItemAudit("g", "r", ["f"], 40, DifResult("mh", items[2:], "score", False, 0, True, "none", 0.05))
    assert findings("dif", clean, gate)[-1] == ("0 item(s) show large differential functioning (class C) and should be "
                                                "withheld until reviewed.")
    payload = assemble(audit, load_policy())
    assert payload["items"] == payload["results"]["items"] and len(payload["items"]) == 3


def test_model_audit_findings_report_roc_curves_that_differ() -> None:
    from engine.fairness.model_audit import audit_model

    rng = np.random.default_rng(5)
    rows = []
    for g, informative in (("A", True), ("B", False)):
        for s in range(14):
            for _ in range(10):
                y = float(rng.random() < 0.5)
                p = float(np.clip((0.8 if y else 0.2) + rng.normal(0, 0.1), 0.01, 0.99)) if informative else float(rng.uniform(0.01, 0.99))
                rows.append({"student_id": f"{g}{s}", "correct": y, "p": p, "grp": g})
    audit = audit_model(pl.DataFrame(rows), "grp", n_boot=20, n_permutations=30, n_folds=3)
    policy = load_policy()
    payload = assemble(audit, policy)
    (a,) = audit.abroca
    assert a["p_value"] < 0.05
    sentence = (f"The ROC curves of grp = B and A differ more than chance would explain (ABROCA {a['abroca']:.3f}, "
                f"permutation p = {a['p_value']:.3g}, holm-adjusted over 1 comparisons: {a['p_value']:.3g}).")
    assert sentence in payload["findings"]
    assert audit.finding(policy.alpha) in payload["findings"]
    ident = payload["identity_predictiveness"]
    assert ident == {**audit.identity.to_dict()} and list(ident)[:3] == ["delta_auc", "lr_stat", "p_value"]
