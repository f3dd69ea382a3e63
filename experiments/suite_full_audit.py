"""Would the whole `model audit` pass sets built from the suite's logs? -> experiments/results/suite_full_audit.md

    .venv/bin/python -m experiments.suite_full_audit [--settings bkt curve] [--seeds 1 --log-students 300 --audit-students 300]

`experiments.suite_set_gate` runs only the simulated recommendation part of the pre-deployment audit; this runs all of
it (`engine.fairness.predeployment.audit_model_set`, default gate policies, the learner suite left out as it is not
gated). Per suite setting and seed: the content world of the seed; the set `model build` makes from a random-practice
log of `--log-students` students on that content (as suite_set_gate builds it); and a newer random-practice log of
`--audit-students` other students on the same content, with a roster giving each of them the group their world drew,
audited as a platform would audit a held-out log: DIF of the bank's items (Mantel-Haenszel, Holm-adjusted, gated on
ETS class C items) and the model audit (accuracy, calibration, ABROCA, identity-predictiveness per group).

The suite's groups differ only in starting opportunity and no item treats a group differently, so a class C item is a
false alarm. The model audit is subtler: the set predicts each student from cold start, so a group that starts behind is
over-estimated at first; a model check that fails there is what an auditor would be shown for a policy that treats the
groups alike, and the table reports it as it comes. Beside it, each group's observed minus predicted success on a
student's first answer on a skill and on later ones (`residual_by_first_answer`: the model audit's own split):
whether the over-estimate is the cold start of each new skill or the estimate of skills already practised.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import polars as pl

from engine.catalog import Catalog, load_catalog
from engine.fairness.gate import FAIL, INSUFFICIENT
from engine.fairness.predeployment import FIRST, LATER, AuditOptions, audit_model_set
from engine.simulate.suite import SETTINGS, Setting, random_practice_log, setting_by_name
from experiments.suite_cli import RESULTS
from experiments.suite_set_gate import suite_built_set

STEPS = 60  # random-practice steps per log student, as suite_set_gate
AUDIT_OFFSET = 20_000  # the audit log's seed: seed + offset (the build log's, seed + 10,000, is suite_set_gate's)
GROUP = "group"
MODEL_METRICS = ("auc_shortfall", "under_over_estimation", "abroca", "identity_predictiveness")


def log_roster(setting: Setting, catalog: Catalog, students: int, log_seed: int) -> pl.DataFrame:
    """student_id and `group` of the students of `random_practice_log(setting, catalog, students, ..., log_seed)`.
    That log draws its students as `setting.world(catalog, students, log_seed)` in order, names row i
    `log{log_seed}-{i:05d}` and swaps only the content (items, resources), never the students' groups."""
    world = setting.world(catalog, students, log_seed)
    return pl.DataFrame({"student_id": [f"log{log_seed}-{i:05d}" for i in range(students)], GROUP: world.group_labels()})


def _dif_summary(part: dict[str, Any]) -> dict[str, Any]:
    """Items tested (with a p-value), significant after adjustment, and per ETS class, from a DIF part's payload."""
    items = part.get("items", [])
    tested = [i for i in items if i.get("p") is not None]
    alpha = part.get("results", {}).get("alpha", 0.05)
    return {"items": len(items), "tested": len(tested),
            "significant": sum(1 for i in tested if i.get("p_adjusted") is not None and i["p_adjusted"] < alpha),
            "class_b": sum(1 for i in tested if i.get("ets_class") == "B"),
            "class_c": len(part.get("results", {}).get("flag_for_review", [])),
            "flagged": part.get("results", {}).get("flag_for_review", []), "error": part.get("error")}


def _model_summary(part: dict[str, Any]) -> dict[str, Any]:
    """Failing and undecided checks, and the per-group values of the main checks, from the model part's payload."""
    statuses = part.get("check_status", {})
    values = {name: {c["group"]: {"value": c["value"], "ci": c["ci"], "status": c["status"]}
                     for c in part.get("checks", []) if c["name"] == name and c["group"] != "all students"}
              for name in MODEL_METRICS}
    data = part.get("data", {})
    return {"failing": [n for n, s in statuses.items() if s == FAIL],
            "undecided": [n for n, s in statuses.items() if s == INSUFFICIENT],
            "values": values, "error": part.get("error"), "n_students": data.get("n_students"),
            "predictor": data.get("predictor")}


def residual_by_first_answer(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per group, from the model audit's own split (`calibration_by_split`: its replay, the answer column of
    `engine.fairness.predeployment.first_on_skill`): mean observed minus predicted success on a student's first answer on a
    skill and on later ones, and the share of the group's answers that are first ones. Where a group is over-estimated,
    this says whether it is the cold start of each new skill or the estimate of skills already practised."""
    split = report["parts"]["model"]["results"]["calibration_by_split"]
    cells = {(r["group"], r["stratum"]): r for r in split["by_group"] if r["attribute"] == GROUP}
    out = {}
    for group in dict.fromkeys(g for g, _ in cells):
        first, later = cells[(group, FIRST)], cells[(group, LATER)]
        out[str(group)] = {"first": first["value"], "later": later["value"],
                           "share_first": first["n_rows"] / (first["n_rows"] + later["n_rows"])}
    return out


def audit_row(setting_name: str, seed: int, log_students: int, audit_students: int, steps: int = STEPS,
              options: AuditOptions | None = None) -> dict[str, Any]:
    """The full pre-deployment audit of the set built from one setting's log, on a newer log of other students."""
    setting = setting_by_name(setting_name)
    catalog = load_catalog(None)
    started = time.perf_counter()
    world, model_set = suite_built_set(setting, catalog, log_students, seed, steps)
    build_seconds = time.perf_counter() - started
    audit_log = random_practice_log(setting, catalog, audit_students, steps, seed + AUDIT_OFFSET, content=world, resources=True)
    roster = log_roster(setting, catalog, audit_students, seed + AUDIT_OFFSET)
    if set(audit_log["student_id"].unique()) != set(roster["student_id"]):
        raise RuntimeError("the roster's students are not the audit log's: random_practice_log names students differently")
    report = audit_model_set(model_set, responses=audit_log, roster=roster, groups=[GROUP], catalog=catalog,
                             options=options or AuditOptions(suite_students=0))
    parts = report["parts"]
    residuals = residual_by_first_answer(report)
    return {"setting": setting_name, "seed": seed, "status": report["status"], "part_status": report["part_status"],
            "sim_students": parts["recommendations"].get("data", {}).get("students_tried", []),
            "dif": _dif_summary(parts.get(f"dif:{GROUP}", {})), "model": _model_summary(parts.get("model", {})),
            "same_as_build_log": report["data"].get("same_as_build_log"), "residual_by_first_answer": residuals,
            "build_seconds": round(build_seconds, 1), "seconds": report["seconds"]}


def _short(group: str) -> str:
    return group.removesuffix("_opportunity")


def _number(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.3f}"


def _values(values: dict[str, dict[str, Any]]) -> str:
    """'group value [lower, upper]' per group of one check."""
    return "; ".join(f"{_short(g)} {_number(v['value'])} [{_number(v['ci'][0])}, {_number(v['ci'][1])}]"
                     for g, v in values.items()) or "n/a"


def markdown_row(r: dict[str, Any]) -> str:
    ps, dif, model = r["part_status"], r["dif"], r["model"]
    v = model["values"]
    return (f"| {r['setting']} | {r['seed']} | {r['status']} | {ps.get('recommendations')} | {ps.get(f'dif:{GROUP}')} | "
            f"{ps.get('model')} | {dif['tested']} / {dif['significant']} / {dif['class_b']} / {dif['class_c']} | "
            f"{', '.join(model['failing']) or '-'} | {', '.join(model['undecided']) or '-'} | {_values(v['auc_shortfall'])} | "
            f"{_values(v['under_over_estimation'])} | {_values(v['abroca'])} | {_values(v['identity_predictiveness'])} | "
            f"{_first_later(r['residual_by_first_answer'])} | "
            f"{r['sim_students'][-1] if r['sim_students'] else 'n/a'} | {r['seconds'].get('total', 0):.0f} |")


def _first_later(residuals: dict[str, dict[str, float]]) -> str:
    return "; ".join(f"{_short(g)} {v['first']:+.3f} / {v['later']:+.3f}" for g, v in residuals.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--settings", nargs="+", default=[s.name for s in SETTINGS], choices=[s.name for s in SETTINGS])
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--log-students", type=int, default=300)
    ap.add_argument("--audit-students", type=int, default=300)
    ap.add_argument("--out", type=Path, default=RESULTS / "suite_full_audit.md")
    args = ap.parse_args()
    load, started = os.getloadavg(), time.perf_counter()
    rows, lines = [], []
    for name in args.settings:
        for seed in range(1, args.seeds + 1):
            rows.append(audit_row(name, seed, args.log_students, args.audit_students))
            lines.append(markdown_row(rows[-1]))
            print(lines[-1], flush=True)
    minutes = (time.perf_counter() - started) / 60
    chosen = "" if args.settings == [s.name for s in SETTINGS] else f" --settings {' '.join(args.settings)}"
    command = (f".venv/bin/python -m experiments.suite_full_audit{chosen} --seeds {args.seeds} --log-students "
               f"{args.log_students} --audit-students {args.audit_students}")
    out = ["# The full pre-deployment audit on sets built from the suite's logs, audited on a newer log", "",
           f"Command: `{command}` ({minutes:.0f} min; load average before {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}). "
           "What it measures: the module docstring of `experiments/suite_full_audit.py`; per-row details in "
           f"`{args.out.with_suffix('.json').name}`.", "",
           "Each set is built from a random-practice log of the setting's content and audited on a newer log of other "
           f"students on the same content ({STEPS} steps each), with `AuditOptions(suite_students=0)` and the default gate "
           "policies. The groups differ only in starting opportunity; no item is biased, so every class C item is a false "
           "alarm. DIF columns: items tested (both groups answered it on a first attempt) / significant after Holm / ETS "
           "class B / class C (gated: none allowed). Model columns: checks that FAIL or cannot be decided "
           "(INSUFFICIENT_EVIDENCE), the lower group's AUC shortfall against the best group (<= 0.05), observed minus "
           "predicted success per group (within +-0.05; positive = under-estimated), ABROCA (<= 0.05) and the AUC gained "
           "by adding group membership (<= 0.01, when significant), each with its 95% interval (the gate decides on "
           "Holm-adjusted p-values across rows, so a row whose interval just clears a bound can stay undecided). First / "
           "later answers: observed minus predicted per group on a student's first answer on a skill / on later ones "
           "(the served blend, replayed as the audit replays it; about 45% of the answers are first ones). Sim "
           "students: the recommendation part's last simulated cohort (doubled from 500 while undecided). Seconds: the "
           "audit's own.", "",
           "| setting | seed | verdict | recommendations | DIF | model | DIF tested / significant / B / C | "
           "model checks failing | model checks undecided | AUC shortfall | observed - predicted | ABROCA | "
           "identity delta AUC | observed - predicted, first / later answers on a skill | sim students | seconds |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---:|---:|", *lines]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(out) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps({"command": command, "minutes": round(minutes, 1), "rows": rows},
                                                        indent=1) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
