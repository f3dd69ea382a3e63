"""`equilearn experiment ...` and `equilearn model ...`: reproducible runs, comparison, and gated promotion.

    equilearn experiment run experiments/configs/assistments09.toml [--data-root DIR] [--max-students N] [--seed S]
    equilearn experiment compare RUN_ID RUN_ID ...          # or comma-separated
    equilearn model list
    equilearn model promote NAME VERSION --alias champion [--audit AUDIT.json ...] [--policy POLICY.toml]
    equilearn model build --catalog CATALOG (--data LOG --format F | --from-store) [--out FILE] [--register NAME]
                          [--predictor auto|bkt|blend|irt]

`model build` fits every served component from a response log against a catalog (`engine.modelbuild`), prints
the fit diagnostics and writes the model set (`--out`, for EQUILEARN_MODEL_SET_FILE) and/or registers it.
`model promote` records the given audit results (from `equilearn audit ...`; with --policy they are
re-gated together under that policy) on the version, then promotes it only if its audit status is PASS.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.cli.output import write_json
from engine.errors import ConfigError
from engine.jsonfile import read_json


def register(sub: argparse._SubParsersAction) -> None:
    exp = sub.add_parser("experiment", help="run experiments from TOML configs and compare MLflow runs").add_subparsers(
        dest="experiment_command", required=True)
    run = exp.add_parser("run", help="train + evaluate every configured model (KT protocol), log to MLflow")
    run.add_argument("config", help="experiment TOML, e.g. experiments/configs/assistments09.toml")
    run.add_argument("--data-root", help="folder the config's data.path is relative to (default: EQUILEARN_DATA_ROOT, "
                                         "the config's data.root, ../shared/data)")
    run.add_argument("--max-students", type=int, help="quick run: at most N students on each side of the split")
    run.add_argument("--seed", type=int, help="override experiment.seed")
    run.add_argument("--models", help="override models.names: comma-separated zoo names, or 'all'")
    run.add_argument("--markdown", help="also write the results table (Markdown) here, e.g. experiments/results/kt_x.md")
    run.add_argument("--out", help="write the result JSON here")
    run.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    run.add_argument("--no-log-models", action="store_true",
                     help="skip the per-model pyfunc (faster); the fitted parameters are still logged as JSON")
    run.set_defaults(handler=run_run)

    cmp = exp.add_parser("compare", help="a table of the metrics of several runs")
    cmp.add_argument("run_ids", nargs="+", help="MLflow run ids (space- or comma-separated)")
    cmp.add_argument("--markdown", action="store_true", help="print a Markdown table")
    cmp.add_argument("--json", action="store_true", help="print JSON rows")
    cmp.set_defaults(handler=run_compare)

    model = sub.add_parser("model", help="the model-set registry: list, promote (fairness-gated)").add_subparsers(
        dest="model_command", required=True)
    promote = model.add_parser("promote", help="give a model-set version an alias if its fairness audit passed")
    promote.add_argument("name")
    promote.add_argument("version")
    promote.add_argument("--alias", default="champion")
    promote.add_argument("--audit", action="append", default=[], help="audit result JSON to record first (repeatable)")
    promote.add_argument("--policy", help="re-gate the --audit results together under this policy TOML")
    promote.set_defaults(handler=run_promote)
    lst = model.add_parser("list", help="registered model-set versions with aliases and audit status")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=run_list)
    register_build(model)


PREDICTOR_CHOICES = ("auto", "bkt", "blend", "irt")  # engine.modelbuild.predictor.PREDICTORS (not imported: slow)


def register_build(model: argparse._SubParsersAction) -> None:
    from engine.data import FORMATS

    build = model.add_parser("build", help="fit every served component from a response log against a catalog, "
                                           "print diagnostics, write and/or register the model set")
    build.add_argument("--catalog", required=True, help="catalog bundle: folder or one .toml/.json file")
    source = build.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="response log (file or folder), read with --format")
    source.add_argument("--from-store", action="store_true",
                        help="read the service's own event log (EQUILEARN_DATABASE_URL) instead, in chunks of students")
    build.add_argument("--format", choices=sorted(FORMATS), help="format of --data (e.g. generic for your own CSV)")
    build.add_argument("--out", help="write the model-set JSON here (serve it with EQUILEARN_MODEL_SET_FILE=FILE)")
    build.add_argument("--register", metavar="NAME", help="register the set as a new version of NAME in MLflow")
    build.add_argument("--name", help="model-set name written to --out (default: the --register NAME, else equilearn)")
    build.add_argument("--predictor", default="auto", choices=PREDICTOR_CHOICES,
                       help="served predictor of success: bkt, irt, their blend, or auto (held-out AUC picks the blend weight)")
    build.add_argument("--model", default="2pl", choices=("rasch", "1pl", "2pl", "3pl"), help="IRT model of the item bank")
    build.add_argument("--min-item-responses", type=int, default=30,
                       help="items with fewer responses keep the catalog's parameters (default 30)")
    build.add_argument("--test-fraction", type=float, default=0.2, help="share of students held out to score the predictor")
    build.add_argument("--seed", type=int, default=0, help="held-out split and skill-model restarts")
    build.add_argument("--ignore-unknown-items", action="store_true",
                       help="leave out log rows naming items the catalog lacks (reported), instead of stopping")
    build.add_argument("--json", action="store_true", help="print the diagnostics as JSON instead of the table")
    build.set_defaults(handler=run_build)


def run_run(args: argparse.Namespace) -> int:
    from engine.experiment import load_config, run_experiment
    from engine.experiment.runner import result_json

    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    config = load_config(args.config, cli_root=args.data_root, max_students=args.max_students, seed=args.seed, models=models)
    parts = ["equilearn", "experiment", "run", args.config]
    for flag, value in (("--data-root", args.data_root), ("--max-students", args.max_students), ("--seed", args.seed),
                        ("--models", args.models)):
        if value is not None:
            parts += [flag, str(value)]
    command = " ".join(shlex.quote(p) for p in parts)
    if args.no_log_models:
        config = replace(config, log_models=False)
    result = run_experiment(config, progress=not args.no_progress and sys.stderr.isatty(), command=command)
    if args.markdown:
        path = Path(args.markdown)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(result.markdown)
    print(result.markdown, file=sys.stderr if args.out else sys.stdout)
    payload = result_json(result)
    if args.out:
        write_json(payload, args.out)
    else:
        print(f"MLflow run: {result.run_id}")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from engine.experiment import compare_runs, format_table

    ids = [i.strip() for arg in args.run_ids for i in arg.split(",") if i.strip()]
    rows = compare_runs(ids)
    if args.json:
        write_json({"rows": rows}, None)
    else:
        print(format_table(rows, markdown=args.markdown), end="")
    return 0


def _read_audit(path: str) -> dict[str, Any]:
    payload = read_json(path, "audit result", ConfigError)
    if not isinstance(payload, dict) or "status" not in payload:
        raise ConfigError(f"{path}: not an audit result (no 'status' key); write one with `equilearn audit ... --out FILE`")
    return payload


def run_promote(args: argparse.Namespace) -> int:
    from engine.registry import promote, record_audit

    audits = [_read_audit(p) for p in args.audit]
    if args.policy:
        if not audits:
            raise ConfigError("--policy needs at least one --audit result to gate")
        from engine.fairness.gate import load_policy
        from engine.fairness.results import regate

        gate = regate(audits, load_policy(args.policy)).to_dict()
        audits = [{**gate, "audit": "gate", "sources": args.audit}]
    for audit in audits:
        run_id = record_audit(args.name, args.version, audit)
        print(f"recorded {audit.get('audit', 'audit')} audit: {audit['status']} (MLflow run {run_id})", file=sys.stderr)
    ms = promote(args.name, args.version, alias=args.alias)
    print(f"promoted model set {ms.name!r} version {ms.version} to {args.alias!r} (audit {ms.audit_status})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from engine.registry import list_model_sets

    rows = list_model_sets()
    if args.json:
        write_json({"model_sets": rows}, None)
        return 0
    if not rows:
        print("no registered model sets")
        return 0
    keys = ["name", "version", "aliases", "audit_status", "code_version", "data_fingerprint"]
    cells = [[str(r[k] or "-") for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    for line in [keys, *cells]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
    return 0


def _build_log(args: argparse.Namespace) -> tuple[Any, str]:
    """(responses, source description) from --data/--format or the service's event log."""
    if args.from_store:
        from engine.modelbuild import read_store_log
        from engine.config import load_settings
        from engine.store import Store

        store = Store.open(settings=load_settings())
        try:
            return read_store_log(store), "service event log"
        finally:
            store.close()
    if not args.format:
        raise ConfigError("--data needs --format (e.g. --format generic for a CSV with student_id, item_id, correct)")
    from engine.data import load

    dataset = load(args.data, args.format)
    for drop in dataset.dropped:
        print(f"warning: {args.data}: {drop}", file=sys.stderr)
    return dataset.responses, f"{args.data} ({args.format})"


def run_build(args: argparse.Namespace) -> int:
    if not args.out and not args.register:
        raise ConfigError("say where the model set goes: --out FILE (serve it with EQUILEARN_MODEL_SET_FILE) "
                          "and/or --register NAME (MLflow)")
    from engine.modelbuild import build_model_set, format_table, register_built_set
    from engine.catalog import load_catalog
    from engine.runtime.modelset import write_model_set_file

    catalog = load_catalog(args.catalog)
    responses, source = _build_log(args)
    name = args.name or args.register or "equilearn"
    model_set, diagnostics = build_model_set(
        catalog, responses, predictor=args.predictor, seed=args.seed, test_fraction=args.test_fraction,
        irt_model=args.model, min_item_responses=args.min_item_responses,
        ignore_unknown_items=args.ignore_unknown_items, name=name, source=source)
    if args.json:
        write_json({"diagnostics": diagnostics.to_dict(), "predictor": diagnostics.predictor}, None)
    else:
        print(format_table(diagnostics))
    if args.register:
        registered = register_built_set(args.register, model_set)
        model_set = replace(model_set, name=registered.name, version=registered.version)
        print(f"registered model set {registered.name!r} version {registered.version} (not audited yet); after its "
              f"audit passes: equilearn model promote {registered.name} {registered.version} --audit AUDIT.json",
              file=sys.stderr)
    if args.out:
        write_model_set_file(Path(args.out), model_set)
        print(f"wrote model set {model_set.name!r} version {model_set.version} to {args.out}; serve it with "
              f"EQUILEARN_MODEL_SET_FILE={args.out} equilearn serve", file=sys.stderr)
    return 0
