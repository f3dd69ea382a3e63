"""Audit of a mastery or prediction model: accuracy, calibration, ABROCA and identity-predictiveness by group.

Input: a predictions table, one row per predicted response,

| column | type | meaning |
|---|---|---|
| `student_id` | Utf8 | who answered |
| `correct` | Float64 in [0, 1] | observed outcome (label `>= 0.5` for AUC) |
| `p` | Float64 in [0, 1] | the model's predicted probability of success, made before the outcome |
| `mastered` (optional) | Boolean | the model had declared the skill mastered when the item was served |

plus a roster (`student_id` + group columns) or the group columns on the same rows. Column names can be
remapped. Missing outcomes or predictions are an error, never skipped.

Output (`ModelAudit`): per group AUC, RMSE, log-loss, ECE and mean residual (observed - predicted:
positive = the model under-estimates the group); at declared mastery, observed success and its gap to
the prediction (negative = mastery over-estimated); reliability curves and ROC curves of the shown
groups; ABROCA of every shown group against the largest group of its attribute, with a permutation test
and bootstrap interval; and the identity-predictiveness test.

With `split_col` (a row-level column, e.g. whether the answer was the student's first on the item's skill), the
mean residual of every group is also given inside each value of that column (`calibration_by_split`), with the
same student bootstrap and suppression. It describes and is not gated: where a group is over-estimated, it says
whether on a skill's cold start or on skills already practised, which call for different remedies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from engine.fairness.groups import MISSING_LABEL, GroupSpec, label_expr
from engine.fairness.identity import IdentityResult, identity_predictiveness
from engine.fairness.metricframe import OVERALL, MetricFrame
from engine.fairness.metrics import AUCMetric, ECEMetric, RatioMetric
from engine.fairness.roc import abroca_test, roc_curve
from engine.fairness.validation import check_values, require_columns
from engine.evaluation.metrics import reliability_curve

EPS = 1e-7
ROC_GRID = np.linspace(0.0, 1.0, 101)


def model_metrics(with_mastery: bool) -> list[Any]:
    """The metrics of a model audit (columns prepared by `prepare_rows`)."""
    metrics: list[Any] = [
        AUCMetric(),
        RatioMetric("rmse", "sq_err", higher_is_better=False, sqrt=True),
        RatioMetric("logloss", "loss", higher_is_better=False),
        ECEMetric(),
        RatioMetric("mean_residual", "resid", higher_is_better=True),
    ]
    if with_mastery:
        metrics += [
            RatioMetric("mastery_success", "m_y", "m_one", higher_is_better=True),
            RatioMetric("mastery_gap", "m_resid", "m_one", higher_is_better=True),
        ]
    return metrics


def prepare_rows(predictions: pl.DataFrame, *, y_col: str, p_col: str, student_col: str,
                 mastery_col: str | None) -> pl.DataFrame:
    """Validate the predictions and add the per-row columns the metrics sum."""
    require_columns(predictions, [student_col, y_col, p_col, *([mastery_col] if mastery_col else [])], "predictions")
    check_values(predictions, "predictions", not_null=[student_col, y_col, p_col, *([mastery_col] if mastery_col else [])],
                 unit_interval=[y_col, p_col])
    y, p = pl.col(y_col).cast(pl.Float64), pl.col(p_col).cast(pl.Float64)
    q = p.clip(EPS, 1 - EPS)
    rows = predictions.with_columns(
        pl.col(student_col).cast(pl.Utf8), y.alias("y"), p.alias("p"), ((y - p) ** 2).alias("sq_err"),
        (-(y * q.log() + (1 - y) * (1 - q).log())).alias("loss"), (y - p).alias("resid"),
    )
    if mastery_col:
        m = pl.col(mastery_col).cast(pl.Float64)
        rows = rows.with_columns((m * pl.col("y")).alias("m_y"), (m * pl.col("resid")).alias("m_resid"), m.alias("m_one"))
    return rows


@dataclass
class ModelAudit:
    frame: MetricFrame
    identity: IdentityResult
    identity_by_attribute: dict[str, IdentityResult]
    abroca: list[dict[str, Any]] = field(default_factory=list)
    reliability: list[dict[str, Any]] = field(default_factory=list)
    roc: list[dict[str, Any]] = field(default_factory=list)
    split: MetricFrame | None = None  # the mean residual within each value of its stratum column (descriptive, not gated)

    def evidence(self) -> list[dict[str, Any]]:
        """Group tables plus single-value statistics (ABROCA, identity-predictiveness) for the gate."""
        out = [{"kind": "groups", **e} for e in self.frame.evidence("model")]
        for a in self.abroca:
            out.append({"kind": "value", "audit": "model", "metric": "abroca", "higher_is_better": False,
                        "stratum": None, "attribute": a["attribute"], "group": a["group"], "reference": a["reference"],
                        "estimate": a["abroca"], "se": a["se"], "p_value": a["p_value"], "n_students": a["n_students"],
                        "ci": [a["ci_low"], a["ci_high"]], "null": a["null"], "boot": a["boot"],
                        "n_permutations": a["n_permutations"]})
        ident = self.identity
        out.append({"kind": "value", "audit": "model", "metric": "identity_delta_auc", "higher_is_better": False,
                    "stratum": None, "attribute": "+".join(s.name for s in self.frame.specs), "group": "all",
                    "reference": None, "estimate": ident.delta_auc, "se": ident.delta_auc_se,
                    "p_value": ident.p_value, "n_students": ident.n_students,
                    "suppressed": not self.identity_tested})
        return out

    @property
    def identity_tested(self) -> bool:
        """False when every group was suppressed, so there was no group membership to add."""
        return self.identity.n_group_parameters > 0

    def finding(self, alpha: float = 0.05) -> str:
        """Plain-language statement of the identity-predictiveness result with its test."""
        i = self.identity
        if not self.identity_tested:
            return ("Identity-predictiveness was not tested: every group is below the minimum size, so there is no "
                    "group membership that may be used.")
        test = (f"cross-fitted likelihood-ratio test over {i.n_students} students: LR = {i.lr_stat:.2f}, "
                f"one-sided p = {i.p_value:.3g}; change in AUC = {i.delta_auc:+.4f} "
                f"(95% CI {i.delta_auc_ci[0]:+.4f} to {i.delta_auc_ci[1]:+.4f})")
        if i.p_value < alpha:
            return ("Group membership improves the prediction of outcomes beyond the model's own prediction, so the "
                    "learning data does not fully explain outcomes for these groups (" + test + ").")
        return ("Adding group membership does not detectably improve the prediction of outcomes beyond the model's "
                "own prediction (" + test + ").")

    def to_dict(self) -> dict[str, Any]:
        return {
            "by_group": self.frame.by_group.to_dicts(),
            "overall": self.frame.overall.to_dicts(),
            "abroca": [{k: v for k, v in a.items() if k not in ("null", "boot")} for a in self.abroca],  # samples: evidence only
            "identity_predictiveness": self.identity.to_dict(),
            "identity_predictiveness_by_attribute": {k: v.to_dict() for k, v in self.identity_by_attribute.items()},
            "identity_finding": self.finding(),
            "reliability": self.reliability,
            "roc": self.roc,
            "students_without_roster": self.frame.students_without_roster,
            "calibration_by_split": self.calibration_by_split(),
        }

    def calibration_by_split(self) -> dict[str, Any] | None:
        """The mean residual per shown group and overall inside each value of the split column (None without one);
        cells below the minimum size are counted per value, never named or given a number."""
        if self.split is None:
            return None
        hidden: dict[str, int] = {}
        for cell in self.split.suppressed:
            hidden[str(cell["stratum"])] = hidden.get(str(cell["stratum"]), 0) + 1
        return {"column": self.split.stratum_col, "metric": "mean_residual", "by_group": self.split.by_group.to_dicts(),
                "overall": [{**r, "attribute": "", "group": "all students"} for r in self.split.overall.to_dicts()],
                "suppressed_cells": hidden}


def _curves_at_grid(y: np.ndarray, p: np.ndarray) -> list[float]:
    fpr, tpr = roc_curve(y, p)
    if np.isnan(fpr).any():
        return []
    return np.interp(ROC_GRID, fpr, tpr).round(4).tolist()


def audit_model(
    predictions: pl.DataFrame,
    groups: str | Iterable[str | GroupSpec],
    *,
    roster: pl.DataFrame | None = None,
    y_col: str = "correct",
    p_col: str = "p",
    student_col: str = "student_id",
    mastery_col: str | None = None,
    min_group_size: int = 10,
    n_boot: int = 200,
    n_permutations: int = 200,
    n_folds: int = 5,
    confidence: float = 0.95,
    random_state: int | None = 0,
    progress: Callable[[int, int | None, str], None] | None = None,
    split_col: str | None = None,
) -> ModelAudit:
    """Run the whole model audit; see the module docstring for the input table (and `split_col`).

    `progress(done, total, text)`, when given, is called as each stage starts (the bootstrapped metrics, each
    ABROCA comparison, each identity-predictiveness test; `total` is None until the groups are known) and
    once at the end. It does not change the results."""
    report = progress or (lambda done, total, text: None)
    report(0, None, "metrics by group (bootstrap)")
    rows = prepare_rows(predictions, y_col=y_col, p_col=p_col, student_col=student_col, mastery_col=mastery_col)
    if split_col is not None:
        require_columns(rows, [split_col], "predictions")
    frame = MetricFrame(rows, model_metrics(mastery_col is not None), groups, roster=roster, student_col=student_col,
                        margin_stratum_col=split_col, min_group_size=min_group_size, n_boot=n_boot, confidence=confidence,
                        random_state=random_state)
    labelled = _labelled_rows(rows, frame, roster, student_col)
    y, p = labelled["y"].to_numpy(), labelled["p"].to_numpy()
    student = labelled["__idx__"].to_numpy()
    shown = {(k.attribute, k.group) for k in frame.points if k.group != OVERALL}
    abroca, reliability, curves = [], [], []
    suppressed = {(s["attribute"], s["group"]) for s in frame.suppressed}
    n_abroca = sum(max(len({g for a, g in shown if a == spec.name} - {frame.reference_group(None, spec.name, "auc", "largest")}), 0)
                   for spec in frame.specs)
    n_identity = 1 + (sum(1 for spec in frame.specs if _dummies(labelled, [spec], suppressed).shape[1])
                      if len(frame.specs) > 1 else 0)
    total, done = 1 + n_abroca + n_identity, 1
    for spec in frame.specs:
        labels = labelled[spec.name].to_numpy()
        groups_shown = sorted(g for a, g in shown if a == spec.name)
        for g in groups_shown:
            mask = labels == g
            pred, obs, count = reliability_curve(y[mask], p[mask])
            reliability.append({"attribute": spec.name, "group": g, "predicted": pred.round(4).tolist(),
                                "observed": obs.round(4).tolist(), "count": count.tolist()})
            curves.append({"attribute": spec.name, "group": g, "fpr": ROC_GRID.round(4).tolist(), "tpr": _curves_at_grid(y[mask], p[mask])})
        reference = frame.reference_group(None, spec.name, "auc", "largest")
        for g in groups_shown:
            if g == reference:
                continue
            report(done, total, f"ABROCA {spec.name}={g} vs {reference}")
            done += 1
            pair = (labels == g) | (labels == reference)
            local_ids, local = np.unique(student[pair], return_inverse=True)
            in_a = np.zeros(local_ids.size, dtype=bool)
            in_a[np.unique(local[labels[pair] == g])] = True
            result = abroca_test(y[pair], p[pair], local, in_a, n_permutations=n_permutations, n_boot=n_boot,
                                 confidence=confidence, random_state=random_state)
            abroca.append({"attribute": spec.name, "group": g, "reference": reference, "abroca": result.value,
                           "ci_low": result.ci_low, "ci_high": result.ci_high, "se": result.se,
                           "p_value": result.p_value, "n_permutations": result.n_permutations,
                           "n_students": int(in_a.sum()), "null": [round(x, 6) for x in result.null],
                           "boot": [round(x, 6) for x in result.boot]})
    report(done, total, "identity predictiveness (all groups)")
    done += 1
    joint = identity_predictiveness(y, p, student, _dummies(labelled, frame.specs, suppressed), n_folds=n_folds,
                                    n_boot=n_boot, confidence=confidence, random_state=random_state)
    per_attribute = {}
    if len(frame.specs) > 1:
        for spec in frame.specs:
            dummies = _dummies(labelled, [spec], suppressed)
            if dummies.shape[1]:
                report(done, total, f"identity predictiveness ({spec.name})")
                done += 1
                per_attribute[spec.name] = identity_predictiveness(
                    y, p, student, dummies, n_folds=n_folds, n_boot=n_boot, confidence=confidence,
                    random_state=random_state)
    split = None
    if split_col is not None:
        split = MetricFrame(rows, [RatioMetric("mean_residual", "resid", higher_is_better=True)], frame.specs, roster=roster,
                            student_col=student_col, stratum_col=split_col, totals_across_strata=True,
                            min_group_size=min_group_size, n_boot=n_boot,
                            confidence=confidence, random_state=random_state)
    report(total, total, "done")
    return ModelAudit(frame=frame, identity=joint, identity_by_attribute=per_attribute, abroca=abroca,
                      reliability=reliability, roc=curves, split=split)


def _labelled_rows(rows: pl.DataFrame, frame: MetricFrame, roster: pl.DataFrame | None, student_col: str) -> pl.DataFrame:
    """Rows with a 0..S-1 student index and one label column per group spec (missing roster -> `(missing)`)."""
    source = roster if roster is not None else rows
    cols = sorted({c for s in frame.specs for c in s.columns})
    labels = source.select(pl.col(student_col).cast(pl.Utf8), *cols).unique(subset=[student_col]).select(
        pl.col(student_col), *[label_expr(s) for s in frame.specs])
    out = rows.select(student_col, "y", "p").join(labels, on=student_col, how="left").with_columns(
        [pl.col(s.name).fill_null(MISSING_LABEL) for s in frame.specs])
    ids = out.select(student_col).unique().sort(student_col).with_row_index("__idx__")
    return out.join(ids, on=student_col, how="left").with_columns(pl.col("__idx__").cast(pl.Int64))


def _dummies(labelled: pl.DataFrame, specs: list[GroupSpec], suppressed: set[tuple[str, str]]) -> np.ndarray:
    """One-hot group indicators (largest level dropped); suppressed groups pooled into one level."""
    columns = []
    for spec in specs:
        labels = labelled[spec.name].to_numpy().astype(object)
        labels[np.isin(labels, [g for a, g in suppressed if a == spec.name])] = "__pooled__"
        levels, counts = np.unique(labels, return_counts=True)
        reference = levels[np.argmax(counts)]
        columns += [(labels == lv).astype(float) for lv in levels if lv != reference]
    return np.column_stack(columns) if columns else np.zeros((labelled.height, 0))
