"""`MetricFrame`: one disaggregated view of any metrics over group columns and their intersections.

Modelled on Fairlearn's MetricFrame, on polars tables and with privacy built in:

    mf = MetricFrame(rows, [AUCMetric(), RatioMetric("accuracy", "hit")], groups="gender,gender*disability",
                     roster=roster, min_group_size=10, n_boot=200)
    mf.by_group            # one row per (stratum, attribute, group, metric): value, CI, SE, counts
    mf.overall             # the whole population (per stratum)
    mf.difference("best")  # group minus reference ("best", "largest", "overall" or a label), with CIs
    mf.ratio("largest")    # group / reference, with CIs
    mf.suppressed          # groups hidden by the minimum-size rule (and complementary suppression)

Or, as Fairlearn takes it, from aligned arrays (each row its own unit unless `students=` says whose it is):

    mf = MetricFrame(metrics=["auc", "accuracy"], y_true=y, y_pred=p, sensitive_features=roster_columns)
    mf.difference("between_groups")   # largest minus smallest group value, per metric (Fairlearn's default)
    mf.ratio("between_groups")        # smallest / largest group value
    mf.group_min(), mf.group_max()

`metrics` there may name built-in metrics (`ARRAY_METRICS`), give `Metric` objects over the columns
`y_true` and `y_pred`, or give callables `f(y_true, y_pred)` such as scikit-learn's (a dict names them).

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

import inspect
import logging
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from engine.errors import ConfigError, DataValidationError, Problem
from engine.fairness.groups import (
    DEFAULT_MIN_GROUP_SIZE,
    MISSING_LABEL,
    OVERALL,
    GroupSpec,
    check_roster,
    label_expr,
    parse_group_specs,
    plan_suppression,
)
from engine.fairness.metrics import ONE, AUCMetric, Block, ECEMetric, Metric, RatioMetric
from engine.fairness.stats import bootstrap_weights

log = logging.getLogger(__name__)

_IDX = "__student_idx__"
_STRATUM = "__stratum__"
MIN_FINITE_REPLICATES = 20
Y_TRUE, Y_PRED = "y_true", "y_pred"  # the columns the array form builds; named metrics also read "__name__" columns
BETWEEN = "between_groups"
EPS = 1e-7  # probability clip of the log-loss, as engine.evaluation.metrics (not imported: it loads scikit-learn)

ARRAY_METRICS: dict[str, Metric] = {
    "auc": AUCMetric(Y_TRUE, Y_PRED, name="auc"),
    "accuracy": RatioMetric("accuracy", "__hit__"),
    "rmse": RatioMetric("rmse", "__sq__", higher_is_better=False, sqrt=True),
    "logloss": RatioMetric("logloss", "__ll__", higher_is_better=False),
    "ece": ECEMetric(Y_TRUE, Y_PRED, name="ece"),
    "selection_rate": RatioMetric("selection_rate", "__sel__"),
    "true_positive_rate": RatioMetric("true_positive_rate", "__tp__", "__pos__"),
    "false_positive_rate": RatioMetric("false_positive_rate", "__fp__", "__neg__", higher_is_better=False),
}


def _derived_columns(y: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row columns the named metrics sum: labels are `y >= 0.5` and `p >= 0.5` (as engine.evaluation)."""
    label, pred = y >= 0.5, p >= 0.5
    q = np.clip(p, EPS, 1 - EPS)
    return {"__hit__": (label == pred).astype(float), "__sq__": (y - p) ** 2,
            "__ll__": -(y * np.log(q) + (1 - y) * np.log(1 - q)), "__sel__": pred.astype(float),
            "__tp__": (label & pred).astype(float), "__pos__": label.astype(float),
            "__fp__": (~label & pred).astype(float), "__neg__": (~label).astype(float)}


@dataclass(frozen=True)
class CallableMetric:
    """Any `f(y_true, y_pred)` (e.g. a scikit-learn metric) as a `Metric`. Resamples pass
    `sample_weight` when `f` accepts it, else repeat the rows; a resample where `f` fails counts as NaN."""

    name: str
    function: Callable[..., float]
    higher_is_better: bool = True

    @property
    def columns(self) -> tuple[str, ...]:
        return (Y_TRUE, Y_PRED)

    @property
    def additive(self) -> bool:
        return False

    def prepare(self, block: Block) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return block.student, block.cols[Y_TRUE], block.cols[Y_PRED]

    def _weighted(self) -> bool:
        try:
            return "sample_weight" in inspect.signature(self.function).parameters
        except (TypeError, ValueError):
            return False

    def evaluate(self, state: tuple[np.ndarray, np.ndarray, np.ndarray], weights: np.ndarray) -> np.ndarray:
        student, y, p = state
        out = np.empty(weights.shape[0])
        weighted = self._weighted()
        for r in range(weights.shape[0]):
            w = weights[r, student]
            if np.all(w == 1.0):  # the point estimate: errors propagate
                out[r] = float(self.function(y, p))
                continue
            keep = w > 0
            try:
                with warnings.catch_warnings():  # e.g. scikit-learn's warning for a resample holding one class
                    warnings.simplefilter("ignore")
                    out[r] = (float(self.function(y[keep], p[keep], sample_weight=w[keep])) if weighted else
                              float(self.function(np.repeat(y, w.astype(int)), np.repeat(p, w.astype(int)))))
            except ValueError:  # e.g. a resample holding a single class
                out[r] = float("nan")
        return out


def _array_metrics(metrics: Any) -> list[Metric]:
    """Metric objects from a name, a `Metric`, a callable, or a list / dict of them."""
    if isinstance(metrics, str) or callable(metrics) or hasattr(metrics, "prepare"):
        metrics = [metrics]
    items = list(metrics.items()) if isinstance(metrics, Mapping) else [(None, m) for m in metrics]
    out: list[Metric] = []
    for name, m in items:
        if isinstance(m, str):
            if m not in ARRAY_METRICS:
                raise ConfigError(f"unknown metric {m!r}; named metrics: {', '.join(ARRAY_METRICS)} "
                                  "(or pass a Metric or a callable f(y_true, y_pred))")
            base = ARRAY_METRICS[m]
            out.append(base if name is None else _renamed(base, name))
        elif hasattr(m, "prepare"):
            out.append(m if name is None else _renamed(m, name))
        elif callable(m):
            out.append(CallableMetric(name or getattr(m, "__name__", "metric"), m))
        else:
            raise ConfigError(f"metric {m!r} is neither a name, a Metric nor a callable f(y_true, y_pred)")
    if not out:
        raise ConfigError("no metrics given; pass at least one (e.g. metrics=['auc', 'accuracy'])")
    return out


def _renamed(metric: Metric, name: str) -> Metric:
    return replace(metric, name=name)  # type: ignore[type-var]


def _vector(values: Any, name: str, n: int | None = None) -> np.ndarray:
    """A 1-D float array; ConfigError naming the argument, or DataValidationError naming the first bad row."""
    arr = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values, dtype=float)
    if arr.ndim != 1:
        raise ConfigError(f"{name} must be one-dimensional (one value per row), got shape {arr.shape}")
    if n is not None and arr.size != n:
        raise ConfigError(f"{name} has {arr.size} values but y_true has {n}; give one value per row")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise DataValidationError([Problem(int(bad[0]) + 1, name, float(arr[bad[0]]), "must be a finite number; "
                                           "remove or fill these rows", count=int(bad.size))], source="MetricFrame")
    return arr


def _feature_frame(features: Any, n: int) -> pl.DataFrame:
    """Sensitive features as a polars frame, one column per feature (unnamed ones: sensitive_feature_<i>)."""
    if isinstance(features, pl.DataFrame):
        frame = features
    elif type(features).__module__.split(".")[0] == "pandas" and hasattr(features, "columns"):
        frame = pl.from_pandas(features)
    elif isinstance(features, Mapping):
        frame = pl.DataFrame({str(k): pl.Series(str(k), list(v), strict=False) for k, v in features.items()})
    elif isinstance(features, pl.Series) or type(features).__module__.split(".")[0] == "pandas":
        name = str(getattr(features, "name", None) or "sensitive_feature_0")
        frame = pl.DataFrame({name: pl.Series(name, list(features), strict=False)})
    else:
        arr = np.asarray(features, dtype=object)
        columns = arr.reshape(-1, 1) if arr.ndim == 1 else arr
        frame = pl.DataFrame({f"sensitive_feature_{j}": pl.Series(list(columns[:, j]), strict=False)
                              for j in range(columns.shape[1])})
    if frame.height != n:
        raise ConfigError(f"sensitive_features has {frame.height} rows but y_true has {n}; give one value per row")
    return frame.rename({c: str(c) for c in frame.columns})


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
        data: pl.DataFrame | None = None,
        metrics: Any = None,
        groups: str | Iterable[str | GroupSpec] | None = None,
        *,
        y_true: Any = None,
        y_pred: Any = None,
        sensitive_features: Any = None,
        students: Any = None,
        roster: pl.DataFrame | None = None,
        student_col: str = "student_id",
        stratum_col: str | None = None,
        margin_stratum_col: str | None = None,
        totals_across_strata: bool = False,
        min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
        n_boot: int = 200,
        confidence: float = 0.95,
        random_state: int | None = 0,
    ) -> None:
        """Roster form: `data` rows, `metrics` (Metric objects), `groups` specs, group labels from `roster`
        (or from `data`). Array form (Fairlearn's): `metrics`, `y_true`, `y_pred`, `sensitive_features`;
        `students` (optional) says whose each row is, for the bootstrap and the minimum group size (by
        default every row is its own unit); `groups` defaults to the intersection of all features.
        Suppression is settled over every table the frame publishes (groups.plan_suppression). A stratified
        frame whose groups' unstratified figures are published too (by a twin frame) says so with
        `totals_across_strata=True`; the unstratified twin names the column in `margin_stratum_col`; both then
        hide the same cells, so no stratum's cell is the total minus the other strata."""
        if y_true is not None or y_pred is not None or sensitive_features is not None:
            if data is not None or roster is not None:
                raise ConfigError("give either data (with roster/groups) or y_true, y_pred and sensitive_features, not both")
            data, metrics, groups = self._from_arrays(metrics, y_true, y_pred, sensitive_features, students, groups,
                                                      student_col)
        elif data is None or metrics is None or groups is None:
            raise ConfigError("MetricFrame needs data, metrics and groups, or metrics, y_true, y_pred and sensitive_features")
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
        self.margin_stratum_col = None if stratum_col else margin_stratum_col
        self.totals_across_strata = totals_across_strata
        self.min_group_size = min_group_size
        self.n_boot = n_boot
        self.confidence = confidence
        self.random_state = random_state
        self.points: dict[CellKey, float] = {}
        self.replicates: dict[CellKey, np.ndarray] = {}
        self.counts: dict[tuple[str | None, str, str], tuple[int, int]] = {}
        self.suppressed: list[dict[str, Any]] = []
        self.withheld: list[dict[str, Any]] = []
        self.students_without_roster: int | None = 0
        self._hidden: set[tuple[str | None, str, str]] = set()
        self._compute(data, roster)

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _from_arrays(metrics: Any, y_true: Any, y_pred: Any, sensitive_features: Any, students: Any,
                     groups: Any, student_col: str) -> tuple[pl.DataFrame, list[Metric], Any]:
        """The rows, metrics and group specs of the array form."""
        if y_true is None or y_pred is None or sensitive_features is None or metrics is None:
            raise ConfigError("the array form needs metrics, y_true, y_pred and sensitive_features")
        y = _vector(y_true, "y_true")
        p = _vector(y_pred, "y_pred", y.size)
        features = _feature_frame(sensitive_features, y.size)
        derived = _derived_columns(y, p)
        reserved = {student_col, Y_TRUE, Y_PRED, *derived}
        clash = [c for c in features.columns if c in reserved]
        if clash:
            raise ConfigError(f"sensitive feature name(s) {', '.join(map(repr, clash))} are reserved; rename them")
        ids = (pl.Series(student_col, np.arange(y.size)).cast(pl.Utf8) if students is None
               else pl.Series(student_col, list(students), strict=False).cast(pl.Utf8))
        if ids.len() != y.size:
            raise ConfigError(f"students has {ids.len()} values but y_true has {y.size}; give one per row")
        rows = pl.DataFrame({student_col: ids, Y_TRUE: y, Y_PRED: p, **derived}).hstack(features)
        return rows, _array_metrics(metrics), groups if groups is not None else "*".join(features.columns)

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
            rows = rows.with_columns([pl.col(c).fill_null(MISSING_LABEL) for c in label_cols])
        self.n_students_total = ids.height
        self._hidden = self._plan(data, labels, components)
        if unrostered:
            # the count is a group size: withheld (None) when a cell holding students without a roster row is hidden
            small = any(MISSING_LABEL in key[2] for key in self._hidden)
            self.students_without_roster = None if small else unrostered
            log.warning("%s student(s) have rows but no roster entry; their groups are labelled %s",
                        "some" if small else unrostered, MISSING_LABEL)
        if all(m.additive for m in self.metrics.values()):
            # ONE is kept even when no metric divides by it: after summing it holds the row count of each
            # (student, stratum), which every block reports
            value_cols = sorted({ONE} | {c for m in self.metrics.values() for c in m.columns})
            rows = rows.group_by([_IDX, _STRATUM, *label_cols]).agg([pl.col(c).sum() for c in value_cols])
        return rows, label_cols

    def _plan(self, data: pl.DataFrame, labels: pl.DataFrame, components: list[str]) -> set[tuple[str | None, str, str]]:
        """The cells to hide, settled over every table this frame (and, with `margin_stratum_col`, its
        stratified twin) publishes: groups.plan_suppression."""
        plan_col = self.stratum_col or self.margin_stratum_col
        keys = [pl.col(self.student_col).cast(pl.Utf8)]
        if plan_col:
            keys.append(pl.col(plan_col).cast(pl.Utf8).fill_null(MISSING_LABEL).alias(_STRATUM))
        units = data.select(keys).unique().join(
            labels.select(self.student_col, *[pl.col(f"__c__{c}").alias(c) for c in components]),
            on=self.student_col, how="left",
        ).with_columns([pl.col(c).fill_null(MISSING_LABEL) for c in components])
        hidden = plan_suppression(units, self.specs, self.min_group_size, student_col=self.student_col,
                                  stratum_col=_STRATUM if plan_col else None,
                                  totals_across_strata=bool(self.margin_stratum_col) or self.totals_across_strata)
        if self.stratum_col:
            return hidden
        return {key for key in hidden if key[0] is None}

    def _compute(self, data: pl.DataFrame, roster: pl.DataFrame | None) -> None:
        rows, _ = self._rows(data, roster)
        blocks: dict[tuple[str | None, str, str], tuple[np.ndarray, Block]] = {}
        value_cols = sorted({c for m in self.metrics.values() for c in m.columns})
        strata = sorted(rows[_STRATUM].drop_nulls().unique().to_list()) if self.stratum_col else [None]
        for stratum in strata:
            part = rows if stratum is None else rows.filter(pl.col(_STRATUM) == stratum)
            n_rows_col = part[ONE].to_numpy()
            n_students = part[_IDX].n_unique()
            if (stratum, "", OVERALL) in self._hidden:
                self.suppressed.append({"stratum": stratum, "attribute": "", "group": OVERALL})
                continue
            blocks[(stratum, "", OVERALL)] = self._block(part, value_cols)
            self.counts[(stratum, "", OVERALL)] = (n_students, int(round(n_rows_col.sum())))
            for spec in self.specs:
                label = f"__g__{spec.name}"
                counts = part.group_by(label).agg(pl.col(_IDX).n_unique().alias("n"), pl.col(ONE).sum().alias("rows")).sort(label)
                for cell in counts.iter_rows(named=True):
                    if (stratum, spec.name, cell[label]) in self._hidden:
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
        thin: set[CellKey] = set()
        for (stratum, attribute, group), (students, states) in prepared.items():
            ones = np.ones((1, students.size))
            for name, m in self.metrics.items():
                key = CellKey(stratum, attribute, group, name)
                if self._too_few_behind(m, states[name]):
                    thin.add(key)
                    self.withheld.append({"stratum": stratum, "attribute": attribute, "group": group, "metric": name})
                    continue
                self.points[key] = float(m.evaluate(states[name], ones)[0])
                self.replicates[key] = np.empty(self.n_boot)
        done = 0
        for weights in bootstrap_weights(self.n_students_total, self.n_boot, self.random_state):
            b = weights.shape[0]
            for (stratum, attribute, group), (students, states) in prepared.items():
                w = weights[:, students]
                for name, m in self.metrics.items():
                    key = CellKey(stratum, attribute, group, name)
                    if key not in thin:
                        self.replicates[key][done:done + b] = m.evaluate(states[name], w)
            done += b

    def _too_few_behind(self, metric: Any, state: Any) -> bool:
        """A rate over a subset of rows (a denominator other than the row count, e.g. answers at declared
        mastery) describes only the students with a nonzero denominator: fewer than the minimum group size
        and the value is withheld (listed in `withheld`), though the group's other metrics are shown."""
        if not isinstance(metric, RatioMetric) or metric.denominator == ONE:
            return False
        return int(np.count_nonzero(state[1])) < self.min_group_size

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
        if reference == BETWEEN:
            return self._between_groups(how, metrics)
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

    def _between_groups(self, how: str, metrics: Sequence[str] | None) -> pl.DataFrame:
        """Per (stratum, attribute, metric): largest minus smallest shown group value (difference, on the row
        of the largest, `reference` = the smallest) or smallest / largest (ratio, on the row of the
        smallest). The interval takes the largest and smallest inside each resample, as Fairlearn does."""
        rows = []
        for stratum in self.strata:
            for spec in self.specs:
                for metric in self.metrics if metrics is None else metrics:
                    keys = sorted((k for k, v in self.points.items() if k.stratum == stratum and k.attribute == spec.name
                                   and k.metric == metric and np.isfinite(v)), key=lambda k: k.group)
                    if len(keys) < 2:
                        continue
                    top = max(keys, key=lambda k: self.points[k])
                    low = min(keys, key=lambda k: self.points[k])
                    reps = np.column_stack([self.replicates[k] for k in keys])
                    with np.errstate(invalid="ignore", divide="ignore"):
                        rep_top, rep_low = reps.max(axis=1), reps.min(axis=1)  # NaN when any group is NaN
                        if how == "difference":
                            key, ref = top, low
                            value, diffs = self.points[top] - self.points[low], rep_top - rep_low
                        else:
                            key, ref = low, top
                            value = self.points[low] / self.points[top] if self.points[top] else float("nan")
                            diffs = rep_low / rep_top
                    row = self._row(key, float(value), diffs, reference=ref.group,
                                    higher_is_better=self.metrics[metric].higher_is_better)
                    if how == "ratio":
                        logs = np.log(diffs[np.isfinite(diffs) & (diffs > 0)])
                        row["se"] = float(np.std(logs, ddof=1)) if logs.size >= MIN_FINITE_REPLICATES else float("nan")
                    rows.append(row)
        return self._frame(rows)

    def difference(self, reference: str | dict[str, str] = "best", metrics: Sequence[str] | None = None) -> pl.DataFrame:
        """Group minus reference for every shown group (reference row omitted); CI from paired resamples.
        `reference="between_groups"`: one row per attribute and metric, largest minus smallest group."""
        return self._compare(reference, "difference", metrics)

    def ratio(self, reference: str | dict[str, str] = "largest", metrics: Sequence[str] | None = None) -> pl.DataFrame:
        """Group / reference for every shown group; `se` is on the log scale.
        `reference="between_groups"`: one row per attribute and metric, smallest / largest group."""
        return self._compare(reference, "ratio", metrics)

    def _extreme(self, largest: bool) -> pl.DataFrame:
        keys = [c for c in ("stratum", "attribute", "metric") if c in self.by_group.columns]
        table = self.by_group.filter(pl.col("value").is_not_nan())
        picked = table.sort("value", descending=largest).group_by(keys, maintain_order=True).first()
        return picked.sort(keys).select(table.columns)

    def group_min(self) -> pl.DataFrame:
        """Per (stratum, attribute, metric) the shown group with the smallest value (its by_group row)."""
        return self._extreme(largest=False)

    def group_max(self) -> pl.DataFrame:
        """Per (stratum, attribute, metric) the shown group with the largest value (its by_group row)."""
        return self._extreme(largest=True)

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
