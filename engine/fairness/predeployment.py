"""The whole pre-deployment audit of one model set, one verdict (`equilearn model audit`).

    report = audit_model_set(model_set, responses=log, roster=roster, groups=["gender"])
    report["status"]           # PASS | FAIL | INSUFFICIENT_EVIDENCE: the worst of the gated parts
    report["content_sha256"]   # what was audited (engine.registry.model_set.content_sha256)

The set is served exactly as the service would serve it (`engine.runtime.modelset.build_policy` on its own
catalog), then:

1. **Recommendations on simulated learners, per group** (gated, always): the set's mastery engine,
   recommender config and learned statistics run on `sim_students` simulated learners whose groups differ
   only in starting opportunity (`engine.fairness.simulated`); what it offered is gated with
   `engine/fairness/policies/simulated_recommendations.toml`.
2. **The learner-model suite** (evidence, not gated): the set's policy and the random policy on the same
   simulated students of a few settings of `engine.simulate.suite.SETTINGS` (the loop of `run_suite`, with
   the set's engine and learned statistics instead of the catalog defaults), summarized per setting as
   learning gain overall and per group, and equilearn minus random per group (paired intervals).
3. **DIF on the bank's items** (gated, with a response log and a roster): for each group column, the
   first attempt of each student at each catalog item, Mantel-Haenszel against the largest group
   (generalized MH for several focal groups), p-values Holm-adjusted across the items (a bank of 120 items
   tested unadjusted flags class C items by chance), under the `dif` checks of the policy.
4. **The model audit** (gated, with a response log and a roster): every response of the log predicted by
   the set's engine from that student's earlier responses only (replayed from cold start, as the service
   would), then accuracy, calibration, ABROCA and identity-predictiveness per group under the `model`
   checks of the policy. The students should be ones the set was not fitted on (a newer log): when the log
   is the one the set was built from (same data fingerprint), the report says the figures are optimistic.

A requested part that cannot run (a group column with one value, no usable items) is INSUFFICIENT_EVIDENCE
with the reason, never a silent pass. Demographic attributes enter here only, as the roster.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import polars as pl

from engine.catalog import Catalog
from engine.errors import ConfigError, EquilearnError
from engine.fairness.gate import EXIT_CODES, FAIL, INSUFFICIENT, PASS, SEVERITY, Policy, load_policy
from engine.fairness.tracking import json_safe

log = logging.getLogger(__name__)

AUDIT_KIND = "model_set"
DEFAULT_SUITE_SETTINGS = ("bkt", "curve", "proficiency-peak60", "misspecified-15")
SUITE_POLICIES = ("equilearn", "random")


@dataclass(frozen=True)
class AuditOptions:
    """Sizes of the simulated parts (the defaults keep the whole audit well under two minutes)."""

    sim_students: int = 500
    sim_students_max: int = 4000  # more simulated students while the recommendation gate lacks evidence
    sim_steps: int = 80  # a simulated term: with 40, lower-opportunity learners of a 12-skill catalog had not yet moved to advanced work
    sim_seed: int = 11
    suite_students: int = 200  # 0 = leave the suite out
    suite_steps: int = 40
    suite_seeds: tuple[int, ...] = (1,)
    suite_settings: tuple[str, ...] = DEFAULT_SUITE_SETTINGS
    policy: Policy | None = None  # dif and model checks (default: engine/fairness/policies/default.toml)
    recommendations_policy: Policy | None = None  # default: simulated_recommendations.toml
    dif_method: str = "mh"
    dif_adjust: str = "holm"  # across the bank's items: with 120 items, unadjusted p < 0.05 flags several by chance

    def __post_init__(self) -> None:
        for name in ("sim_students", "sim_students_max", "sim_steps", "suite_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.suite_students < 0:
            raise ConfigError(f"suite-students must be >= 0 (0 leaves the suite out), got {self.suite_students}")


@dataclass
class _Parts:
    gated: dict[str, dict[str, Any]] = field(default_factory=dict)  # part name -> assembled audit payload
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def served_policy(model_set: Any, catalog: Catalog | None = None) -> tuple[Catalog, Any, Any]:
    """(catalog, mastery engine, recommender) exactly as the service builds them: the set's own catalog
    (checked against its models), else `catalog`, else the demo catalog."""
    from engine.catalog import demo_catalog
    from engine.runtime.catalogs import catalog_from_dict
    from engine.runtime.modelset import build_policy

    components = dict(model_set.components or {})
    own = isinstance(components.get("catalog"), dict)
    if own:
        catalog = catalog_from_dict(components["catalog"], source="model-set catalog")
    elif catalog is None:
        catalog = demo_catalog()
    engine, recommender = build_policy(catalog, components, own_catalog=own)
    return catalog, engine, recommender


def _progress(model_set: Any) -> Any:
    """A fresh copy of the set's learned statistics (they are updated online during a simulation)."""
    from engine.recommend.learning import DifficultyProgress

    learned = (model_set.components or {}).get("policy_learning")
    return DifficultyProgress.from_dict(learned) if learned else None


def simulated_recommendations(model_set: Any, engine: Any, recommender: Any, opts: AuditOptions,
                              version: str | None) -> dict[str, Any]:
    """Gate what the set's policy serves to simulated learners. Simulated evidence costs only time, so when the
    gate cannot decide because groups are too small (INSUFFICIENT_EVIDENCE), the simulation is run again with
    twice the students, up to `sim_students_max`: an auditor is not left without a verdict because the first
    simulated term happened to put few students of a group on advanced or remedial work."""
    from engine.fairness.simulated import audit_served, served_log
    from engine.simulate import make_world, run_policy

    students, tried = opts.sim_students, []
    while True:
        world = make_world(engine.catalog, students, seed=opts.sim_seed)
        run = run_policy(world, "bkt", "equilearn", opts.sim_steps, engine=engine, config=recommender.config,
                         record_actions=True, progress=_progress(model_set))
        served, roster = served_log(world, run)
        payload = audit_served(served, roster, policy=opts.recommendations_policy, model_version=version)
        tried.append(students)
        if payload["status"] != INSUFFICIENT or students >= opts.sim_students_max:
            break
        students = min(2 * students, opts.sim_students_max)
    payload["data"] = {**payload.get("data", {}), "simulator": "bkt", "steps": opts.sim_steps, "seed": opts.sim_seed,
                       "students_tried": tried}
    return payload


def learner_suite(model_set: Any, engine: Any, recommender: Any, opts: AuditOptions,
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Learning gain of the set's policy and of random practice per group, on a few suite settings (evidence)."""
    from engine.simulate.runner import run_policy
    from engine.simulate.suite import setting_by_name, summarize_setting

    catalog = engine.catalog
    out = []
    for name in opts.suite_settings:
        setting = setting_by_name(name)
        runs: dict[str, list[Any]] = {p: [] for p in SUITE_POLICIES}
        highest = lowest = ""
        for seed in opts.suite_seeds:
            world = setting.world(catalog, opts.suite_students, seed)
            highest, lowest = world.highest_and_lowest()
            for policy in SUITE_POLICIES:
                ours = policy == "equilearn"
                runs[policy].append(run_policy(world, setting, policy, opts.suite_steps, config=recommender.config,
                                               engine=engine if ours else None,
                                               progress=_progress(model_set) if ours else None))
                if progress is not None:
                    progress(f"suite {name} seed {seed} {policy}")
        summary = summarize_setting(setting, runs, highest, lowest)
        pols = summary["policies"]
        minus = pols["equilearn"]["minus"]["random"]
        out.append({
            "setting": name, "family": summary["family"], "description": summary["description"],
            "gain": {p: pols[p]["gain"] for p in SUITE_POLICIES},
            "gain_by_group": {p: pols[p]["gain_by_group"] for p in SUITE_POLICIES},
            "equilearn_minus_random": {key.removeprefix("group:"): value for key, value in minus.items()
                                       if key == "all" or key.startswith("group:")},
            "final_gap": {p: pols[p]["final_gap"] for p in SUITE_POLICIES},
        })
    return {"students": opts.suite_students, "steps": opts.suite_steps, "seeds": list(opts.suite_seeds),
            "policies": list(SUITE_POLICIES), "settings": out,
            "gain_definition": "Hake's g on means of true mastery (per student (final - initial) / (1 - mean initial)); "
                               "paired differences on the same students, 95% t-intervals",
            "gated": False}


def _insufficient(kind: str, policy: Policy, why: str, version: str | None) -> dict[str, Any]:
    return {"audit": kind, "status": INSUFFICIENT, "policy": {"name": policy.name, "version": policy.version},
            "model_version": version, "findings": [f"The {kind} audit could not run: {why}."], "checks": [],
            "check_status": {}, "error": why}


def _groups(roster: pl.DataFrame, groups: Sequence[str] | None) -> list[str]:
    if groups:
        return list(groups)
    return [c for c in roster.columns if c != "student_id"]


def _dif(prepared: pl.DataFrame, roster: pl.DataFrame, groups: Sequence[str], catalog: Catalog, policy: Policy,
         method: str, adjust: str, version: str | None, parts: _Parts) -> None:
    from engine.fairness.item_audit import audit_items
    from engine.fairness.results import assemble

    first = prepared.sort(["student_id", "seq"]).unique(subset=["student_id", "item_id"], keep="first", maintain_order=True)
    wide = first.pivot(on="item_id", index="student_id", values="correct")
    items = [i for i in catalog.item_ids if i in wide.columns]
    for column in groups:
        if "*" in column:  # an intersection is a model-audit notion; DIF compares one attribute's groups
            continue
        name = f"dif:{column}"
        try:
            table = wide.join(roster.select(pl.col("student_id").cast(pl.Utf8), pl.col(column).cast(pl.Utf8)),
                              on="student_id", how="inner").drop("student_id")
            sizes = table[column].drop_nulls().value_counts(sort=True)
            if sizes.height < 2:
                raise ConfigError(f"group column {column!r} has fewer than two groups among the log's students")
            reference = str(sizes[column][0])
            focal = [str(v) for v in sizes[column][1:].to_list()]
            audit = audit_items(table, column, focal, reference=reference, items=items, method=method,  # type: ignore[arg-type]
                                adjust=adjust, min_group_size=policy.min_group_size)
            parts.gated[name] = assemble(audit, policy, model_version=version,
                                         data={"group": column, "reference": reference, "focal": audit.shown_focal,
                                               "n_students": audit.n_students, "n_items": len(items), "method": method,
                                               "adjust": adjust})
        except EquilearnError as exc:
            parts.gated[name] = _insufficient("dif", policy, str(exc), version)


ANSWER = "answer"  # the model audit's split: a student's first answer on a skill, or a later one
FIRST, LATER = "first on the skill", "later on the skill"


def first_on_skill(ordered: pl.DataFrame) -> pl.Series:
    """Per answer of `ordered` (a prepared log sorted by student and seq): FIRST where it is the student's first answer on
    the item's primary skill, else LATER. The cold start of each skill rests on the general ability and the population's
    prior, not on the student's answers there, so its calibration by group differs from that of practised skills."""
    skill = pl.col("skill_ids").list.first()
    first = pl.int_range(pl.len()).over(["student_id", skill]) == 0
    return ordered.select(pl.when(first).then(pl.lit(FIRST)).otherwise(pl.lit(LATER)).alias(ANSWER)).to_series()


def _model_audit(prepared: pl.DataFrame, roster: pl.DataFrame, groups: Sequence[str], engine: Any, policy: Policy,
                 version: str | None, data: dict[str, Any], parts: _Parts) -> None:
    import numpy as np

    from engine.fairness.model_audit import audit_model
    from engine.fairness.results import assemble
    from engine.modelbuild.predictor import sequential_predictions

    try:
        held = sequential_predictions(engine, prepared)
        ordered = prepared.sort(["student_id", "seq"])  # the order sequential_predictions predicts in
        predictions = pl.DataFrame({"student_id": ordered["student_id"], "correct": held.y,
                                    "p": np.clip(held.blend(engine.config.irt_weight), 0.0, 1.0),
                                    ANSWER: first_on_skill(ordered)})
        audit = audit_model(predictions, list(groups), roster=roster, min_group_size=policy.min_group_size,
                            n_boot=policy.n_bootstrap, n_permutations=policy.n_permutations,
                            confidence=policy.confidence, random_state=policy.random_state, split_col=ANSWER)
        parts.gated["model"] = assemble(audit, policy, model_version=version,
                                        data={**data, "groups": list(groups), "n_students": audit.identity.n_students,
                                              "n_rows": audit.identity.n_rows,
                                              "predictor": f"the set's engine, irt_weight {engine.config.irt_weight}"})
    except EquilearnError as exc:
        parts.gated["model"] = _insufficient("model", policy, str(exc), version)


def audit_model_set(model_set: Any, *, responses: pl.DataFrame | None = None, roster: pl.DataFrame | None = None,
                    groups: Sequence[str] | None = None, catalog: Catalog | None = None,
                    options: AuditOptions | None = None, source: str | None = None,
                    progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The combined pre-deployment audit of `model_set` (module docstring); a strict-JSON dict."""
    from engine.registry.model_set import content_sha256

    opts = options or AuditOptions()
    policy = opts.policy or load_policy(None)
    if opts.recommendations_policy is None:
        from engine.fairness.simulated import simulated_policy

        opts = replace(opts, recommendations_policy=simulated_policy())
    started = time.perf_counter()
    digest = content_sha256(dict(model_set.components or {}))
    version = f"{model_set.name}/{model_set.version}"
    served_catalog, engine, recommender = served_policy(model_set, catalog)
    parts = _Parts()

    def lap(name: str, t0: float) -> float:
        now = time.perf_counter()
        parts.seconds[name] = round(now - t0, 2)
        if progress is not None:
            progress(f"{name}: {now - t0:.1f} s")
        return now

    t = time.perf_counter()
    parts.gated["recommendations"] = simulated_recommendations(model_set, engine, recommender, opts, version)
    t = lap("recommendations_simulated", t)
    suite = None
    if opts.suite_students > 0 and opts.suite_settings:
        suite = learner_suite(model_set, engine, recommender, opts, progress=None)
        t = lap("learner_suite", t)
    else:
        parts.skipped.append("learner-model suite: --suite-students 0")

    data_sha256 = None
    data: dict[str, Any] = {}
    if responses is not None and roster is not None:
        from engine.modelbuild.data import prepare_log

        prepared_log = prepare_log(served_catalog, responses, ignore_unknown_items=True)
        data_sha256 = prepared_log.fingerprint()
        built_from = ((model_set.components or {}).get("build") or {}).get("data", {}).get("fingerprint")
        data = {"source": source, "n_rows": prepared_log.n_rows_in, "n_responses": prepared_log.responses.height,
                "rows_left_out_unknown_items": prepared_log.n_unknown_rows, "data_sha256": data_sha256,
                "same_as_build_log": built_from == data_sha256}
        roster = roster.with_columns(pl.col("student_id").cast(pl.Utf8))
        columns = _groups(roster, groups)
        missing = [g for c in columns for g in c.split("*") if g not in roster.columns]
        if missing:
            raise ConfigError(f"unknown group column(s) {', '.join(sorted(set(missing)))}; roster columns are: "
                              f"{', '.join(roster.columns)}")
        _dif(prepared_log.responses, roster, columns, served_catalog, policy, opts.dif_method, opts.dif_adjust, version, parts)
        t = lap("dif", t)
        _model_audit(prepared_log.responses, roster, columns, engine, policy, version, data, parts)
        lap("model", t)
    else:
        parts.skipped.append("DIF and model audit: they need --data (a response log) and --roster (student_id + group "
                             "columns)")

    part_status = {name: payload["status"] for name, payload in parts.gated.items()}
    status = max(part_status.values(), key=SEVERITY.__getitem__)
    findings = [f"Overall: {status} (the worst of {', '.join(f'{k} {v}' for k, v in part_status.items())})."]
    if parts.skipped:
        findings.append("Not run: " + "; ".join(parts.skipped) + ".")
    if data.get("same_as_build_log"):
        findings.append("The model audit used the log the set was built from: its students were in the training data, so "
                        "its figures are optimistic; audit a newer log for held-out figures.")
    for name, payload in parts.gated.items():
        findings += [f"[{name}] {f}" for f in payload.get("findings", [])[:6]]
    for setting in (suite or {}).get("settings", []):
        for group, diff in setting["equilearn_minus_random"].items():
            lo, hi = diff["ci"]
            if hi is not None and hi < 0:
                who = "all students" if group == "all" else group
                findings.append(f"[learner suite, evidence] {setting['setting']}: {who} gained less under this set's policy "
                                f"than under random practice ({diff['mean']:+.3f}, 95% CI {lo:+.3f} to {hi:+.3f}).")
    parts.seconds["total"] = round(time.perf_counter() - started, 2)
    report = {
        "audit": AUDIT_KIND, "status": status, "model_version": version,
        "model_set": {"name": str(model_set.name), "version": str(model_set.version), "source": source},
        "content_sha256": digest, "data_sha256": data_sha256,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "catalog": f"{served_catalog.name}/v{served_catalog.version}",
        "policies": {"recommendations": opts.recommendations_policy.name, "dif_and_model": policy.name},
        "part_status": part_status, "findings": findings, "skipped": parts.skipped,
        "parts": parts.gated, "learner_suite": suite, "data": data, "seconds": parts.seconds,
        "rule": "status = the worst of the gated parts (FAIL > INSUFFICIENT_EVIDENCE > PASS); the learner suite is "
                "evidence only",
    }
    return json_safe(report)


def exit_code(status: str) -> int:
    """As `equilearn audit gate`: 0 PASS, 1 FAIL, 2 INSUFFICIENT_EVIDENCE."""
    return EXIT_CODES[status]


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A short human summary: verdict, parts, suite gains by group, where it was recorded."""
    lines = [f"model set {report['model_version']} (content sha256:{report['content_sha256'][:12]}): {report['status']}"]
    for name, status in report["part_status"].items():
        lines.append(f"  {name:<24} {status}")
        if status != PASS:  # say why, not only the verdict
            part = report["parts"].get(name, {})
            undecided = [f"{check}: {part.get('check_notes', {}).get(check, check_status.lower())}"
                         for check, check_status in part.get("check_status", {}).items() if check_status != PASS]
            lines += [f"    {line}" for line in undecided or part.get("findings", [])[:3]]
            tried = (part.get("data") or {}).get("students_tried") or []
            if status == INSUFFICIENT and tried:  # simulated evidence costs only time: say how to get more
                lines.append(f"    simulated {', '.join(f'{n:,}' for n in tried)} students; more evidence: run again with "
                             f"--sim-students-max {2 * tried[-1]}")
    suite = report.get("learner_suite")
    if suite:
        lines.append(f"  learner suite ({suite['students']} students x {suite['steps']} steps, evidence): "
                     "gain equilearn / random by group")
        for s in suite["settings"]:
            by = s["gain_by_group"]
            groups = list(by["equilearn"])
            cells = ", ".join(f"{g} {by['equilearn'][g]['mean']:.3f} / {by['random'][g]['mean']:.3f}" for g in groups)
            lines.append(f"    {s['setting']:<22} {cells}")
    for skipped in report.get("skipped", []):
        lines.append(f"  not run: {skipped}")
    lines.append(f"  {report['seconds'].get('total', 0):.1f} s")
    return lines


__all__ = ["AUDIT_KIND", "AuditOptions", "DEFAULT_SUITE_SETTINGS", "FAIL", "INSUFFICIENT", "PASS", "audit_model_set",
           "exit_code", "learner_suite", "served_policy", "summary_lines"]
