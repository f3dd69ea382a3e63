"""The identity-predictiveness test over time: per period (e.g. calendar week) and over all periods.

Rows are predicted answers (`student_id`, `period`, `correct`, `p`: the model's prediction made before the
answer); the roster gives the group attributes. Levels with fewer than `min_group_size` students are pooled
before fitting (as `audit_model` does), so no coefficient describes a hidden group, and only pooled statistics
are returned. A period with too few students or answers, or where every group is below the minimum size, is
reported as not tested, with why.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import polars as pl

from engine.fairness.groups import MISSING_LABEL, GroupSpec, label_expr
from engine.fairness.identity import identity_predictiveness

log = logging.getLogger(__name__)


def group_dummies(labels: dict[str, np.ndarray], student: np.ndarray, min_size: int) -> np.ndarray:
    """Indicators per attribute (largest level dropped); levels with fewer than `min_size` distinct students are
    pooled into one level."""
    columns = []
    for values in labels.values():
        first = np.unique(student, return_index=True)[1]
        levels, counts = np.unique(values[first], return_counts=True)
        small = set(levels[counts < min_size].tolist())
        pooled = np.where(np.isin(values, list(small)), "__pooled__", values) if small else values
        kept, n = np.unique(pooled, return_counts=True)
        if kept.size < 2:
            continue
        reference = kept[np.argmax(n)]
        columns += [(pooled == lv).astype(float) for lv in kept if lv != reference]
    return np.column_stack(columns) if columns else np.zeros((student.size, 0))


def identity_by_period(rows: pl.DataFrame, roster: pl.DataFrame, attributes: list[str], periods: list[str], *,
                       min_group_size: int = 10, n_boot: int = 200, period_boot: int | None = None,
                       confidence: float = 0.95, alpha: float = 0.05, random_state: int | None = 0) -> dict[str, Any]:
    """{"weeks": [per period: the test's result or why it was not run], "overall": ..., "alpha", "attributes"}."""
    labelled = rows.join(roster.select(pl.col("student_id").cast(pl.Utf8), *[label_expr(GroupSpec((a,))) for a in attributes]),
                         on="student_id", how="left").with_columns(
        pl.col(a).fill_null(MISSING_LABEL) for a in attributes).filter(pl.col("p").is_finite())

    def run(part: pl.DataFrame, boot: int) -> dict[str, Any]:
        uniq, student = np.unique(part["student_id"].to_numpy(), return_inverse=True)
        base = {"n_students": int(uniq.size), "n_rows": part.height}
        if uniq.size < max(2 * min_group_size, 10) or part.height < 50:
            return {"tested": False, **base, "why": f"too few students ({uniq.size}) or answers ({part.height}) to test"}
        dummies = group_dummies({a: part[a].to_numpy().astype(str) for a in attributes}, student, min_group_size)
        if dummies.shape[1] == 0:
            return {"tested": False, **base, "why": "every group is below the minimum size, so there is no group membership to add"}
        y = (part["correct"].to_numpy() >= 0.5).astype(float)
        try:
            result = identity_predictiveness(y, part["p"].to_numpy(), student, dummies, n_boot=boot, confidence=confidence,
                                             random_state=random_state)
        except Exception as exc:  # noqa: BLE001 - a degenerate period (e.g. every answer right) is reported, not fatal
            log.info("identity test not computed: %s", exc)
            return {"tested": False, **base, "why": "could not be estimated on these answers"}
        out = result.to_dict()
        out.update(tested=True, significant=bool(result.p_value < alpha), evidence={
            "kind": "value", "audit": "model", "metric": "identity_delta_auc", "higher_is_better": False, "stratum": None,
            "attribute": "+".join(attributes), "group": "all", "reference": None, "estimate": result.delta_auc,
            "se": result.delta_auc_se, "p_value": result.p_value, "n_students": result.n_students, "suppressed": False})
        return out

    weekly = [{"week": w, **run(labelled.filter(pl.col("period") == w), period_boot or n_boot)} for w in periods]
    return {"weeks": weekly, "overall": run(labelled, n_boot), "alpha": alpha, "attributes": attributes}
