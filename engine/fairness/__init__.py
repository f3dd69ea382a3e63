"""Fairness audit: disaggregated metrics, DIF, recommendation and outcome audits, the gate and reports.

Demographic attributes enter the engine only here (read from a roster), never a model or recommender.

    from engine.fairness import MetricFrame, audit_model, audit_items, audit_recommendations, audit_outcomes
    from engine.fairness import load_policy, assemble, render_html
    from engine.fairness import blocked_items   # DIF class C items -> RecommenderConfig.blocked_items
"""

from engine.fairness.blocklist import blocked_items, blocklist_document
from engine.fairness.dif import logistic_dif, mh_dif
from engine.fairness.gate import FAIL, INSUFFICIENT, PASS, GateResult, Policy, evaluate_policy, load_policy, parse_policy
from engine.fairness.groups import GroupSpec, parse_group_specs, suppress_cells
from engine.fairness.item_audit import ItemAudit, audit_items
from engine.fairness.metricframe import MetricFrame
from engine.fairness.metrics import AUCMetric, ECEMetric, RatioMetric
from engine.fairness.model_audit import ModelAudit, audit_model
from engine.fairness.outcome_audit import OutcomeAudit, audit_outcomes, outcomes_from_log
from engine.fairness.recommendation_audit import ExposureConfig, RecommendationAudit, audit_recommendations
from engine.fairness.report import render_html, render_markdown, write_reports
from engine.fairness.results import assemble, regate

__all__ = [
    "AUCMetric", "ECEMetric", "ExposureConfig", "FAIL", "GateResult", "GroupSpec", "INSUFFICIENT", "ItemAudit",
    "MetricFrame", "ModelAudit", "OutcomeAudit", "PASS", "Policy", "RatioMetric", "RecommendationAudit", "assemble",
    "audit_items", "audit_model", "blocked_items", "blocklist_document", "audit_outcomes", "audit_recommendations", "evaluate_policy", "load_policy",
    "logistic_dif", "mh_dif", "outcomes_from_log", "parse_group_specs", "parse_policy", "regate", "render_html",
    "render_markdown", "suppress_cells", "write_reports",
]
