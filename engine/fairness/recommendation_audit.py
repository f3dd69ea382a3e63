"""Recommendation audit: who is offered what, compared within mastery bands (equal readiness, equal opportunity).

Input: the served-recommendations table, one row per recommended resource shown to a student,

| column | type | meaning |
|---|---|---|
| `student_id` | Utf8 | who was served |
| `rank` | Int | 1-based position of the resource in the list shown |
| `level` | Utf8 | resource level: `remedial`, `core` or `advanced` |
| `kind` | Utf8 | resource kind, e.g. `practice`, `video`, `enrichment`, `intervention` |
| `mastery_band` | Utf8 | the student's readiness band for the skill when served (from the mastery model, e.g. `low`/`mid`/`high`) |
| `timestamp` | Datetime | when the list was served (needed for movement over time) |
| `list_id` (optional) | Utf8 | one served list; default: (`student_id`, `timestamp`) |
| `ready` (optional) | Boolean | ready for advanced material when served; default: `mastery_band == ready_band` |

plus a roster (`student_id` + group columns). No demographic column is needed in this table.

Metrics, each by group with student-level bootstrap intervals, differences and disparate-impact ratios:
- `advanced_exposure`: share of served resources that are advanced or enrichment, within each band;
- `weighted_advanced_exposure`: the same with position weights 1/log2(1 + rank) (a top slot counts most);
- `ready_not_offered`: share of lists served to a ready student that hold no advanced/enrichment resource;
- `intervention_rate`: share of students in a band who received at least one intervention there;
- `remedial_to_advanced`: among students whose first served resource was remedial, the share served
  advanced material in a later list (movement out of the remedial track over time);
- `remedial_to_advanced_once_ready`: the same among those of them who were served a later list while ready: whether
  a student who started on remedial work moves on once ready, at equal readiness. The first also counts how many became
  ready in the term, which the groups' starting points decide as much as the recommender.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from engine.errors import DataValidationError, Problem
from engine.fairness.groups import GroupSpec
from engine.fairness.metricframe import MetricFrame
from engine.fairness.metrics import RatioMetric
from engine.fairness.validation import check_values, require_columns

REQUIRED = ("student_id", "rank", "level", "kind", "mastery_band")
ONCE_READY = "remedial_to_advanced_once_ready"


@dataclass(frozen=True)
class ExposureConfig:
    """Which levels/kinds count as advanced, remedial or intervention, and which band means ready."""

    advanced_levels: tuple[str, ...] = ("advanced",)
    advanced_kinds: tuple[str, ...] = ("enrichment",)
    remedial_levels: tuple[str, ...] = ("remedial",)
    intervention_kinds: tuple[str, ...] = ("intervention",)
    ready_band: str = "high"


@dataclass
class RecommendationAudit:
    frames: dict[str, MetricFrame]
    n_rows: int
    n_students: int
    skipped: list[str] = field(default_factory=list)
    reference: str = "largest"
    not_applicable: dict[str, str] = field(default_factory=dict)

    def evidence(self) -> list[dict[str, Any]]:
        """Gate evidence: each family's group records, and a `not_applicable` record for each family the data
        leaves nothing to compare in (no student in any group started on remedial work), which the gate passes
        with that reason rather than holding the model set back for lack of evidence."""
        records = [{"kind": "groups", **e} for frame in self.frames.values() for e in frame.evidence("recommendations")]
        return records + [{"kind": "not_applicable", "metric": metric, "reason": reason}
                          for metric, reason in self.not_applicable.items()]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n_rows": self.n_rows, "n_students": self.n_students, "skipped": self.skipped}
        for name, frame in self.frames.items():
            out[name] = {"by_group": frame.by_group.to_dicts(), "overall": frame.overall.to_dicts(),
                         "ratio_to_largest": frame.ratio(self.reference).to_dicts(),
                         "difference_to_largest": frame.difference(self.reference).to_dicts()}
        return out


def _served_rows(served: pl.DataFrame, config: ExposureConfig) -> pl.DataFrame:
    require_columns(served, REQUIRED, "served recommendations")
    check_values(served, "served recommendations", not_null=list(REQUIRED))
    bad_rank = served.with_row_index("__row__").filter(pl.col("rank").cast(pl.Int64, strict=False).fill_null(0) < 1)
    if bad_rank.height:
        first = bad_rank.row(0, named=True)
        raise DataValidationError([Problem(int(first["__row__"]) + 1, "rank", first["rank"],
                                           "rank must be a whole number >= 1 (1 = top of the list)", count=bad_rank.height)],
                                  source="served recommendations")
    weight = 1.0 / (1.0 + pl.col("rank").cast(pl.Float64)).log(base=2)
    advanced = pl.col("level").is_in(list(config.advanced_levels)) | pl.col("kind").is_in(list(config.advanced_kinds))
    ready = (pl.col("ready").cast(pl.Boolean) if "ready" in served.columns
             else pl.col("mastery_band").cast(pl.Utf8) == config.ready_band)
    return served.with_columns(
        pl.col("student_id").cast(pl.Utf8), pl.col("mastery_band").cast(pl.Utf8),
        advanced.cast(pl.Float64).alias("adv"), weight.alias("pw"), (advanced.cast(pl.Float64) * weight).alias("adv_pw"),
        ready.alias("ready"),
        pl.col("kind").is_in(list(config.intervention_kinds)).cast(pl.Float64).alias("intervention"),
        pl.col("level").is_in(list(config.remedial_levels)).alias("remedial"),
    )


def audit_recommendations(
    served: pl.DataFrame,
    roster: pl.DataFrame,
    groups: str | Iterable[str | GroupSpec],
    *,
    config: ExposureConfig = ExposureConfig(),
    reference: str = "largest",
    min_group_size: int = 10,
    n_boot: int = 200,
    confidence: float = 0.95,
    random_state: int | None = 0,
    metrics: Sequence[str] | None = None,
) -> RecommendationAudit:
    """Run the recommendation audit (module docstring); `metrics` limits which families are computed."""
    rows = _served_rows(served, config)
    common = dict(roster=roster, min_group_size=min_group_size, n_boot=n_boot, confidence=confidence,
                  random_state=random_state)
    wanted = set(metrics) if metrics else {"exposure", "ready_not_offered", "intervention_rate", "remedial_to_advanced"}
    frames: dict[str, MetricFrame] = {}
    skipped: list[str] = []
    not_applicable: dict[str, str] = {}
    if "exposure" in wanted:
        frames["exposure"] = MetricFrame(
            rows, [RatioMetric("advanced_exposure", "adv"), RatioMetric("weighted_advanced_exposure", "adv_pw", "pw")],
            groups, stratum_col="mastery_band", **common)
    list_key = ["list_id"] if "list_id" in rows.columns else ["student_id", "timestamp"] if "timestamp" in rows.columns else None
    if "ready_not_offered" in wanted:
        if list_key is None:
            skipped.append("ready_not_offered: needs a list_id or timestamp column to know which rows form one list")
        else:
            carried = [] if "student_id" in list_key else [pl.col("student_id").first()]
            lists = (rows.group_by(list_key).agg(*carried, pl.col("ready").any(), pl.col("adv").max())
                     .filter(pl.col("ready")).with_columns((1.0 - pl.col("adv")).alias("not_offered")))
            if lists.height:
                frames["ready_not_offered"] = MetricFrame(
                    lists, [RatioMetric("ready_not_offered", "not_offered", higher_is_better=False)], groups, **common)
            else:
                not_applicable["ready_not_offered"] = "no list was served to a ready student, in any group"
                skipped.append("ready_not_offered: " + not_applicable["ready_not_offered"])
    if "intervention_rate" in wanted:
        per_band = rows.group_by(["student_id", "mastery_band"]).agg(pl.col("intervention").max())
        frames["intervention_rate"] = MetricFrame(
            per_band, [RatioMetric("intervention_rate", "intervention")], groups, stratum_col="mastery_band", **common)
    if "remedial_to_advanced" in wanted:
        if "timestamp" not in rows.columns:
            skipped.append("remedial_to_advanced: needs a timestamp column to order what each student was served")
        else:
            ordered = rows.sort(["student_id", "timestamp", "rank"])
            later = pl.col("timestamp") > pl.col("timestamp").first()
            movers = (ordered.group_by("student_id", maintain_order=True)
                      .agg(pl.col("remedial").first().alias("started_remedial"),
                           pl.col("adv").filter(later).max().fill_null(0.0).alias("moved"),
                           pl.col("ready").filter(later).any().alias("became_ready"))
                      .filter(pl.col("started_remedial")))
            none_started = "no student of any group started on remedial material"
            for name, table, empty in (
                    ("remedial_to_advanced", movers, none_started),
                    (ONCE_READY, movers.filter(pl.col("became_ready")), none_started if movers.is_empty() else
                     "no student of any group who started on remedial material was ready later")):
                if table.height:
                    frames[name] = MetricFrame(table, [RatioMetric(name, "moved")], groups, **common)
                else:
                    not_applicable[name] = empty
                    skipped.append(f"{name}: {empty}")
    return RecommendationAudit(frames, n_rows=rows.height, n_students=rows["student_id"].n_unique(), skipped=skipped,
                               reference=reference, not_applicable=not_applicable)
