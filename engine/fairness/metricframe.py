"""`MetricFrame`: one disaggregated view of any metrics over group columns and their intersections.

Modelled on Fairlearn's MetricFrame, on polars tables and with privacy built in:

    mf = MetricFrame(rows, [AUCMetric(), RatioMetric("accuracy", "hit")], groups="gender,gender*disability",
                     roster=roster, min_group_size=10, n_boot=200)
    mf.by_group            # one row per (stratum, attribute, group, metric): value, CI, SE, counts
    mf.overall             # the whole population (per stratum)
    mf.difference("best")  # group minus reference ("best", "largest", "overall" or a label), with CIs
    mf.ratio("largest")    # group / reference, with CIs
    mf.suppressed          # groups hidden by the minimum-size rule (and complementary suppression)

Confidence intervals come from a student-level bootstrap: whole students are resampled, with all their
rows, so the within-student dependence of responses is respected; every group, the overall row and every
difference share the same resamples. Intervals are percentile intervals; `se` is the bootstrap standard
deviation (the gate's normal-approximation decisions use it).

`stratum_col` repeats the whole analysis inside each value of a row-level column (e.g. the mastery band
at the time a recommendation was served): "equal readiness, equal opportunity". Suppression is applied
inside each stratum. Group labels come from the roster (one row per student); demographic columns are
read only here, never passed on to a model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from engine.errors import ConfigError, DataValidationError, Problem
from engine.fairness.groups import (
    DEFAULT_MIN_GROUP_SIZE,
    MISSING_LABEL,
    GroupSpec,
    check_roster,
    label_expr,
    parse_group_specs,
    suppress_cells,
)
from engine.fairness.metrics import ONE, Block, Metric
from engine.fairness.stats import bootstrap_weights

log = logging.getLogger(__name__)

OVERALL = "__overall__"
_IDX = "__student_idx__"
_STRATUM = "__stratum__"
MIN_FINITE_REPLICATES = 20


@dataclass(frozen=True)
class CellKey:
    """One estimated cell: a group (or OVERALL with attribute "") inside a stratum, for one metric."""

    stratum: str | None
    attribute: str
    group: str
    metric: str


class MetricFrame:
    """Disaggregated metrics with student-level bootstrap intervals and small-group suppression."""

    def __init__(
        self,
        data: pl.DataFrame,
        metrics: Sequence[Metric],
        groups: str | Iterable[str | GroupSpec],
        *,
        roster: pl.DataFrame | None = None,
        student_col: str = "student_id",
        stratum_col: str | None = None,
        min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
        n_boot: int = 200,
        confidence: float = 0.95,
        random_state: int | None = 0,
    ) -> None:
        if min_group_size < 1:
            raise ConfigError(f"min_group_size must be at least 1, got {min_group_size}")
        if not 0 < confidence < 1:
            raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
        if len({m.name for m in metrics}) != len(metrics):
            raise ConfigError("metric names must be unique")
        self.metrics = {m.name: m for m in metrics}
        self.specs = parse_group_specs(groups)
        self.student_col = student_col
        self.stratum_col = stratum_col
        self.min_group_size = min_group_size
        self.n_boot = n_boot
        self.confidence = confidence
        self.random_state = random_state
        self.points: dict[CellKey, float] = {}
        self.replicates: dict[CellKey, np.ndarray] = {}
        self.counts: dict[tuple[str | None, str, str], tuple[int, int]] = {}
        self.suppressed: list[dict[str, Any]] = []
        self.students_without_roster = 0
        self._compute(data, roster)

    # ------------------------------------------------------------------ construction
    def _rows(self, data: pl.DataFrame, roster: pl.DataFrame | None) -> tuple[pl.DataFrame, list[str]]:
        """Rows with the student index, stratum, metric columns and every group label column."""
        needed = sorted({c for m in self.metrics.values() for c in m.columns if c != ONE})
        missing = [c for c in [self.student_col, *needed, *([self.stratum_col] if self.stratum_col else [])]
                   if c not in data.columns]
        if missing:
            raise ConfigError(f"data has no column(s) {', '.join(map(repr, missing))}; columns are: {', '.join(data.columns)}")
        bad = data.select(needed).null_count().row(0, named=True) if needed else {}
        problems = [Problem(None, c, None, "missing values; fill or remove these rows before auditing", count=n)
                    for c, n in bad.items() if n]
        if problems:
            raise DataValidationError(problems, source="audit data")
        if roster is None:
            group_cols = sorted({c for s in self.specs for c in s.columns})
            absent = [c for c in group_cols if c not in data.columns]
            if absent:
                raise ConfigError(f"unknown group column(s) {', '.join(map(repr, absent))}; available: "
                                  f"{', '.join(c for c in data.columns if c != self.student_col)}")
            roster = data.select(self.student_col, *group_cols)
        students = check_roster(roster, self.specs, self.student_col)
        components = sorted({c for s in self.specs for c in s.columns})
        labels = students.select(
            pl.col(self.student_col),
            *[label_expr(GroupSpec((c,))).alias(f"__c__{c}") for c in components],
            *[label_expr(s).alias(f"__g__{s.name}") for s in self.specs],
        )
        label_cols = [c for c in labels.columns if c != self.student_col]
        stratum = pl.col(self.stratum_col).cast(pl.Utf8).fill_null(MISSING_LABEL) if self.stratum_col else pl.lit(None, pl.Utf8)
        rows = data.select(
            pl.col(self.student_col).cast(pl.Utf8),
            stratum.alias(_STRATUM),
            *[pl.col(c).cast(pl.Float64) for c in needed],
            pl.lit(1.0).alias(ONE),
        )
        ids = rows.select(self.student_col).unique().sort(self.student_col).with_row_index(_IDX)
        rows = rows.join(ids, on=self.student_col, how="left").join(labels, on=self.student_col, how="left")
        unrostered = rows.filter(pl.col(label_cols[0]).is_null()).select(self.student_col).n_unique()
        if unrostered:
            self.students_without_roster = unrostered
            log.warning("%d student(s) have rows but no roster entry; their groups are labelled %s", unrostered, MISSING_LABEL)
            rows = rows.with_columns([pl.col(c).fill_null(MISSING_LABEL) for c in label_cols])
        self.n_students_total = ids.height
        if all(m.additive for m in self.metrics.values()):
            value_cols = sorted({c for m in self.metrics.values() for c in m.columns})
            rows = rows.group_by([_IDX, _STRATUM, *label_cols]).agg([pl.col(c).sum() for c in value_cols])
            # after summing, ONE holds the row count of each (student, stratum)
        return rows, label_cols

    def _compute(self, data: pl.DataFrame, roster: pl.DataFrame | None) -> None:
        rows, _ = self._rows(data, roster)
        blocks: dict[tuple[str | None, str, str], tuple[np.ndarray, Block]] = {}
        value_cols = sorted({c for m in self.metrics.values() for c in m.columns})
        strata = sorted(rows[_STRATUM].drop_nulls().unique().to_list()) if self.stratum_col else [None]
        for stratum in strata:
            part = rows if stratum is None else rows.filter(pl.col(_STRATUM) == stratum)
            n_rows_col = part[ONE].to_numpy()
            n_students = part[_IDX].n_unique()
            if n_students < self.min_group_size:
                self.suppressed.append({"stratum": stratum, "attribute": "", "group": OVERALL})
                continue
            blocks[(stratum, "", OVERALL)] = self._block(part, value_cols)
            self.counts[(stratum, "", OVERALL)] = (n_students, int(round(n_rows_col.sum())))
            for spec in self.specs:
                comps = [f"__c__{c}" for c in spec.columns]
                label = f"__g__{spec.name}"
                counts = (part.group_by([*comps, label]).agg(pl.col(_IDX).n_unique().alias("n"), pl.col(ONE).sum().alias("rows")))
                marked = suppress_cells(counts, comps, self.min_group_size).sort(label)
                for cell in marked.iter_rows(named=True):
                    if cell["suppressed"]:
                        self.suppressed.append({"stratum": stratum, "attribute": spec.name, "group": cell[label]})
                        continue
                    group_rows = part.filter(pl.col(label) == cell[label])
                    blocks[(stratum, spec.name, cell[label])] = self._block(group_rows, value_cols)
                    self.counts[(stratum, spec.name, cell[label])] = (int(cell["n"]), int(round(cell["rows"])))
        self._estimate(blocks)

    @staticmethod
    def _block(rows: pl.DataFrame, value_cols: list[str]) -> tuple[np.ndarray, Block]:
        students, local = np.unique(rows[_IDX].to_numpy(), return_inverse=True)
        cols = {c: rows[c].to_numpy().astype(float) for c in value_cols}
        return students, Block(student=local, n_students=students.size, cols=cols)

    def _estimate(self, blocks: dict[tuple[str | None, str, str], tuple[np.ndarray, Block]]) -> None:
        prepared = {key: (students, {name: m.prepare(block) for name, m in self.metrics.items()})
                    for key, (students, block) in blocks.items()}
        for (stratum, attribute, group), (students, states) in prepared.items():
            ones = np.ones((1, students.size))
            for name, m in self.metrics.items():
                key = CellKey(stratum, attribute, group, name)
                self.points[key] = float(m.evaluate(states[name], ones)[0])
                self.replicates[key] = np.empty(self.n_boot)
        done = 0
        for weights in bootstrap_weights(self.n_students_total, self.n_boot, self.random_state):
            b = weights.shape[0]
            for (stratum, attribute, group), (students, states) in prepared.items():
                w = weights[:, students]
                for name, m in self.metrics.items():
                    self.replicates[CellKey(stratum, attribute, group, name)][done:done + b] = m.evaluate(states[name], w)
            done += b

    # ------------------------------------------------------------------ views
    @property
    def strata(self) -> list[str | None]:
        return sorted({k.stratum for k in self.points}, key=lambda s: (s is None, s or ""))

    def _interval(self, reps: np.ndarray, point: float) -> tuple[float, float, float]:
        finite = reps[np.isfinite(reps)]
        if not np.isfinite(point) or finite.size < MIN_FINITE_REPLICATES:
            return float("nan"), float("nan"), float("nan")
        tail = (1 - self.confidence) / 2 * 100
        lo, hi = np.percentile(finite, [tail, 100 - tail])
        return float(lo), float(hi), float(np.std(finite, ddof=1))

    def _row(self, key: CellKey, value: float, reps: np.ndarray, **extra: Any) -> dict[str, Any]:
        lo, hi, se = self._interval(reps, value)
        n_students, n_rows = self.counts[(key.stratum, key.attribute, key.group)]
        row = {"stratum": key.stratum, "attribute": key.attribute, "group": key.group, "metric": key.metric,
               "value": value, "ci_low": lo, "ci_high": hi, "se": se, "n_students": n_students, "n_rows": n_rows}
        row.update(extra)
        return row

    def _frame(self, rows: list[dict[str, Any]]) -> pl.DataFrame:
        schema = {"stratum": pl.Utf8, "attribute": pl.Utf8, "group": pl.Utf8, "metric": pl.Utf8, "value": pl.Float64,
                  "ci_low": pl.Float64, "ci_high": pl.Float64, "se": pl.Float64, "n_students": pl.Int64, "n_rows": pl.Int64}
        extra = {k: (pl.Utf8 if isinstance(v, str) or v is None else pl.Boolean if isinstance(v, bool) else pl.Float64)
                 for r in rows[:1] for k, v in r.items() if k not in schema}
        frame = pl.DataFrame(rows, schema={**schema, **extra}) if rows else pl.DataFrame(schema=schema)
        return frame if self.stratum_col else frame.drop("stratum")

    @property
    def by_group(self) -> pl.DataFrame:
        """Every shown group x metric: value, percentile CI, bootstrap SE, distinct students and rows."""
        rows = [self._row(k, v, self.replicates[k]) for k, v in self.points.items() if k.group != OVERALL]
        return self._frame(rows)

    @property
    def overall(self) -> pl.DataFrame:
        rows = [self._row(k, v, self.replicates[k]) for k, v in self.points.items() if k.group == OVERALL]
        return self._frame(rows).drop(["attribute", "group"])

    def reference_group(self, stratum: str | None, attribute: str, metric: str, reference: str | dict[str, str]) -> str | None:
        """Resolve `reference` ("best", "largest", "overall", a label, or {attribute: label}) to a shown group."""
        shown = {k.group: v for k, v in self.points.items()
                 if k.stratum == stratum and k.attribute == attribute and k.metric == metric}
        if isinstance(reference, dict):
            reference = reference.get(attribute, "largest")
        if reference == "overall":
            return OVERALL if CellKey(stratum, "", OVERALL, metric) in self.points else None
        if reference == "largest":
            sizes = {g: self.counts[(stratum, attribute, g)][0] for g in shown}
            return max(sorted(sizes), key=lambda g: sizes[g]) if sizes else None
        if reference == "best":
            finite = {g: v for g, v in shown.items() if np.isfinite(v)}
            if not finite:
                return None
            pick = max if self.metrics[metric].higher_is_better else min
            return pick(sorted(finite), key=lambda g: finite[g])
        return reference if reference in shown else None

    def _compare(self, reference: str | dict[str, str], how: str, metrics: Sequence[str] | None) -> pl.DataFrame:
        rows = []
        for key in [k for k in self.points if k.group != OVERALL and (metrics is None or k.metric in metrics)]:
            ref = self.reference_group(key.stratum, key.attribute, key.metric, reference)
            if ref is None or ref == key.group:
                continue
            ref_key = CellKey(key.stratum, "" if ref == OVERALL else key.attribute, ref, key.metric)
            a, b = self.points[key], self.points[ref_key]
            ra, rb = self.replicates[key], self.replicates[ref_key]
            with np.errstate(invalid="ignore", divide="ignore"):
                value, reps = (a - b, ra - rb) if how == "difference" else (a / b if b else float("nan"), ra / rb)
            row = self._row(key, float(value), reps, reference=ref,
                            higher_is_better=self.metrics[key.metric].higher_is_better)
            if how == "ratio":
                logs = np.log(reps[np.isfinite(reps) & (reps > 0)])
                row["se"] = float(np.std(logs, ddof=1)) if logs.size >= MIN_FINITE_REPLICATES else float("nan")
            rows.append(row)
        return self._frame(rows)

    def difference(self, reference: str | dict[str, str] = "best", metrics: Sequence[str] | None = None) -> pl.DataFrame:
        """Group minus reference for every shown group (reference row omitted); CI from paired resamples."""
        return self._compare(reference, "difference", metrics)

    def ratio(self, reference: str | dict[str, str] = "largest", metrics: Sequence[str] | None = None) -> pl.DataFrame:
        """Group / reference for every shown group; `se` is on the log scale."""
        return self._compare(reference, "ratio", metrics)

    # ------------------------------------------------------------------ evidence for the gate
    def evidence(self, audit: str) -> list[dict[str, Any]]:
        """Compact, suppression-safe summary the gate can re-evaluate under any policy.

        Per (stratum, attribute, metric): the shown groups plus the overall row, their estimates and
        student counts, and the bootstrap covariance of the estimates (and of their logs when all are
        positive), from which any difference or ratio and its standard error follow.
        """
        out = []
        for stratum in self.strata:
            for spec in self.specs:
                for metric, m in self.metrics.items():
                    keys = [k for k in self.points
                            if k.stratum == stratum and k.attribute == spec.name and k.metric == metric]
                    overall = CellKey(stratum, "", OVERALL, metric)
                    if overall in self.points:
                        keys.append(overall)
                    if not keys:
                        continue
                    reps = np.column_stack([self.replicates[k] for k in keys])
                    finite = reps[np.all(np.isfinite(reps), axis=1)]
                    enough = finite.shape[0] >= MIN_FINITE_REPLICATES
                    cov = np.atleast_2d(np.cov(finite, rowvar=False)) if enough else None
                    log_cov = (np.atleast_2d(np.cov(np.log(finite), rowvar=False))
                               if enough and np.all(finite > 0) else None)
                    out.append({
                        "audit": audit, "metric": metric, "higher_is_better": m.higher_is_better,
                        "stratum": stratum, "attribute": spec.name,
                        "groups": [k.group for k in keys],
                        "n_students": [self.counts[(k.stratum, k.attribute, k.group)][0] for k in keys],
                        "estimate": [self.points[k] for k in keys],
                        "cov": cov.tolist() if cov is not None else None,
                        "log_cov": log_cov.tolist() if log_cov is not None else None,
                        "suppressed": sum(1 for s in self.suppressed if s["stratum"] == stratum and s["attribute"] == spec.name),
                    })
        return out
