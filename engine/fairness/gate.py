"""The fairness gate: a versioned TOML policy of checks, evaluated on audit evidence.

Every check yields rows (one per group, stratum and attribute) that are PASS, FAIL or
INSUFFICIENT_EVIDENCE, decided on confidence bounds with multiple-comparison control:

- each row has a statistic `value` with a bootstrap standard error `se` (normal approximation; ratios
  on the log scale) and bounds `min`/`max` from the policy;
- p_fail tests "the statistic is outside its bounds" (small = confidently outside), p_pass tests "it is
  inside" (small = confidently inside; both bounds at once by intersection-union);
- p_fail and p_pass are each adjusted over all rows of all checks (Holm, Benjamini-Hochberg, Bonferroni
  or none); FAIL if adjusted p_fail < alpha, else PASS if adjusted p_pass < alpha, else
  INSUFFICIENT_EVIDENCE (burden of proof on the model) or PASS (burden on the auditor);
- a statistic that comes with its permutation and bootstrap samples (ABROCA: an absolute area, biased upwards,
  so estimate +- z se would fail groups served alike) is tested with them instead: "at most the bound" by the
  permutation shift test whose inversion is its interval's lower bound, "at least the bound" by the share of
  bootstrap replicates reaching it (its percentile upper bound); its interval is shown as computed;
- `require_significant`: FAIL also needs the statistic's own test (its p_value) to reject;
- `strata`: evaluate only these strata (e.g. `["mid", "high"]`: advanced material is not meant for the low band);
- a check with no shown group (all suppressed), or whose audit was not supplied, or a row below the
  check's `min_n`, is INSUFFICIENT_EVIDENCE, never a silent pass;
- a check the data leaves nothing to compare in (the audit says so with a `not_applicable` record, or every
  group of every stratum has a rate of exactly 0: nobody received it) PASSES with that reason as its note:
  no group can be treated worse than another there, and holding a model set back for it would block serving
  for good.

A check's status is its worst row (FAIL > INSUFFICIENT_EVIDENCE > PASS); the gate's is its worst check.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from engine.errors import ConfigError, NotFoundError
from engine.fairness.metricframe import OVERALL
from engine.fairness.roc import p_above, p_below
from engine.fairness.stats import ADJUST_METHODS, adjust_pvalues, normal_quantile

PASS, FAIL, INSUFFICIENT = "PASS", "FAIL", "INSUFFICIENT_EVIDENCE"
SEVERITY = {PASS: 0, INSUFFICIENT: 1, FAIL: 2}
EXIT_CODES = {PASS: 0, FAIL: 1, INSUFFICIENT: 2}
POLICY_FORMAT = 1
ALL_STUDENTS = "all students"

AUDIT_METRICS: dict[str, set[str]] = {
    "model": {"auc", "rmse", "logloss", "ece", "mean_residual", "mastery_success", "mastery_gap", "abroca",
              "identity_delta_auc"},
    "dif": {"dif_c_items"},
    "recommendations": {"advanced_exposure", "weighted_advanced_exposure", "ready_not_offered", "intervention_rate",
                        "remedial_to_advanced", "remedial_to_advanced_once_ready"},
    "outcomes": {"gain"},
}
VALUE_ONLY = {"abroca", "identity_delta_auc", "dif_c_items"}
COMPARES = ("difference", "ratio", "value")
TOP_KEYS = {"policy", "version", "format", "description", "privacy", "statistics", "checks"}
PRIVACY_KEYS = {"min_group_size", "show_suppressed_labels"}
STAT_KEYS = {"confidence", "alpha", "multiple_comparisons", "burden_of_proof", "n_bootstrap", "n_permutations", "random_state"}
CHECK_KEYS = {"name", "audit", "metric", "compare", "reference", "min", "max", "min_n", "require_significant", "strata",
              "description"}


@dataclass(frozen=True)
class Check:
    name: str
    audit: str
    metric: str
    compare: str
    reference: str = "best"
    min: float | None = None
    max: float | None = None
    min_n: int = 0
    require_significant: bool = False
    strata: tuple[str, ...] = ()  # evaluate only these strata (e.g. mastery bands); empty = all
    description: str = ""


@dataclass(frozen=True)
class Policy:
    name: str
    version: str
    checks: tuple[Check, ...]
    min_group_size: int = 10
    show_suppressed_labels: bool = True
    confidence: float = 0.95
    alpha: float = 0.05
    multiple_comparisons: str = "holm"
    burden_of_proof: str = "model"
    n_bootstrap: int = 200
    n_permutations: int = 200
    random_state: int = 0
    description: str = ""
    source: str = "default"

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "source": self.source}


# ---------------------------------------------------------------- parsing
def _unknown(table: dict[str, Any], allowed: set[str], where: str, source: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise ConfigError(f"policy {source}: unknown key '{where}{extra[0]}'; allowed keys here: {', '.join(sorted(allowed))}")


def _typed(value: Any, kind: type | tuple[type, ...], where: str, source: str) -> Any:
    """`value` if it has type `kind` (a bool is not accepted as a number), else ConfigError naming `where`."""
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
        raise ConfigError(f"policy {source}: {where} has the wrong type ({type(value).__name__}: {value!r})")
    return value


def _check(raw: dict[str, Any], index: int, source: str) -> Check:
    where = f"checks[{index}]."
    _unknown(raw, CHECK_KEYS, where, source)
    for key in ("name", "audit", "metric", "compare"):
        if key not in raw:
            raise ConfigError(f"policy {source}: {where}{key} is required")
    name = _typed(raw["name"], str, where + "name", source)
    audit, metric, compare = raw["audit"], raw["metric"], raw["compare"]
    if audit not in AUDIT_METRICS:
        raise ConfigError(f"policy {source}: check {name!r}: unknown audit {audit!r}; choose one of: {', '.join(AUDIT_METRICS)}")
    if metric not in AUDIT_METRICS[audit]:
        raise ConfigError(f"policy {source}: check {name!r}: unknown metric {metric!r} for audit {audit!r}; "
                          f"choose one of: {', '.join(sorted(AUDIT_METRICS[audit]))}")
    if compare not in COMPARES:
        raise ConfigError(f"policy {source}: check {name!r}: unknown compare {compare!r}; choose one of: {', '.join(COMPARES)}")
    if metric in VALUE_ONLY and compare != "value":
        raise ConfigError(f"policy {source}: check {name!r}: metric {metric!r} supports only compare = \"value\"")
    bounds = {k: float(_typed(raw[k], (int, float), where + k, source)) for k in ("min", "max") if k in raw}
    if not bounds:
        raise ConfigError(f"policy {source}: check {name!r} needs a bound: min, max or both")
    if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
        raise ConfigError(f"policy {source}: check {name!r}: min is above max")
    if compare == "ratio" and any(v <= 0 for v in bounds.values()):
        raise ConfigError(f"policy {source}: check {name!r}: ratio bounds must be positive")
    strata = raw.get("strata", [])
    if not isinstance(strata, list) or not all(isinstance(x, str) for x in strata):
        raise ConfigError(f"policy {source}: check {name!r}: strata must be a list of stratum labels, e.g. [\"mid\", \"high\"]")
    return Check(name=name, audit=audit, metric=metric, compare=compare, strata=tuple(strata),
                 reference=str(raw.get("reference", "best")), min=bounds.get("min"), max=bounds.get("max"),
                 min_n=int(_typed(raw.get("min_n", 0), int, where + "min_n", source)),
                 require_significant=bool(_typed(raw.get("require_significant", False), bool, where + "require_significant", source)),
                 description=str(raw.get("description", "")))


def parse_policy(text: str, source: str = "<string>") -> Policy:
    """Parse and validate a policy; ConfigError names the offending key or value."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"policy {source}: not valid TOML: {exc}") from None
    _unknown(raw, TOP_KEYS, "", source)
    if raw.get("format", POLICY_FORMAT) != POLICY_FORMAT:
        raise ConfigError(f"policy {source}: format {raw.get('format')!r} is not supported (this build reads {POLICY_FORMAT})")
    for key in ("policy", "version"):
        if key not in raw:
            raise ConfigError(f"policy {source}: top-level key {key!r} is required")
    privacy, statistics = raw.get("privacy", {}), raw.get("statistics", {})
    _unknown(privacy, PRIVACY_KEYS, "privacy.", source)
    _unknown(statistics, STAT_KEYS, "statistics.", source)
    checks = tuple(_check(c, i, source) for i, c in enumerate(raw.get("checks", [])))
    if not checks:
        raise ConfigError(f"policy {source}: no [[checks]] defined")
    names = [c.name for c in checks]
    if len(set(names)) != len(names):
        raise ConfigError(f"policy {source}: check names must be unique")
    policy = Policy(
        name=str(raw["policy"]), version=str(raw["version"]), checks=checks, description=str(raw.get("description", "")),
        min_group_size=int(privacy.get("min_group_size", 10)),
        show_suppressed_labels=bool(privacy.get("show_suppressed_labels", True)),
        confidence=float(statistics.get("confidence", 0.95)), alpha=float(statistics.get("alpha", 0.05)),
        multiple_comparisons=str(statistics.get("multiple_comparisons", "holm")),
        burden_of_proof=str(statistics.get("burden_of_proof", "model")),
        n_bootstrap=int(statistics.get("n_bootstrap", 200)), n_permutations=int(statistics.get("n_permutations", 200)),
        random_state=int(statistics.get("random_state", 0)), source=source)
    if policy.multiple_comparisons not in ADJUST_METHODS:
        raise ConfigError(f"policy {source}: statistics.multiple_comparisons must be one of: {', '.join(ADJUST_METHODS)}")
    if policy.burden_of_proof not in ("model", "auditor"):
        raise ConfigError(f"policy {source}: statistics.burden_of_proof must be 'model' or 'auditor'")
    if not 0 < policy.confidence < 1 or not 0 < policy.alpha < 1:
        raise ConfigError(f"policy {source}: confidence and alpha must lie in (0, 1)")
    if policy.min_group_size < 1:
        raise ConfigError(f"policy {source}: privacy.min_group_size must be at least 1")
    if policy.n_bootstrap < 1 or policy.n_permutations < 1:
        raise ConfigError(f"policy {source}: statistics.n_bootstrap and statistics.n_permutations must be at least 1 "
                          "(intervals and permutation tests need at least 20 to decide anything)")
    return policy


def load_policy(path: str | Path | None = None) -> Policy:
    """The policy at `path`, or the packaged default (engine/fairness/policies/default.toml)."""
    if path is None:
        text = resources.files("engine.fairness.policies").joinpath("default.toml").read_text()
        return parse_policy(text, "default.toml")
    from engine.jsonfile import read_text  # noqa: PLC0415

    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"policy file {file} not found")
    return parse_policy(read_text(file, "policy file", "a gate policy in TOML"), str(file))


# ---------------------------------------------------------------- evaluation
@dataclass
class Row:
    check: Check
    attribute: str | None
    stratum: str | None
    group: str
    reference: str | None
    value: float | None
    se: float | None
    log_scale: bool = False
    p_value: float | None = None
    n_students: int | None = None
    reason: str = ""
    status: str = INSUFFICIENT
    p_fail: float = float("nan")
    p_pass: float = float("nan")
    interval: tuple[float, float] | None = None  # the statistic's own interval, when it has one (ABROCA)
    null: tuple[float, ...] = ()  # its permutation and bootstrap samples: tested exactly, not by a normal
    boot: tuple[float, ...] = ()  # approximation around a biased estimate (see `_test`)
    n_permutations: int | None = None  # permutations drawn (`null` keeps only those with a finite value)

    def ci(self, z: float) -> list[float | None]:
        if self.interval is not None:
            return [float(self.interval[0]), float(self.interval[1])]
        if self.value is None or self.se is None or not math.isfinite(self.se) or not math.isfinite(self.value):
            return [None, None]
        if self.log_scale:
            centre = math.log(self.value)
            return [math.exp(centre - z * self.se), math.exp(centre + z * self.se)]
        return [self.value - z * self.se, self.value + z * self.se]


def _oriented(record: dict[str, Any], i: int, r: int, compare: str) -> tuple[float, float]:
    """(statistic, se) of group i against reference r: shortfall (difference) or oriented ratio."""
    est = record["estimate"]
    better_high = record["higher_is_better"]
    if any(v is None or not math.isfinite(v) for v in (est[i], est[r])):  # e.g. an AUC of a one-class group
        return float("nan"), float("nan")
    if compare == "difference":
        cov = record["cov"]
        diff = est[i] - est[r]
        var = cov[i][i] + cov[r][r] - 2 * cov[i][r] if cov else float("nan")
        return (-diff if better_high else diff), math.sqrt(max(var, 0.0)) if math.isfinite(var) else float("nan")
    cov = record["log_cov"]
    if est[i] <= 0 or est[r] <= 0 or not cov:
        return float("nan"), float("nan")
    ratio = est[i] / est[r] if better_high else est[r] / est[i]
    var = cov[i][i] + cov[r][r] - 2 * cov[i][r]
    return ratio, math.sqrt(max(var, 0.0))


def _reference_index(record: dict[str, Any], reference: str) -> int | None:
    groups, est = record["groups"], record["estimate"]
    shown = [k for k, g in enumerate(groups) if g != OVERALL]
    if reference == "overall":
        return groups.index(OVERALL) if OVERALL in groups else None
    if reference == "largest":
        return min(shown, key=lambda k: (-record["n_students"][k], groups[k]), default=None)  # ties: first label, as MetricFrame
    if reference == "best":
        finite = [k for k in shown if est[k] is not None and math.isfinite(est[k])]
        pick = max if record["higher_is_better"] else min
        return pick(sorted(finite, key=lambda k: groups[k]), key=lambda k: est[k]) if finite else None
    return groups.index(reference) if reference in groups else None


def _rows_for(check: Check, records: list[dict[str, Any]]) -> tuple[list[Row], int, list[str]]:
    """Rows a check evaluates, how many groups its records had suppressed, and why nothing may be comparable."""
    rows: list[Row] = []
    suppressed = 0
    vacuous: list[str] = []
    overall_seen: set[Any] = set()  # the all-students row repeats in every attribute's record: test it once
    for rec in (r for r in records if r["metric"] == check.metric):
        if rec.get("kind") == "not_applicable":
            vacuous.append(rec["reason"])
            continue
        if check.strata and rec.get("stratum") not in check.strata:
            continue
        if rec.get("kind") == "value":
            if rec.get("suppressed"):
                suppressed += 1
                continue
            sampled = bool(rec.get("null")) and bool(rec.get("boot"))
            rows.append(Row(check, rec["attribute"], rec["stratum"], rec["group"], rec.get("reference"),
                            rec["estimate"], rec["se"], p_value=rec.get("p_value"), n_students=rec.get("n_students"),
                            interval=tuple(rec["ci"]) if rec.get("ci") and None not in rec["ci"] else None,
                            null=tuple(rec["null"]) if sampled else (), boot=tuple(rec["boot"]) if sampled else (),
                            n_permutations=rec.get("n_permutations")))
            continue
        suppressed += rec.get("suppressed", 0)
        groups = rec["groups"]
        if check.compare == "value":
            for k, g in enumerate(groups):
                if g == OVERALL:
                    if rec["stratum"] in overall_seen:
                        continue
                    overall_seen.add(rec["stratum"])
                se = math.sqrt(rec["cov"][k][k]) if rec["cov"] else float("nan")
                rows.append(Row(check, rec["attribute"], rec["stratum"], ALL_STUDENTS if g == OVERALL else g, None,
                                rec["estimate"][k], se, n_students=rec["n_students"][k]))
            continue
        r = _reference_index(rec, check.reference)
        if r is None:
            continue
        # A one-sided check against a fixed reference (the largest group, a named one) must also catch the
        # reference group being the one worse off: each pair is then tested both ways. Not needed against
        # "best" (nobody is better off than it), "overall", or when both bounds are set (already two-sided).
        both_ways = (check.reference not in ("best", "overall") and groups[r] != OVERALL
                     and (check.min is None or check.max is None))
        for k, g in enumerate(groups):
            if k == r or g == OVERALL:
                continue
            if rec["estimate"][k] == 0 and rec["estimate"][r] == 0:
                vacuous.append(f"nobody in any shown group received {check.metric!r} (a rate of 0 everywhere)")
                continue  # nobody in either group received it here (e.g. interventions in a high band): nothing to compare
            for a, b in ((k, r), (r, k)) if both_ways else ((k, r),):
                value, se = _oriented(rec, a, b, check.compare)
                rows.append(Row(check, rec["attribute"], rec["stratum"], groups[a],
                                groups[b] if groups[b] != OVERALL else ALL_STUDENTS,
                                value, se, log_scale=check.compare == "ratio", n_students=rec["n_students"][a]))
    return rows, suppressed, vacuous


def _test(row: Row) -> tuple[float, float]:
    """(p_fail, p_pass) of one row against its check's bounds (see module docstring)."""
    check, value, se = row.check, row.value, row.se
    if row.log_scale:
        value = math.log(value)
    bounds = {k: (math.log(v) if row.log_scale else v) for k, v in (("min", check.min), ("max", check.max)) if v is not None}
    fails, passes = [], []
    for side, bound in bounds.items():
        if row.null and row.boot and not row.log_scale:  # an upward-biased statistic (ABROCA) with its samples
            above = p_above(value, np.array(row.null), bound, row.n_permutations)
            below = p_below(value, np.array(row.boot), bound)
            fails.append(below if side == "min" else above)
            passes.append(above if side == "min" else below)
            continue
        if se == 0:
            outside = value < bound if side == "min" else value > bound
            fails.append(0.0 if outside else 1.0)
            passes.append(1.0 if outside else 0.0)
            continue
        z = (value - bound) / se
        fails.append(float(stats.norm.cdf(z) if side == "min" else stats.norm.sf(z)))
        passes.append(float(stats.norm.sf(z) if side == "min" else stats.norm.cdf(z)))
    p_fail, p_pass = min(fails), max(passes)
    if check.require_significant:
        p_fail = max(p_fail, row.p_value if row.p_value is not None else 1.0)
    return p_fail, p_pass


@dataclass
class GateResult:
    policy: Policy
    rows: list[Row]
    check_status: dict[str, str]
    check_notes: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return max(self.check_status.values(), key=SEVERITY.__getitem__) if self.check_status else INSUFFICIENT

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_dict(self) -> dict[str, Any]:
        z = normal_quantile(self.policy.confidence)
        checks = [{"name": r.check.name, "audit": r.check.audit, "metric": r.check.metric, "compare": r.check.compare,
                   "attribute": r.attribute, "stratum": r.stratum, "group": r.group, "reference": r.reference,
                   "status": r.status, "value": r.value, "ci": r.ci(z), "n_students": r.n_students,
                   "p_fail_adjusted": r.p_fail, "p_pass_adjusted": r.p_pass, **({"reason": r.reason} if r.reason else {})}
                  for r in self.rows]
        return {"status": self.status, "policy": self.policy.summary(), "check_status": self.check_status,
                "check_notes": self.check_notes, "checks": checks}


def evaluate_policy(policy: Policy, evidence: dict[str, list[dict[str, Any]]], audits: list[str] | None = None) -> GateResult:
    """Evaluate the policy's checks (only those of `audits` when given) on evidence keyed by audit name."""
    checks = [c for c in policy.checks if audits is None or c.audit in audits]
    rows: list[Row] = []
    status: dict[str, str] = {}
    notes: dict[str, str] = {}
    for check in checks:
        if check.audit not in evidence:
            status[check.name] = INSUFFICIENT
            notes[check.name] = f"no {check.audit} audit was supplied"
            continue
        check_rows, suppressed, vacuous = _rows_for(check, evidence[check.audit])
        if suppressed:
            notes[check.name] = (f"{suppressed} group(s) suppressed (fewer than {policy.min_group_size} students, "
                                 "or hidden with such a group) not evaluated")
        if not check_rows and vacuous:
            status[check.name] = PASS
            notes[check.name] = "; ".join(["not applicable: " + "; ".join(dict.fromkeys(vacuous))]
                                          + ([notes[check.name]] if check.name in notes else []))
        elif not check_rows:
            status[check.name] = INSUFFICIENT
            notes[check.name] = ("only suppressed groups: too few students to decide" if suppressed
                                 else f"the {check.audit} audit has no {check.metric!r} statistic")
        rows.extend(check_rows)
    testable = []
    for row in rows:
        bad = row.value is None or row.se is None or not math.isfinite(row.value) or not math.isfinite(row.se)
        if bad:
            row.reason = "statistic or its standard error could not be estimated"
        elif row.n_students is not None and row.n_students < row.check.min_n:
            row.reason = f"fewer than {row.check.min_n} students"
        else:
            row.p_fail, row.p_pass = _test(row)
            testable.append(row)
    if testable:
        fails = adjust_pvalues(np.array([r.p_fail for r in testable]), policy.multiple_comparisons)
        passes = adjust_pvalues(np.array([r.p_pass for r in testable]), policy.multiple_comparisons)
        for row, pf, pp in zip(testable, fails, passes):
            row.p_fail, row.p_pass = float(pf), float(pp)
            if pf < policy.alpha:
                row.status = FAIL
            elif pp < policy.alpha or policy.burden_of_proof == "auditor":
                row.status = PASS
            else:
                row.status = INSUFFICIENT
                row.reason = "the confidence interval straddles the bound"
    for check in checks:
        mine = [r.status for r in rows if r.check is check]
        if mine:
            status[check.name] = max(mine, key=SEVERITY.__getitem__)
    return GateResult(policy, rows, {c.name: status[c.name] for c in checks}, notes)
