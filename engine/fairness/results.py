"""Assemble an audit's JSON result: gate status, checks, plain-language findings, suppression list, tables.

The result is built only from suppression-safe objects (a suppressed group has no number anywhere in
them), and the reports are rendered only from this result, so no report can show a suppressed group's
numbers. With `show_suppressed_labels = false` in the policy even the names of suppressed groups are
replaced by a count per attribute.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np

from engine.fairness.explain import check_definitions
from engine.fairness.gate import FAIL, INSUFFICIENT, PASS, GateResult, Policy, evaluate_policy
from engine.fairness.item_audit import ItemAudit
from engine.fairness.metricframe import MetricFrame
from engine.fairness.model_audit import ModelAudit
from engine.fairness.outcome_audit import OutcomeAudit
from engine.fairness.recommendation_audit import RecommendationAudit
from engine.fairness.stats import adjust_pvalues

Audit = ModelAudit | ItemAudit | RecommendationAudit | OutcomeAudit
KINDS = {ModelAudit: "model", ItemAudit: "dif", RecommendationAudit: "recommendations", OutcomeAudit: "outcomes"}


def audit_kind(audit: Audit) -> str:
    return KINDS[type(audit)]


def _frames(audit: Audit) -> list[tuple[str, MetricFrame]]:
    if isinstance(audit, ModelAudit):
        return [("model", audit.frame)]
    if isinstance(audit, RecommendationAudit):
        return list(audit.frames.items())
    if isinstance(audit, OutcomeAudit):
        return [("gain_by_group", audit.by_group), ("gain_by_quartile", audit.by_quartile)]
    return []


def suppressed_groups(audit: Audit, show_labels: bool) -> list[dict[str, Any]]:
    """Every hidden group (no reason given per group, so the small one cannot be told from its complement)."""
    entries: list[dict[str, Any]] = []
    for table, frame in _frames(audit):
        entries += [{"table": table, "stratum": s["stratum"], "attribute": s["attribute"] or "(all students)",
                     "group": s["group"] if s["attribute"] else "(all students)"} for s in frame.suppressed]
    if isinstance(audit, ItemAudit):
        entries += [{"table": "dif", "stratum": None, "attribute": audit.group_col, "group": g} for g in audit.suppressed_groups]
    if show_labels:
        return entries
    counts: dict[tuple[str, Any, str], int] = {}
    for e in entries:
        key = (e["table"], e["stratum"], e["attribute"])
        counts[key] = counts.get(key, 0) + 1
    return [{"table": t, "stratum": s, "attribute": a, "count": n} for (t, s, a), n in counts.items()]


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def findings(kind: str, audit: Audit, gate: GateResult) -> list[str]:
    """Plain-language statements, most important first."""
    out = []
    words = {PASS: "passes", FAIL: "fails", INSUFFICIENT: "does not have enough evidence to pass"}
    out.append(f"Overall, this {kind} audit {words[gate.status]} the policy {gate.policy.name!r} (version {gate.policy.version}).")
    z_rows = gate.to_dict()["checks"]
    for row in z_rows:
        if row["status"] == FAIL:
            where = f"{row['attribute']} = {row['group']}" + (f" in mastery band/stratum {row['stratum']}" if row["stratum"] else "")
            ref = f" against {row['reference']}" if row["reference"] else ""
            ci = row["ci"]
            interval = "" if ci[0] == ci[1] else f" (CI {_fmt(ci[0])} to {_fmt(ci[1])})"
            out.append(f"FAIL {row['name']}: {where}{ref}: {row['metric']} {row['compare']} = {_fmt(row['value'])}{interval}.")
    for name, status in gate.check_status.items():
        if status == INSUFFICIENT:
            undecided = sum(1 for r in z_rows if r["name"] == name and r["status"] == INSUFFICIENT)
            notes = ([f"{undecided} comparison(s) could not be decided (intervals straddle the bound or could not be "
                      "estimated; more students would decide them)"] if undecided else [])
            notes += [gate.check_notes[name]] if name in gate.check_notes else []
            out.append(f"Not enough evidence for {name}: {'; '.join(notes)}.")
    if isinstance(audit, ModelAudit):
        out.append(audit.finding(gate.policy.alpha))
        method = gate.policy.multiple_comparisons
        adjusted = adjust_pvalues(np.array([a["p_value"] for a in audit.abroca]), method)
        for a, p_adj in zip(audit.abroca, adjusted):
            if p_adj < gate.policy.alpha:
                out.append(f"The ROC curves of {a['attribute']} = {a['group']} and {a['reference']} differ more than chance "
                           f"would explain (ABROCA {a['abroca']:.3f}, permutation p = {a['p_value']:.3g}, "
                           f"{method}-adjusted over {len(adjusted)} comparisons: {p_adj:.3g}).")
    if isinstance(audit, ItemAudit) and audit.result is not None:
        flagged = audit.result.flagged
        out.append(f"{len(flagged)} item(s) show large differential functioning (class C) and should be withheld until "
                   f"reviewed" + (f": {', '.join(flagged)}." if flagged else "."))
    if isinstance(audit, OutcomeAudit):
        out.append("Every shown row (groups, prior-achievement quartiles, groups within quartiles) gains."
                   if audit.every_row_grows() else "At least one shown row does not show a gain whose interval lies above zero.")
    return out


def assemble(audit: Audit, policy: Policy, *, model_version: str | None = None,
             data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The full, suppression-safe JSON result of one audit under `policy`."""
    kind = audit_kind(audit)
    evidence = audit.evidence()
    gate = evaluate_policy(policy, {kind: evidence}, audits=[kind])
    body = gate.to_dict()
    payload: dict[str, Any] = {
        "audit": kind, "status": body["status"], "policy": body["policy"], "model_version": model_version,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": data or {}, "min_group_size": policy.min_group_size,
        "findings": findings(kind, audit, gate),
        "checks": body["checks"], "check_status": body["check_status"], "check_notes": body["check_notes"],
        "policy_checks": check_definitions(policy), "alpha": policy.alpha, "confidence": policy.confidence,
        "suppressed_groups": suppressed_groups(audit, policy.show_suppressed_labels),
        "results": audit.to_dict(), "evidence": evidence,
    }
    if isinstance(audit, ModelAudit):
        ident = audit.identity.to_dict()
        payload["identity_predictiveness"] = {"delta_auc": ident["delta_auc"], "lr_stat": ident["lr_stat"],
                                              "p_value": ident["p_value"], **ident}
    if isinstance(audit, ItemAudit):
        payload["items"] = payload["results"]["items"]
    return payload


def regate(payloads: list[dict[str, Any]], policy: Policy) -> GateResult:
    """Evaluate a (possibly different) policy on stored audit results; checks of absent audits are insufficient."""
    evidence: dict[str, list[dict[str, Any]]] = {}
    for payload in payloads:
        evidence.setdefault(payload["audit"], []).extend(payload["evidence"])
    return evaluate_policy(policy, evidence)
