"""The gate's result in plain words: what each check and statistic means, who is affected, and for an undecided
(INSUFFICIENT_EVIDENCE) comparison about how many more students would settle it.

Used by the audit report (`engine.fairness.report`) and by the equity lead's pages (`engine.runtime.equity`);
works on the JSON result (`engine.fairness.results.assemble`, `GateResult.to_dict`) and the policy's check
definitions, so stored results can be explained again later.

How many students would settle a comparison: a confidence interval's half-width h shrinks like 1/sqrt(n); the
comparison is decided once the interval no longer reaches the bound, i.e. once h < |estimate - bound| (the
margin). If the estimate held, that happens at about n_needed = n (w h / margin)^2, where w >= 1 widens the
interval for the correction the gate applies when it tests m comparisons at once (Holm; at most the Bonferroni
factor z(1 - alpha/m) / z(1 - (1 - confidence)/2), which is used here, so the figure errs on the high side).
Ratios are handled on the log scale, as the gate tests them. When the estimate sits on the bound no number of
students settles it, and None is returned.
"""

from __future__ import annotations

import math
from typing import Any

from scipy import stats

FAIL, INSUFFICIENT, PASS = "FAIL", "INSUFFICIENT_EVIDENCE", "PASS"

# what a row's `value` is, per metric and comparison, in words (the report's and the pages' column meaning)
METRIC_WORDS: dict[str, str] = {
    "auc": "how well the model ranks right answers above wrong ones (AUC: 0.5 is chance, 1 is perfect)",
    "rmse": "the typical size of the model's errors (RMSE, lower is better)",
    "logloss": "the model's log-loss (lower is better)",
    "ece": "calibration error: how far predicted chances are from observed success rates (ECE, lower is better)",
    "mean_residual": "observed minus predicted success (negative: the model over-estimates the group)",
    "mastery_success": "the success rate on skills the model had declared mastered",
    "mastery_gap": "observed minus predicted success on skills declared mastered",
    "abroca": "the area between the group's ROC curve and the reference group's (ABROCA: 0 means the model "
              "ranks both groups equally well)",
    "identity_delta_auc": "the gain in AUC from adding group membership to the model's prediction (out of sample)",
    "dif_c_items": "the number of questions with large differential functioning (ETS class C)",
    "advanced_exposure": "the share of offered resources that were advanced, within a mastery band",
    "weighted_advanced_exposure": "the same share, counting higher places in the list more",
    "ready_not_offered": "the share of lists shown to a ready student that held no advanced resource",
    "intervention_rate": "the share of students in a mastery band who received an intervention",
    "remedial_to_advanced": "among students who started on remedial material, the share offered advanced material later",
    "remedial_to_advanced_once_ready": "among students who started on remedial material and were ready later, the share "
                                       "offered advanced material later",
    "gain": "the learning gain (post minus pre)",
}
COMPARE_WORDS = {
    "difference": "shortfall against {reference} (positive: the group is worse off)",
    "ratio": "ratio to {reference} (below 1: the group is worse off)",
    "value": "the statistic itself",
}


def value_meaning(metric: str, compare: str, reference: str | None = None) -> str:
    base = METRIC_WORDS.get(metric, metric.replace("_", " "))
    if compare == "value":
        return base
    return f"{COMPARE_WORDS[compare].format(reference=_reference_words(reference))} in {base}"


def _reference_words(reference: str | None) -> str:
    return {"best": "the best group", "largest": "the largest group", "overall": "all students", None: "the reference"}.get(
        reference, f"group {reference}")


def bound_text(minimum: float | None, maximum: float | None) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"at least {minimum:g}")
    if maximum is not None:
        parts.append(f"at most {maximum:g}")
    return " and ".join(parts) or "no bound"


def nearest_bound(minimum: float | None, maximum: float | None, compare: str, value: float | None) -> float | None:
    bounds = [b for b in (minimum, maximum) if b is not None]
    if not bounds:
        return None
    if value is None or len(bounds) == 1:
        return bounds[0]
    if compare == "ratio" and value > 0:
        return min(bounds, key=lambda b: abs(math.log(value) - math.log(b)))
    return min(bounds, key=lambda b: abs(value - b))


def widen_factor(alpha: float, confidence: float, tests: int) -> float:
    """How much wider than its `confidence` interval a comparison's must clear the bound when `tests` are tested
    at once (Bonferroni, which bounds Holm)."""
    return max(1.0, float(stats.norm.ppf(1 - alpha / max(1, tests)) / stats.norm.ppf(1 - (1 - confidence) / 2)))


def students_needed(n: int | None, value: float | None, ci: list[float | None] | tuple[Any, Any] | None, bound: float | None,
                    log_scale: bool, widen: float = 1.0) -> int | None:
    """About how many students (in all, for this comparison) would settle it if the estimate held (module
    docstring); None when it cannot be said (no interval, or the estimate sits on the bound)."""
    lo, hi = (list(ci) + [None, None])[:2] if ci else (None, None)
    if n is None or value is None or lo is None or hi is None or bound is None:
        return None
    if log_scale:
        if value <= 0 or lo <= 0 or hi <= 0 or bound <= 0:
            return None
        value, lo, hi, bound = math.log(value), math.log(lo), math.log(hi), math.log(bound)
    half = (hi - lo) / 2
    margin = abs(value - bound)
    if not (math.isfinite(half) and math.isfinite(margin)) or margin < 1e-9 or half <= 0:
        return None
    return int(math.ceil(round(n * (widen * half / margin) ** 2, 6)))


def check_definitions(policy: Any) -> list[dict[str, Any]]:
    """The policy's checks as JSON (kept in audit results so they can be explained later)."""
    return [{"name": c.name, "audit": c.audit, "metric": c.metric, "compare": c.compare, "reference": c.reference,
             "min": c.min, "max": c.max, "strata": list(c.strata), "description": c.description} for c in policy.checks]


def explain(rows: list[dict[str, Any]], check_status: dict[str, str], check_notes: dict[str, str],
            definitions: list[dict[str, Any]], alpha: float = 0.05, confidence: float = 0.95) -> list[dict[str, Any]]:
    """Per evaluated check: its plain description, bound, what its value means, status, counts of passing, failing
    and undecided comparisons, and its rows (undecided ones with `bound`, `n_needed` and `more`)."""
    defs = {d["name"]: d for d in definitions}
    tests = sum(1 for r in rows if r.get("value") is not None and r.get("ci") and r["ci"][0] is not None)
    widen = widen_factor(alpha, confidence, tests)
    out = []
    for name, status in check_status.items():
        d = defs.get(name, {"name": name, "metric": name, "compare": "value", "min": None, "max": None, "reference": None,
                            "description": ""})
        mine = []
        for r in rows:
            if r.get("name") != name:
                continue
            row = dict(r)
            if r.get("status") == INSUFFICIENT:
                bound = nearest_bound(d.get("min"), d.get("max"), d.get("compare", "value"), r.get("value"))
                needed = students_needed(r.get("n_students"), r.get("value"), r.get("ci"), bound, d.get("compare") == "ratio", widen)
                row.update(bound=bound, n_needed=needed,
                           more=None if needed is None or r.get("n_students") is None else max(0, needed - int(r["n_students"])))
            mine.append(row)
        order = {FAIL: 0, INSUFFICIENT: 1, PASS: 2}
        mine.sort(key=lambda r: (order.get(r.get("status"), 3), r.get("more") is None, r.get("more") or 0))
        counts = {s: sum(1 for r in mine if r.get("status") == s) for s in (PASS, FAIL, INSUFFICIENT)}
        description = (d.get("description") or "").rstrip(".") or (
            f"{d['metric'].replace('_', ' ')} ({d.get('compare')}) {bound_text(d.get('min'), d.get('max'))}")
        out.append({"name": name, "status": status, "description": description, "audit": d.get("audit"),
                    "metric": d.get("metric"), "bound_text": bound_text(d.get("min"), d.get("max")),
                    "meaning": value_meaning(d.get("metric", name), d.get("compare", "value"), d.get("reference")),
                    "note": check_notes.get(name), "rows": mine, "counts": counts, "widen": widen, "tests": tests})
    return out


def affected(explained: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Who is affected: the comparisons that fail and those undecided, each with its check's description."""
    failing, undecided = [], []
    for c in explained:
        for r in c["rows"]:
            item = {**r, "check": c["description"], "meaning": c["meaning"], "bound_text": c["bound_text"]}
            if r.get("status") == FAIL:
                failing.append(item)
            elif r.get("status") == INSUFFICIENT:
                undecided.append(item)
    undecided.sort(key=lambda r: (r.get("more") is None, r.get("more") or 0))
    return {"failing": failing, "undecided": undecided}


def where(row: dict[str, Any]) -> str:
    """'gender = female (stratum high) against male' for a comparison row."""
    text = f"{row.get('attribute')} = {row.get('group')}" if row.get("attribute") else str(row.get("group"))
    if row.get("stratum"):
        text += f" (in {row['stratum']})"
    if row.get("reference"):
        text += f" against {row['reference']}"
    return text
