"""Outcome audit: learning gain by group and by prior-achievement quartile ("every row grows").

Input: one row per student with `student_id`, `pre` and `post` (any common scale, e.g. proportion correct
or the simulator's true mastery), or a response log turned into that table by `outcomes_from_log`
(pre = mean correctness of a student's first `window` responses, post = of their last `window`).

Output: mean gain (post - pre) by group, by prior-achievement quartile (quartiles of `pre` over all
students, Q1 lowest; a student exactly at a cut goes to the quartile above it, so Q1 is pre < the 25th
percentile: prior scores such as proportions of 10 answers tie often) and by group within quartile, each with
a student-level bootstrap interval.
Excellence with equity means every shown row has a gain whose interval lies above zero, and gaps between
groups within a quartile are small.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from engine.fairness.groups import GroupSpec
from engine.fairness.metricframe import MetricFrame
from engine.fairness.metrics import RatioMetric
from engine.fairness.validation import check_values, require_columns

QUARTILE_LABELS = ("Q1", "Q2", "Q3", "Q4")


def outcomes_from_log(responses: pl.DataFrame, window: int = 10, *, student_col: str = "student_id",
                      correct_col: str = "correct", order_col: str = "seq") -> tuple[pl.DataFrame, int]:
    """(per-student pre/post table, number of students left out for having fewer than 2 * window responses)."""
    require_columns(responses, [student_col, correct_col, order_col], "response log")
    ordered = responses.sort([student_col, order_col])
    per = ordered.group_by(student_col, maintain_order=True).agg(
        pl.len().alias("n"), pl.col(correct_col).head(window).mean().alias("pre"),
        pl.col(correct_col).tail(window).mean().alias("post"))
    enough = per.filter(pl.col("n") >= 2 * window)
    return enough.select(pl.col(student_col).alias("student_id"), "pre", "post"), per.height - enough.height


@dataclass
class OutcomeAudit:
    by_group: MetricFrame
    by_quartile: MetricFrame
    quartile_cuts: list[float]
    students_left_out: int = 0
    notes: list[str] = field(default_factory=list)

    def evidence(self) -> list[dict[str, Any]]:
        return [{"kind": "groups", **e} for f in (self.by_group, self.by_quartile) for e in f.evidence("outcomes")]

    def every_row_grows(self) -> bool:
        """True when every shown row (overall quartiles, groups, groups within quartiles) has CI low > 0."""
        tables = [self.by_group.by_group, self.by_quartile.by_group, self.by_quartile.overall]
        return all(bool((t["ci_low"] > 0).all()) for t in tables if t.height)

    def to_dict(self) -> dict[str, Any]:
        return {"gain_by_group": self.by_group.by_group.to_dicts(), "gain_overall": self.by_group.overall.to_dicts(),
                "gain_by_quartile": self.by_quartile.overall.to_dicts(),
                "gain_by_group_within_quartile": self.by_quartile.by_group.to_dicts(),
                "quartile_cuts": self.quartile_cuts, "every_row_grows": self.every_row_grows(),
                "students_left_out": self.students_left_out, "notes": self.notes}


def audit_outcomes(outcomes: pl.DataFrame, roster: pl.DataFrame, groups: str | Iterable[str | GroupSpec], *,
                   min_group_size: int = 10, n_boot: int = 200, confidence: float = 0.95,
                   random_state: int | None = 0, students_left_out: int = 0) -> OutcomeAudit:
    """Learning gain by group, by prior quartile and by group within quartile (module docstring)."""
    require_columns(outcomes, ["student_id", "pre", "post"], "outcomes")
    check_values(outcomes, "outcomes", not_null=["student_id", "pre", "post"])
    pre = outcomes["pre"].cast(pl.Float64).to_numpy()
    cuts = np.quantile(pre, [0.25, 0.5, 0.75])
    quartile = np.array(QUARTILE_LABELS)[np.searchsorted(cuts, pre, side="right").clip(0, 3)]
    rows = outcomes.with_columns(
        pl.col("student_id").cast(pl.Utf8),
        (pl.col("post").cast(pl.Float64) - pl.col("pre").cast(pl.Float64)).alias("gain"),
        pl.Series("prior_quartile", quartile))
    metric = [RatioMetric("gain", "gain")]
    common = dict(roster=roster, min_group_size=min_group_size, n_boot=n_boot, confidence=confidence,
                  random_state=random_state)
    return OutcomeAudit(
        by_group=MetricFrame(rows, metric, groups, margin_stratum_col="prior_quartile", **common),
        by_quartile=MetricFrame(rows, metric, groups, stratum_col="prior_quartile", totals_across_strata=True, **common),
        quartile_cuts=[float(c) for c in cuts], students_left_out=students_left_out)
