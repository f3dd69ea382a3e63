"""What the equity lead's pages show: the school's outcomes and offers by student group, over time.

Demographic attributes are read here only through the store's audit-scope roster functions, and only for a
viewer holding the `audit` scope (`require_equity_lead`); every number about a group goes through
`engine.fairness` (`MetricFrame` with student-level bootstrap intervals and small-group suppression,
the recommendation and outcome audits, the identity-predictiveness test, the gate), under the default gate
policy (its `min_group_size`, confidence, bootstrap size). The groups are every roster attribute with 2 to 12
values and the intersections of pairs of the first three.

Computed once per change of the school's data or of the served policy (`engine.runtime.pagecache`):

- `weekly`: per calendar week (Monday to Sunday, UTC) and group: success rate (share of answers right),
  mastery growth (change in a student's mean P(learned) over the skills during the week, students active
  before the week), and the share of advanced material among what was offered to students ready for it
  (the resource's skill estimated at >= 0.8 when served);
- `bands`: the recommendation audit over the served log (advanced exposure within each mastery band,
  ready-but-not-offered, movement from remedial to advanced), with its gate rows;
- `outcomes`: the outcome audit (learning gain from each student's first to last 10 answers);
- `identity`: the identity-predictiveness test on the served engine's own predictions (each answer predicted
  from the student's earlier ones by replaying the log), per week and overall;
- `gate`: the default policy's checks over these audits, each INSUFFICIENT_EVIDENCE row with about how many
  more students would settle it: n_needed = n (half-width / margin)^2, the interval's half-width shrinking
  like 1/sqrt(n) until it no longer reaches the bound (margin = distance from the estimate to the bound).
"""

from __future__ import annotations

import json
import logging
import math
import weakref
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from itertools import combinations
from typing import Any

import numpy as np
import polars as pl

from engine.errors import PermissionDeniedError
from engine.fairness import explain
from engine.fairness.gate import FAIL, PASS, Policy, evaluate_policy, load_policy
from engine.fairness.groups import MISSING_LABEL
from engine.fairness.timeline import identity_by_period
from engine.fairness.metricframe import MetricFrame
from engine.fairness.metrics import RatioMetric
from engine.fairness.outcome_audit import audit_outcomes, outcomes_from_log
from engine.fairness.recommendation_audit import ExposureConfig, audit_recommendations
from engine.fairness.results import assemble
from engine.mastery.engine import SECONDS_PER_DAY
from engine.runtime.classroom import Viewer
from engine.runtime import pagecache
from engine.runtime.runtime import Runtime

log = logging.getLogger(__name__)

BAND_EDGES = (0.5, 0.8)  # low < 0.5 <= mid < 0.8 <= high: the recommender's ready/advanced threshold is 0.8
BAND_LABELS = ("low", "mid", "high")
READY_BAND = "high"
OUTCOME_WINDOW = 10
MAX_ATTRIBUTES = 3
MAX_VALUES = 12
ADVANCED_KINDS = ("enrichment_project",)
REFRESH_INTERVAL_S = 300.0  # recompute at most this often after the last computation (it takes seconds per 100 students)


# the checks of the default policy this page can evaluate from the school's own data
LIVE_METRICS = {"recommendations": ("advanced_exposure", "weighted_advanced_exposure", "ready_not_offered", "remedial_to_advanced"),
                "outcomes": ("gain",), "model": ("identity_delta_auc",)}
NOT_LIVE = {"model": "needs a full model audit (equilearn audit model ...); see the audit history",
            "dif": "needs a DIF audit of the items (equilearn audit dif ...); see the items page",
            "intervention_rate": "interventions are allocated by the MTSS team, not served in recommendation lists",
            "other": "not computed from this school's data"}


def require_equity_lead(viewer: Viewer) -> None:
    if not viewer.audits:
        raise PermissionDeniedError("the equity pages need a key with the audit scope")


def gate_policy() -> Policy:
    return load_policy()


# ---- inputs ---------------------------------------------------------------------------------------------
def _group_specs(roster: pl.DataFrame) -> tuple[list[str], list[str]]:
    """(attributes, group specs): attributes with 2..MAX_VALUES values, then pairwise intersections."""
    attributes = [c for c in roster.columns if c != "student_id"
                  and 2 <= roster[c].cast(pl.Utf8).fill_null(MISSING_LABEL).n_unique() <= MAX_VALUES]
    specs = list(attributes) + [f"{a}*{b}" for a, b in combinations(attributes[:MAX_ATTRIBUTES], 2)]
    return attributes, specs


def _week_start(ts: datetime) -> datetime:
    day = ts.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _label(week: datetime) -> str:
    return week.strftime("%Y-%m-%d")


# ---- the replay: predictions before each answer, mastery at each week's end -----------------------------
def _resources_used(engine: Any, events: pl.DataFrame) -> np.ndarray | None:
    """(n,) catalog index of the resource behind each answer (-1: none, or one the served catalog no longer has), as
    the service folded them; None when no event named one."""
    if "resource_id" not in events.columns or events["resource_id"].null_count() == events.height:
        return None
    named = pl.col("resource_id").cast(pl.Utf8)
    kept = events.select(pl.when(named.is_in(list(engine.catalog.resource_ids))).then(named).otherwise(None).alias("resource_id"))
    return engine.resource_column(kept)


def replay_weeks(runtime: Runtime, events: pl.DataFrame) -> dict[str, Any]:
    """Replay the log through the served mastery engine, week by week, all students at once (the k-th answer
    of every student in a week in one vectorized step): each answer's prediction from the student's earlier
    answers, and each student's mean P(learned) over the skills at the end of each week."""
    policy = runtime.policy
    engine, cat = policy.engine, policy.catalog
    item_index = cat._item_index  # noqa: SLF001
    known = events.filter(pl.col("item_id").is_in(list(cat.item_ids)))
    students = known["student_id"].unique().sort().to_list()
    row_of = {s: i for i, s in enumerate(students)}
    weeks = sorted(known["week"].unique().to_list())
    batch = engine.new_batch(students)
    n = known.height
    pred = np.full(n, np.nan)
    rows_all = np.array([row_of[s] for s in known["student_id"].to_list()], dtype=np.int64)
    items_all = np.array([item_index[i] for i in known["item_id"].to_list()], dtype=np.int64)
    y_all = known["correct"].to_numpy().astype(float)
    t_all = known["t_days"].to_numpy().astype(float)
    used_all = _resources_used(engine, known)
    week_all = known["week"].to_numpy()
    mean_p = np.full((len(students), len(weeks)), np.nan)
    active_before = np.zeros((len(students), len(weeks)), dtype=bool)
    seen = np.zeros(len(students), dtype=bool)
    order = np.lexsort((known["seq"].to_numpy(), rows_all))
    for w, week in enumerate(weeks):
        active_before[:, w] = seen
        idx = order[week_all[order] == week]
        if idx.size:
            r = rows_all[idx]
            pos = np.empty(idx.size, dtype=np.int64)
            starts = np.r_[0, np.flatnonzero(np.diff(r)) + 1]
            lengths = np.diff(np.r_[starts, idx.size])
            pos = np.arange(idx.size) - np.repeat(starts, lengths)
            for k in range(int(pos.max()) + 1):
                sel = idx[pos == k]
                rr = rows_all[sel]
                sub = batch.rows(rr)
                pred[sel] = engine.predict_pairs(sub, items_all[sel], t_all[sel])
                engine.update_batch(batch, rr, items_all[sel], y_all[sel], t_all[sel], None if used_all is None else used_all[sel])
            seen[np.unique(r)] = True
        p = engine.p_now(batch, batch.last_time)
        mean_p[:, w] = np.where(seen, p.mean(axis=1), np.nan)
    return {"students": students, "weeks": weeks, "frame": known.with_columns(pl.Series("p", pred)),
            "mean_p": mean_p, "active_before": active_before}


# ---- tables from MetricFrames ---------------------------------------------------------------------------
def _series(frame: MetricFrame, metric: str, strata: list[str]) -> list[dict[str, Any]]:
    """Per attribute: the overall row and every group's, per stratum (value, interval, students, or
    suppressed), ready for small multiples."""
    by_group = frame.by_group
    overall = {r["stratum"]: r for r in frame.overall.to_dicts() if r["metric"] == metric} if frame.overall.height else {}
    hidden = {(s["stratum"], s["attribute"], s["group"]) for s in frame.suppressed}
    out = []
    for spec in frame.specs:
        rows = [r for r in by_group.to_dicts() if r["attribute"] == spec.name and r["metric"] == metric]
        groups = sorted({r["group"] for r in rows} | {g for (_, a, g) in hidden if a == spec.name})
        cells = {(r["stratum"], r["group"]): r for r in rows}
        series = []
        for g in groups:
            points = []
            for s in strata:
                r = cells.get((s, g))
                if r is not None:
                    points.append({"stratum": s, "value": _f(r["value"]), "lo": _f(r["ci_low"]), "hi": _f(r["ci_high"]),
                                   "n": int(r["n_students"]), "suppressed": False})
                else:
                    points.append({"stratum": s, "value": None, "lo": None, "hi": None, "n": None,
                                   "suppressed": (s, spec.name, g) in hidden})
            series.append({"group": g, "points": points})
        base = [{"stratum": s, "value": _f(overall[s]["value"]) if s in overall else None,
                 "lo": _f(overall[s]["ci_low"]) if s in overall else None, "hi": _f(overall[s]["ci_high"]) if s in overall else None,
                 "n": int(overall[s]["n_students"]) if s in overall else None} for s in strata]
        out.append({"attribute": spec.name, "overall": base, "groups": series})
    return out


def _f(x: Any) -> float | None:
    return float(x) if x is not None and isinstance(x, (int, float)) and math.isfinite(x) else None


# ---- the gate, with how many more students would settle each undecided row (engine.fairness.explain) ------
def describe_check(check: Any) -> str:
    return (check.description or "").rstrip(".") or f"{check.metric} ({check.compare}) {explain.bound_text(check.min, check.max)}"


# ---- the whole computation ----------------------------------------------------------------------------
def _empty(reason: str, policy: Policy) -> dict[str, Any]:
    return {"ready": False, "reason": reason, "min_group_size": policy.min_group_size, "weeks": [], "attributes": [],
            "specs": []}


def compute(runtime: Runtime) -> dict[str, Any]:
    """Every statistic the equity pages show (see the module docstring)."""
    policy = gate_policy()
    store = runtime.store
    roster = store.audit_scope_read_roster()
    if roster.height == 0:
        return _empty("No roster has been uploaded yet (POST /v1/roster with an audit key): there are no groups to compare.", policy)
    attributes, specs = _group_specs(roster)
    if not attributes:
        return _empty("The roster has no attribute with 2 to 12 values to group students by.", policy)
    roster = roster.with_columns(pl.col(a).cast(pl.Utf8) for a in attributes)
    events, offer_rows = _log(runtime)
    if events.height == 0:
        return _empty("No answers have been received yet.", policy)
    events = events.with_columns(
        (pl.col("ts").dt.epoch("us").cast(pl.Float64) / 1e6 / SECONDS_PER_DAY).alias("t_days"),
        pl.col("ts").dt.truncate("1w").dt.strftime("%Y-%m-%d").alias("week"))
    common = dict(roster=roster, min_group_size=policy.min_group_size, n_boot=policy.n_bootstrap,
                  confidence=policy.confidence, random_state=policy.random_state)
    replay = replay_weeks(runtime, events)
    frame = replay["frame"]
    weeks = replay["weeks"]

    success = MetricFrame(frame.select("student_id", "week", "correct"), [RatioMetric("success", "correct")], specs,
                          stratum_col="week", **common)
    growth_rows = []
    mean_p, before = replay["mean_p"], replay["active_before"]
    active = frame.group_by(["student_id", "week"]).agg(pl.len()).select("student_id", "week")
    week_pos = {w: i for i, w in enumerate(weeks)}
    row_of = {s: i for i, s in enumerate(replay["students"])}
    for sid, week in active.iter_rows():
        w, i = week_pos[week], row_of[sid]
        if w > 0 and before[i, w]:
            growth_rows.append((sid, week, float(mean_p[i, w] - mean_p[i, w - 1])))
    growth_frame = pl.DataFrame(growth_rows, schema={"student_id": pl.Utf8, "week": pl.Utf8, "growth": pl.Float64}, orient="row")
    growth = (MetricFrame(growth_frame, [RatioMetric("growth", "growth")], specs, stratum_col="week", **common)
              if growth_frame.height else None)

    offers = _offers(offer_rows)
    exposure, bands_payload, exposure_strata = None, None, []
    if offers.height:
        ready = offers.filter(pl.col("mastery_band") == READY_BAND)
        if ready.height:
            exposure = MetricFrame(ready.select("student_id", "week", "adv"), [RatioMetric("advanced_exposure", "adv")], specs,
                                   stratum_col="week", **common)
            exposure_strata = sorted(ready["week"].unique().to_list())
        rec_audit = audit_recommendations(offers.drop("week", "adv"), roster, specs,
                                          config=ExposureConfig(advanced_kinds=ADVANCED_KINDS),
                                          min_group_size=policy.min_group_size, n_boot=policy.n_bootstrap,
                                          confidence=policy.confidence, random_state=policy.random_state)
        bands_payload = assemble(rec_audit, policy, data={"source": "served log", "n_rows": rec_audit.n_rows,
                                                          "students": rec_audit.n_students})

    outcome_payload = None
    outcomes, left_out = outcomes_from_log(frame.select("student_id", "correct", "seq"), OUTCOME_WINDOW)
    if outcomes.height >= policy.min_group_size:
        outcome_audit = audit_outcomes(outcomes, roster, specs, min_group_size=policy.min_group_size,
                                       n_boot=policy.n_bootstrap, confidence=policy.confidence,
                                       random_state=policy.random_state, students_left_out=left_out)
        outcome_payload = assemble(outcome_audit, policy, data={"source": "event log", "window": OUTCOME_WINDOW,
                                                                "students": outcomes.height, "students_left_out": left_out})

    identity = _identity(frame, roster, attributes, weeks, policy)

    evidence: dict[str, list[dict[str, Any]]] = {}
    for payload in (bands_payload, outcome_payload):
        if payload is not None:
            evidence.setdefault(payload["audit"], []).extend(payload["evidence"])
    if identity["overall"] is not None and identity["overall"].get("evidence"):
        evidence["model"] = [identity["overall"]["evidence"]]
    live = replace(policy, checks=tuple(c for c in policy.checks if c.metric in LIVE_METRICS.get(c.audit, ())))
    gate = evaluate_policy(live, evidence) if evidence else None
    gate_dict = gate.to_dict() if gate is not None else None
    if gate_dict is not None:
        gate_dict["explained"] = explain.explain(gate_dict["checks"], gate_dict["check_status"], gate_dict["check_notes"],
                                                 explain.check_definitions(live), live.alpha, live.confidence)
        gate_dict["not_here"] = [{"name": c.name, "description": describe_check(c),
                                  "why": NOT_LIVE.get(c.audit, NOT_LIVE["other"]) if c.metric != "intervention_rate"
                                  else NOT_LIVE["intervention_rate"]}
                                 for c in policy.checks if c not in live.checks]
    return {
        "ready": True, "min_group_size": policy.min_group_size, "confidence": policy.confidence,
        "policy": policy.summary(), "attributes": attributes, "specs": specs, "weeks": weeks,
        "n_students": len(replay["students"]), "n_answers": frame.height, "n_rostered": roster.height,
        "success": _series(success, "success", weeks),
        "growth": _series(growth, "growth", weeks) if growth is not None else [],
        "exposure": _series(exposure, "advanced_exposure", exposure_strata) if exposure is not None else [],
        "exposure_weeks": exposure_strata,
        "bands": _bands(bands_payload), "bands_payload": bands_payload, "outcomes": outcome_payload,
        "identity": identity, "gate": gate_dict,
        "suppressed_any": bool(success.suppressed) or bool(growth is not None and growth.suppressed),
    }


_logs: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def _log(runtime: Runtime) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """(answers, offers): the event log's answers and the served log's offers (the rows the statistics use),
    read incrementally: both logs only grow (by `seq` and by served id), so each computation reads only what
    arrived since the previous one in this process."""
    cache = _logs.setdefault(runtime, {"seq": 0, "answers": None, "served_id": 0, "offers": []})
    new = runtime.store.answers_since(cache["seq"])
    if new.height:
        cache["answers"] = new if cache["answers"] is None else pl.concat([cache["answers"], new])
        cache["seq"] = int(new["seq"].max())
    rows = [o for o in runtime.store.served_offers(after_id=cache["served_id"])]
    if rows:
        cache["served_id"] = max(o["served_id"] for o in rows)
        cache["offers"] = cache["offers"] + [o for o in rows if not o["placement"] and o["skill_mastery"] is not None
                                             and o["level"] is not None and o["rank"] is not None]
    answers = cache["answers"] if cache["answers"] is not None else runtime.store.answers_since(0)
    return answers, cache["offers"]


def _offers(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """The served log as the recommendation audit reads it: one row per offered resource (placement questions
    and rows without a recorded skill estimate are left out by `_log`), with its mastery band and week."""
    if not rows:
        return pl.DataFrame()
    frame = pl.DataFrame({
        "student_id": [o["student_id"] for o in rows], "list_id": [str(o["served_id"]) for o in rows],
        "timestamp": [o["served_at"] for o in rows], "rank": [int(o["rank"]) for o in rows],
        "level": [o["level"] for o in rows], "kind": [o["kind"] or "" for o in rows],
        "mastery_band": [BAND_LABELS[int(np.searchsorted(BAND_EDGES, o["skill_mastery"], side="right"))] for o in rows],
    })
    advanced = pl.col("level").eq("advanced") | pl.col("kind").is_in(list(ADVANCED_KINDS))
    return frame.with_columns(pl.col("timestamp").dt.truncate("1w").dt.strftime("%Y-%m-%d").alias("week"),
                              advanced.cast(pl.Float64).alias("adv"))


def _bands(payload: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Advanced exposure by mastery band and group (from the recommendation audit), for small multiples."""
    if payload is None or "exposure" not in payload["results"]:
        return []
    part = payload["results"]["exposure"]
    hidden = {(h.get("stratum"), h["attribute"], h.get("group")) for h in payload["suppressed_groups"] if h.get("table") == "exposure"}
    overall = {r["stratum"]: r for r in part["overall"] if r["metric"] == "advanced_exposure"}
    out = []
    attributes = [r["attribute"] for r in part["by_group"]] + [a for (_, a, g) in hidden if g and a != "(all students)"]
    for attribute in dict.fromkeys(attributes):
        rows = [r for r in part["by_group"] if r["attribute"] == attribute and r["metric"] == "advanced_exposure"]
        groups = sorted({r["group"] for r in rows} | {g for (_, a, g) in hidden if a == attribute and g})
        cells = {(r["stratum"], r["group"]): r for r in rows}
        series = [{"group": g, "points": [
            ({"stratum": b, "value": _f(cells[(b, g)]["value"]), "lo": _f(cells[(b, g)]["ci_low"]),
              "hi": _f(cells[(b, g)]["ci_high"]), "n": int(cells[(b, g)]["n_students"]), "suppressed": False}
             if (b, g) in cells else {"stratum": b, "value": None, "lo": None, "hi": None, "n": None,
                                      "suppressed": (b, attribute, g) in hidden}) for b in BAND_LABELS]} for g in groups]
        base = [{"stratum": b, "value": _f(overall[b]["value"]) if b in overall else None,
                 "lo": _f(overall[b]["ci_low"]) if b in overall else None, "hi": _f(overall[b]["ci_high"]) if b in overall else None,
                 "n": int(overall[b]["n_students"]) if b in overall else None} for b in BAND_LABELS]
        out.append({"attribute": attribute, "overall": base, "groups": series})
    return out


def _identity(frame: pl.DataFrame, roster: pl.DataFrame, attributes: list[str], weeks: list[str],
              policy: Policy) -> dict[str, Any]:
    """The identity-predictiveness test on the replayed predictions, per week and over every week."""
    # the weekly tests are shown, not gated: half the policy's bootstrap draws keep them quick
    return identity_by_period(frame.select("student_id", pl.col("week").alias("period"), "correct", "p"), roster,
                              attributes, weeks, min_group_size=policy.min_group_size, n_boot=policy.n_bootstrap,
                              period_boot=max(50, policy.n_bootstrap // 2), confidence=policy.confidence,
                              alpha=policy.alpha, random_state=policy.random_state)


def school_equity(runtime: Runtime, viewer: Viewer) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(statistics or None, status): the last computed statistics, and whether newer ones are being computed in
    the background (they are whenever the data or the policy changed since; a page never waits for them: the
    first computation after start-up is started by `warm` at an equity lead's sign-in). Audit scope only."""
    require_equity_lead(viewer)
    entry, status = pagecache.get(runtime, "equity", lambda: compute(runtime), background=True,
                                  min_interval_s=REFRESH_INTERVAL_S)
    if entry is None:
        return None, status
    return entry.value, {**status, "computed_at": entry.computed_at, "seconds": entry.seconds}


def warm(runtime: Runtime) -> None:
    """Start computing the equity statistics in the background if they are missing or out of date."""
    pagecache.warm(runtime, "equity", lambda: compute(runtime), REFRESH_INTERVAL_S)


# ---- audits stored in the store: history and gate decisions per model set, DIF items ---------------------
def audit_history(runtime: Runtime, viewer: Viewer, limit: int = 200) -> dict[str, Any]:
    """Every stored audit, newest first, grouped by model-set version, with the decision the gate takes from
    each version's newest audit, and which version is served now."""
    require_equity_lead(viewer)
    audits = runtime.store.list_audits(limit=limit)
    policy = runtime.policy
    served = f"{policy.model.name}/{policy.model.version}"
    versions: dict[str, list[dict[str, Any]]] = {}
    for a in audits:
        report = a.report if isinstance(a.report, dict) else {}
        lifted = report.get("lifted_fail")
        versions.setdefault(a.model_set_version, []).append({
            "id": a.id, "created_at": a.created_at, "status": a.status, "kind": report.get("audit") or "recorded result",
            "findings": [str(f) for f in (report.get("findings") or [])][:4], "lifted": lifted,
            "data": report.get("data") if isinstance(report.get("data"), dict) else {},
            "policy": report.get("policy") if isinstance(report.get("policy"), dict) else None})
    out = []
    for version, entries in versions.items():
        newest = entries[0]
        decision = ("refused: its newest audit FAILED, so it is not served while the gate is on" if newest["status"] == FAIL
                    else "may be served: its newest audit passed" if newest["status"] == PASS
                    else "may be served, flagged: its newest audit could not decide (not enough evidence)")
        out.append({"version": version, "served": version == served, "status": newest["status"], "decision": decision,
                    "audits": entries})
    out.sort(key=lambda v: (not v["served"], -v["audits"][0]["id"]))
    return {"versions": out, "served": served, "audit_status": policy.audit_status, "blocked": policy.blocked,
            "require_passing_audit": runtime.settings.require_passing_audit}


def _stored_dif_results(runtime: Runtime) -> list[dict[str, Any]]:
    """DIF results: those recorded in the audit table, and those kept by `equilearn audit dif ... --store`
    (JSON files under $EQUILEARN_HOME/reports/audits/); newest first."""
    found = []
    for a in runtime.store.list_audits(limit=500):
        report = a.report if isinstance(a.report, dict) else {}
        if report.get("audit") == "dif":
            found.append({"source": f"audit #{a.id}", "version": a.model_set_version, "when": a.created_at, "report": report})
    folder = runtime.settings.home / "reports" / "audits"
    for path in sorted(folder.glob("dif-*.json")) if folder.is_dir() else []:
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(report, dict) and report.get("audit") == "dif":
            try:
                when = datetime.fromisoformat(str(report.get("generated_at")))
            except ValueError:
                when = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
            found.append({"source": f"file {path.name}", "version": report.get("model_version") or "not tied to a model set",
                          "when": when, "report": report})
    found.sort(key=lambda f: f["when"], reverse=True)
    return found


def dif_items(runtime: Runtime, viewer: Viewer) -> dict[str, Any]:
    """Items flagged for differential functioning in the stored DIF audits (class C: withhold until reviewed;
    class B: moderate), newest audit first, and whether the served model set withholds each."""
    require_equity_lead(viewer)
    policy = runtime.policy
    cat = policy.catalog
    blocked = set(policy.recommender.config.blocked_items)
    found, audits = [], []
    for entry in _stored_dif_results(runtime):
        report = entry["report"]
        results = report.get("results") or {}
        items = report.get("items") or results.get("items") or []
        flagged = 0
        for i in items:
            klass = i.get("ets_class") or i.get("jg_class")
            if not (i.get("flag_for_review") or klass in ("B", "C")):
                continue
            flagged += 1
            iid = i.get("item_id")
            skill = cat.skill_names[int(cat.item_skill[cat.item_index(iid)])] if iid in cat._item_index else None  # noqa: SLF001
            found.append({"item_id": iid, "skill": skill, "class": klass, "flag": bool(i.get("flag_for_review")),
                          "focal": i.get("focal"), "group_col": results.get("group_col"), "delta": _f(i.get("delta")),
                          "p_adjusted": _f(i.get("p_adjusted")), "source": entry["source"], "version": entry["version"],
                          "created_at": entry["when"], "withheld": iid in blocked, "in_catalog": skill is not None})
        data = report.get("data") if isinstance(report.get("data"), dict) else {}
        audits.append({"source": entry["source"], "when": entry["when"], "status": report.get("status"),
                       "items": len(items), "flagged": flagged, "group_col": results.get("group_col"),
                       "data": data.get("source") or data.get("path")})
    order = {"C": 0, "B": 1}
    found.sort(key=lambda r: (not r["flag"], order.get(r["class"], 2), str(r["item_id"])))
    return {"items": found, "audits": audits, "blocked_items": sorted(blocked),
            "served": f"{policy.model.name}/{policy.model.version}"}
